/// The number of synapses leaving each presynaptic element of a synaptic layer, used to count
/// synaptic operations the way NeuroBench does (an input in {0, ±1} costs one accumulate per
/// outgoing synapse, any other value one multiply-accumulate).
public enum SynapticFanOut {
    /// Fan-out per input element (flat, one sample), or nil for layers without synapses.
    public static func perInput(_ layer: LayerSpec, inShape: [Int]) -> [Int32]? {
        switch layer {
        case .linear(let i, let o):
            return [Int32](repeating: Int32(o), count: i)
        case .conv2d(let ci, let co, let k, let s, let p):
            let h = inShape[1], w = inShape[2]
            let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
            func count(_ pos: Int, _ outExtent: Int) -> Int {
                // outputs o with 0 <= pos + p - o*s < k
                var n = 0
                for o in 0..<outExtent { let kk = pos + p - o * s; if kk >= 0 && kk < k { n += 1 } }
                return n
            }
            let rows = (0..<h).map { count($0, ho) }, cols = (0..<w).map { count($0, wo) }
            var out = [Int32](repeating: 0, count: ci * h * w)
            for c in 0..<ci { for y in 0..<h { for x in 0..<w { out[(c * h + y) * w + x] = Int32(rows[y] * cols[x] * co) } } }
            return out
        default:
            return nil
        }
    }
}

/// Synaptic operations counted as NeuroBench does.
public struct SynapticOperations: Sendable, Hashable, Codable {
    /// Accumulates: synaptic events whose presynaptic value was ±1 (binary spikes).
    public var accumulates: Double = 0
    /// Multiply-accumulates: synaptic events with any other non-zero presynaptic value.
    public var multiplyAccumulates: Double = 0
    public init(accumulates: Double = 0, multiplyAccumulates: Double = 0) {
        self.accumulates = accumulates; self.multiplyAccumulates = multiplyAccumulates
    }
    /// Both together.
    public var total: Double { accumulates + multiplyAccumulates }
    public static func += (a: inout SynapticOperations, b: SynapticOperations) {
        a.accumulates += b.accumulates; a.multiplyAccumulates += b.multiplyAccumulates
    }

    /// Counts the operations of one batch of inputs `[batch, inSize]` into a layer with the given fan-out, per sample.
    public static func count(input: Tensor, fanOut: [Int32]) -> [SynapticOperations] {
        let batch = input.shape[0], n = fanOut.count
        return (0..<batch).map { b in
            var ops = SynapticOperations()
            for j in 0..<n {
                let v = input.data[b * n + j]
                if v == 0 { continue }
                if v == 1 || v == -1 { ops.accumulates += Double(fanOut[j]) } else { ops.multiplyAccumulates += Double(fanOut[j]) }
            }
            return ops
        }
    }
}
import SNNTensor
