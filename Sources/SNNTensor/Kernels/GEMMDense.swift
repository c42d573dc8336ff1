#if canImport(Glibc)
import Glibc
#endif

/// The register tile of the dense GEMM micro-kernel: `rows x columns` of `C` held in SIMD registers.
///
/// All shapes give bit-identical results (each element of `C` is summed over `k` in the same order,
/// with separate multiply and add, in blocks of ``gemmKC``); they differ only in speed, which depends
/// on the instruction set the package was compiled for (`SIMD16<Float>` is one AVX-512 register,
/// two AVX2 registers or four SSE registers). ``selected`` is measured once per process.
public enum GEMMMicroKernel: Int, CaseIterable, Sendable {
    /// 8 x 32: 16 AVX-512 accumulators.
    case m8n32
    /// 6 x 16: 12 AVX2 accumulators (6 AVX-512).
    case m6n16
    /// 4 x 16: 8 AVX2 accumulators (leaves registers free when multiply and add are separate).
    case m4n16
    /// 4 x 8: 8 SSE accumulators.
    case m4n8

    public var rows: Int { switch self { case .m8n32: 8; case .m6n16: 6; case .m4n16: 4; case .m4n8: 4 } }
    public var columns: Int { switch self { case .m8n32: 32; case .m6n16: 16; case .m4n16: 16; case .m4n8: 8 } }

    /// The fastest shape on this machine for this build (environment variable `SNNKIT_GEMM_KERNEL`
    /// = `m8n32`, `m6n16`, `m4n16` or `m4n8` forces one).
    public static let selected: GEMMMicroKernel = {
        if let s = getenv("SNNKIT_GEMM_KERNEL"), let forced = allCases.first(where: { "\($0)" == String(cString: s) }) {
            return forced
        }
        return autotune()
    }()

    /// Times each shape on a 96 x 256 x 256 product on the calling thread (best of 7, shapes interleaved
    /// so that a busy machine slows them alike) and returns the fastest; a shape earlier in `allCases`
    /// is kept unless a later one is at least 10% faster.
    static func autotune() -> GEMMMicroKernel {
        let m = 96, n = 256, k = 256
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float(i % 7) - 3 }
        for i in 0..<(k * n) { b[i] = Float(i % 5) - 2 }
        var best = [Double](repeating: .infinity, count: allCases.count)
        for _ in 0..<7 {
            for (i, kern) in allCases.enumerated() {
                let t0 = monotonicSeconds()
                gemmDense(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n, parallel: false, microKernel: kern)
                best[i] = min(best[i], monotonicSeconds() - t0)
            }
        }
        var choice = 0
        for i in 1..<allCases.count where best[i] < 0.9 * best[choice] { choice = i }
        return allCases[choice]
    }
}

/// Depth of one packed block of `k` (the micro-kernel's inner loop length).
public let gemmKC = 256
/// Rows of `op(A)` packed at once (kept in L2).
let gemmMC = 96
/// Columns of `op(B)` packed at once.
let gemmNC = 2048

