/// Dense single-precision matrix multiply on row-major buffers.
///
/// Computes `C = beta * C + op(A) * op(B)` where `op(X)` is `X` or its transpose, `op(A)` is
/// `m x k`, `op(B)` is `k x n` and `C` is `m x n` with row stride `ldc`. `lda`/`ldb` are the row
/// strides of `A` and `B` as stored. Rows of `C` are split over the cores; each thread owns
/// disjoint rows, so the result does not depend on the thread count.
///
/// With `parallel: false` it runs on the calling thread (for callers that already split work).
/// Zero entries of `op(A)` are skipped, which makes a batch of binary spike rows times a weight
/// matrix a sum of the selected weight rows.
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
    let flopsPerRow = n * k
    func run(_ bRows: UnsafePointer<Float>, _ bStride: Int) {
        if !parallel {
            gemmRows(rows: 0..<m, n: n, k: k, a: a, lda: lda, transA: transA, b: bRows, ldb: bStride, c: c, ldc: ldc, beta: beta)
            return
        }
        parallelFor(m, minimumChunk: max(1, 65_536 / max(1, flopsPerRow))) { rows in
            gemmRows(rows: rows, n: n, k: k, a: a, lda: lda, transA: transA, b: bRows, ldb: bStride, c: c, ldc: ldc, beta: beta)
        }
    }
    if transB {
        // Make B row-major k x n (contiguous rows) so that the inner loop streams.
        var packedB = [Float](repeating: 0, count: k * n)
        packedB.withUnsafeMutableBufferPointer { pb in
            transposeInto(src: b, srcRows: n, srcCols: k, srcStride: ldb, dst: pb.baseAddress!, dstStride: n)
            run(UnsafePointer(pb.baseAddress!), n)
        }
    } else {
        run(b, ldb)
    }
}

@inline(__always)
func scaleRow(_ c: UnsafeMutablePointer<Float>, _ n: Int, _ beta: Float) {
    if beta == 0 { c.update(repeating: 0, count: n) } else if beta != 1 { for j in 0..<n { c[j] *= beta } }
}

/// Copies a `srcRows x srcCols` matrix into `dst` transposed (`srcCols x srcRows`).
@inlinable
public func transposeInto(src: UnsafePointer<Float>, srcRows: Int, srcCols: Int, srcStride: Int,
                          dst: UnsafeMutablePointer<Float>, dstStride: Int) {
    let block = 32
    var i0 = 0
    while i0 < srcRows {
        let i1 = min(srcRows, i0 + block)
        var j0 = 0
        while j0 < srcCols {
            let j1 = min(srcCols, j0 + block)
            for i in i0..<i1 { for j in j0..<j1 { dst[j * dstStride + i] = src[i * srcStride + j] } }
            j0 = j1
        }
        i0 = i1
    }
}

/// The row kernel: four rows of C at a time share each loaded row of B.
@inline(__always)
func gemmRows(rows: Range<Int>, n: Int, k: Int,
              a: UnsafePointer<Float>, lda: Int, transA: Bool,
              b: UnsafePointer<Float>, ldb: Int,
              c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    @inline(__always) func aAt(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
    let kBlock = 256
    var i = rows.lowerBound
    for r in rows { scaleRow(c + r * ldc, n, beta) }
    while i + 4 <= rows.upperBound {
        let c0 = c + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc
        var p0 = 0
        while p0 < k {
            let p1 = min(k, p0 + kBlock)
            for p in p0..<p1 {
                let a0 = aAt(i, p), a1 = aAt(i + 1, p), a2 = aAt(i + 2, p), a3 = aAt(i + 3, p)
                if a0 == 0 && a1 == 0 && a2 == 0 && a3 == 0 { continue }
                let br = b + p * ldb
                var j = 0
                while j + 8 <= n {
                    let bv = UnsafeRawPointer(br + j).loadUnaligned(as: SIMD8<Float>.self)
                    var v0 = UnsafeRawPointer(c0 + j).loadUnaligned(as: SIMD8<Float>.self)
                    var v1 = UnsafeRawPointer(c1 + j).loadUnaligned(as: SIMD8<Float>.self)
                    var v2 = UnsafeRawPointer(c2 + j).loadUnaligned(as: SIMD8<Float>.self)
                    var v3 = UnsafeRawPointer(c3 + j).loadUnaligned(as: SIMD8<Float>.self)
                    v0 += a0 * bv; v1 += a1 * bv; v2 += a2 * bv; v3 += a3 * bv
                    UnsafeMutableRawPointer(c0 + j).storeBytes(of: v0, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(c1 + j).storeBytes(of: v1, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(c2 + j).storeBytes(of: v2, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(c3 + j).storeBytes(of: v3, as: SIMD8<Float>.self)
                    j += 8
                }
                while j < n {
                    let bv = br[j]
                    c0[j] += a0 * bv; c1[j] += a1 * bv; c2[j] += a2 * bv; c3[j] += a3 * bv
                    j += 1
                }
            }
            p0 = p1
        }
        i += 4
    }
    while i < rows.upperBound {
        let ci = c + i * ldc
        for p in 0..<k {
            let av = aAt(i, p)
            if av == 0 { continue }
            let br = b + p * ldb
            for j in 0..<n { ci[j] += av * br[j] }
        }
        i += 1
    }
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
