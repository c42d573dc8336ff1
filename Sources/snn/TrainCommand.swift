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

    /// Options of unlayered training (and of async evaluation), refused with --mode layered.
    static let asyncOnlyOptions = AsyncModeOptions.names + ["--test-F", "--backprop-threshold", "--truncate-per-frame", "--input-dropout",
                                                            "--silent-gradient", "--no-silent-gradient", "--silent-gradient-at-frame-end",
                                                            "--no-silent-gradient-at-frame-end"]

    func validate() throws {
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
    }

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        if empf.method != nil {
            guard mode == "layered" else { throw ValidationError("--method trains with the layered, step-by-step engine; leave --mode out") }
            return try EMPFRun.runTrain(empf, data: data, net: net, training: training, out: out, metrics: metrics)
        }
        let bntt = try training.usesBNTTRecipe()
        var data = self.data
        var net = self.net
        if bntt {
            guard mode == "layered" else { throw ValidationError("--recipe bntt trains with --mode layered") }
            data.encoding = "signed-poisson"
            if data.dataset == "cifar10" { data.augment = true }
            if net.arch == nil { net.arch = "vgg5" }
        }
        // Unlayered training defaults to count-ce: rate-ce underfits at finite F (docs/ALGORITHMS.md).
        let config = try training.configuration(seed: data.seed, defaultLoss: mode == "async" ? .countCrossEntropy : .rateCrossEntropy)
        try net.validateEarly()
        let loaded = try data.load()
        print(loaded.description)
        let spec = try net.spec(default: data.defaultArchitecture(for: loaded), dtMs: data.frameMs, inputShape: loaded.train.frameShape,
                                classes: loaded.train.classCount, timeSteps: loaded.train.timeSteps,
                                neuronOverride: bntt ? .bntt(beta: net.beta ?? 0.95) : nil)
        if mode == "async" { try AsyncCompatibility.check(spec) }
        try Check.network(spec, fits: loaded.train, source: net.arch.map { "--arch '\($0)'" } ?? "the default architecture for \(data.dataset)")
        try Check.memory(try Check.trainingMemory(spec, frames: loaded.train.timeSteps, batch: training.batchSize),
                         "training \(String(format: "%.3g", try Check.sizes(of: spec).weights)) weights on \(loaded.train.timeSteps) frames in batches of \(training.batchSize)",
                         option: "--arch/--frames/--batch-size")
        var network = try Network(spec: spec, initializer: bntt ? .xavierUniform(gain: 2) : .xavierUniform(gain: 1), seed: data.seed)
        print("network: \(spec.layers.map(\.shortName).joined(separator: " | "))  (\(network.parameterCount) weights)")
        let computer: any GradientComputer
        var evaluate: (Network, any FrameDataset) throws -> Double
        var asyncTest: AsyncOptions? = nil
        switch mode {
        case "layered":
            computer = LayeredBPTT()
            evaluate = { net, test in try LayeredEvaluation.run(network: net, dataset: test, batchSize: 128, seed: 0).accuracy }
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
            evaluate = { net, test in try evaluateAsync(network: net, dataset: test, options: options, batchSize: 128).metrics.accuracy }
        default: throw ValidationError("--mode must be layered or async")
        }
        var trainer = Trainer(network: network, configuration: config, computer: computer)
        let records: [EpochRecord]
        do {
            records = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                    batchSize: training.batchSize, seed: data.seed, evaluate: evaluate)
        } catch let e as TrainingError {
            throw CLIError("\(e.description); stopped, no model written to \(out) (try a lower --lr, or --clip)")
        }
        network = trainer.network
        let final = try LayeredEvaluation.run(network: network, dataset: loaded.test, batchSize: 128, seed: 0)
        print("layered test accuracy \(format(final.accuracy * 100, 2))% on \(final.samples) samples; \(format(final.spikesPerSample, 1)) spikes/sample")
        var asyncFinal: AsyncMetrics? = nil
        if let asyncTest {
            asyncFinal = try evaluateAsync(network: network, dataset: loaded.test, options: asyncTest, batchSize: 128).metrics
            printAsync(asyncFinal!)
        }
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
    }
}
