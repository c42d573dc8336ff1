import Testing
import SNNTensor

/// (batch, channels, height, width, kernel, stride)
let poolCases: [(Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1, 1), (2, 3, 4, 4, 2, 2), (1, 2, 7, 5, 2, 2), (3, 1, 9, 9, 3, 2), (2, 4, 8, 6, 3, 3),
    (1, 5, 17, 33, 4, 3), (2, 2, 6, 6, 1, 1), (1, 3, 10, 7, 2, 1), (4, 8, 16, 16, 2, 2),
]

struct PoolCase: CustomStringConvertible {
    var batch: Int, channels: Int, height: Int, width: Int, k: Int, s: Int
    init(_ t: (Int, Int, Int, Int, Int, Int)) { (batch, channels, height, width, k, s) = t }
    var description: String { "B\(batch) C\(channels) \(height)x\(width) k\(k) s\(s)" }
    var ho: Int { Pool2D.outExtent(height, kernel: k, stride: s) }
    var wo: Int { Pool2D.outExtent(width, kernel: k, stride: s) }
    var inCount: Int { batch * channels * height * width }
    var outCount: Int { batch * channels * ho * wo }
    /// `body(plane, outIndexInPlane, [inIndicesInPlane in row-major window order])`
    func forEachWindow(_ body: (Int, Int, [Int]) -> Void) {
        for pl in 0..<(batch * channels) {
            for oy in 0..<ho {
                for ox in 0..<wo {
                    var idx = [Int]()
                    for ky in 0..<k { for kx in 0..<k { idx.append((oy * s + ky) * width + ox * s + kx) } }
                    body(pl, oy * wo + ox, idx)
                }
            }
        }
    }
}

@Suite("Pooling")
struct PoolingTests {
    @Test("average pooling forward and backward match naive sums", arguments: poolCases.indices)
    func average(index: Int) {
        let tc = PoolCase(poolCases[index])
        var rng = TestRNG(UInt64(500 + index))
        let x = rng.values(tc.inCount), dy = rng.values(tc.outCount)
        var y = [Float](repeating: .nan, count: tc.outCount)
        Pool2D.averageForward(x, batch: tc.batch, channels: tc.channels, height: tc.height, width: tc.width,
                              kernel: tc.k, stride: tc.s, output: &y)
        var dx = [Float](repeating: .nan, count: tc.inCount)
        Pool2D.averageBackward(dy, batch: tc.batch, channels: tc.channels, height: tc.height, width: tc.width,
                               kernel: tc.k, stride: tc.s, inputGradient: &dx)
        var yRef = [Double](repeating: 0, count: tc.outCount)
        var dxRef = [Double](repeating: 0, count: tc.inCount)
        let plane = tc.height * tc.width, oplane = tc.ho * tc.wo
        tc.forEachWindow { pl, o, idx in
            var s = 0.0
            for i in idx { s += Double(x[pl * plane + i]); dxRef[pl * plane + i] += Double(dy[pl * oplane + o]) / Double(idx.count) }
            yRef[pl * oplane + o] = s / Double(idx.count)
        }
        #expect(maxAbsDiff(y, yRef) < 1e-5, "\(tc) forward")
        #expect(maxAbsDiff(dx, dxRef) < 1e-5, "\(tc) backward")
        // Adjoint: <dy, avg(x)> == <avg^T(dy), x>.
        #expect(abs(dotD(dy, y) - dotD(dx, x)) < 1e-4 * Double(tc.outCount).squareRoot() + 1e-5, "\(tc) adjoint")
    }

    @Test("max pooling forward picks the first maximum; backward routes to it", arguments: poolCases.indices)
    func maximum(index: Int) {
        let tc = PoolCase(poolCases[index])
        var rng = TestRNG(UInt64(600 + index))
        // Spike-like inputs (many ties) and continuous values.
        for x in [rng.spikes(tc.inCount, density: 0.3), rng.values(tc.inCount), [Float](repeating: 0, count: tc.inCount)] {
            let dy = rng.values(tc.outCount)
            var y = [Float](repeating: .nan, count: tc.outCount)
            var arg = [Int32](repeating: -1, count: tc.outCount)
            Pool2D.maxForward(x, batch: tc.batch, channels: tc.channels, height: tc.height, width: tc.width,
                              kernel: tc.k, stride: tc.s, output: &y, argmax: &arg)
            var dx = [Float](repeating: .nan, count: tc.inCount)
            Pool2D.maxBackward(dy, argmax: arg, batch: tc.batch, channels: tc.channels, height: tc.height,
                               width: tc.width, kernel: tc.k, stride: tc.s, inputGradient: &dx)
            var dxRef = [Double](repeating: 0, count: tc.inCount)
            let plane = tc.height * tc.width, oplane = tc.ho * tc.wo
            var ok = true
            tc.forEachWindow { pl, o, idx in
                var best = idx[0]
                for i in idx where x[pl * plane + i] > x[pl * plane + best] { best = i }
                if y[pl * oplane + o] != x[pl * plane + best] || Int(arg[pl * oplane + o]) != best { ok = false }
                dxRef[pl * plane + best] += Double(dy[pl * oplane + o])
            }
            #expect(ok, "\(tc) forward/argmax")
            #expect(maxAbsDiff(dx, dxRef) < 1e-5, "\(tc) backward")
        }
    }
}
