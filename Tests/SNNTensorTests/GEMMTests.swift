import Testing
import SNNTensor

/// One GEMM problem with padded strides, its inputs and its Double reference.
struct GEMMCase: CustomStringConvertible {
    var m: Int, n: Int, k: Int, transA: Bool, transB: Bool, beta: Float
    var lda: Int, ldb: Int, ldc: Int
    var a: [Float], b: [Float], c0: [Float]

    var description: String { "\(m)x\(n)x\(k) tA=\(transA) tB=\(transB) beta=\(beta)" }

    init(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, beta: Float, pad: Int, aKind: Int, bKind: Int = 0,
         rng: inout TestRNG) {
        self.m = m; self.n = n; self.k = k; self.transA = transA; self.transB = transB; self.beta = beta
        lda = (transA ? m : k) + pad; ldb = (transB ? k : n) + pad; ldc = n + pad
        let aCount = (transA ? k : m) * lda
        switch aKind {
        case 1: a = rng.spikes(aCount, density: 0.05)
        case 2: a = rng.sparse(aCount, density: 0.2)
        default: a = rng.values(aCount)
        }
        let bCount = (transB ? n : k) * ldb
        switch bKind {
        case 1: b = rng.spikes(bCount, density: 0.05)
        case 2: b = rng.sparse(bCount, density: 0.1)
        default: b = rng.values(bCount)
        }
        c0 = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : rng.values(m * ldc)
        if beta == 0 { for i in 0..<m { for j in n..<ldc { c0[i * ldc + j] = 7 } } }
    }

    func opA(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
    func opB(_ p: Int, _ j: Int) -> Float { transB ? b[j * ldb + p] : b[p * ldb + j] }

    /// Reference values and magnitude scales for the `m x n` block.
    func reference() -> (ref: [Double], scale: [Double]) {
        var ref = [Double](repeating: 0, count: m * n), scale = ref
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0, sa = 0.0
                for p in 0..<k { let t = Double(opA(i, p)) * Double(opB(p, j)); s += t; sa += abs(t) }
                if beta != 0 {
                    let cb = Double(beta) * Double(c0[i * ldc + j]); s += cb; sa += abs(cb)
                }
                ref[i * n + j] = s; scale[i * n + j] = sa
            }
        }
        return (ref, scale)
    }

    /// Runs `body` on a copy of C and returns the `m x n` block, checking the padding was left alone.
    func run(_ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        var c = c0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in body(pa.baseAddress!, pb.baseAddress!, pc.baseAddress!) }
            }
        }
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n { out[i * n + j] = c[i * ldc + j] }
            for j in n..<ldc { #expect(c[i * ldc + j].bitPattern == c0[i * ldc + j].bitPattern, "padding of C changed") }
        }
        return out
    }
}

/// Shapes with odd sizes around the micro-kernel tiles (4, 6, 8, 16, 32) and the k block (256).
let gemmShapes: [(Int, Int, Int)] = [
    (1, 1, 1), (1, 7, 3), (3, 1, 17), (7, 33, 5), (17, 3, 33), (5, 17, 1), (33, 65, 17), (8, 32, 256),
    (9, 33, 257), (6, 16, 255), (64, 64, 64), (100, 37, 300), (129, 70, 513), (2, 200, 40), (250, 3, 9),
]

