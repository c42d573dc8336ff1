import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// Throughput table of the asynchronous engine (run with `SNN_ASYNC_BENCH=1`; skipped otherwise),
/// plus a quick check that the benchmark API works.
struct AsyncBenchmarkTests {
    @Test func benchmarkAPIRuns() throws {
        let spec = try NetworkSpec.parse("100-20-5", neuron: .reference)
        let network = try Network(spec: spec, seed: 1)
        let inputs = AsyncBenchmark.randomInputs(frames: 3, batch: 4, shape: [100], density: 0.1)
        let r = try AsyncBenchmark.run(network: network, inputs: inputs, F: 2, scheduler: .momentum, seconds: 0)
        #expect(r.batches >= 1)
        #expect(r.samplesPerSecond > 0)
        #expect(r.synapticEventsPerSecond > 0)
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["SNN_ASYNC_BENCH"] != nil))
    func throughputTable() throws {
        let nets: [(String, String, [Int])] = [
            ("MLP 2312-64-64-64-10", "2312-64-64-64-10", [2312]),
            ("CNN conv8k3s2-conv16k3s2p1-conv32k3s2p1-fc10", "input=2x34x34,conv8k3s2,conv16k3s2p1,conv32k3s2p1,fc10", [2, 34, 34]),
        ]
        let env = ProcessInfo.processInfo.environment
        let seconds = Double(env["SNN_ASYNC_BENCH_SECONDS"] ?? "") ?? 1
        // Optional filters: SNN_ASYNC_BENCH_NETS=mlp|cnn, SNN_ASYNC_BENCH_F=inf,8, SNN_ASYNC_BENCH_BATCH=128,
        // SNN_ASYNC_BENCH_SCHEDULER=momentum.
        let netFilter = env["SNN_ASYNC_BENCH_NETS"]?.lowercased()
        let fs: [Int?] = env["SNN_ASYNC_BENCH_F"].map { $0.split(separator: ",").map { Int($0) } } ?? [nil, 32, 8, 2]
        let batches = env["SNN_ASYNC_BENCH_BATCH"].map { $0.split(separator: ",").compactMap { Int($0) } } ?? [32, 128]
        let schedulers = env["SNN_ASYNC_BENCH_SCHEDULER"].map { $0 == "random" ? [Scheduler.random] : [Scheduler.momentum] }
            ?? [Scheduler.random, Scheduler.momentum]
        print("threads \(Parallelism.threadCount)")
        for (name, arch, shape) in nets where netFilter == nil || name.lowercased().hasPrefix(netFilter!) {
            let gain = Float(ProcessInfo.processInfo.environment["SNN_ASYNC_BENCH_GAIN"] ?? "") ?? 2
            let network = try Network(spec: try NetworkSpec.parse(arch, neuron: .reference), initializer: .xavierUniform(gain: gain), seed: 1)
            for batch in batches {
                let inputs = AsyncBenchmark.randomInputs(frames: 10, batch: batch, shape: shape, density: 0.08, seed: 3)
                for scheduler in schedulers {
                    for f in fs {
                        let r = try AsyncBenchmark.run(network: network, inputs: inputs, F: f, scheduler: scheduler, seconds: seconds)
                        print("\(name) | batch \(batch) | \(scheduler.kind.rawValue) | F \(f.map(String.init) ?? "inf") | "
                              + String(format: "%.0f samples/s | %.3g syn events/s | %.1f steps/frame | %.0f spikes/sample",
                                       r.samplesPerSecond, r.synapticEventsPerSecond, r.forwardStepsPerFrame,
                                       r.spikesPerSecond / r.samplesPerSecond))
                    }
                }
            }
        }
    }
}
