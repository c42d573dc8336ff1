import Testing
@testable import SNNTensor

/// Geometries Winograd's F(2x2, 3x3) takes (3x3, stride 1, padding 1): (channels, height, width, outChannels, batch).
/// Heights 2 and 6 give tile counts that are odd multiples of 8 (the 8-tile tail of the product); out-channel
/// counts that are not multiples of 4 take the one-channel tail.
let winogradCases: [(Int, Int, Int, Int, Int)] = [
    (8, 2, 16, 4, 1), (16, 16, 16, 32, 3), (9, 6, 32, 7, 2), (8, 4, 48, 1, 2), (32, 8, 16, 13, 1),
]

@Suite("Winograd F(2x2, 3x3)")
struct WinogradTests {
    @Test("applies only to 3x3 stride-1 padding-1 maps of even height, width a multiple of 16, 8+ input channels")
    func applicability() {
        #expect(Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 16, inWidth: 16, kernel: 3, stride: 1, padding: 1)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 3, inHeight: 32, inWidth: 32, kernel: 3, stride: 1, padding: 1)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 15, inWidth: 16, kernel: 3, stride: 1, padding: 1)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 16, inWidth: 24, kernel: 3, stride: 1, padding: 1)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 16, inWidth: 16, kernel: 3, stride: 2, padding: 1)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 16, inWidth: 16, kernel: 3, stride: 1, padding: 0)))
        #expect(!Winograd3x3.applies(Conv2DGeometry(inChannels: 16, inHeight: 16, inWidth: 16, kernel: 5, stride: 1, padding: 1)))
    }