/// Dense GEMM, `C = beta * C + op(A) * op(B)` (see ``gemm(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:)``),
/// without the sparse-input path: `op(B)` is packed into `gemmKC x NR` panels, `op(A)` into `MR x gemmKC`
/// panels, and a register-blocked `MR x NR` micro-kernel accumulates each tile of `C`. Threads own
/// disjoint row blocks (or column blocks when `m` is small).
public func gemmDense(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
    c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0,
    parallel: Bool = true, microKernel: GEMMMicroKernel = .selected
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<m { scaleRow(c + i * ldc, n, beta) }
        return
    }
    if n == 8, !transA, !transB {
        gemmEightColumns(m: m, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, beta: beta)
        return
    }
    let mr = microKernel.rows, nr = microKernel.columns
    let threads = parallel ? Parallelism.threadCount : 1
    let work = m * n * k
    // Below ~200k multiply-adds a thread, waking another thread costs more than it saves.
    let maxChunks = max(1, min(threads, work / 200_000))
    let mPanels = (m + mr - 1) / mr, nPanels = (n + nr - 1) / nr
    if maxChunks > 1, mPanels >= 2 * maxChunks || mPanels >= nPanels {
        let chunks = min(maxChunks, mPanels)
        concurrentPerform(chunks) { t in
            let lo = mPanels * t / chunks * mr, hi = min(m, mPanels * (t + 1) / chunks * mr)
            if lo < hi {
                denseBlock(rows: lo..<hi, cols: 0..<n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb,
                           transB: transB, c: c, ldc: ldc, beta: beta, kern: microKernel)
            }
        }
    } else if maxChunks > 1 {
        let chunks = min(maxChunks, nPanels)
        concurrentPerform(chunks) { t in
            let lo = nPanels * t / chunks * nr, hi = min(n, nPanels * (t + 1) / chunks * nr)
            if lo < hi {
                denseBlock(rows: 0..<m, cols: lo..<hi, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb,
                           transB: transB, c: c, ldc: ldc, beta: beta, kern: microKernel)
            }
        }
    } else {
        denseBlock(rows: 0..<m, cols: 0..<n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb,
                   transB: transB, c: c, ldc: ldc, beta: beta, kern: microKernel)
    }
}

/// `C = beta * C + A * B` for `B` and `C` of exactly eight columns, neither operand transposed
/// (e.g. a convolution's weight gradient with eight output channels). The packed path would pad each
/// `B` panel to the micro-kernel's 16 columns and pack both operands for every sample; here rows of `A`
/// are read in place (one broadcast per row and `k`) and each row of `B` is one SIMD register.
/// Each element of `C` is summed exactly as the micro-kernels sum it: over `k` in blocks of ``gemmKC``,
/// each block from zero in ascending `k` with separate multiply and add, then added into `C` (the first
/// block as `beta` says), so the result is bit-identical to ``gemmDense``'s packed path. One thread:
/// the products this serves are small.
func gemmEightColumns(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    var pc = 0
    while pc < k {
        let kc = min(gemmKC, k - pc)
        let mode = pc != 0 ? 1 : (beta == 0 ? 0 : (beta == 1 ? 1 : 2))
        let bp = b + pc * ldb
        var i = 0
        while i + 4 <= m {
            let a0 = a + i * lda + pc, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
            var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
            for p in 0..<kc {
                let row = ld8(bp + p * ldb)
                c0 += SIMD8<Float>(repeating: a0[p]) * row
                c1 += SIMD8<Float>(repeating: a1[p]) * row
                c2 += SIMD8<Float>(repeating: a2[p]) * row
                c3 += SIMD8<Float>(repeating: a3[p]) * row
            }
            let r = c + i * ldc
            writeBack8(r, c0, mode, beta); writeBack8(r + ldc, c1, mode, beta)
            writeBack8(r + 2 * ldc, c2, mode, beta); writeBack8(r + 3 * ldc, c3, mode, beta)
            i += 4
        }
        while i < m {
            let a0 = a + i * lda + pc
            var c0 = SIMD8<Float>()
            for p in 0..<kc { c0 += SIMD8<Float>(repeating: a0[p]) * ld8(bp + p * ldb) }
            writeBack8(c + i * ldc, c0, mode, beta)
            i += 1
        }
        pc += kc
    }
}

