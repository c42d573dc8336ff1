/// Dense single-precision matrix multiply on row-major buffers.
///
/// Computes `C = beta * C + op(A) * op(B)` where `op(X)` is `X` or its transpose, `op(A)` is
/// `m x k`, `op(B)` is `k x n` and `C` is `m x n` with row stride `ldc`. `lda`/`ldb` are the row
/// strides of `A` and `B` as stored. With `beta == 0`, `C` is not read (it may hold garbage).
///
/// Two paths, chosen from the data:
/// - **Sparse `A`** (binary spike rows are the common case): when at most a quarter of the entries of
///   `op(A)` are non-zero, each row of `C` is the sum of the rows of `op(B)` selected by the non-zero
///   entries of that row of `op(A)` (``spikeGatherAdd(m:n:k:a:lda:b:ldb:c:ldc:parallel:)``).
/// - **Sparse `B`** (at most an eighth non-zero, `A` dense): `C^T = op(B)^T op(A)^T` by the same path.
/// - **Dense**: ``gemmDense(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:microKernel:)``, a
///   packed, cache-blocked GEMM with a register-blocked SIMD micro-kernel.
///
/// Work is split over the cores by disjoint blocks of `C`; every element of `C` is summed in the same
/// order whatever the thread count, so the result does not depend on it. With `parallel: false` it
/// runs on the calling thread (for callers that already split work).
public func gemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
    c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0,
    parallel: Bool = true
) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<m { scaleRow(c + i * ldc, n, beta) }
        return
    }
    // Counting the non-zeros costs m*k reads, small next to the m*n*k multiply-adds.
    if n >= 4, m * k >= 64 {
        // Measured crossovers: the row gather wins up to ~30% density; with a transposed operand
        // (extra copy of B, or scattered updates for op(A) = A^T) up to ~12%.
        let limitA = m * k / (transA || transB ? 8 : 4)
        let nnz = countNonZeros(rows: transA ? k : m, cols: transA ? m : k, a, lda, limit: limitA)
        if nnz <= limitA {
            sparseGemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                       c: c, ldc: ldc, beta: beta, parallel: parallel)
            return
        }
        // A dense but op(B) sparse (e.g. a weight gradient dY^T X with spikes X): C^T = op(B)^T op(A)^T
        // through the sparse path, then transposed into C.
        if m >= 4 {
            let limitB = k * n / 8
            let nnzB = countNonZeros(rows: transB ? n : k, cols: transB ? k : n, b, ldb, limit: limitB)
            if nnzB <= limitB {
                withScratch(floats: n * m) { t in
                    sparseGemm(m: n, n: m, k: k, a: b, lda: ldb, transA: !transB, b: a, ldb: lda, transB: !transA,
                               c: t, ldc: m, beta: 0, parallel: parallel)
                    if beta == 0 {
                        transposeInto(src: t, srcRows: n, srcCols: m, srcStride: m, dst: c, dstStride: ldc)
                    } else {
                        withScratch(floats: m * n) { u in
                            transposeInto(src: t, srcRows: n, srcCols: m, srcStride: m, dst: u, dstStride: n)
                            for i in 0..<m {
                                let ci = c + i * ldc, ui = u + i * n
                                if beta == 1 {
                                    addRow(n, ui, ci)
                                } else {
                                    for j in 0..<n { ci[j] = beta * ci[j] + ui[j] }
                                }
                            }
                        }
                    }
                }
                return
            }
        }
    }
    gemmDense(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
              c: c, ldc: ldc, beta: beta, parallel: parallel)
}

@inline(__always)
func scaleRow(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ beta: Float) {
    if beta == 0 { c.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { c[j] *= beta } }
}

/// The number of non-zero entries of a `rows x cols` block with row stride `ld`; the count stops
/// (returning a value above `limit`) as soon as it exceeds `limit`, so dense blocks cost little.
func countNonZeros(rows: Int, cols: Int, _ x: UnsafePointer<Float>, _ ld: Int, limit: Int = .max) -> Int {
    var total = 0
    for r in 0..<rows {
        let p = x + r * ld
        var j = 0
        while j + 16 <= cols {
            // Blocks of up to 1024 values between checks against the limit.
            let end = min(cols, j + 1024)
            var acc = SIMD16<Int32>()
            while j + 16 <= end {
                let v = UnsafeRawPointer(p + j).loadUnaligned(as: SIMD16<Float>.self)
                acc &+= SIMD16<Int32>(repeating: 1).replacing(with: 0, where: v .== 0)
                j += 16
            }
            total += Int(acc.wrappedSum())
            if total > limit { return total }
        }
        while j < cols { if p[j] != 0 { total += 1 }; j += 1 }
        if total > limit { return total }
    }
    return total
}

