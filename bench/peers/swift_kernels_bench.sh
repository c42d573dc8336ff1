#!/usr/bin/env bash
# Times SNNTensor's GEMM and convolution kernels without building the whole package: compiles
# Sources/SNNTensor with a small driver using the package's release flags (-Ounchecked -wmo), plus any
# extra swiftc flags given as arguments, e.g. `-target-cpu native` to compare with the default build.
#
#   bench/peers/swift_kernels_bench.sh                       # as `swift build -c release` compiles it
#   bench/peers/swift_kernels_bench.sh -target-cpu native    # with this CPU's full instruction set
#
# Environment: SNNKIT_THREADS (default: all cores), SNNKIT_GEMM_KERNEL (force a micro-kernel shape).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/main.swift" <<'SWIFT'
#if canImport(Glibc)
import Glibc
#endif
func fmt(_ x: Double, _ d: Int = 1) -> String {
    var p = 1.0; for _ in 0..<d { p *= 10 }
    let r = (x * p).rounded() / p
    return "\(r)"
}
print("threads \(Parallelism.threadCount), GEMM micro-kernel \(GEMMMicroKernel.selected)")
for (m, n, k) in [(256, 512, 512), (1024, 1024, 1024)] {
    print("gemm \(m)x\(n)x\(k): \(fmt(benchmarkGEMM(m: m, n: n, k: k, repeats: 7))) GFLOP/s")
}
// The snn bench CNN's convolutions at batch 128 (one time step), spike inputs of the given density.
var rng = CounterRNG(seed: 3).generator(stream: 0)
let batch = 128
func best(_ f: () -> Void) -> Double {
    f()
    var b = Double.infinity
    for _ in 0..<7 {
        let t0 = monotonicNow(); for _ in 0..<5 { f() }; b = min(b, (monotonicNow() - t0) / 5)
    }
    return b * 1e3
}
func monotonicNow() -> Double { var ts = timespec(); clock_gettime(CLOCK_MONOTONIC, &ts); return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9 }
var total = 0.0
for (c, h, o, p, dens) in [(2, 34, 8, 0, Float(0.04)), (8, 16, 16, 1, 0.15), (16, 8, 32, 1, 0.15)] {
    let g = Conv2DGeometry(inChannels: c, inHeight: h, inWidth: h, kernel: 3, stride: 2, padding: p)
    let x = (0..<(batch * g.inSize)).map { _ in rng.uniform() < dens ? Float(1) : 0 }
    let w = (0..<(o * g.patchSize)).map { _ in rng.uniform() - 0.5 }
    let dy = (0..<(batch * o * g.outPositions)).map { _ in rng.uniform() - 0.5 }
    var y = [Float](repeating: 0, count: batch * o * g.outPositions)
    var dw = [Float](repeating: 0, count: w.count), dx = [Float](repeating: 0, count: x.count)
    let tf = best { conv2dForward(input: x, batch: batch, weight: w, outChannels: o, geometry: g, output: &y) }
    let tw = best { conv2dBackward(input: x, batch: batch, weight: w, outChannels: o, geometry: g, outputGradient: dy,
                                   weightGradient: &dw, inputGradient: nil) }
    let tb = best { conv2dBackward(input: x, batch: batch, weight: w, outChannels: o, geometry: g, outputGradient: dy,
                                   weightGradient: &dw, inputGradient: &dx) }
    total += tf + tb
    print("conv \(c)->\(o) \(h)x\(h) k3 s2 p\(p), batch \(batch), input density \(dens): forward \(fmt(tf, 3)) ms, "
          + "backward dW \(fmt(tw, 3)) ms, dW+dX \(fmt(tb, 3)) ms")
}
print("conv total forward + backward (dW+dX) per time step: \(fmt(total, 3)) ms")
SWIFT
swiftc -Ounchecked -wmo "$@" -module-name SNNTensor "$root"/Sources/SNNTensor/*.swift "$root"/Sources/SNNTensor/Kernels/*.swift \
    "$work/main.swift" -o "$work/bench" 2> "$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/bench"