/// One thread's share: `C[rows, cols]`.
func denseBlock(rows: Range<Int>, cols: Range<Int>, k: Int,
                a: UnsafePointer<Float>, lda: Int, transA: Bool,
                b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, kern: GEMMMicroKernel) {
    let mr = kern.rows, nr = kern.columns
    let kcMax = min(gemmKC, k)
    let ncMax = min(gemmNC, (cols.count + nr - 1) / nr * nr)
    let mcMax = min(gemmMC / mr * mr, (rows.count + mr - 1) / mr * mr)
    withScratch(floats: kcMax * (ncMax + mcMax) + mr * nr + 32) { packB in
    let packA = packB + kcMax * ncMax
    let tile = packA + kcMax * mcMax
    var jc = cols.lowerBound
    while jc < cols.upperBound {
        let nc = min(ncMax, cols.upperBound - jc)
        var pc = 0
        while pc < k {
            let kc = min(kcMax, k - pc)
            let mode = pc != 0 ? 1 : (beta == 0 ? 0 : (beta == 1 ? 1 : 2))
            packPanelsB(b, ldb: ldb, trans: transB, p0: pc, kc: kc, j0: jc, nc: nc, nr: nr, dst: packB)
            var ic = rows.lowerBound
            while ic < rows.upperBound {
                let mc = min(mcMax, rows.upperBound - ic)
                packPanelsA(a, lda: lda, trans: transA, i0: ic, mc: mc, p0: pc, kc: kc, mr: mr, dst: packA)
                var jr = 0
                while jr < nc {
                    let w = min(nr, nc - jr)
                    let bp = UnsafePointer(packB + jr * kc)
                    var ir = 0
                    while ir < mc {
                        let h = min(mr, mc - ir)
                        let ap = UnsafePointer(packA + ir * kc)
                        let cp = c + (ic + ir) * ldc + jc + jr
                        if h == mr && w == nr {
                            runKernel(kern, kc: kc, a: ap, b: bp, c: cp, ldc: ldc, mode: mode, beta: beta)
                        } else {
                            runKernel(kern, kc: kc, a: ap, b: bp, c: tile, ldc: nr, mode: 0, beta: 0)
                            for r in 0..<h {
                                let src = tile + r * nr, dst = cp + r * ldc
                                switch mode {
                                case 0: for j in 0..<w { dst[j] = src[j] }
                                case 1: for j in 0..<w { dst[j] += src[j] }
                                default: for j in 0..<w { dst[j] = beta * dst[j] + src[j] }
                                }
                            }
                        }
                        ir += mr
                    }
                    jr += nr
                }
                ic += mc
            }
            pc += kc
        }
        jc += nc
    }
    }
}

/// Packs `op(B)[p0 ..< p0+kc, j0 ..< j0+nc]` into consecutive `kc x nr` panels (row-major inside a
/// panel), zero-padding the last panel's missing columns.
func packPanelsB(_ b: UnsafePointer<Float>, ldb: Int, trans: Bool, p0: Int, kc: Int, j0: Int, nc: Int, nr: Int,
                 dst: UnsafeMutablePointer<Float>) {
    var q = 0
    while q < nc {
        let w = min(nr, nc - q)
        let d = dst + q * kc
        if !trans {
            let src = b + p0 * ldb + j0 + q
            if w == nr && nr == 32 {
                for p in 0..<kc {
                    let s = src + p * ldb, o = d + p * 32
                    st16(o, ld16(s)); st16(o + 16, ld16(s + 16))
                }
            } else if w == nr && nr == 16 {
                for p in 0..<kc { st16(d + p * 16, ld16(src + p * ldb)) }
            } else {
                for p in 0..<kc {
                    let s = src + p * ldb, o = d + p * nr
                    for j in 0..<w { o[j] = s[j] }
                    for j in w..<nr { o[j] = 0 }
                }
            }
        } else {
            // op(B)[p, j] = B[j, p]: read rows of B, scatter into panel columns.
            for j in 0..<w {
                let s = b + (j0 + q + j) * ldb + p0
                for p in 0..<kc { d[p * nr + j] = s[p] }
            }
            if w < nr { for p in 0..<kc { for j in w..<nr { d[p * nr + j] = 0 } } }
        }
        q += nr
    }
}