/// Copies a `srcRows x srcCols` matrix into `dst` transposed (`srcCols x srcRows`).
@inlinable
public func transposeInto(src: UnsafePointer<Float>, srcRows: Int, srcCols: Int, srcStride: Int,
                          dst: UnsafeMutablePointer<Float>, dstStride: Int) {
    transposeKernel(src, srcRows, srcCols, srcStride, dst, dstStride)
}

/// 8 x 8 blocks through SIMD registers (a compiler-vectorised scalar transpose becomes AVX-512
/// scatters, which are slow), scalar edges.
@usableFromInline
func transposeKernel(_ src: UnsafePointer<Float>, _ rows: Int, _ cols: Int, _ ss: Int,
                     _ dst: UnsafeMutablePointer<Float>, _ ds: Int) {
    let block = 32
    var i0 = 0
    while i0 < rows {
        let i1 = min(rows, i0 + block)
        var j0 = 0
        while j0 < cols {
            let j1 = min(cols, j0 + block)
            var i = i0
            while i + 8 <= i1 {
                var j = j0
                while j + 8 <= j1 {
                    transpose8x8(src + i * ss + j, ss, dst + j * ds + i, ds)
                    j += 8
                }
                while j < j1 {
                    for r in i..<(i + 8) { dst[j * ds + r] = src[r * ss + j] }
                    j += 1
                }
                i += 8
            }
            while i < i1 {
                for j in j0..<j1 { dst[j * ds + i] = src[i * ss + j] }
                i += 1
            }
            j0 = j1
        }
        i0 = i1
    }
}

/// An 8 x 8 block through registers in three rounds of two-source shuffles: interleave pairs of rows
/// (floats), then pairs of pairs (the same registers read as four doubles, so that the compiler keeps
/// the rounds apart), then 128-bit halves; one instruction each, 24 in all. (Gathering each output row
/// from eight registers at once compiled to lane-by-lane inserts and blends, about three times slower.)
@inline(__always)
func transpose8x8(_ s: UnsafePointer<Float>, _ ss: Int, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
    typealias V = SIMD8<Float>
    typealias D = SIMD4<Double>
    @inline(__always) func low(_ a: V, _ b: V) -> V { V(a[0], b[0], a[1], b[1], a[4], b[4], a[5], b[5]) }
    @inline(__always) func high(_ a: V, _ b: V) -> V { V(a[2], b[2], a[3], b[3], a[6], b[6], a[7], b[7]) }
    @inline(__always) func evenPairs(_ a: V, _ b: V) -> V {
        let x = unsafeBitCast(a, to: D.self), y = unsafeBitCast(b, to: D.self)
        return unsafeBitCast(D(x[0], y[0], x[2], y[2]), to: V.self)
    }
    @inline(__always) func oddPairs(_ a: V, _ b: V) -> V {
        let x = unsafeBitCast(a, to: D.self), y = unsafeBitCast(b, to: D.self)
        return unsafeBitCast(D(x[1], y[1], x[3], y[3]), to: V.self)
    }
    let r0 = ld8(s), r1 = ld8(s + ss), r2 = ld8(s + 2 * ss), r3 = ld8(s + 3 * ss)
    let r4 = ld8(s + 4 * ss), r5 = ld8(s + 5 * ss), r6 = ld8(s + 6 * ss), r7 = ld8(s + 7 * ss)
    let t0 = low(r0, r1), t1 = high(r0, r1), t2 = low(r2, r3), t3 = high(r2, r3)
    let t4 = low(r4, r5), t5 = high(r4, r5), t6 = low(r6, r7), t7 = high(r6, r7)
    // u_k holds columns k (low half) and k + 4 (high half) of rows 0-3 (u0-u3) or 4-7 (u4-u7).
    let u0 = evenPairs(t0, t2), u1 = oddPairs(t0, t2), u2 = evenPairs(t1, t3), u3 = oddPairs(t1, t3)
    let u4 = evenPairs(t4, t6), u5 = oddPairs(t4, t6), u6 = evenPairs(t5, t7), u7 = oddPairs(t5, t7)
    st8(d, V(lowHalf: u0.lowHalf, highHalf: u4.lowHalf))
    st8(d + ds, V(lowHalf: u1.lowHalf, highHalf: u5.lowHalf))
    st8(d + 2 * ds, V(lowHalf: u2.lowHalf, highHalf: u6.lowHalf))
    st8(d + 3 * ds, V(lowHalf: u3.lowHalf, highHalf: u7.lowHalf))
    st8(d + 4 * ds, V(lowHalf: u0.highHalf, highHalf: u4.highHalf))
    st8(d + 5 * ds, V(lowHalf: u1.highHalf, highHalf: u5.highHalf))
    st8(d + 6 * ds, V(lowHalf: u2.highHalf, highHalf: u6.highHalf))
    st8(d + 7 * ds, V(lowHalf: u3.highHalf, highHalf: u7.highHalf))
}

