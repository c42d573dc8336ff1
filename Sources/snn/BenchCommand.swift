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
        abstract: "Measure GEMM GFLOP/s; layered inference/training, async inference and unlayered training samples/s (MLP and CNN, batch 32 and 128).",
        discussion: "Inputs are the shipped N-MNIST samples (first saccade, 10 frames of 10 ms). Prints threads, cores and peak memory."
    )

    @Option(help: "Seconds to spend on each measurement (at least one batch is run); with --repeats, on each of its runs.")
    var seconds: Double = 2

    @Option(help: ArgumentHelp("Timed runs per measurement of the layered, unlayered and bntt parts; the best run's rate is reported.",
                               discussion: "The peer scripts in bench/peers report the best of several runs (snntorch_layered.py: 7 runs of at least 0.5 s; bntt_snntorch.py: 3 of at least 2 s). Give the same here (--repeats 7 --seconds 0.5, --repeats 3 --seconds 2) to compare like with like on a busy machine. The default, 1, reports one run's rate."))
    var repeats: Int = 1

    @Option(help: "Batch sizes to measure (comma list).")
    var batch: String = "32,128"

    var batchSizes: [Int] { batch.split(separator: ",", omittingEmptySubsequences: false).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 } }

    /// The largest batch measured (the inputs of a batch are held in memory, cycled from the shipped samples).
    static let maximumBatch = 4096

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Skip the GEMM measurement.")
    var skipGemm = false

    @Option(help: "Parts to run (comma list): layered, async, unlayered, bntt (training of the vgg5 preset with BNTT on 3x32x32 signed spike input, T = 10, batch 64; not in the default set).")
    var parts: String = "layered,async,unlayered"

    @Option(help: "Networks for the layered, async and unlayered parts (comma list): mlp, cnn.")
    var nets: String = "mlp,cnn"

    /// The networks `--nets` can name.
    static let knownNets = ["mlp", "cnn"]

    @Option(help: "Write all measurements as JSON to this path.")
    var json: String?

    @Option(help: ArgumentHelp("Also write the briefly trained MLP and CNN that the measurements run as model files in this folder (mlp.snnmodel, cnn.snnmodel), so that a peer can run the same weights.",
                               discussion: "bench/peers/asynctorch_async.py --weights FOLDER/mlp.snnmodel runs asynctorch on them: then both tools do the same work (forward steps, spikes)."))
    var saveNetworks: String?

    /// The measurements `--parts` can name.
    static let knownParts = ["layered", "async", "unlayered", "bntt"]

    /// `--parts` as a list of names (whitespace around each name ignored).
    var wantedParts: [String] { Check.commaItems(parts) }

    func validate() throws {
        let items = batch.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.isEmpty, items.allSatisfy({ Int($0).map { $0 >= 1 && $0 <= Self.maximumBatch } ?? false }) else {
            throw ValidationError("--batch takes batch sizes from 1 to \(Self.maximumBatch) (comma list, e.g. 32,128), got '\(batch)'")
        }
        try Check.finite(seconds, "--seconds", max: 3600, above: 0)
        guard (1...100).contains(repeats) else { throw ValidationError("--repeats takes 1 to 100 timed runs, got \(repeats)") }
        try Check.threads(threads)
        try Check.names(parts, "--parts", from: Self.knownParts)
        try Check.names(nets, "--nets", from: Self.knownNets)
        if let json { try Check.writableFile(json, "--json") }
        if let saveNetworks { try Check.writableFolder(saveNetworks, "--save-networks") }
    }

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        print("machine: \(Parallelism.activeCores) cores, \(Parallelism.threadCount) threads"
              + (repeats > 1 ? "; rates are the best of \(repeats) runs of \(format(seconds, 1)) s" : ""))
        var report = BenchReport(cores: Parallelism.activeCores, threads: Parallelism.threadCount, seconds: seconds, repeats: repeats)
        if !skipGemm {
            for (m, n, k) in [(256, 512, 512), (1024, 1024, 1024)] {
                let g = gemmGFLOPS(m: m, n: n, k: k)
                report.gemmGFLOPS["\(m)x\(k)x\(n)"] = g
                print("matmul \(m)x\(k) * \(k)x\(n): \(format(g, 1)) GFLOP/s")
            }
        }
        let wanted = Set(wantedParts)
        if wanted.contains("bntt") {
            let r = try benchBNTT(seconds: seconds, repeats: repeats)
            report.bntt = r
            print("BNTT vgg5 (3x32x32, T=10, batch 64, SGD, mean-ce): training \(format(r.trainingSamplesPerSecond, 1)) samples/s, inference \(format(r.inferenceSamplesPerSecond, 1)) samples/s")
            if wanted == ["bntt"] {
                report.peakMemoryBytes = peakResidentMemoryBytes()
                if let json { try writeJSON(report, to: json); print("written \(json)") }
                return
            }
        }
        let frames = try benchFrames(count: batchSizes.max() ?? 128)
        let wantedNets = Set(Check.commaItems(nets))
        let networks: [(String, String)] = [
            ("MLP 2312-64-64-64-10", "2312-64-64-64-10"),
            ("CNN conv8k3s2-conv16k3s2p1-conv32k3s2p1-fc10", "input=2x34x34,conv8k3s2,conv16k3s2p1,conv32k3s2p1,fc10"),
        ].filter { wantedNets.contains(String($0.0.prefix(3)).lowercased()) }
        for (name, arch) in networks {
            let spec = try NetworkOptions.parse([]).spec(default: arch, dtMs: 10, inputShape: [2, 34, 34])
            // A briefly trained network (layered BPTT, 3 epochs on the shipped samples), so that activity is realistic.
            var trainer = Trainer(network: try Network(spec: spec, seed: 1), configuration: { var c = TrainingConfiguration(); c.learningRate = 2e-3; return c }(),
                                  computer: LayeredBPTT())
            for _ in 0..<3 {
                for start in stride(from: 0, to: frames.labels.count, by: 32) {
                    let b = sliceBatch(frames, min(32, frames.labels.count - start), from: start)
                    _ = trainer.step(inputs: b.inputs, labels: b.labels)
                }
            }
            let network = trainer.network
            if let saveNetworks {
                let url = URL(fileURLWithPath: saveNetworks).appendingPathComponent(name.hasPrefix("MLP") ? "mlp.snnmodel" : "cnn.snnmodel")
                try ModelFile.write(network, metadata: ["made by": "snn bench (layered BPTT, 3 epochs on the shipped N-MNIST samples, seed 1)"], to: url)
                print("written \(url.path)")
            }
            if wanted.contains("layered") {
                for b in batchSizes {
                    let batch = sliceBatch(frames, b)
                    let engine = try LayeredEngine(network: network)
                    let inf = measure(seconds, repeats: repeats) { _ = engine.run(inputs: batch.inputs) } * Double(b)
                    var t = Trainer(network: network, configuration: TrainingConfiguration(), computer: LayeredBPTT())
                    let train = measure(seconds, repeats: repeats) { _ = t.step(inputs: batch.inputs, labels: batch.labels) } * Double(b)
                    print("\(name), batch \(b): layered inference \(format(inf, 0)) samples/s, layered training \(format(train, 0)) samples/s")
                    report.layered.append(.init(network: name, batch: b, inferenceSamplesPerSecond: inf, trainingSamplesPerSecond: train))
                }
            }
            if wanted.contains("async") {
                for b in batchSizes {
                    let batch = sliceBatch(frames, b)
                    for scheduler in [Scheduler.momentum, .random] {
                        for f in [nil, 32, 8, 2] as [Int?] {
                            let r = try AsyncBenchmark.run(network: network, inputs: batch.inputs, labels: batch.labels, F: f,
                                                           scheduler: scheduler, seconds: seconds)
                            print("\(name), batch \(b): async \(scheduler.kind.rawValue) F=\(describe(f)): \(format(r.samplesPerSecond, 0)) samples/s, "
                                  + "\(format(r.synapticEventsPerSecond / 1e6, 1)) M synaptic events/s, \(format(r.forwardStepsPerFrame, 1)) forward steps/frame")
                            report.async.append(.init(network: name, result: r))
                        }
                    }
                }
            }
            if wanted.contains("unlayered"), name.hasPrefix("MLP") {
                for b in batchSizes {
                    let batch = sliceBatch(frames, b)
                    for f in [32, 8, 2] {
                        let computer = UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: f, scheduler: .momentum, measuresCurrentsToSpike: false))
                        var t = Trainer(network: network, configuration: TrainingConfiguration(), computer: computer)
                        var last: StepResult?
                        let rate = measure(seconds, repeats: repeats) { last = t.step(inputs: batch.inputs, labels: batch.labels) } * Double(b)
                        let tape = Double(last!.recordedTapeBytes) / Double(b)
                        print("\(name), batch \(b): unlayered training momentum F=\(f): \(format(rate, 0)) samples/s; "
                              + "\(format(last!.forwardStepsPerSample, 0)) forward steps/sample, tape \(format(tape / 1024, 1)) KiB/sample "
                              + "(\(format(tape / max(last!.forwardStepsPerSample, 1), 0)) B per forward step; "
                              + "\(format(Double(last!.tapeBytes) / 1024, 1)) KiB held at once)")
                        report.unlayered.append(.init(network: name, batch: b, forwardGroupSize: f, samplesPerSecond: rate,
                                                      forwardStepsPerSample: last!.forwardStepsPerSample, tapeBytesPerSample: tape,
                                                      tapeBytesHeld: last!.tapeBytes))
                    }
                }
            }
        }
        report.peakMemoryBytes = peakResidentMemoryBytes()
        if let peak = report.peakMemoryBytes { print("peak memory: \(format(Double(peak) / 1_048_576, 1)) MiB") }
        if let json { try writeJSON(report, to: json); print("written \(json)") }
    }
}

