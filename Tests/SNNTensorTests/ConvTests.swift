import Testing
import SNNTensor

/// (channels, height, width, kernel, stride, padding, outChannels, batch)
let convCases: [(Int, Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1, 0, 1, 1), (2, 5, 7, 3, 1, 0, 3, 2), (3, 7, 5, 3, 2, 1, 4, 3), (2, 34, 34, 3, 2, 0, 8, 3),
    (8, 16, 16, 3, 2, 1, 16, 2), (16, 8, 8, 3, 2, 1, 32, 2), (1, 9, 9, 5, 3, 2, 2, 1), (4, 6, 6, 2, 2, 0, 5, 3),
    (3, 4, 4, 3, 1, 2, 2, 2), (5, 11, 3, 1, 1, 0, 7, 2), (2, 13, 17, 4, 3, 1, 33, 1), (17, 3, 3, 3, 1, 1, 3, 5),
    // The phased fold of the input gradient at stride 1 (padding as wide as the kernel) and stride 2 (odd width).
    (2, 6, 7, 3, 1, 3, 4, 2), (3, 9, 35, 3, 2, 1, 5, 2),
]

struct ConvCase: CustomStringConvertible {
    var g: Conv2DGeometry, outChannels: Int, batch: Int
    var description: String {
        "C\(g.inChannels) \(g.inHeight)x\(g.inWidth) k\(g.kernelHeight) s\(g.stride) p\(g.padding) O\(outChannels) B\(batch)"
    }
    init(_ t: (Int, Int, Int, Int, Int, Int, Int, Int)) {
        g = Conv2DGeometry(inChannels: t.0, inHeight: t.1, inWidth: t.2, kernel: t.3, stride: t.4, padding: t.5)
        outChannels = t.6; batch = t.7
    }
    var inCount: Int { batch * g.inSize }
    var outCount: Int { batch * outChannels * g.outPositions }
    var weightCount: Int { outChannels * g.patchSize }