// MARK: - Sparse (spike) path

/// `C[i, :] += sum over p with A[i, p] != 0 of A[i, p] * B[p, :]`, on row-major buffers.
///
/// `A` is `m x k` (row stride `lda`), `B` is `k x n` (row stride `ldb`), `C` is `m x n` (row stride
/// `ldc`) and is accumulated into. This is the natural kernel for a batch of binary spike vectors
/// times a weight matrix: the cost is proportional to the number of spikes, not to `m * k`.
/// Each `C[i, j]` is updated as `C[i, j] + A[i, p1] * B[p1, j] + A[i, p2] * B[p2, j] + ...` over the
/// non-zero entries in ascending `p` (separate multiply and add): bit for bit what delivering the
/// spikes one by one in index order gives.
/// Rows of `C` are split over the cores unless `parallel` is false.
public func spikeGatherAdd(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                           b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                           parallel: Bool = true) {
    guard m > 0, n > 0, k > 0 else { return }
    sparseRows(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, beta: 1, parallel: parallel)
}

func sparseGemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool,
                b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, parallel: Bool) {
    if transB {
        withScratch(floats: k * n) { t in
            transposeInto(src: b, srcRows: n, srcCols: k, srcStride: ldb, dst: t, dstStride: n)
            sparseGemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: t, ldb: n, transB: false,
                       c: c, ldc: ldc, beta: beta, parallel: parallel)
        }
        return
    }
    let bP = b, bStride = ldb
    if transA {
        sparseScatter(m: m, n: n, k: k, a: a, lda: lda, b: bP, ldb: bStride, c: c, ldc: ldc, beta: beta,
                      parallel: parallel)
    } else {
        sparseRows(m: m, n: n, k: k, a: a, lda: lda, b: bP, ldb: bStride, c: c, ldc: ldc, beta: beta,
                   parallel: parallel)
    }
}

func sparseRows(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                beta: Float, parallel: Bool) {
    let body = { (rows: Range<Int>) in
        let idx = UnsafeMutablePointer<Int>.allocate(capacity: k + 1)
        let val = UnsafeMutablePointer<Float>.allocate(capacity: k + 1)
        defer { idx.deallocate(); val.deallocate() }
        for i in rows {
            let nnz = compactNonZeros(a + i * lda, k, indices: idx, values: val)
            gatherRow(n: n, nnz: nnz, idx: idx, val: val, b: b, ldb: ldb, c: c + i * ldc, beta: beta)
        }
    }
    if parallel {
        let work = max(1, (n / 16 + 1) * max(1, k / 8))
        parallelFor(m, minimumChunk: max(1, 16_384 / work), body)
    } else {
        body(0..<m)
    }
}

/// `C = beta * C + A^T * B` for a sparse `A` stored `k x m`: for each row `p` of `A` (in order) and
/// each of its non-zero entries `A[p, i]`, `C[i, :] += A[p, i] * B[p, :]`. Threads own ranges of `i`.
func sparseScatter(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                   beta: Float, parallel: Bool) {
    let body = { (rows: Range<Int>) in
        for i in rows { scaleRow(c + i * ldc, n, beta) }
        let idx = UnsafeMutablePointer<Int>.allocate(capacity: rows.count + 1)
        let val = UnsafeMutablePointer<Float>.allocate(capacity: rows.count + 1)
        defer { idx.deallocate(); val.deallocate() }
        for p in 0..<k {
            let nnz = compactNonZeros(a + p * lda + rows.lowerBound, rows.count, indices: idx, values: val)
            let br = b + p * ldb
            for l in 0..<nnz {
                axpyRow(n, val[l], br, c + (rows.lowerBound + idx[l]) * ldc)
            }
        }
    }
    if parallel {
        let work = max(1, (n / 16 + 1) * max(1, k / 8))
        parallelFor(m, minimumChunk: max(16, 16_384 / work), body)
    } else {
        body(0..<m)
    }
}

/// `y[0..<n] += alpha * x[0..<n]` (multiply, then add).
@inline(__always)
func axpyRow(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var j = 0
    while j + 16 <= n { st16(y + j, ld16(y + j) + alpha * ld16(x + j)); j += 16 }
    while j < n { y[j] += alpha * x[j]; j += 1 }
}

