import Testing
import SNNTensor

/// The output gradient of a convolution may reach `conv2dBackward` position-major (`[batch, Ho*Wo, O]`,
/// as batch norm's backward pass writes it) instead of channel-major; the results must be the same bits.
/// Also the transposes themselves (`transposeInto`, whose 8 x 8 blocks go through shuffles) and batch
/// norm's input gradient written in both layouts.
@Suite struct GradientLayoutTests {
    @Test("transposeInto equals the element-by-element transpose, edges and strides included",
          arguments: [(1, 1), (3, 5), (8, 8), (9, 17), (16, 1024), (24, 40), (37, 13), (64, 8)])
    func transposeMatchesNaive(rows: Int, cols: Int) {
        let ss = cols + 3, ds = rows + 5
        let src = (0..<(rows * ss)).map { Float($0) * 0.5 - 7 }
        var dst = [Float](repeating: .nan, count: cols * ds)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                transposeInto(src: s.baseAddress!, srcRows: rows, srcCols: cols, srcStride: ss, dst: d.baseAddress!, dstStride: ds)
            }
        }
        var wrong = 0
        for i in 0..<rows { for j in 0..<cols where dst[j * ds + i].bitPattern != src[i * ss + j].bitPattern { wrong += 1 } }
        #expect(wrong == 0, "\(rows)x\(cols): \(wrong) elements differ")
        // Outside the written block the destination is untouched.
        for j in 0..<cols { for i in rows..<ds { #expect(dst[j * ds + i].isNaN) } }
    }

    /// Dense inputs (the direct weight gradient), spike inputs (the event path), strides 1 and 2, narrow
    /// outputs (the transposed fold); with and without the input gradient.
    @Test("conv2dBackward gives the same bits from either layout of the output gradient",
          arguments: [(3, 12, 12, 3, 1, 1, 16, 3), (16, 16, 16, 3, 1, 1, 32, 2), (8, 16, 16, 3, 2, 1, 16, 3),
                      (16, 8, 8, 3, 2, 1, 32, 2), (2, 13, 17, 4, 3, 1, 5, 2)],
          [0.9, 0.1])
    func eitherLayout(shape: (Int, Int, Int, Int, Int, Int, Int, Int), density: Double) {
        let tc = ConvCase(shape)
        let g = tc.g, o = tc.outChannels, positions = g.outPositions
        let rng = CounterRNG(seed: 31)
        let x = (0..<tc.inCount).map { j -> Float in
            rng.uniform(stream: 0, counter: UInt64(j)) < Float(density) ? rng.uniform(stream: 1, counter: UInt64(j)) * 2 - 1 : 0
        }
        let w = (0..<tc.weightCount).map { rng.uniform(stream: 2, counter: UInt64($0)) - 0.5 }
        let dy = (0..<tc.outCount).map { rng.uniform(stream: 3, counter: UInt64($0)) * 2 - 1 }
        var dyT = [Float](repeating: 0, count: tc.outCount)
        for s in 0..<tc.batch { for c in 0..<o { for p in 0..<positions { dyT[(s * positions + p) * o + c] = dy[(s * o + c) * positions + p] } } }
        for wantsDx in [false, true] {
            var dwA = [Float](repeating: 0.25, count: tc.weightCount), dwB = dwA
            var dxA = [Float](repeating: 0, count: tc.inCount), dxB = dxA
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in
                dy.withUnsafeBufferPointer { gp in dyT.withUnsafeBufferPointer { tp in
                    dwA.withUnsafeMutableBufferPointer { a in dxA.withUnsafeMutableBufferPointer { da in
                        conv2dBackward(input: xp.baseAddress!, batch: tc.batch, weight: wp.baseAddress!, outChannels: o, geometry: g,
                                       outputGradient: gp.baseAddress!, weightGradient: a.baseAddress!,
                                       inputGradient: wantsDx ? da.baseAddress! : nil)
                    }}
                    dwB.withUnsafeMutableBufferPointer { b in dxB.withUnsafeMutableBufferPointer { db in
                        // Without the input gradient, only the position-major layout is given.
                        conv2dBackward(input: xp.baseAddress!, batch: tc.batch, weight: wp.baseAddress!, outChannels: o, geometry: g,
                                       outputGradient: wantsDx ? gp.baseAddress! : nil, transposedOutputGradient: tp.baseAddress!,
                                       weightGradient: b.baseAddress!, inputGradient: wantsDx ? db.baseAddress! : nil)
                    }}
                }}
            }}
            #expect(dwA.map(\.bitPattern) == dwB.map(\.bitPattern), "\(tc) density \(density) dx \(wantsDx): weight gradients differ")
            #expect(dxA.map(\.bitPattern) == dxB.map(\.bitPattern), "\(tc) density \(density): input gradients differ")
            #expect(dwA.contains { $0 != 0.25 })
        }
    }

    @Test("batch norm's input gradient position-major is the transpose of the channel-major one, same bits",
          arguments: [(2, 3, 1024), (3, 5, 37), (1, 16, 8)])
    func normalizationGradientLayouts(batch: Int, channels: Int, spatial: Int) {
        let n = batch * channels * spatial
        let rng = CounterRNG(seed: 9)
        let g = (0..<n).map { rng.uniform(stream: 0, counter: UInt64($0)) * 2 - 1 }
        let h = (0..<n).map { rng.uniform(stream: 1, counter: UInt64($0)) * 3 - 1.5 }
        let scale = (0..<channels).map { 0.5 + Float($0) * 0.1 }, inv = (0..<channels).map { 1.5 - Float($0) * 0.05 }
        let meanG = (0..<channels).map { Float($0) * 0.01 - 0.02 }, meanGH = (0..<channels).map { 0.03 - Float($0) * 0.002 }
        var plain = [Float](repeating: 0, count: n), both = plain, transposed = plain, alone = plain
        ChannelAffine.inputGradient(g, normalized: h, batch: batch, channels: channels, spatial: spatial, scale: scale,
                                    inverseStd: inv, meanG: meanG, meanGH: meanGH, dx: &plain)
        both.withUnsafeMutableBufferPointer { b in
            ChannelAffine.inputGradient(g, normalized: h, batch: batch, channels: channels, spatial: spatial, scale: scale,
                                        inverseStd: inv, meanG: meanG, meanGH: meanGH, dx: b.baseAddress!, transposedDx: &transposed)
        }
        ChannelAffine.inputGradient(g, normalized: h, batch: batch, channels: channels, spatial: spatial, scale: scale,
                                    inverseStd: inv, meanG: meanG, meanGH: meanGH, dx: nil, transposedDx: &alone)
        #expect(both.map(\.bitPattern) == plain.map(\.bitPattern))
        #expect(alone.map(\.bitPattern) == transposed.map(\.bitPattern))
        var wrong = 0
        for b in 0..<batch { for c in 0..<channels { for q in 0..<spatial
            where transposed[(b * spatial + q) * channels + c].bitPattern != plain[(b * channels + c) * spatial + q].bitPattern { wrong += 1 } } }
        #expect(wrong == 0)
    }
}