/// Packs `op(A)[i0 ..< i0+mc, p0 ..< p0+kc]` into consecutive `mr x kc` panels stored column by
/// column (`mr` values per `p`), zero-padding the last panel's missing rows.
func packPanelsA(_ a: UnsafePointer<Float>, lda: Int, trans: Bool, i0: Int, mc: Int, p0: Int, kc: Int, mr: Int,
                 dst: UnsafeMutablePointer<Float>) {
    var r0 = 0
    while r0 < mc {
        let h = min(mr, mc - r0)
        let d = dst + r0 * kc
        if !trans {
            var i = 0
            if mr % 4 == 0 {
                // Four rows at a time, interleaved four columns at a time (one 16-value store).
                while i + 4 <= h {
                    let s0 = a + (i0 + r0 + i) * lda + p0, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda
                    var p = 0
                    if mr == 4 {
                        while p + 4 <= kc {
                            let x0 = ld4(s0 + p), x1 = ld4(s1 + p), x2 = ld4(s2 + p), x3 = ld4(s3 + p)
                            st16(d + p * 4, SIMD16(x0[0], x1[0], x2[0], x3[0], x0[1], x1[1], x2[1], x3[1],
                                                   x0[2], x1[2], x2[2], x3[2], x0[3], x1[3], x2[3], x3[3]))
                            p += 4
                        }
                    }
                    while p < kc {
                        let o = d + p * mr + i
                        o[0] = s0[p]; o[1] = s1[p]; o[2] = s2[p]; o[3] = s3[p]
                        p += 1
                    }
                    i += 4
                }
            }
            while i < h {
                let s = a + (i0 + r0 + i) * lda + p0
                for p in 0..<kc { d[p * mr + i] = s[p] }
                i += 1
            }
            if h < mr { for p in 0..<kc { for i in h..<mr { d[p * mr + i] = 0 } } }
        } else {
            // op(A)[i, p] = A[p, i]: mr consecutive values per p.
            for p in 0..<kc {
                let s = a + (p0 + p) * lda + i0 + r0, o = d + p * mr
                for i in 0..<h { o[i] = s[i] }
                for i in h..<mr { o[i] = 0 }
            }
        }
        r0 += mr
    }
}

@inline(__always)
func runKernel(_ kern: GEMMMicroKernel, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
               c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int, beta: Float) {
    switch kern {
    case .m8n32: kernel8x32(kc: kc, a: a, b: b, c: c, ldc: ldc, mode: mode, beta: beta)
    case .m6n16: kernel6x16(kc: kc, a: a, b: b, c: c, ldc: ldc, mode: mode, beta: beta)
    case .m4n16: kernel4x16(kc: kc, a: a, b: b, c: c, ldc: ldc, mode: mode, beta: beta)
    case .m4n8: kernel4x8(kc: kc, a: a, b: b, c: c, ldc: ldc, mode: mode, beta: beta)
    }
}

/// Writes an accumulator into `C`: mode 0 `C = acc`, 1 `C += acc`, 2 `C = beta * C + acc`.
@inline(__always)
func writeBack16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>, _ mode: Int, _ beta: Float) {
    switch mode {
    case 0: st16(p, v)
    case 1: st16(p, ld16(p) + v)
    default: st16(p, beta * ld16(p) + v)
    }
}

@inline(__always)
func writeBack8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>, _ mode: Int, _ beta: Float) {
    switch mode {
    case 0: st8(p, v)
    case 1: st8(p, ld8(p) + v)
    default: st8(p, beta * ld8(p) + v)
    }
}

// The micro-kernels use a separate multiply and add (no fused multiply-add) so that every shape and
// every instruction set rounds identically.

@inline(never)
func kernel8x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int, beta: Float) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = ld16(pb), b1 = ld16(pb + 16)
        var s = SIMD16<Float>(repeating: pa[0]); c00 += s * b0; c01 += s * b1
        s = SIMD16<Float>(repeating: pa[1]); c10 += s * b0; c11 += s * b1
        s = SIMD16<Float>(repeating: pa[2]); c20 += s * b0; c21 += s * b1
        s = SIMD16<Float>(repeating: pa[3]); c30 += s * b0; c31 += s * b1
        s = SIMD16<Float>(repeating: pa[4]); c40 += s * b0; c41 += s * b1
        s = SIMD16<Float>(repeating: pa[5]); c50 += s * b0; c51 += s * b1
        s = SIMD16<Float>(repeating: pa[6]); c60 += s * b0; c61 += s * b1
        s = SIMD16<Float>(repeating: pa[7]); c70 += s * b0; c71 += s * b1
        pa += 8; pb += 32
    }
    var r = c
    writeBack16(r, c00, mode, beta); writeBack16(r + 16, c01, mode, beta); r += ldc
    writeBack16(r, c10, mode, beta); writeBack16(r + 16, c11, mode, beta); r += ldc
    writeBack16(r, c20, mode, beta); writeBack16(r + 16, c21, mode, beta); r += ldc
    writeBack16(r, c30, mode, beta); writeBack16(r + 16, c31, mode, beta); r += ldc
    writeBack16(r, c40, mode, beta); writeBack16(r + 16, c41, mode, beta); r += ldc
    writeBack16(r, c50, mode, beta); writeBack16(r + 16, c51, mode, beta); r += ldc
    writeBack16(r, c60, mode, beta); writeBack16(r + 16, c61, mode, beta); r += ldc
    writeBack16(r, c70, mode, beta); writeBack16(r + 16, c71, mode, beta)
}

