import Testing
@testable import SNNTensor

/// The direct stride-1 convolution gives, bit for bit, what unfolding the patches and multiplying them
/// with the packed GEMM gives: one depth block and several (patches longer than `gemmKC`), output
/// channels not a multiple of the tile's four, rows not a multiple of its 16 columns, padding 0 to 2.
struct DirectConvTests {
    // (inChannels, height, width, kernel, padding, outChannels)
    static let cases: [(Int, Int, Int, Int, Int, Int)] = [
        (3, 32, 32, 3, 1, 16), (16, 16, 16, 3, 1, 32), (2, 9, 23, 3, 0, 5), (1, 5, 40, 5, 2, 3),
        (40, 7, 18, 3, 1, 6), (70, 6, 17, 2, 1, 4), (3, 4, 4, 1, 0, 7), (4, 3, 3, 3, 2, 1),
    ]
    /// The cases at stride 1, and the strided ones (phase planes): the first six at stride 2, two at 3.
    static let strided: [(Int, Int, Int, Int, Int, Int, Int)] =
        cases.map { ($0.0, $0.1, $0.2, $0.3, $0.4, $0.5, 1) } + cases.prefix(6).map { ($0.0, $0.1, $0.2, $0.3, $0.4, $0.5, 2) }
        + [(2, 34, 34, 3, 0, 8, 2), (8, 16, 16, 3, 1, 16, 2), (3, 20, 31, 4, 1, 5, 3), (5, 9, 9, 3, 2, 4, 3)]

    @Test("direct convolution equals im2col and the packed GEMM bit for bit", arguments: strided.indices)
    func directEqualsPackedGEMM(index: Int) {
        let (ci, h, w, k, pad, co, stride) = Self.strided[index]
        let g = Conv2DGeometry(inChannels: ci, inHeight: h, inWidth: w, kernel: k, stride: stride, padding: pad)
        let batch = 3
        let rng = CounterRNG(seed: UInt64(50 + index))
        // Graded signed values with exact zeros, as spikes after pooling or signed input coding give.
        let x: [Float] = (0..<(batch * g.inSize)).map { i in
            let u = rng.uniform(stream: 0, counter: UInt64(i))
            return u < 0.3 ? 0 : (rng.uniform(stream: 1, counter: UInt64(i)) - 0.5) * 3
        }
        let wt: [Float] = (0..<(co * g.patchSize)).map { rng.uniform(stream: 2, counter: UInt64($0)) - 0.5 }
        var direct = [Float](repeating: .nan, count: batch * co * g.outPositions)
        var reference = direct
        x.withUnsafeBufferPointer { xp in
            wt.withUnsafeBufferPointer { wp in
                direct.withUnsafeMutableBufferPointer { d in
                    conv2dForwardDirect(input: xp.baseAddress!, batch: batch, weight: wp.baseAddress!, outChannels: co,
                                        geometry: g, output: d.baseAddress!)
                }
                reference.withUnsafeMutableBufferPointer { r in
                    var cols = [Float](repeating: 0, count: g.patchSize * g.outPositions)
                    for s in 0..<batch {
                        cols.withUnsafeMutableBufferPointer { cp in
                            im2col(xp.baseAddress! + s * g.inSize, g, cp.baseAddress!)
                            gemmDense(m: co, n: g.outPositions, k: g.patchSize, a: wp.baseAddress!, lda: g.patchSize,
                                      b: cp.baseAddress!, ldb: g.outPositions, c: r.baseAddress! + s * co * g.outPositions,
                                      ldc: g.outPositions, parallel: false)
                        }
                    }
                }
            }
        }
        #expect(direct.map(\.bitPattern) == reference.map(\.bitPattern), "case \(Self.strided[index])")
        #expect(direct.contains { $0 != 0 })
    }

    @Test("direct weight gradient equals im2col and the packed GEMM (beta 1) bit for bit", arguments: strided.indices)
    func weightGradientEqualsPackedGEMM(index: Int) {
        let (ci, h, w, k, pad, co, stride) = Self.strided[index]
        let g = Conv2DGeometry(inChannels: ci, inHeight: h, inWidth: w, kernel: k, stride: stride, padding: pad)
        let rng = CounterRNG(seed: UInt64(70 + index))
        let x: [Float] = (0..<g.inSize).map { i in
            rng.uniform(stream: 0, counter: UInt64(i)) < 0.3 ? 0 : rng.uniform(stream: 1, counter: UInt64(i)) * 2 - 1
        }
        // Wider output-channel counts too, so that 16-column tiles and the scalar rest both run.
        for o in [co, co + 16, 33] {
            let dyT: [Float] = (0..<(g.outPositions * o)).map { rng.uniform(stream: 2, counter: UInt64($0)) - 0.5 }
            let start: [Float] = (0..<(g.patchSize * o)).map { rng.uniform(stream: 3, counter: UInt64($0)) }
            var direct = start, reference = start
            let planes = PhasePlanes(g)
            var padded = [Float](repeating: 0, count: planes.count)
            var cols = [Float](repeating: 0, count: g.patchSize * g.outPositions)
            x.withUnsafeBufferPointer { xp in
                padded.withUnsafeMutableBufferPointer { planes.fill(xp.baseAddress!, $0.baseAddress!) }
                im2col(xp.baseAddress!, g, &cols)
            }
            convWeightGradientDirect(padded: padded, geometry: g, outChannels: o, dyT: dyT, dWt: &direct)
            gemmDense(m: g.patchSize, n: o, k: g.outPositions, a: cols, lda: g.outPositions, b: dyT, ldb: o,
                      c: &reference, ldc: o, beta: 1, parallel: false)
            #expect(direct.map(\.bitPattern) == reference.map(\.bitPattern), "case \(Self.strided[index]) O \(o)")
            #expect(direct != start)
        }
    }

