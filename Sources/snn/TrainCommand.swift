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

    @Flag(help: "Unlayered backprop: only a neuron's last integration in a frame passes the silent gradient.")
    var silentGradientAtFrameEnd = false

    @Option(help: "Where to write the trained model.")
    var out: String = "runs/model.snnmodel"

    @Option(help: "Write per-epoch metrics and the final evaluation as JSON to this path.")
    var metrics: String?

    @Option(help: "Worker threads for kernels (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        let bntt = try training.usesBNTTRecipe()
        var data = self.data
        var net = self.net
        if bntt {
            guard mode == "layered" else { throw ValidationError("--recipe bntt trains with --mode layered") }
            data.encoding = "signed-poisson"
            if data.dataset == "cifar10" { data.augment = true }
            if net.arch == nil { net.arch = "vgg5" }
        }
        let config = try training.configuration(seed: data.seed)
        try net.validateEarly()
        let loaded = try data.load()
        print(loaded.description)
        let spec = try net.spec(default: data.defaultArchitecture(), dtMs: data.dtMs, inputShape: loaded.train.frameShape,
                                classes: loaded.train.classCount, timeSteps: loaded.train.timeSteps,
                                neuronOverride: bntt ? .bntt(beta: net.beta ?? 0.95) : nil)
        if mode == "async" { try AsyncCompatibility.check(spec) }
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
        let records = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                    batchSize: training.batchSize, seed: data.seed, evaluate: evaluate)
        network = trainer.network
        let final = try LayeredEvaluation.run(network: network, dataset: loaded.test, batchSize: 128, seed: 0)
        print("layered test accuracy \(format(final.accuracy * 100, 2))% on \(final.samples) samples; \(format(final.spikesPerSample, 1)) spikes/sample")
        var asyncFinal: AsyncMetrics? = nil
        if let asyncTest {
            asyncFinal = try evaluateAsync(network: network, dataset: loaded.test, options: asyncTest, batchSize: 128).metrics
            printAsync(asyncFinal!)
        }
        try ModelFile.write(network, metadata: [
            "dataset": data.dataset, "trainedWith": mode, "testAccuracy": String(final.accuracy),
            "frames": String(loaded.train.timeSteps), "encoding": data.encoding, "trainF": mode == "async" ? async.forwardGroupSizes : "-", "dtMs": String(data.dtMs), "seed": String(data.seed),
        ], to: URL(fileURLWithPath: out))
        print("model written to \(out)")
        if let metrics {
            struct Report: Encodable { var epochs: [EpochRecord]; var test: LayeredEvaluation; var asyncTest: AsyncMetrics?; var dataset: String }
            try writeJSON(Report(epochs: records, test: final, asyncTest: asyncFinal, dataset: loaded.description), to: metrics)
            print("metrics written to \(metrics)")
        }
    }
}