@inline(never)
func kernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int, beta: Float) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = ld8(pb), b1 = ld8(pb + 8)
        var s = SIMD8<Float>(repeating: pa[0]); c00 += s * b0; c01 += s * b1
        s = SIMD8<Float>(repeating: pa[1]); c10 += s * b0; c11 += s * b1
        s = SIMD8<Float>(repeating: pa[2]); c20 += s * b0; c21 += s * b1
        s = SIMD8<Float>(repeating: pa[3]); c30 += s * b0; c31 += s * b1
        s = SIMD8<Float>(repeating: pa[4]); c40 += s * b0; c41 += s * b1
        s = SIMD8<Float>(repeating: pa[5]); c50 += s * b0; c51 += s * b1
        pa += 6; pb += 16
    }
    var r = c
    writeBack8(r, c00, mode, beta); writeBack8(r + 8, c01, mode, beta); r += ldc
    writeBack8(r, c10, mode, beta); writeBack8(r + 8, c11, mode, beta); r += ldc
    writeBack8(r, c20, mode, beta); writeBack8(r + 8, c21, mode, beta); r += ldc
    writeBack8(r, c30, mode, beta); writeBack8(r + 8, c31, mode, beta); r += ldc
    writeBack8(r, c40, mode, beta); writeBack8(r + 8, c41, mode, beta); r += ldc
    writeBack8(r, c50, mode, beta); writeBack8(r + 8, c51, mode, beta)
}

@inline(never)
func kernel4x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int, beta: Float) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = ld8(pb), b1 = ld8(pb + 8)
        var s = SIMD8<Float>(repeating: pa[0]); c00 += s * b0; c01 += s * b1
        s = SIMD8<Float>(repeating: pa[1]); c10 += s * b0; c11 += s * b1
        s = SIMD8<Float>(repeating: pa[2]); c20 += s * b0; c21 += s * b1
        s = SIMD8<Float>(repeating: pa[3]); c30 += s * b0; c31 += s * b1
        pa += 4; pb += 16
    }
    var r = c
    writeBack8(r, c00, mode, beta); writeBack8(r + 8, c01, mode, beta); r += ldc
    writeBack8(r, c10, mode, beta); writeBack8(r + 8, c11, mode, beta); r += ldc
    writeBack8(r, c20, mode, beta); writeBack8(r + 8, c21, mode, beta); r += ldc
    writeBack8(r, c30, mode, beta); writeBack8(r + 8, c31, mode, beta)
}

@inline(never)
func kernel4x8(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
               c: UnsafeMutablePointer<Float>, ldc: Int, mode: Int, beta: Float) {
    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = ld8(pb)
        c0 += SIMD8<Float>(repeating: pa[0]) * b0
        c1 += SIMD8<Float>(repeating: pa[1]) * b0
        c2 += SIMD8<Float>(repeating: pa[2]) * b0
        c3 += SIMD8<Float>(repeating: pa[3]) * b0
        pa += 4; pb += 8
    }
    writeBack8(c, c0, mode, beta); writeBack8(c + ldc, c1, mode, beta)
    writeBack8(c + 2 * ldc, c2, mode, beta); writeBack8(c + 3 * ldc, c3, mode, beta)
}