    @Test("direct input gradient: the adjoint of the convolution, and the fold of W^T dY", arguments: cases.indices)
    func inputGradientIsTheAdjoint(index: Int) {
        let (ci, h, w, k, pad, co) = Self.cases[index]
        let g = Conv2DGeometry(inChannels: ci, inHeight: h, inWidth: w, kernel: k, stride: 1, padding: pad)
        let batch = 2
        let rng = CounterRNG(seed: UInt64(90 + index))
        let x: [Float] = (0..<(batch * g.inSize)).map { rng.uniform(stream: 0, counter: UInt64($0)) - 0.5 }
        let wt: [Float] = (0..<(co * g.patchSize)).map { rng.uniform(stream: 1, counter: UInt64($0)) - 0.5 }
        let dy: [Float] = (0..<(batch * co * g.outPositions)).map { rng.uniform(stream: 2, counter: UInt64($0)) - 0.5 }
        var dx = [Float](repeating: .nan, count: batch * g.inSize)
        convInputGradientDirect(outputGradient: dy, batch: batch, weight: wt, outChannels: co, geometry: g, inputGradient: &dx)
        // Reference: dcols = W^T dY per sample, folded with col2imAdd.
        var reference = [Float](repeating: 0, count: batch * g.inSize)
        for s in 0..<batch {
            var dcols = [Float](repeating: 0, count: g.patchSize * g.outPositions)
            for kq in 0..<g.patchSize { for q in 0..<g.outPositions {
                var acc: Double = 0
                for o in 0..<co { acc += Double(wt[o * g.patchSize + kq]) * Double(dy[(s * co + o) * g.outPositions + q]) }
                dcols[kq * g.outPositions + q] = Float(acc)
            } }
            var one = [Float](repeating: 0, count: g.inSize)
            col2imAdd(dcols, g, &one)
            for i in 0..<g.inSize { reference[s * g.inSize + i] = one[i] }
        }
        let scale = reference.map { abs($0) }.max() ?? 1
        #expect(zip(dx, reference).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, scale) }, "case \(Self.cases[index])")
        // Adjoint: <conv(x), dy> = <x, dx>.
        var y = [Float](repeating: 0, count: dy.count)
        conv2dForwardDirect(input: x, batch: batch, weight: wt, outChannels: co, geometry: g, output: &y)
        let lhs = zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let rhs = zip(x, dx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(lhs - rhs) <= 1e-4 * (1 + abs(lhs)), "case \(Self.cases[index]): \(lhs) vs \(rhs)")
    }

    @Test("conv2dForward takes the direct path for dense input, on one thread and on all")
    func forwardUsesDirectPath() {
        let g = Conv2DGeometry(inChannels: 3, inHeight: 20, inWidth: 19, kernel: 3, stride: 1, padding: 1)
        let batch = 5, co = 6
        let rng = CounterRNG(seed: 9)
        let x: [Float] = (0..<(batch * g.inSize)).map { rng.uniform(stream: 0, counter: UInt64($0)) - 0.5 }
        let wt: [Float] = (0..<(co * g.patchSize)).map { rng.uniform(stream: 1, counter: UInt64($0)) - 0.5 }
        var direct = [Float](repeating: .nan, count: batch * co * g.outPositions)
        conv2dForwardDirect(input: x, batch: batch, weight: wt, outChannels: co, geometry: g, output: &direct)
        for onOneThread in [false, true] {
            var y = [Float](repeating: .nan, count: direct.count)
            if onOneThread {
                Parallelism.onCallingThread { conv2dForward(input: x, batch: batch, weight: wt, outChannels: co, geometry: g, output: &y) }
            } else {
                conv2dForward(input: x, batch: batch, weight: wt, outChannels: co, geometry: g, output: &y)
            }
            #expect(y.map(\.bitPattern) == direct.map(\.bitPattern), "one thread: \(onOneThread)")
        }
    }
}
