import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// `snn bench`: throughput of the kernels and engines on this machine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure matrix-multiply GFLOP/s and layered inference/training samples/s (MLP and CNN, batch 32 and 128).",
        discussion: "Inputs are the shipped N-MNIST samples (first saccade, 10 frames of 10 ms). Prints threads, cores and peak memory."
    )

    @Option(help: "Seconds to spend on each measurement (at least one batch is run).")
    var seconds: Double = 2

    @Option(help: "Batch sizes to measure.")
    var batchSizes: [Int] = [32, 128]

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Skip the GEMM measurement.")
    var skipGemm = false

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        print("machine: \(Parallelism.activeCores) cores, \(Parallelism.threadCount) threads")
        if !skipGemm {
            for (m, n, k) in [(256, 512, 512), (1024, 1024, 1024)] {
                print("matmul \(m)x\(k) * \(k)x\(n): \(format(gemmGFLOPS(m: m, n: n, k: k), 1)) GFLOP/s")
            }
        }
        let frames = try benchFrames(count: batchSizes.max() ?? 128)
        let nets: [(String, String)] = [
            ("MLP 2312-64-64-64-10", "2312-64-64-64-10"),
            ("CNN conv8k3s2-conv16k3s2p1-conv32k3s2p1-fc10", "input=2x34x34,conv8k3s2,conv16k3s2p1,conv32k3s2p1,fc10"),
        ]
        for (name, arch) in nets {
            let spec = try NetworkOptions.parse([]).spec(default: arch, dtMs: 10, inputShape: [2, 34, 34])
            let network = try Network(spec: spec, seed: 1)
            for b in batchSizes {
                let batch = sliceBatch(frames, b)
                let engine = try LayeredEngine(network: network)
                let inf = measure(seconds) { _ = engine.run(inputs: batch.inputs) } * Double(b)
                var trainer = Trainer(network: network, configuration: TrainingConfiguration(), computer: LayeredBPTT())
                let train = measure(seconds) { _ = trainer.step(inputs: batch.inputs, labels: batch.labels) } * Double(b)
                print("\(name), batch \(b): layered inference \(format(inf, 0)) samples/s, layered training \(format(train, 0)) samples/s")
            }
        }
        if let peak = peakResidentMemoryBytes() { print("peak memory: \(format(Double(peak) / 1_048_576, 1)) MiB") }
    }
}

/// Runs `body` repeatedly for about `seconds` (at least twice, the first as warm-up); returns calls per second.
func measure(_ seconds: Double, _ body: () -> Void) -> Double {
    body()
    var calls = 0
    let start = Date()
    repeat { body(); calls += 1 } while Date().timeIntervalSince(start) < seconds
    return Double(calls) / Date().timeIntervalSince(start)
}

func gemmGFLOPS(m: Int, n: Int, k: Int) -> Double {
    let a = Tensor(shape: [m, k], data: (0..<(m * k)).map { Float($0 % 7) * 0.1 + 0.05 })
    let b = Tensor(shape: [k, n], data: (0..<(k * n)).map { Float($0 % 5) * 0.1 + 0.05 })
    let rate = measure(1) { _ = a.matmul(b) }
    return rate * 2 * Double(m * n * k) / 1e9
}

/// The first `count` shipped N-MNIST samples as one batch (cycled if fewer exist).
func benchFrames(count: Int) throws -> Batch {
    var data = try DatasetOptions.parse([])
    data.testFraction = 0.2
    let loaded = try data.load()
    let indices = (0..<count).map { $0 % loaded.train.count }
    return try Batch.assemble(loaded.train, indices: indices)
}

func sliceBatch(_ batch: Batch, _ n: Int) -> Batch {
    let t = batch.inputs.shape[0], b = batch.inputs.shape[1]
    let per = batch.inputs.count / (t * b)
    var data = [Float]()
    data.reserveCapacity(t * n * per)
    for s in 0..<t { data += batch.inputs.data[(s * b * per)..<((s * b + n) * per)] }
    return Batch(inputs: Tensor(shape: [t, n] + Array(batch.inputs.shape.dropFirst(2)), data: data),
                 labels: Array(batch.labels.prefix(n)), indices: Array(batch.indices.prefix(n)))
}
