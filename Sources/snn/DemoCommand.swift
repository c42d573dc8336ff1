import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// `snn demo`: the project's main job in miniature, on the shipped N-MNIST recordings.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small SNN layer by layer on the shipped N-MNIST samples, then run it asynchronously.",
        discussion: """
        Uses the real N-MNIST recordings in Data/nmnist-small (first saccade, 10 frames of 10 ms), a \
        seeded stratified train/test split, the MLP 2312-64-64-64-10 with LIF neurons (theta 0.3, \
        tau_m 1 ms), Adam and the rate cross-entropy loss. Prints test accuracy, spikes and synaptic \
        operations, then the same model run by the asynchronous engine.
        """
    )

    @Option(help: "Epochs.")
    var epochs: Int = 15

    @Option(help: "Seed.")
    var seed: UInt64 = 1

    @Option(help: "Where to write the trained model.")
    var out: String = "runs/demo.snnmodel"

    func run() throws {
        let start = Date()
        var data = try DatasetOptions.parse([])
        data.seed = seed
        let loaded = try data.load()
        print("SNNKit demo on \(Parallelism.threadCount) threads")
        print(loaded.description)
        let spec = try NetworkOptions.parse([]).spec(default: "2312-64-64-64-10", dtMs: 10, inputShape: loaded.train.frameShape)
        var training = try TrainingOptions.parse([])
        training.epochs = epochs
        training.lr = 2e-3
        let config = try training.configuration(seed: seed)
        var trainer = Trainer(network: try Network(spec: spec, seed: seed), configuration: config, computer: LayeredBPTT())
        print("training \(spec.layers.map(\.shortName).joined(separator: " | ")) with layered BPTT, \(epochs) epochs")
        _ = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: epochs, batchSize: 32, seed: seed) { net, test in
            try LayeredEvaluation.run(network: net, dataset: test, batchSize: 128, seed: 0).accuracy
        }
        let layered = try LayeredEvaluation.run(network: trainer.network, dataset: loaded.test, batchSize: 128, seed: 0)
        printLayered(layered)
        try ModelFile.write(trainer.network, metadata: ["dataset": "nmnist-small", "trainedWith": "layered", "seed": String(seed)],
                            to: URL(fileURLWithPath: out))
        print("model written to \(out)")
        print("done in \(format(Date().timeIntervalSince(start), 1)) s")
    }
}