/// One row: `c = beta * c + sum_l val[l] * B[idx[l], :]`, the sum taken in the order of `idx`.
@inline(__always)
func gatherRow(n: Int, nnz: Int, idx: UnsafeMutablePointer<Int>, val: UnsafeMutablePointer<Float>,
               b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, beta: Float) {
    @inline(__always) func start(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
        beta == 0 ? SIMD16<Float>() : (beta == 1 ? ld16(p) : beta * ld16(p))
    }
    var j = 0
    while j + 64 <= n {
        var v0 = start(c + j), v1 = start(c + j + 16), v2 = start(c + j + 32), v3 = start(c + j + 48)
        for l in 0..<nnz {
            let br = b + idx[l] * ldb + j
            let s = val[l]
            v0 += s * ld16(br); v1 += s * ld16(br + 16); v2 += s * ld16(br + 32); v3 += s * ld16(br + 48)
        }
        st16(c + j, v0); st16(c + j + 16, v1); st16(c + j + 32, v2); st16(c + j + 48, v3)
        j += 64
    }
    while j + 16 <= n {
        var v0 = start(c + j)
        for l in 0..<nnz { v0 += val[l] * ld16(b + idx[l] * ldb + j) }
        st16(c + j, v0)
        j += 16
    }
    if j + 8 <= n {
        var v0 = beta == 0 ? SIMD8<Float>() : (beta == 1 ? ld8(c + j) : beta * ld8(c + j))
        for l in 0..<nnz { v0 += val[l] * ld8(b + idx[l] * ldb + j) }
        st8(c + j, v0)
        j += 8
    }
    while j < n {
        var s: Float = beta == 0 ? 0 : (beta == 1 ? c[j] : beta * c[j])
        for l in 0..<nnz { s += val[l] * b[idx[l] * ldb + j] }
        c[j] = s
        j += 1
    }
}

@inline(__always) func ld16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) func ld16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
@inline(__always) func st16(_ p: UnsafeMutablePointer<Float>, _ v: SIMD16<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
@inline(__always) func ld4(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
}
@inline(__always) func ld8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
@inline(__always) func ld8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
@inline(__always) func st8(_ p: UnsafeMutablePointer<Float>, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// `d[2k] = a[k]`, `d[2k + 1] = b[k]` for `k < 8` (two-source shuffles).
@inline(__always) func storeInterleaved(_ a: SIMD8<Float>, _ b: SIMD8<Float>, into d: UnsafeMutablePointer<Float>) {
    typealias V = SIMD8<Float>
    st8(d, V(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]))
    st8(d + 8, V(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]))
}

/// The even and the odd lanes of `a` followed by `b` (the inverse of ``storeInterleaved(_:_:into:)``): a
/// two-source shuffle within 128-bit halves, then the 64-bit pairs put in order, written on the registers
/// read as doubles, which LLVM keeps a single permute (element-wise initialisers of the result compiled to
/// scalar moves).
@inline(__always) func deinterleave(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> (even: SIMD8<Float>, odd: SIMD8<Float>) {
    typealias V = SIMD8<Float>
    typealias D = SIMD4<Double>
    let e = unsafeBitCast(V(a[0], a[2], b[0], b[2], a[4], a[6], b[4], b[6]), to: D.self)
    let o = unsafeBitCast(V(a[1], a[3], b[1], b[3], a[5], a[7], b[5], b[7]), to: D.self)
    return (unsafeBitCast(D(e[0], e[2], e[1], e[3]), to: V.self), unsafeBitCast(D(o[0], o[2], o[1], o[3]), to: V.self))
}

extension Tensor {
    /// Matrix product of two rank-2 tensors, `self (m x k) * other (k x n)`.
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank == 2 && other.rank == 2, "matmul needs rank-2 tensors, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[1] : shape[0]
        let k = transposeSelf ? shape[0] : shape[1]
        let k2 = transposeOther ? other.shape[1] : other.shape[0]
        let n = transposeOther ? other.shape[0] : other.shape[1]
        precondition(k == k2, "matmul: inner extents differ (\(shape) x \(other.shape))")
        var out = Tensor(shape: [m, n])
        withUnsafeBufferPointer { pa in
            other.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { pc in
                    gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: shape[1], transA: transposeSelf,
                         b: pb.baseAddress!, ldb: other.shape[1], transB: transposeOther,
                         c: pc.baseAddress!, ldc: n)
                }
            }
        }
        return out
    }
}
