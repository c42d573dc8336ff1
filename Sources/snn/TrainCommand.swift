import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// `snn train`: trains a network and writes a model file.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a spiking network (layered BPTT) and save it as a model file.",
        discussion: """
        Example: snn train --dataset nmnist --arch 2312-64-64-64-10 --epochs 10 --out runs/nmnist.snnmodel
        The model can then be run layer by layer or asynchronously with `snn eval`.
        """
    )

    @OptionGroup var data: DatasetOptions
    @OptionGroup var net: NetworkOptions
    @OptionGroup var training: TrainingOptions
    @OptionGroup(title: "EM-PF and online training (--method)") var empf: EMPFOptions

    @Option(help: "Execution used for training: layered (BPTT) or async (unlayered backprop through the event-driven engine).")
    var mode: String = "layered"

    @OptionGroup(title: "Asynchronous execution (--mode async): --F is the training F") var async: AsyncModeOptions

    @Option(name: .customLong("test-F"), help: "F used to evaluate an async-trained model (default: the training F).")
    var testF: String?

    @Option(help: "Unlayered backprop: zero surrogate gradient where U - theta is below this value.")
    var backpropThreshold: Float?

    @Flag(help: "Unlayered backprop: cut the gradient between frames (less memory).")
    var truncatePerFrame = false

    @Option(help: "Unlayered training: probability of dropping each input event.")
    var inputDropout: Float = 0

    @Flag(inversion: .prefixedNo, help: "Unlayered backprop: integrations that did not fire pass surrogate gradient as zero-valued spikes (what layered BPTT does at F=inf).")
    var silentGradient = true

    @Flag(inversion: .prefixedNo, help: "Unlayered backprop: only a neuron's last integration in a frame passes the silent gradient (default; --no-silent-gradient-at-frame-end: every silent integration does).")
    var silentGradientAtFrameEnd = true

    @Option(help: "Where to write the trained model.")
    var out: String = "runs/model.snnmodel"

    @Option(help: "Write per-epoch metrics and the final evaluation as JSON to this path.")
    var metrics: String?

    @Option(help: "Worker threads for kernels (default: all cores).")
    var threads: Int?

    @Option(help: "Write a report folder here: metrics.json, report.md, SVG (and PNG) pictures; `snn report --html DIR` adds one HTML page.")
    var report: String?

    @Option(help: "With --report: neurons whose membrane is drawn, as population:neuron from 1 and 0 (e.g. 1:5,3:2); default: chosen from the sample.")
    var reportNeurons: String?

    @OptionGroup(title: "Checkpoints and data-parallel training (mpirun -np N snn train ..., build with --traits MPI; --batch-size is the global batch)")
    var checkpoints: CheckpointOptions

    /// Options of unlayered training (and of async evaluation), refused with --mode layered.
    static let asyncOnlyOptions = AsyncModeOptions.names + ["--test-F", "--backprop-threshold", "--truncate-per-frame", "--input-dropout",
                                                            "--silent-gradient", "--no-silent-gradient", "--silent-gradient-at-frame-end",
                                                            "--no-silent-gradient-at-frame-end"]

    func validate() throws {
        if empf.method != nil {
            if net.alpha != nil { throw ValidationError("--alpha (current-based synapses) applies to the layered networks, not to --method (EM-PF and online training)") }
            // The EM-PF report has no membrane traces (its neurons are not the layered engine's).
            if givenOptions().contains("--report-neurons") {
                throw ValidationError("--report-neurons draws membranes of the layered engine's populations; it does not apply with --method (its report has training curves, memory and the confusion matrix)")
            }
        }
        try data.checkValues()
        try Check.threads(threads)
        guard mode == "layered" || mode == "async" else { throw ValidationError("--mode must be layered or async, got '\(mode)'") }
        if mode == "layered" {
            let given = Self.asyncOnlyOptions.filter(givenOptions().contains)
            guard given.isEmpty else {
                throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "applies" : "apply") to --mode async only; add --mode async or leave \(given.count == 1 ? "it" : "them") out")
            }
        } else {
            guard try async.groupSizes().count == 1 else { throw ValidationError("--F takes one value when training (the training F), got '\(async.forwardGroupSizes)'") }
            if let testF { _ = try AsyncModeOptions.parse(["--F", testF]).groupSizes() }
        }
        try Check.finite(inputDropout, "--input-dropout", min: 0, below: 1)
        if let backpropThreshold { try Check.finite(backpropThreshold, "--backprop-threshold") }
        try Check.writableFile(out, "--out")
        if let metrics { try Check.writableFile(metrics, "--metrics") }
        if let report { try Check.writableFolder(report, "--report") }
        if reportNeurons != nil && report == nil { throw ValidationError("--report-neurons applies with --report DIR only") }
        _ = try parsedReportNeurons()
    }

    /// `--report-neurons` as (population from 0, neuron from 0).
    func parsedReportNeurons() throws -> [(population: Int, neuron: Int)] {
        guard let reportNeurons else { return [] }
        return try reportNeurons.split(separator: ",", omittingEmptySubsequences: false).map { item in
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let p = Int(parts[0]), let n = Int(parts[1]), p >= 1, n >= 0 else {
                throw ValidationError("--report-neurons takes population:neuron pairs (population from 1, neuron from 0), e.g. 1:5,3:2; got '\(reportNeurons)'")
            }
            return (p - 1, n)
        }
    }

    func run() throws {
        try Cluster.run { try train($0) }
    }

    /// Trains on `comm`'s ranks (one without MPI); rank 0 prints and writes the files.
    func train(_ comm: any Communicator) throws {
        let started = Date()
        if let threads { Parallelism.threadCount = threads }
        if empf.method != nil {
            guard mode == "layered" else { throw ValidationError("--method trains with the layered, step-by-step engine; leave --mode out") }
            return try EMPFRun.runTrain(empf, data: data, net: net, training: training, out: out, metrics: metrics, report: report, checkpoints: checkpoints, comm: comm)
        }
        let bntt = try training.usesBNTTRecipe()
        var data = self.data
        var net = self.net
        if bntt {
            guard mode == "layered" else { throw ValidationError("--recipe bntt trains with --mode layered") }
            data.encoding = "signed-poisson"
            if data.dataset == "cifar10" { data.augment = true }
        }
        // Unlayered training defaults to count-ce: rate-ce underfits at finite F (docs/ALGORITHMS.md).
        let config = try training.configuration(seed: data.seed, defaultLoss: mode == "async" ? .countCrossEntropy : .rateCrossEntropy)
        try net.validateEarly()
        let loaded = try data.load()
        print(loaded.description)
        if bntt && net.arch == nil {
            // The recipe's default: vgg5 on images; otherwise the dataset's MLP with BNTT on every hidden layer and a read-out.
            net.arch = loaded.train.frameShape.count == 3 ? "vgg5" : Self.bnttMLP(data.defaultArchitecture(for: loaded))
            print("--recipe bntt: --arch \(net.arch!)")
        }
        let spec = try net.spec(default: data.defaultArchitecture(for: loaded), dtMs: data.frameMs, inputShape: loaded.train.frameShape,
                                classes: loaded.train.classCount, timeSteps: loaded.train.timeSteps,
                                neuronOverride: bntt ? .bntt(beta: net.beta ?? 0.95) : nil)
        if mode == "async" { try AsyncCompatibility.checkTraining(spec) }
        try Check.network(spec, fits: loaded.train, source: net.arch.map { "--arch '\($0)'" } ?? "the default architecture for \(data.dataset)")
        try Check.memory(try Check.trainingMemory(spec, frames: loaded.train.timeSteps, batch: training.batchSize),
                         "training \(String(format: "%.3g", try Check.sizes(of: spec).weights)) weights on \(loaded.train.timeSteps) frames in batches of \(training.batchSize)",
                         option: "--arch/--frames/--batch-size")
        let fresh = try Network(spec: spec, initializer: bntt ? .xavierUniform(gain: 2) : .xavierUniform(gain: 1), seed: data.seed)
        // Rank 0's network (fresh or --resume's checkpoint) on every rank.
        let start = try trainingStart(comm, fresh: fresh, resume: checkpoints.resume, batchSize: training.batchSize, seed: data.seed) { c in
            try checkResumable(c, spec: spec, batchSize: training.batchSize, seed: data.seed, epochs: config.epochs)
        }
        var network = start.network
        print("network: \(spec.layers.map(\.shortName).joined(separator: " | "))  (\(network.parameterCount) weights)")
        let computer: any GradientComputer
        var evaluate: (Network, any FrameDataset) throws -> Double
        var asyncTest: AsyncOptions? = nil
        var testSpikes: [Double] = []  // test spikes per sample after each epoch, for --report
        switch mode {
        case "layered":
            computer = LayeredBPTT()
            evaluate = { net, test in
                let e = try LayeredEvaluation.run(network: net, dataset: test, batchSize: 128, seed: 0)
                testSpikes.append(e.spikesPerSample)
                return e.accuracy
            }
        case "async":
            let trainF = try async.groupSizes()
            guard trainF.count == 1 else { throw ValidationError("--F takes one value when training") }
            var trainOptions = try async.options(forwardGroupSize: trainF[0], seed: data.seed)
            trainOptions.measuresCurrentsToSpike = false
            computer = UnlayeredTraining(asyncOptions: trainOptions,
                                         backpropOptions: .init(backpropThreshold: backpropThreshold, truncatePerFrame: truncatePerFrame,
                                                                 silentIntegrationsCarryGradient: silentGradient,
                                                                 silentGradientOnlyAtFrameEnd: silentGradientAtFrameEnd),
                                         inputDropout: inputDropout)
            var testAsync = async
            testAsync.refractoryDropout = 0
            if let testF { testAsync.forwardGroupSizes = testF }
            let testFs = try testAsync.groupSizes()
            let options = try testAsync.options(forwardGroupSize: testFs[0], seed: data.seed)
            asyncTest = options
            evaluate = { net, test in
                let m = try evaluateAsync(network: net, dataset: test, options: options, batchSize: 128).metrics
                testSpikes.append(m.spikesPerSample)
                return m.accuracy
            }
        default: throw ValidationError("--mode must be layered or async")
        }
        var trainer = Trainer(network: network, configuration: config, computer: computer)
        trainer.restoreOptimizer(start.optimizer)
        if checkpoints.resume != nil { print("resuming from \(checkpoints.resume!): epoch \(start.position.epoch + 1), \(start.position.batchesDone) batches done, step \(start.position.step)") }
        let loop: TrainLoopResult
        do {
            loop = try dataParallelTrainLoop(trainer: &trainer, comm: comm, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                                batchSize: training.batchSize, seed: data.seed, start: start.position,
                                                records: try checkpointRecords(start), checkpoint: checkpoints.plan(out: out), evaluate: evaluate)
        } catch let e as TrainingError {
            throw CollectiveError(CLIError("\(e.description); stopped, no model written to \(out) (try a lower --lr, or --clip)"))
        }
        if loop.stoppedAt != nil { return }  // --stop-after: the checkpoint is written, no model
        let records = loop.records
        network = trainer.network
        let final = try LayeredEvaluation.sharded(comm, network: network, dataset: loaded.test, batchSize: 128)
        print("layered test accuracy \(format(final.accuracy * 100, 2))% on \(final.samples) samples; \(format(final.spikesPerSample, 1)) spikes/sample")
        var asyncFinal: AsyncMetrics? = nil
        if let asyncTest {
            asyncFinal = try evaluateAsyncSharded(comm, network: network, dataset: loaded.test, options: asyncTest, batchSize: 128).metrics
            if comm.isRoot { printAsync(asyncFinal!) }
        }
        guard comm.isRoot else { return }  // rank 0 writes the model and the metrics
        // The accuracy stored is that of the execution the model was trained for (async: the test F).
        var metadata = datasetMetadata(data, loaded: loaded)
        metadata["trainedWith"] = mode
        metadata["trainF"] = mode == "async" ? async.forwardGroupSizes : "-"
        metadata["seed"] = String(data.seed)
        metadata["layeredTestAccuracy"] = String(final.accuracy)
        if let asyncTest, let asyncFinal {
            metadata["testAccuracy"] = String(asyncFinal.accuracy)
            metadata["testAccuracyExecution"] = "async \(asyncTest.scheduler.kind.rawValue) F=\(describe(asyncTest.forwardGroupSize)) \(asyncTest.stopRule)"
        } else {
            metadata["testAccuracy"] = String(final.accuracy)
            metadata["testAccuracyExecution"] = "layered"
        }
        try ModelFile.write(network, metadata: metadata, to: URL(fileURLWithPath: out))
        print("model written to \(out) (test accuracy \(format(Double(metadata["testAccuracy"]!)! * 100, 2))%, \(metadata["testAccuracyExecution"]!) execution)")
        if let metrics {
            struct Report: Encodable { var epochs: [EpochRecord]; var test: LayeredEvaluation; var asyncTest: AsyncMetrics?; var dataset: String }
            try writeJSON(Report(epochs: records, test: final, asyncTest: asyncFinal, dataset: loaded.description), to: metrics)
            print("metrics written to \(metrics)")
        }
        if let report {
            let neurons = try parsedReportNeurons()
            let content = TrainReport(title: "Training on \(data.dataset) (\(mode == "async" ? "unlayered backprop" : "layered BPTT"))",
                                      datasetDescription: loaded.description, architecture: spec.layers.map(\.shortName).joined(separator: " | "),
                                      settings: "loss \(config.loss.rawValue), lr \(config.learningRate), batch \(training.batchSize), \(config.epochs) epochs",
                                      mode: mode == "async" ? "async \(asyncTest.map { "\($0.scheduler.kind.rawValue) F=\(describe($0.forwardGroupSize))" } ?? "")" : "layered",
                                      frameMs: data.frameMs, seed: data.seed, records: records,
                                      testSpikes: records.indices.map { $0 < testSpikes.count ? testSpikes[$0] : nil }, lossName: config.loss.rawValue,
                                      asyncOptions: asyncTest ?? AsyncOptions(forwardGroupSize: 8, scheduler: .momentum, seed: data.seed),
                                      chosenNeurons: neurons)
            try writeReportFolder(try content.build(network: network, test: loaded.test, final: final, started: started, threads: Parallelism.threadCount),
                                  to: URL(fileURLWithPath: report))
        }
    }

    /// An MLP architecture `N-H1-...-K` with BNTT before every hidden population and a non-spiking
    /// read-out last (what the vgg5 preset does for images); other forms are returned unchanged.
    static func bnttMLP(_ plain: String) -> String {
        let sizes = plain.split(separator: "-").map(String.init)
        guard sizes.count >= 2, !plain.contains(","), !plain.contains("=") else { return plain }
        return (["input=\(sizes[0])"] + sizes.dropFirst().dropLast().map { "fc\($0):bntt" } + ["fc\(sizes.last!):readout"]).joined(separator: ",")
    }

    /// Refuses a checkpoint that `--resume` cannot continue with these options.
    func checkResumable(_ c: TrainingCheckpoint, spec: NetworkSpec, batchSize: Int, seed: UInt64, epochs: Int) throws {
        let path = checkpoints.resume ?? ""
        guard c.network.spec == spec else {
            throw CLIError("--resume: checkpoint \(path) is of another architecture (\(c.network.spec.layers.map(\.shortName).joined(separator: " | "))) than the options give (\(spec.layers.map(\.shortName).joined(separator: " | "))): use the --arch, dataset and neuron options it was trained with")
        }
        guard c.batchSize == batchSize else {
            throw CLIError("--resume: checkpoint \(path) was trained with --batch-size \(c.batchSize), not \(batchSize): the batches (and so the model) would differ; give --batch-size \(c.batchSize) (the global batch, any number of ranks)")
        }
        guard c.seed == seed else {
            throw CLIError("--resume: checkpoint \(path) was trained with --seed \(c.seed), not \(seed): give --seed \(c.seed)")
        }
        if let stop = checkpoints.stopAfter, UInt64(stop) <= c.position.step {
            throw CLIError("--stop-after \(stop) is not after checkpoint \(path)'s step \(c.position.step) (--stop-after counts every step of the run)")
        }
        guard c.position.epoch < epochs else {
            throw CLIError("--resume: checkpoint \(path) has already finished \(c.position.epoch) epochs; --epochs \(epochs) is the total, so raise it to continue")
        }
    }
}
