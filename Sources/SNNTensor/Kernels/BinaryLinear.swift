/// Inference kernel for a linear layer with binary weights `alpha[o] * sign(W[i, o])` and real-valued
/// (graded) spikes: each non-zero input `x_i` is added to or subtracted from every output's
/// accumulator according to the sign bit (no multiplication: the sign bit of `x_i` is flipped), and
/// each output is multiplied once by its scale at the end: `y[o] = alpha[o] * sum_i (+-x_i)`.
///
/// Signs are packed per input row: `bytesPerRow = (outFeatures + 7) / 8` bytes, bit `o % 8` of byte
/// `o / 8` set when `W[i, o] < 0`.
public struct PackedBinaryLinear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public let bytesPerRow: Int
    /// Packed sign bits, `inFeatures * bytesPerRow` bytes.
    public let signs: [UInt8]
    /// One scale per output, or one for the whole layer.
    public let scales: [Float]

    /// Packs `weight` (`[in, out]` row-major; only the signs are kept) with `scales` (1 or `out` values).
    public init(weight: UnsafePointer<Float>, inFeatures: Int, outFeatures: Int, scales: [Float]) {
        precondition(scales.count == 1 || scales.count == outFeatures, "PackedBinaryLinear: 1 or \(outFeatures) scales")
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.bytesPerRow = (outFeatures + 7) / 8
        var s = [UInt8](repeating: 0, count: inFeatures * bytesPerRow)
        for i in 0..<inFeatures {
            for o in 0..<outFeatures where weight[i * outFeatures + o] < 0 { s[i * bytesPerRow + o / 8] |= 1 << UInt8(o % 8) }
        }
        self.signs = s
        self.scales = scales
    }

    /// Sign masks of the 256 byte values: lane `l` is `0x8000_0000` when bit `l` is set.
    static let masks: [SIMD8<UInt32>] = (0..<256).map { b in
        var m = SIMD8<UInt32>()
        for l in 0..<8 where (b >> l) & 1 == 1 { m[l] = 0x8000_0000 }
        return m
    }

    /// `y = binary(x)` for a batch `x` `[batch, inFeatures]` into `y` `[batch, outFeatures]` (overwritten).
    /// Rows are split over the cores; the order of the additions per output does not depend on it.
    public func forward(_ x: UnsafePointer<Float>, batch: Int, output y: UnsafeMutablePointer<Float>) {
        let n = inFeatures, o = outFeatures, bpr = bytesPerRow
        let padded = bpr * 8
        Self.masks.withUnsafeBufferPointer { mp in
            signs.withUnsafeBufferPointer { sp in
                scales.withUnsafeBufferPointer { ap in
                    let masks = mp.baseAddress!, sg = sp.baseAddress!, alpha = ap.baseAddress!
                    parallelFor(batch, minimumChunk: 1) { rows in
                        let acc = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: bpr)
                        defer { acc.deallocate() }
                        for b in rows {
                            for q in 0..<bpr { acc[q] = SIMD8<Float>() }
                            let xr = x + b * n
                            for i in 0..<n {
                                let v = xr[i]
                                if v == 0 { continue }
                                let bits = SIMD8<UInt32>(repeating: v.bitPattern)
                                let row = sg + i * bpr
                                for q in 0..<bpr {
                                    acc[q] += unsafeBitCast(bits ^ masks[Int(row[q])], to: SIMD8<Float>.self)
                                }
                            }
                            let yr = y + b * o
                            acc.withMemoryRebound(to: Float.self, capacity: padded) { a in
                                if scales.count == 1 {
                                    let s = alpha[0]
                                    for j in 0..<o { yr[j] = s * a[j] }
                                } else {
                                    for j in 0..<o { yr[j] = alpha[j] * a[j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
