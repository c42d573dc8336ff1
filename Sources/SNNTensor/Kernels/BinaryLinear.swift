/// Inference kernel for a linear layer with binary weights `alpha[o] * sign(W[i, o])` and real-valued
/// (graded) spikes: each non-zero input `x_i` is added to or subtracted from every output's
/// accumulator according to the sign bit (no multiplication: the sign bit of `x_i` is flipped), and
/// each output is multiplied once by its scale at the end: `y[o] = alpha[o] * sum_i (+-x_i)`, the sum
/// taken over the non-zero inputs in ascending `i`.
///
/// Signs are packed per input row in 64-bit words: `wordsPerRow = (outFeatures + 63) / 64`, bit
/// `o % 64` of word `o / 64` set when `W[i, o] < 0`. Outputs are computed 64 at a time with the
/// accumulators in registers; a sample's non-zero inputs are listed once.
public struct PackedBinaryLinear: Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public let wordsPerRow: Int
    /// Packed sign bits, `inFeatures * wordsPerRow` words.
    public let signs: [UInt64]
    /// One scale per output, or one for the whole layer.
    public let scales: [Float]

    /// Packs `weight` (`[in, out]` row-major; only the signs are kept) with `scales` (1 or `out` values).
    public init(weight: UnsafePointer<Float>, inFeatures: Int, outFeatures: Int, scales: [Float]) {
        precondition(scales.count == 1 || scales.count == outFeatures, "PackedBinaryLinear: 1 or \(outFeatures) scales")
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.wordsPerRow = (outFeatures + 63) / 64
        var s = [UInt64](repeating: 0, count: inFeatures * wordsPerRow)
        for i in 0..<inFeatures {
            for o in 0..<outFeatures where weight[i * outFeatures + o] < 0 { s[i * wordsPerRow + o / 64] |= 1 << UInt64(o % 64) }
        }
        self.signs = s
        self.scales = scales
    }

    /// Lane masks of the 256 byte values: lane `l` is `0x8000_0000` when bit `l` is set (8 KiB, stays in L1).
    static let masks: [SIMD8<UInt32>] = (0..<256).map { b in
        var m = SIMD8<UInt32>()
        for l in 0..<8 where (b >> l) & 1 == 1 { m[l] = 0x8000_0000 }
        return m
    }

    /// `y = binary(x)` for a batch `x` `[batch, inFeatures]` into `y` `[batch, outFeatures]` (overwritten).
    /// Rows are split over the cores; the order of the additions per output does not depend on it.
    public func forward(_ x: UnsafePointer<Float>, batch: Int, output y: UnsafeMutablePointer<Float>) {
        let n = inFeatures, o = outFeatures, wpr = wordsPerRow
        Self.masks.withUnsafeBufferPointer { mp in
        signs.withUnsafeBufferPointer { sp in
            scales.withUnsafeBufferPointer { ap in
                let sg = sp.baseAddress!, alpha = ap.baseAddress!, table = mp.baseAddress!
                let perOutput = scales.count > 1
                parallelFor(batch, minimumChunk: 1) { rows in
                    let idx = UnsafeMutablePointer<Int>.allocate(capacity: n + 1)
                    let bits = UnsafeMutablePointer<UInt32>.allocate(capacity: n + 1)
                    let block = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 8)
                    defer { idx.deallocate(); bits.deallocate(); block.deallocate() }
                    for b in rows {
                        let xr = x + b * n
                        var nnz = 0
                        for i in 0..<n where xr[i] != 0 { idx[nnz] = i; bits[nnz] = xr[i].bitPattern; nnz += 1 }
                        let yr = y + b * o
                        for w in 0..<wpr {
                            var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
                            for q in 0..<nnz {
                                let word = sg[idx[q] * wpr + w]
                                let v = SIMD8<UInt32>(repeating: bits[q])
                                a0 += unsafeBitCast(v ^ table[Int((word) & 0xFF)], to: SIMD8<Float>.self)
                                a1 += unsafeBitCast(v ^ table[Int((word >> 8) & 0xFF)], to: SIMD8<Float>.self)
                                a2 += unsafeBitCast(v ^ table[Int((word >> 16) & 0xFF)], to: SIMD8<Float>.self)
                                a3 += unsafeBitCast(v ^ table[Int((word >> 24) & 0xFF)], to: SIMD8<Float>.self)
                                a4 += unsafeBitCast(v ^ table[Int((word >> 32) & 0xFF)], to: SIMD8<Float>.self)
                                a5 += unsafeBitCast(v ^ table[Int((word >> 40) & 0xFF)], to: SIMD8<Float>.self)
                                a6 += unsafeBitCast(v ^ table[Int((word >> 48) & 0xFF)], to: SIMD8<Float>.self)
                                a7 += unsafeBitCast(v ^ table[Int((word >> 56) & 0xFF)], to: SIMD8<Float>.self)
                            }
                            block[0] = a0; block[1] = a1; block[2] = a2; block[3] = a3
                            block[4] = a4; block[5] = a5; block[6] = a6; block[7] = a7
                            let base = w * 64
                            block.withMemoryRebound(to: Float.self, capacity: 64) { f in
                                for j in 0..<min(64, o - base) { yr[base + j] = (perOutput ? alpha[base + j] : alpha[0]) * f[j] }
                            }
                        }
                    }
                }
            }
        }
        }
    }
}