/// Runs `body` once as warm-up, then `repeats` timed runs, each calling it repeatedly for about `seconds`
/// (at least once); returns the best run's calls per second.
func measure(_ seconds: Double, repeats: Int = 1, _ body: () -> Void) -> Double {
    body()
    var best = 0.0
    for _ in 0..<max(1, repeats) {
        var calls = 0
        let start = Date()
        repeat { body(); calls += 1 } while Date().timeIntervalSince(start) < seconds
        best = max(best, Double(calls) / Date().timeIntervalSince(start))
    }
    return best
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

/// Samples `start ..< start + n` of a time-major batch.
func sliceBatch(_ batch: Batch, _ n: Int, from start: Int = 0) -> Batch {
    let t = batch.inputs.shape[0], b = batch.inputs.shape[1]
    let per = batch.inputs.count / (t * b)
    var data = [Float]()
    data.reserveCapacity(t * n * per)
    for s in 0..<t { data += batch.inputs.data[((s * b + start) * per)..<((s * b + start + n) * per)] }
    return Batch(inputs: Tensor(shape: [t, n] + Array(batch.inputs.shape.dropFirst(2)), data: data),
                 labels: Array(batch.labels[start..<(start + n)]), indices: Array(batch.indices[start..<(start + n)]))
}

/// Everything `snn bench` measured.
struct BenchReport: Encodable {
    struct Layered: Encodable { var network: String; var batch: Int; var inferenceSamplesPerSecond: Double; var trainingSamplesPerSecond: Double }
    struct Async: Encodable { var network: String; var result: AsyncBenchmark.Result }
    struct Unlayered: Encodable {
        var network: String; var batch: Int; var forwardGroupSize: Int; var samplesPerSecond: Double
        var forwardStepsPerSample: Double; var tapeBytesPerSample: Double
        /// Tape bytes held at once (one sample's tape per worker).
        var tapeBytesHeld: Int
    }
    var cores: Int
    var threads: Int
    /// Seconds per timed run, and timed runs per measurement (the best run's rate is reported).
    var seconds: Double
    var repeats: Int
    var gemmGFLOPS: [String: Double] = [:]
    var layered: [Layered] = []
    var async: [Async] = []
    var unlayered: [Unlayered] = []
    var peakMemoryBytes: Int?
    struct BNTT: Encodable { var network: String; var steps: Int; var batch: Int; var trainingSamplesPerSecond: Double; var inferenceSamplesPerSecond: Double }
    var bntt: BNTT?
}

/// Training and inference throughput of the `vgg5` preset with BNTT on 3x32x32 input (CIFAR-10 sized),
/// T = 10, batch 64, BNTT's recipe (SGD momentum 0.9, mean-ce on the read-out). The input is signed
/// spikes, each element -1 or +1 with probability 0.2 and 0 otherwise (about what signed Poisson coding
/// of normalised CIFAR-10 gives), seeded; `bench/peers/bntt_snntorch.py` measures the same for snnTorch.
func benchBNTT(seconds: Double, repeats: Int = 1) throws -> BenchReport.BNTT {
    let steps = 10, batch = 64
    let spec = try NetworkPresets.spec("vgg5", inputShape: [3, 32, 32], classes: 10, neuron: .bntt(), normalization: .bntt, timeSteps: steps)
    let rng = CounterRNG(seed: 7)
    let n = steps * batch * 3 * 32 * 32
    let inputs = Tensor(shape: [steps, batch, 3, 32, 32], data: (0..<n).map { j in
        let u = rng.uniform(stream: 0, counter: UInt64(j))
        return u < 0.2 ? -1 : (u < 0.4 ? 1 : 0)
    })
    let labels = (0..<batch).map { $0 % 10 }
    var config = TrainingConfiguration()
    config.optimizer = .sgd(momentum: 0.9, weightDecay: 1e-4)
    config.loss = .meanCrossEntropy
    config.learningRate = 0.05
    var trainer = Trainer(network: try Network(spec: spec, initializer: .xavierUniform(gain: 2), seed: 1), configuration: config, computer: LayeredBPTT())
    let train = measure(seconds, repeats: repeats) { _ = trainer.step(inputs: inputs, labels: labels) } * Double(batch)
    let engine = try LayeredEngine(network: trainer.network)
    let inference = measure(seconds, repeats: repeats) { _ = engine.run(inputs: inputs) } * Double(batch)
    return .init(network: "vgg5+bntt", steps: steps, batch: batch, trainingSamplesPerSecond: train, inferenceSamplesPerSecond: inference)
}