@Suite("GEMM")
struct GEMMTests {
    @Test("dense GEMM matches a naive reference for every micro-kernel, transpose and beta",
          arguments: gemmShapes)
    func denseAgainstNaive(shape: (Int, Int, Int)) {
        var rng = TestRNG(UInt64(shape.0 * 1_000_003 + shape.1 * 1009 + shape.2))
        for transA in [false, true] {
            for transB in [false, true] {
                for beta: Float in [0, 1, 0.5] {
                    let pad = rng.int(0...3)
                    let tc = GEMMCase(m: shape.0, n: shape.1, k: shape.2, transA: transA, transB: transB, beta: beta,
                                      pad: pad, aKind: 0, rng: &rng)
                    let (ref, scale) = tc.reference()
                    let relTol = Double(tc.k + 2) * 1.2e-7
                    var first: [Float]? = nil
                    for kern in GEMMMicroKernel.allCases {
                        for parallel in [true, false] {
                            let got = tc.run { a, b, c in
                                gemmDense(m: tc.m, n: tc.n, k: tc.k, a: a, lda: tc.lda, transA: transA, b: b, ldb: tc.ldb,
                                          transB: transB, c: c, ldc: tc.ldc, beta: beta, parallel: parallel, microKernel: kern)
                            }
                            let worst = worstRatio(got, ref, scale: scale, relTol: relTol)
                            #expect(worst <= 1, "\(tc) kernel \(kern) parallel \(parallel): error \(worst) x tolerance")
                            // Every micro-kernel and thread split sums in the same order: identical bits.
                            if let f = first {
                                #expect(f.map(\.bitPattern) == got.map(\.bitPattern), "\(tc) kernel \(kern) differs in bits")
                            } else {
                                first = got
                            }
                        }
                    }
                    let auto = tc.run { a, b, c in
                        gemm(m: tc.m, n: tc.n, k: tc.k, a: a, lda: tc.lda, transA: transA, b: b, ldb: tc.ldb,
                             transB: transB, c: c, ldc: tc.ldc, beta: beta)
                    }
                    #expect(worstRatio(auto, ref, scale: scale, relTol: relTol) <= 1, "\(tc) gemm")
                }
            }
        }
    }

    @Test("eight-column products (read in place) equal the packed path bit for bit", arguments: [1, 3, 4, 5, 9, 18, 72])
    func eightColumnsEqualPacked(m: Int) {
        var rng = TestRNG(UInt64(900 + m))
        for k in [1, 7, 255, 256, 257, 784] {
            for beta: Float in [0, 1, 0.5] {
                // transB: false takes the in-place path; the same B stored transposed takes the packed one.
                let tc = GEMMCase(m: m, n: 8, k: k, transA: false, transB: false, beta: beta, pad: rng.int(0...3), aKind: 0, rng: &rng)
                let bt = (0..<(8 * k)).map { idx in tc.b[(idx % k) * tc.ldb + idx / k] }   // [8, k]
                let (ref, scale) = tc.reference()
                let direct = tc.run { a, b, c in
                    gemmDense(m: m, n: 8, k: k, a: a, lda: tc.lda, b: b, ldb: tc.ldb, c: c, ldc: tc.ldc, beta: beta, parallel: false)
                }
                #expect(worstRatio(direct, ref, scale: scale, relTol: Double(k + 2) * 1.2e-7) <= 1, "\(tc)")
                for kern in GEMMMicroKernel.allCases {
                    let packed = tc.run { a, _, c in
                        bt.withUnsafeBufferPointer { btp in
                            gemmDense(m: m, n: 8, k: k, a: a, lda: tc.lda, b: btp.baseAddress!, ldb: k, transB: true,
                                      c: c, ldc: tc.ldc, beta: beta, parallel: false, microKernel: kern)
                        }
                    }
                    #expect(packed.map(\.bitPattern) == direct.map(\.bitPattern), "\(tc) kernel \(kern): packed and in-place differ in bits")
                }
            }
        }
    }

