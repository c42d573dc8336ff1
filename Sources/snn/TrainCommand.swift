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

    @Option(help: "Execution used for training: layered (BPTT).")
    var mode: String = "layered"

    @Option(help: "Where to write the trained model.")
    var out: String = "runs/model.snnmodel"

    @Option(help: "Write per-epoch metrics and the final evaluation as JSON to this path.")
    var metrics: String?

    @Option(help: "Worker threads for kernels (default: all cores).")
    var threads: Int?

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        let loaded = try data.load()
        print(loaded.description)
        let spec = try net.spec(default: data.defaultArchitecture(), dtMs: data.dtMs, inputShape: loaded.train.frameShape)
        var network = try Network(spec: spec, seed: data.seed)
        print("network: \(spec.layers.map(\.shortName).joined(separator: " | "))  (\(network.parameterCount) weights)")
        let config = try training.configuration(seed: data.seed)
        let computer: any GradientComputer
        switch mode {
        case "layered": computer = LayeredBPTT()
        default: throw ValidationError("--mode must be layered")
        }
        var trainer = Trainer(network: network, configuration: config, computer: computer)
        let records = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                    batchSize: training.batchSize, seed: data.seed) { net, test in
            try LayeredEvaluation.run(network: net, dataset: test, batchSize: 128, seed: 0).accuracy
        }
        network = trainer.network
        let final = try LayeredEvaluation.run(network: network, dataset: loaded.test, batchSize: 128, seed: 0)
        print("test accuracy \(format(final.accuracy * 100, 2))% on \(final.samples) samples; \(format(final.spikesPerSample, 1)) spikes/sample")
        try ModelFile.write(network, metadata: [
            "dataset": data.dataset, "trainedWith": mode, "testAccuracy": String(final.accuracy),
            "frames": String(loaded.train.timeSteps), "dtMs": String(data.dtMs), "seed": String(data.seed),
        ], to: URL(fileURLWithPath: out))
        print("model written to \(out)")
        if let metrics {
            struct Report: Encodable { var epochs: [EpochRecord]; var test: LayeredEvaluation; var dataset: String }
            try writeJSON(Report(epochs: records, test: final, dataset: loaded.description), to: metrics)
            print("metrics written to \(metrics)")
        }
    }
}
