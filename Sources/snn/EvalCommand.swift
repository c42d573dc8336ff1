import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// `snn eval`: runs a trained model on a dataset, layer by layer or asynchronously.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model: accuracy, spikes, spike density and synaptic operations.",
        discussion: """
        Example: snn eval --model runs/nmnist.snnmodel --mode layered --json runs/eval.json
        EM-PF models (format version 3, snn train --method) run step by step (--mode layered; --exact-order sums in the
        asynchronous engine's event order) or on the asynchronous engine (--mode async: graded spikes are events carrying
        their value); channel attention runs layered only.
        """
    )

    @Option(help: "The model file.")
    var model: String

    @OptionGroup var data: DatasetOptions

    @Option(help: "Evaluate on this whole split of the dataset's folder: Train or Test (nmnist), train or t10k (mnist, fashion-mnist), train or test (dvsgesture, cifar10, shd); for datasets without their own split, train, test or all of the seeded split. Default: the test part.")
    var split: String?

    @Option(help: "Execution: layered, or async (event-driven; see --scheduler, --F, --stop).")
    var mode: String = "layered"

    @OptionGroup(title: "Asynchronous execution") var async: AsyncModeOptions

    @Option(help: "Record every emitted spike (async mode) to this CSV file; draw it with `snn raster`.")
    var trace: String?

    @Option(help: "Batch size.")
    var batchSize: Int = 128

    @Option(help: "Write the measurements as JSON to this path.")
    var json: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "BNTT early exit (layered): a threshold in (0, inf) on the channel-mean gamma, or auto (the fewest steps whose accuracy is within --exit-tolerance of the full run). Reports accuracy, steps, spikes and synaptic operations saved.")
    var earlyExit: String?

    @Option(help: "Early-exit rule: tail (exit once every layer's mean gamma stays below the threshold) or naive (first step where the mean over layers is below it).")
    var exitRule: String = "tail"

    @Option(help: "Early exit auto: accepted accuracy loss in percentage points.")
    var exitTolerance: Double = 0.5

    @Option(help: "Write the plot of mean gamma per step per BNTT layer (SVG) to this path.")
    var gammaPlot: String?

    @Flag(help: "Evaluate even when --dataset, --frames, --encoding or --dt-ms differ from what the model was trained on.")
    var allowMismatch = false

    @Flag(help: "EM-PF models, --mode layered: every layer sums its inputs in event order (no im2col GEMM, no packed binary kernel): slower, the bits of --mode async --F inf.")
    var exactOrder = false

    func validate() throws {
        try data.checkValues()
        try Check.threads(threads)
        try Check.integer(batchSize, "--batch-size", min: 1, max: Check.maximumBatch)
        guard mode == "layered" || mode == "async" else { throw ValidationError("--mode must be layered or async, got '\(mode)'") }
        if mode == "layered" {
            let given = (AsyncModeOptions.names + ["--trace"]).filter(givenOptions().contains)
            guard given.isEmpty else {
                throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to --mode async only; add --mode async or leave \(given.count == 1 ? "it" : "them") out")
            }
        }
        if let trace { try Check.writableFile(trace, "--trace") }
        if let json { try Check.writableFile(json, "--json") }
        if let gammaPlot { try Check.writableFile(gammaPlot, "--gamma-plot") }
        let exitRequest = try earlyExit.map { try EarlyExitRequest.parse($0) }
        guard GammaProfile.Rule(rawValue: exitRule) != nil else { throw ValidationError("--exit-rule must be tail or naive, not '\(exitRule)'") }
        try Check.finite(exitTolerance, "--exit-tolerance", min: 0, max: 100)
        if exitRequest != nil && mode != "layered" { throw ValidationError("--early-exit runs with --mode layered") }
        if exactOrder {
            guard mode == "layered" else { throw ValidationError("--exact-order applies to --mode layered (the asynchronous engine always delivers events in order)") }
            guard EMPFModelFile.isEMPFFile(URL(fileURLWithPath: model)) else {
                throw ValidationError("--exact-order applies to EM-PF models (format version 3); the layered engine already sums plain models in event order at evaluation")
            }
        }
    }

    func run() throws {
        try Cluster.run { try evaluate($0) }
    }

    /// Evaluates on `comm`'s ranks (one without MPI), each on its share of the test set; rank 0 prints and writes.
    func evaluate(_ comm: any Communicator) throws {
        if let threads { Parallelism.threadCount = threads }
        let exitRequest = try earlyExit.map { try EarlyExitRequest.parse($0) }
        if comm.size > 1, exitRequest != nil || trace != nil || gammaPlot != nil {
            throw CollectiveError(CLIError("--early-exit, --trace and --gamma-plot run in one process: start snn eval without mpirun for them"))
        }
        let rule = GammaProfile.Rule(rawValue: exitRule)!
        if EMPFModelFile.isEMPFFile(URL(fileURLWithPath: model)) { return try evaluateEMPF(comm) }
        let (network, metadata) = try ModelFile.read(from: URL(fileURLWithPath: model))
        if mode == "async" { try AsyncCompatibility.check(network.spec, stopRule: try AsyncModeOptions.parseStopRule(async.stop)) }
        let profile = GammaProfile(network: network)
        if (exitRequest != nil || gammaPlot != nil) && profile.layers.isEmpty {
            throw ValidationError("model \(model) has no BNTT layer: --early-exit and --gamma-plot need per-step gammas")
        }
        if let gammaPlot {
            try gammaPlotSVG(profile, names: gammaLayerNames(network, profile)).write(toFile: gammaPlot, atomically: true, encoding: .utf8)
            print("gamma plot written to \(gammaPlot)")
        }
        // The dataset settings recorded in the model are the defaults; a given option that differs is refused.
        let (data, adopted) = try datasetOptions(self.data, matching: metadata, model: model, givenOptions: givenOptions(),
                                                 allowMismatch: allowMismatch)
        try data.checkValues()
        if !adopted.isEmpty { print("from the model: \(adopted.joined(separator: " "))") }
        let loaded = try split.map { try data.load(split: $0) } ?? data.load()
        print(loaded.description)
        if !allowMismatch { try checkRecorded(metadata, model: model, against: loaded.test) }
        try Check.network(network.spec, fits: loaded.test, source: "model \(model)")
        try AsyncCompatibility.checkFrames(network.spec, frames: loaded.test.timeSteps)
        try Check.memory(try Check.evaluationMemory(network.spec, frames: loaded.test.timeSteps, batch: batchSize),
                         "evaluating \(loaded.test.timeSteps) frames in batches of \(batchSize)", option: "--frames/--batch-size")
        if let exitRequest {
            guard profile.steps >= loaded.test.timeSteps else {
                throw ValidationError("the model's BNTT layers have \(profile.steps) steps; the data has \(loaded.test.timeSteps) (--frames)")
            }
            let sweep = try StepwiseEvaluation.run(network: network, dataset: loaded.test, batchSize: batchSize, progressTitle: "eval")
            let result: EarlyExitResult
            switch exitRequest {
            case .threshold(let a):
                result = EarlyExitResult(threshold: a, rule: rule.rawValue, steps: min(try profile.exitSteps(threshold: a, rule: rule), sweep.steps), sweep: sweep)
            case .auto:
                let full = sweep.accuracy(steps: sweep.steps)
                let k = (1...sweep.steps).first { sweep.accuracy(steps: $0) >= full - exitTolerance / 100 } ?? sweep.steps
                result = EarlyExitResult(threshold: nil, rule: "auto (within \(exitTolerance) points)", steps: k, sweep: sweep)
            }
            print("early exit: " + result.line)
            if let json { try writeJSON(result, to: json); print("written \(json)") }
            return
        }
        switch mode {
        case "layered":
            let r = try LayeredEvaluation.sharded(comm, network: network, dataset: loaded.test, batchSize: batchSize, progressTitle: "eval")
            guard comm.isRoot else { return }
            printLayered(r)
            if let json { try writeJSON(r, to: json); print("written \(json)") }
        case "async":
            let all = try evaluateAsyncPerF(comm, engine: try AsyncEngine(network: network), dataset: loaded.test, async: async,
                                            seed: data.seed, batchSize: batchSize, trace: trace)
            if let json, comm.isRoot { try writeJSON(all, to: json); print("written \(json)") }
        default:
            throw ValidationError("--mode must be layered or async")
        }
    }
}