    @Test("sparse and spike inputs (the gather path) match a naive reference", arguments: [1, 2])
    func sparseAgainstNaive(aKind: Int) {
        var rng = TestRNG(UInt64(40 + aKind))
        let shapes = gemmShapes + [(128, 64, 2312), (3, 10, 64), (300, 8, 72), (18, 16, 300)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1, -0.25] {
                        let tc = GEMMCase(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta,
                                          pad: rng.int(0...2), aKind: aKind, rng: &rng)
                        let (ref, scale) = tc.reference()
                        let relTol = Double(k + 2) * 1.2e-7
                        for parallel in [true, false] {
                            let got = tc.run { a, b, c in
                                gemm(m: m, n: n, k: k, a: a, lda: tc.lda, transA: transA, b: b, ldb: tc.ldb,
                                     transB: transB, c: c, ldc: tc.ldc, beta: beta, parallel: parallel)
                            }
                            let worst = worstRatio(got, ref, scale: scale, relTol: relTol)
                            #expect(worst <= 1, "\(tc) sparse kind \(aKind) parallel \(parallel): \(worst)")
                        }
                        if !transA && !transB && beta == 1 {
                            let got = tc.run { a, b, c in
                                spikeGatherAdd(m: m, n: n, k: k, a: a, lda: tc.lda, b: b, ldb: tc.ldb, c: c, ldc: tc.ldc)
                            }
                            #expect(worstRatio(got, ref, scale: scale, relTol: relTol) <= 1, "\(tc) spikeGatherAdd")
                        }
                    }
                }
            }
        }
    }

    @Test("sparse B with dense A (the transposed gather path) matches a naive reference", arguments: [1, 2])
    func sparseBAgainstNaive(bKind: Int) {
        var rng = TestRNG(UInt64(60 + bKind))
        let shapes = gemmShapes + [(64, 2312, 128), (16, 72, 300), (5, 9, 40)]
        for (m, n, k) in shapes {
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1, 0.75] {
                        let tc = GEMMCase(m: m, n: n, k: k, transA: transA, transB: transB, beta: beta,
                                          pad: rng.int(0...2), aKind: 0, bKind: bKind, rng: &rng)
                        let (ref, scale) = tc.reference()
                        for parallel in [true, false] {
                            let got = tc.run { a, b, c in
                                gemm(m: m, n: n, k: k, a: a, lda: tc.lda, transA: transA, b: b, ldb: tc.ldb,
                                     transB: transB, c: c, ldc: tc.ldc, beta: beta, parallel: parallel)
                            }
                            let worst = worstRatio(got, ref, scale: scale, relTol: Double(k + 2) * 1.2e-7)
                            #expect(worst <= 1, "\(tc) sparse B kind \(bKind) parallel \(parallel): \(worst)")
                        }
                    }
                }
            }
        }
    }

    @Test("spikeGatherAdd is bit-identical to event-by-event delivery in ascending input order")
    func gatherEventOrder() {
        var rng = TestRNG(123)
        for (m, n, k) in [(5, 64, 300), (3, 10, 2312), (17, 33, 77), (1, 1, 5)] {
            let a = rng.spikes(m * k, density: 0.1).map { $0 == 0 ? 0 : Float(1 + rng.int(0...2)) }
            let b = rng.values(k * n)
            let c0 = rng.values(m * n)
            var c = c0
            spikeGatherAdd(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
            var ref = c0
            for i in 0..<m {
                for p in 0..<k where a[i * k + p] != 0 {
                    for j in 0..<n { ref[i * n + j] += a[i * k + p] * b[p * n + j] }
                }
            }
            #expect(c.map(\.bitPattern) == ref.map(\.bitPattern), "\(m)x\(n)x\(k)")
        }
    }

    @Test("results do not depend on splitting over threads (sparse path)")
    func sparseDeterministic() {
        var rng = TestRNG(99)
        let tc = GEMMCase(m: 77, n: 45, k: 300, transA: true, transB: false, beta: 0.5, pad: 1, aKind: 1, rng: &rng)
        let run = { (parallel: Bool) in
            tc.run { a, b, c in
                gemm(m: tc.m, n: tc.n, k: tc.k, a: a, lda: tc.lda, transA: true, b: b, ldb: tc.ldb,
                     c: c, ldc: tc.ldc, beta: 0.5, parallel: parallel)
            }
        }
        #expect(run(true).map(\.bitPattern) == run(false).map(\.bitPattern))
    }

    @Test("random shapes, dense and sparse")
    func randomShapes() {
        var rng = TestRNG(2024)
        for trial in 0..<40 {
            let m = rng.int(1...70), n = rng.int(1...90), k = rng.int(1...300)
            let tc = GEMMCase(m: m, n: n, k: k, transA: rng.int(0...1) == 1, transB: rng.int(0...1) == 1,
                              beta: [0, 1, 2][rng.int(0...2)], pad: rng.int(0...5), aKind: trial % 3, rng: &rng)
            let (ref, scale) = tc.reference()
            let got = tc.run { a, b, c in
                gemm(m: m, n: n, k: k, a: a, lda: tc.lda, transA: tc.transA, b: b, ldb: tc.ldb, transB: tc.transB,
                     c: c, ldc: tc.ldc, beta: tc.beta)
            }
            #expect(worstRatio(got, ref, scale: scale, relTol: Double(k + 3) * 1.2e-7) <= 1, "\(tc)")
        }
    }

    @Test("k == 0 scales C by beta; m or n == 0 does nothing")
    func degenerate() {
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        let a: [Float] = [9], b: [Float] = [9]
        gemm(m: 2, n: 3, k: 0, a: a, lda: 1, b: b, ldb: 3, c: &c, ldc: 3, beta: 2)
        #expect(c == [2, 4, 6, 8, 10, 12])
        gemm(m: 2, n: 3, k: 0, a: a, lda: 1, b: b, ldb: 3, c: &c, ldc: 3, beta: 0)
        #expect(c == [0, 0, 0, 0, 0, 0])
        var d: [Float] = [5]
        gemm(m: 0, n: 1, k: 4, a: a, lda: 4, b: b, ldb: 1, c: &d, ldc: 1)
        gemm(m: 1, n: 0, k: 4, a: a, lda: 4, b: b, ldb: 1, c: &d, ldc: 1)
        #expect(d == [5])
    }

    @Test("beta == 0 never reads C (NaN garbage is overwritten)")
    func betaZeroIgnoresGarbage() {
        var rng = TestRNG(5)
        for (m, n, k) in [(33, 70, 100), (8, 32, 256), (5, 3, 2)] {
            for aKind in [0, 1] {
                let a = aKind == 0 ? rng.values(m * k) : rng.spikes(m * k, density: 0.05)
                let b = rng.values(k * n)
                var c = [Float](repeating: .nan, count: m * n)
                gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n, beta: 0)
                #expect(c.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test("Tensor.matmul with transposes")
    func tensorMatmul() {
        var rng = TestRNG(11)
        let x = Tensor(shape: [5, 7], data: rng.values(35))
        let y = Tensor(shape: [7, 3], data: rng.values(21))
        let yT = Tensor(shape: [3, 7], data: (0..<21).map { i in y.data[(i % 7) * 3 + i / 7] })
        let xT = Tensor(shape: [7, 5], data: (0..<35).map { i in x.data[(i % 5) * 7 + i / 5] })
        let ref = x.matmul(y)
        #expect(ref.shape == [5, 3])
        for i in 0..<5 {
            for j in 0..<3 {
                var s: Float = 0
                for p in 0..<7 { s += x.data[i * 7 + p] * y.data[p * 3 + j] }
                #expect(abs(ref.data[i * 3 + j] - s) < 1e-5)
            }
        }
        for (l, r) in [(ref, x.matmul(yT, transposeOther: true)), (ref, xT.matmul(y, transposeSelf: true)),
                       (ref, xT.matmul(yT, transposeSelf: true, transposeOther: true))] {
            #expect(l.shape == r.shape)
            for i in 0..<l.count { #expect(abs(l.data[i] - r.data[i]) < 1e-5) }
        }
    }

    @Test("benchmarkGEMM reports a positive rate; a micro-kernel is selected")
    func benchmarkRuns() {
        let g = benchmarkGEMM(m: 33, n: 40, k: 20, repeats: 1)
        #expect(g > 0 && g.isFinite)
        #expect(GEMMMicroKernel.allCases.contains(GEMMMicroKernel.selected))
    }
}