    /// Calls `body(s, o, c, oy, ox, ky, kx, inputIndex, outputIndex, weightIndex)` for every term of the sum.
    func forEachTerm(_ body: (Int, Int, Int) -> Void) {
        let ho = g.outHeight, wo = g.outWidth, kk = g.kernelHeight
        for s in 0..<batch {
            for o in 0..<outChannels {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        let yi = ((s * outChannels + o) * ho + oy) * wo + ox
                        for c in 0..<g.inChannels {
                            for ky in 0..<kk {
                                let iy = oy * g.stride - g.padding + ky
                                if iy < 0 || iy >= g.inHeight { continue }
                                for kx in 0..<kk {
                                    let ix = ox * g.stride - g.padding + kx
                                    if ix < 0 || ix >= g.inWidth { continue }
                                    let xi = ((s * g.inChannels + c) * g.inHeight + iy) * g.inWidth + ix
                                    let wi = ((o * g.inChannels + c) * kk + ky) * kk + kx
                                    body(xi, yi, wi)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    func naiveForward(x: [Float], w: [Float]) -> (ref: [Double], scale: [Double]) {
        var y = [Double](repeating: 0, count: outCount), sc = y
        forEachTerm { xi, yi, wi in let t = Double(x[xi]) * Double(w[wi]); y[yi] += t; sc[yi] += abs(t) }
        return (y, sc)
    }

    func naiveBackward(x: [Float], w: [Float], dy: [Float]) -> (dw: [Double], dwScale: [Double], dx: [Double], dxScale: [Double]) {
        var dw = [Double](repeating: 0, count: weightCount), dws = dw
        var dx = [Double](repeating: 0, count: inCount), dxs = dx
        forEachTerm { xi, yi, wi in
            let a = Double(dy[yi]) * Double(x[xi]); dw[wi] += a; dws[wi] += abs(a)
            let b = Double(dy[yi]) * Double(w[wi]); dx[xi] += b; dxs[xi] += abs(b)
        }
        return (dw, dws, dx, dxs)
    }

    func forward(x: [Float], w: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: outCount)
        conv2dForward(input: x, batch: batch, weight: w, outChannels: outChannels, geometry: g, output: &y)
        return y
    }
}

@Suite("Conv2D")
struct ConvTests {
    @Test("forward matches a direct convolution (dense and spike inputs)", arguments: convCases.indices)
    func forward(index: Int) {
        let tc = ConvCase(convCases[index])
        var rng = TestRNG(UInt64(100 + index))
        let w = rng.values(tc.weightCount)
        for x in [rng.values(tc.inCount), rng.spikes(tc.inCount, density: 0.08), [Float](repeating: 0, count: tc.inCount)] {
            let (ref, scale) = tc.naiveForward(x: x, w: w)
            let y = tc.forward(x: x, w: w)
            #expect(worstRatio(y, ref, scale: scale, relTol: Double(tc.g.patchSize + 2) * 1.2e-7) <= 1, "\(tc)")
        }
    }

    @Test("backward: weight gradient accumulates, input gradient is overwritten; both match naive sums",
          arguments: convCases.indices)
    func backward(index: Int) {
        let tc = ConvCase(convCases[index])
        var rng = TestRNG(UInt64(200 + index))
        let w = rng.values(tc.weightCount)
        for spikes in [false, true] {
            let x = spikes ? rng.spikes(tc.inCount, density: 0.1) : rng.values(tc.inCount)
            let dy = rng.values(tc.outCount)
            let dw0 = rng.values(tc.weightCount)
            var dw = dw0
            var dx = [Float](repeating: .nan, count: tc.inCount)
            conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                           outputGradient: dy, weightGradient: &dw, inputGradient: &dx)
            let ref = tc.naiveBackward(x: x, w: w, dy: dy)
            let terms = Double(tc.batch * tc.g.outPositions + 2) * 1.2e-7
            let dwRef = (0..<tc.weightCount).map { ref.dw[$0] + Double(dw0[$0]) }
            let dwScale = (0..<tc.weightCount).map { ref.dwScale[$0] + abs(Double(dw0[$0])) }
            #expect(worstRatio(dw, dwRef, scale: dwScale, relTol: terms) <= 1, "\(tc) dW spikes=\(spikes)")
            #expect(worstRatio(dx, ref.dx, scale: ref.dxScale, relTol: Double(tc.outChannels * 9 + 2) * 1.2e-7) <= 1,
                    "\(tc) dX spikes=\(spikes)")

            // Without an input gradient, the weight gradient is the same.
            var dw2 = dw0
            conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                           outputGradient: dy, weightGradient: &dw2, inputGradient: nil)
            #expect(worstRatio(dw2, dwRef, scale: dwScale, relTol: terms) <= 1, "\(tc) dW without dX")
        }
    }

    @Test("adjoint identities: <dy, conv(x)> == <conv^T(dy), x> and == <dW(x, dy), w>", arguments: convCases.indices)
    func adjoint(index: Int) {
        let tc = ConvCase(convCases[index])
        var rng = TestRNG(UInt64(300 + index))
        let w = rng.values(tc.weightCount), x = rng.values(tc.inCount), dy = rng.values(tc.outCount)
        let y = tc.forward(x: x, w: w)
        var dw = [Float](repeating: 0, count: tc.weightCount)
        var dx = [Float](repeating: 0, count: tc.inCount)
        conv2dBackward(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: tc.g,
                       outputGradient: dy, weightGradient: &dw, inputGradient: &dx)
        let lhs = dotD(dy, y)
        let tol = 1e-4 * (1 + Double(tc.outCount * tc.g.patchSize).squareRoot())
        #expect(abs(lhs - dotD(dx, x)) <= tol, "\(tc) <dy, Ax> vs <A^T dy, x>")
        #expect(abs(lhs - dotD(dw, w)) <= tol, "\(tc) <dy, Ax> vs <dW, w>")
    }

    @Test("random geometries: forward, weight and input gradients against naive sums")
    func randomGeometries() {
        var rng = TestRNG(777)
        for trial in 0..<30 {
            let k = rng.int(1...5), st = rng.int(1...3), pad = rng.int(0...k)
            let h = rng.int(max(1, k - 2 * pad)...(k + 12)), w = rng.int(max(1, k - 2 * pad)...(k + 12))
            let tc = ConvCase((rng.int(1...5), h, w, k, st, pad, rng.int(1...19), rng.int(1...4)))
            if tc.g.outHeight < 1 || tc.g.outWidth < 1 { continue }
            let wts = rng.values(tc.weightCount)
            let x = trial % 2 == 0 ? rng.spikes(tc.inCount, density: 0.1) : rng.values(tc.inCount)
            let (ref, scale) = tc.naiveForward(x: x, w: wts)
            #expect(worstRatio(tc.forward(x: x, w: wts), ref, scale: scale, relTol: Double(tc.g.patchSize + 2) * 1.2e-7) <= 1,
                    "\(tc) forward")
            let dy = rng.values(tc.outCount)
            var dw = [Float](repeating: 0, count: tc.weightCount)
            var dx = [Float](repeating: .nan, count: tc.inCount)
            conv2dBackward(input: x, batch: tc.batch, weight: wts, outChannels: tc.outChannels, geometry: tc.g,
                           outputGradient: dy, weightGradient: &dw, inputGradient: &dx)
            let b = tc.naiveBackward(x: x, w: wts, dy: dy)
            #expect(worstRatio(dw, b.dw, scale: b.dwScale, relTol: Double(tc.batch * tc.g.outPositions + 2) * 1.2e-7) <= 1,
                    "\(tc) dW")
            #expect(worstRatio(dx, b.dx, scale: b.dxScale, relTol: Double(tc.outChannels * k * k + 2) * 1.2e-7) <= 1,
                    "\(tc) dX")
        }
    }

    @Test("spike inputs: forward is bit-identical to event-by-event delivery in ascending input order",
          arguments: convCases.indices)
    func eventOrder(index: Int) {
        let tc = ConvCase(convCases[index])
        let g = tc.g
        var rng = TestRNG(UInt64(800 + index))
        let w = rng.values(tc.weightCount)
        // Spikes and small event counts (N-MNIST frames hold counts); sparse enough for conv2dForward's
        // event path, and dense inputs through conv2dForwardEvents.
        for density: Float in [0.12, 0.6] {
        let x = rng.spikes(tc.inCount, density: density).map { $0 == 0 ? 0 : Float(1 + rng.int(0...2)) }
        var y = [Float](repeating: .nan, count: tc.outCount)
        if density < 0.25 {
            y = tc.forward(x: x, w: w)
        } else {
            conv2dForwardEvents(input: x, batch: tc.batch, weight: w, outChannels: tc.outChannels, geometry: g, output: &y)
        }
        var ref = [Float](repeating: 0, count: tc.outCount)
        let ho = g.outHeight, wo = g.outWidth, kk = g.kernelHeight
        for s in 0..<tc.batch {
            for src in 0..<g.inSize where x[s * g.inSize + src] != 0 {
                let v = x[s * g.inSize + src]
                let c = src / (g.inHeight * g.inWidth), iy = (src / g.inWidth) % g.inHeight, ix = src % g.inWidth
                for oy in 0..<ho {
                    let ky = iy + g.padding - oy * g.stride
                    if ky < 0 || ky >= kk { continue }
                    for ox in 0..<wo {
                        let kx = ix + g.padding - ox * g.stride
                        if kx < 0 || kx >= kk { continue }
                        for o in 0..<tc.outChannels {
                            ref[((s * tc.outChannels + o) * ho + oy) * wo + ox] += v * w[((o * g.inChannels + c) * kk + ky) * kk + kx]
                        }
                    }
                }
            }
        }
        #expect(y.map(\.bitPattern) == ref.map(\.bitPattern), "\(tc) density \(density)")
        }
    }

    @Test("dense graded inputs: the im2col GEMM gives the event kernel's bits when the patch fits one GEMM depth block",
          arguments: convCases.indices)
    func denseGEMMMatchesEventOrder(index: Int) {
        let tc = ConvCase(convCases[index])
        #expect(tc.g.patchSize <= gemmKC, "\(tc): the cases are meant to fit one depth block")
        var rng = TestRNG(UInt64(900 + index))
        let w = rng.values(tc.weightCount)
        // Signed graded values, most non-zero (conv2dForward takes the GEMM), some exact zeros, and
        // weights with exact zeros too: the GEMM adds those +-0 products, the event kernel skips them.
        var x = rng.values(tc.inCount)
        for i in stride(from: 0, to: x.count, by: 3) { x[i] = 0 }
        var wz = w
        for i in stride(from: 0, to: wz.count, by: 5) { wz[i] = 0 }
        for weights in [w, wz] {
            var dense = [Float](repeating: .nan, count: tc.outCount), events = dense
            conv2dForward(input: x, batch: tc.batch, weight: weights, outChannels: tc.outChannels, geometry: tc.g, output: &dense)
            conv2dForwardEvents(input: x, batch: tc.batch, weight: weights, outChannels: tc.outChannels, geometry: tc.g, output: &events)
            #expect(dense.map(\.bitPattern) == events.map(\.bitPattern), "\(tc)")
        }
    }

    @Test("im2col and col2imAdd are adjoint", arguments: convCases.indices)
    func im2colAdjoint(index: Int) {
        let g = ConvCase(convCases[index]).g
        var rng = TestRNG(UInt64(400 + index))
        let x = rng.values(g.inSize)
        let colsY = rng.values(g.patchSize * g.outPositions)
        var cols = [Float](repeating: .nan, count: g.patchSize * g.outPositions)
        im2col(x, g, &cols)
        var back = rng.values(g.inSize)
        let back0 = back
        col2imAdd(colsY, g, &back)
        let folded = (0..<g.inSize).map { back[$0] - back0[$0] }
        #expect(abs(dotD(cols, colsY) - dotD(x, folded)) <= 1e-4 * (1 + Double(cols.count).squareRoot()))
        #expect(cols.allSatisfy { $0.isFinite })
    }
}