    @Test("forward (fastDense) matches naive sums, and differs from the direct convolution only by rounding",
          arguments: winogradCases.indices)
    func forward(index: Int) {
        let t = winogradCases[index]
        let tc = ConvCase((t.0, t.1, t.2, 3, 1, 1, t.3, t.4))
        #expect(Winograd3x3.applies(tc.g))
        var rng = TestRNG(UInt64(900 + index))
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount)
        var y = [Float](repeating: .nan, count: tc.outCount)
        conv2dForward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g, output: &y, fastDense: true)
        let (ref, scale) = tc.naiveForward(x: x, w: w)
        // The transforms add a few roundings per term's path (sums of up to 9 values scaled by 1/2 or 1/4).
        #expect(worstRatio(y, ref, scale: scale, relTol: Double(4 * tc.g.patchSize + 16) * 1.2e-7) <= 1, "\(tc)")
        // A mistake in a transform (a wrong tap, a lost padding) would be far above rounding: check that the
        // error is also small in absolute terms at the worst output.
        let worst = zip(y, ref).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst < 1e-4, "\(tc): worst error \(worst)")
    }

    @Test("forward gives the same bits at one and two threads")
    func threadInvariance() {
        let tc = ConvCase((16, 16, 32, 3, 1, 1, 12, 5))
        var rng = TestRNG(77)
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount)
        var one = [Float](repeating: .nan, count: tc.outCount), two = one
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        Parallelism.threadCount = 1
        conv2dForward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g, output: &one, fastDense: true)
        Parallelism.threadCount = 2
        conv2dForward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g, output: &two, fastDense: true)
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }

    @Test("without fastDense, or where it does not apply, the dense path keeps the direct convolution's bits")
    func fallback() {
        var rng = TestRNG(78)
        for (t, fast) in [((16, 16, 16, 8, 2), false), ((4, 16, 16, 8, 2), true), ((16, 10, 20, 8, 2), true)] {
            let tc = ConvCase((t.0, t.1, t.2, 3, 1, 1, t.3, t.4))
            let w = rng.values(tc.weightCount), x = rng.values(tc.inCount)
            var y = [Float](repeating: .nan, count: tc.outCount), direct = y
            conv2dForward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g, output: &y, fastDense: fast)
            conv2dForwardDirect(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g, output: &direct)
            #expect(y.map(\.bitPattern) == direct.map(\.bitPattern), "\(tc) fastDense \(fast)")
        }
    }

    @Test("the input gradient of a 3x3 padding-1 conv on 16-wide maps (Winograd) matches naive sums",
          arguments: winogradCases.indices)
    func inputGradient(index: Int) {
        let t = winogradCases[index]
        // The input gradient runs Winograd on dY: O channels in, C out.
        let tc = ConvCase((t.3 + 7, t.1, t.2, 3, 1, 1, t.0, t.4))
        var rng = TestRNG(UInt64(950 + index))
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount), dy = rng.values(tc.outCount)
        var dw = [Float](repeating: 0, count: tc.weightCount)
        var dx = [Float](repeating: .nan, count: tc.inCount)
        conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                       outputGradient: dy, weightGradient: &dw, inputGradient: &dx)
        let ref = tc.naiveBackward(x: x, w: w, dy: dy)
        #expect(worstRatio(dx, ref.dx, scale: ref.dxScale, relTol: Double(4 * tc.outChannels * 9 + 16) * 1.2e-7) <= 1, "\(tc)")
        let worst = zip(dx, ref.dx).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(worst < 1e-4, "\(tc): worst error \(worst)")
    }

    @Test("the weight gradient (F(3x3, 2x2)) matches naive sums from either layout of dY; conv2dBackward takes it for dense inputs",
          arguments: winogradCases.indices)
    func weightGradient(index: Int) {
        let t = winogradCases[index]
        // Batches past one group of samples (Winograd3x3.weightGradientGroup) check the groups' partial sums.
        let tc = ConvCase((t.0, t.1, t.2, 3, 1, 1, t.3, t.4 + 4 * index))
        var rng = TestRNG(UInt64(980 + index))
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount), dy = rng.values(tc.outCount)
        let ref = tc.naiveBackward(x: x, w: w, dy: dy)
        // dY position-major too, as batch norm's backward pass hands it over.
        let positions = tc.g.outPositions, o = tc.outChannels, p = tc.g.patchSize
        var dyT = [Float](repeating: 0, count: tc.outCount)
        for s in 0..<tc.batch { for oc in 0..<o { for q in 0..<positions { dyT[(s * positions + q) * o + oc] = dy[(s * o + oc) * positions + q] } } }
        // Each term's path adds a few roundings (sums of up to four inputs and two gradients, halved twice); the
        // sums run over every tile of every sample.
        let tol = Double(tc.batch * positions / 4 + 64) * 4 * 1.2e-7
        var results: [[Float]] = []
        for transposed in [false, true] {
            var dWt = [Float](repeating: 0, count: p * o)  // [C * 9, O], added to
            Winograd3x3.weightGradient(input: x, batch: tc.batch, outChannels: o, geometry: tc.g,
                                       outputGradient: transposed ? nil : dy, transposedOutputGradient: transposed ? dyT : nil,
                                       into: &dWt)
            let got = (0..<tc.weightCount).map { i in dWt[(i % p) * o + i / p] }
            #expect(worstRatio(got, ref.dw, scale: ref.dwScale, relTol: tol) <= 1, "\(tc) transposed \(transposed)")
            let worst = zip(got, ref.dw).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst < 1e-3, "\(tc) transposed \(transposed): worst error \(worst)")
            results.append(got)
        }
        #expect(results[0].map(\.bitPattern) == results[1].map(\.bitPattern), "\(tc): the two layouts differ")
        // conv2dBackward adds the same sums to its weight gradient.
        var dw = [Float](repeating: 0.5, count: tc.weightCount)
        conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: o, geometry: tc.g, outputGradient: dy,
                       weightGradient: &dw, inputGradient: nil)
        #expect(dw.map(\.bitPattern) == results[0].map { (0.5 + $0).bitPattern }, "\(tc)")
    }

    @Test("the weight gradient gives the same bits at one and two threads")
    func weightGradientThreadInvariance() {
        let tc = ConvCase((16, 16, 32, 3, 1, 1, 24, 21))
        var rng = TestRNG(79)
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount), dy = rng.values(tc.outCount)
        var one = [Float](repeating: 0, count: tc.weightCount), two = one
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        Parallelism.threadCount = 1
        conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                       outputGradient: dy, weightGradient: &one, inputGradient: nil)
        Parallelism.threadCount = 2
        conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                       outputGradient: dy, weightGradient: &two, inputGradient: nil)
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }
}
