import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Measures ``gemm(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:)`` on dense random
/// `m x k` times `k x n` Float32 matrices (no transposes, `beta = 0`, all ``Parallelism/threadCount``
/// threads) and returns the best rate over `repeats` timed runs, in GFLOP/s (`2 m n k` flops per product).
///
/// One untimed product warms the caches and the packing buffers first. Each timed run repeats the
/// product enough times to last about 50 ms, so small sizes are not dominated by timer resolution.
public func benchmarkGEMM(m: Int, n: Int, k: Int, repeats: Int = 5) -> Double {
    precondition(m > 0 && n > 0 && k > 0, "benchmarkGEMM: extents must be positive")
    var rng = CounterRNG(seed: 0x6E44).generator(stream: 1)
    let a = (0..<(m * k)).map { _ in rng.uniform() * 2 - 1 }
    let b = (0..<(k * n)).map { _ in rng.uniform() * 2 - 1 }
    var c = [Float](repeating: 0, count: m * n)
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    return a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                func once() {
                    gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                         c: pc.baseAddress!, ldc: n)
                }
                let t0 = monotonicSeconds()
                once()
                let first = max(1e-6, monotonicSeconds() - t0)
                let inner = max(1, Int(0.05 / first))
                var best = Double.infinity
                for _ in 0..<max(1, repeats) {
                    let s = monotonicSeconds()
                    for _ in 0..<inner { once() }
                    best = min(best, (monotonicSeconds() - s) / Double(inner))
                }
                return flops / best / 1e9
            }
        }
    }
}

/// Seconds from a monotonic clock (for benchmarks).
func monotonicSeconds() -> Double {
    #if canImport(Glibc)
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    #else
    return Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
    #endif
}