func printLayered(_ r: LayeredEvaluation) {
    print("layered: accuracy \(format(r.accuracy * 100, 2))% (\(r.correct)/\(r.samples)), \(format(r.spikesPerSample, 1)) spikes/sample")
    print("  spikes/sample per layer: " + r.spikesPerSamplePerLayer.map { format($0, 1) }.joined(separator: ", "))
    print("  spike density per layer: " + r.spikeDensityPerLayer.map { format($0, 4) }.joined(separator: ", "))
    print("  synaptic ops/sample: \(format(r.synapticOperationsPerSample.accumulates, 0)) AC + \(format(r.synapticOperationsPerSample.multiplyAccumulates, 0)) MAC")
}

/// Asynchronous evaluation at every `--F` of `async` in turn: prints each result line (rank 0) and, in one
/// process, writes a spike trace per F when `trace` is given (`-F<f>` added to the name after the first).
/// Over MPI each rank evaluates its share of `dataset` (``evaluateAsyncSharded(_:engine:dataset:options:batchSize:progressTitle:)``);
/// `--trace` is refused there before this is called.
func evaluateAsyncPerF(_ comm: any Communicator, engine: AsyncEngine, dataset: any FrameDataset, async: AsyncModeOptions, seed: UInt64,
                       batchSize: Int, trace: String?) throws -> [AsyncMetrics] {
    var all: [AsyncMetrics] = []
    for f in try async.groupSizes() {
        let options = try async.options(forwardGroupSize: f, seed: seed), title = "async F=\(describe(f))"
        if comm.size > 1 {
            let (m, seconds) = try evaluateAsyncSharded(comm, engine: engine, dataset: dataset, options: options, batchSize: batchSize,
                                                        progressTitle: title)
            if comm.isRoot { printAsync(m, samplesPerSecond: Double(m.samples) / max(seconds, 1e-9)) }
            all.append(m)
            continue
        }
        let (m, runs, seconds) = try evaluateAsync(engine: engine, dataset: dataset, options: options, batchSize: batchSize,
                                                   progressTitle: title, trace: trace != nil)
        printAsync(m, samplesPerSecond: Double(m.samples) / max(seconds, 1e-9))
        all.append(m)
        if let trace {
            let path = all.count == 1 ? trace : trace.replacingOccurrences(of: ".csv", with: "-F\(describe(f)).csv")
            try writeTrace(runs, to: path)
            print("trace written to \(path)")
        }
    }
    return all
}
