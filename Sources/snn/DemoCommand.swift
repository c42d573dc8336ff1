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
        tau_m 1 ms), Adam (lr 2e-3) and cross-entropy on the summed output counts. Prints test accuracy, \
        spikes and synaptic operations, then the same model run by the asynchronous engine, then a model \
        trained through the asynchronous execution (unlayered backprop) for comparison.
        """
    )

    @Option(help: "Epochs.")
    var epochs: Int = 15

    @Option(help: "Seed.")
    var seed: UInt64 = 1

    @Option(help: "Where to write the trained model.")
    var out: String = "runs/demo.snnmodel"

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        try Check.integer(epochs, "--epochs", min: 1, max: 1_000_000)
        try Check.threads(threads)
        try Check.writableFile(out, "--out")
    }

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        let start = Date()
        var data = try DatasetOptions.parse([])
        data.seed = seed
        let loaded = try data.load()
        print("SNNKit demo on \(Parallelism.threadCount) threads (\(Parallelism.activeCores) cores)")
        print(loaded.description)
        let spec = try NetworkOptions.parse([]).spec(default: "2312-64-64-64-10", dtMs: 10, inputShape: loaded.train.frameShape)
        var training = try TrainingOptions.parse([])
        training.epochs = epochs
        training.lr = 2e-3
        training.loss = "count-ce"
        let config = try training.configuration(seed: seed)
        var trainer = Trainer(network: try Network(spec: spec, seed: seed), configuration: config, computer: LayeredBPTT())
        print("training \(spec.layers.map(\.shortName).joined(separator: " | ")) with layered BPTT, \(epochs) epochs")
        _ = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: epochs, batchSize: 32, seed: seed) { net, test in
            try LayeredEvaluation.run(network: net, dataset: test, batchSize: 128, seed: 0).accuracy
        }
        let layered = try LayeredEvaluation.run(network: trainer.network, dataset: loaded.test, batchSize: 128, seed: 0)
        printLayered(layered)
        var metadata = datasetMetadata(data, loaded: loaded)
        metadata["seed"] = String(seed)
        try ModelFile.write(trainer.network, metadata: metadata.merging(["trainedWith": "layered", "testAccuracy": String(layered.accuracy),
                                                                         "testAccuracyExecution": "layered"]) { $1 },
                            to: URL(fileURLWithPath: out))
        print("model written to \(out)")
        print("\nthe same model, run asynchronously (event by event, one network-wide queue, momentum scheduler):")
        for f in [nil, 8, 2] as [Int?] {
            let options = AsyncOptions(forwardGroupSize: f, scheduler: .momentum, seed: seed)
            let (m, _, seconds) = try evaluateAsync(network: trainer.network, dataset: loaded.test, options: options, batchSize: 128)
            let change = m.accuracy - layered.accuracy
            let spikes = m.spikesPerSample / max(layered.spikesPerSample, 1e-9) - 1
            print("  F=\(describe(f)): accuracy \(format(m.accuracy * 100, 1))% (\(change >= 0 ? "+" : "")\(format(change * 100, 1)) points), "
                  + "\(format(m.spikesPerSample, 1)) spikes/sample (\(spikes >= 0 ? "+" : "")\(format(spikes * 100, 1))%), "
                  + "\(format(m.forwardStepsPerFrame, 1)) forward steps/frame, first correct output at forward step "
                  + "\(m.firstCorrectOutputStep.map { format($0, 1) } ?? "-"), \(format(Double(m.samples) / max(seconds, 1e-9), 0)) samples/s")
        }
        print("F=inf reproduces layered execution exactly; smaller F lets spikes race ahead of their layer.")

        print("\ntraining the same architecture through the asynchronous execution (unlayered backprop, momentum, F=8):")
        let asyncOptions = AsyncOptions(forwardGroupSize: 8, scheduler: .momentum, seed: seed, measuresCurrentsToSpike: false)
        var unlayered = Trainer(network: try Network(spec: spec, seed: seed), configuration: config,
                                computer: UnlayeredTraining(asyncOptions: asyncOptions,
                                                            backpropOptions: .init(silentGradientOnlyAtFrameEnd: true)))
        _ = try trainLoop(trainer: &unlayered, train: loaded.train, test: nil, epochs: epochs, batchSize: 32, seed: seed,
                          quiet: true) { _, _ in 0 }
        var unlayeredAccuracy = 0.0  // at F=8, the execution it was trained for
        for f in [8, 2] {
            let evalOptions = AsyncOptions(forwardGroupSize: f, scheduler: .momentum, seed: seed)
            for (name, network) in [("layered-trained", trainer.network), ("unlayered-trained", unlayered.network)] {
                let m = try evaluateAsync(network: network, dataset: loaded.test, options: evalOptions, batchSize: 128).metrics
                if f == 8, name == "unlayered-trained" { unlayeredAccuracy = m.accuracy }
                print("  \(name), run async F=\(f): accuracy \(format(m.accuracy * 100, 1))%, \(format(m.spikesPerSample, 1)) spikes/sample, "
                      + "first correct output at forward step \(m.firstCorrectOutputStep.map { format($0, 1) } ?? "-")")
            }
        }
        try ModelFile.write(unlayered.network, metadata: metadata.merging(["trainedWith": "unlayered", "trainF": "8", "testAccuracy": String(unlayeredAccuracy),
                                                                             "testAccuracyExecution": "async momentum F=8 on-spiking-done"]) { $1 },
                            to: URL(fileURLWithPath: out.replacingOccurrences(of: ".snnmodel", with: "-unlayered.snnmodel")))
        print("The full study (both schedulers, F sweep, stop rules, plots): snn experiment layer-sync")
        print("done in \(format(Date().timeIntervalSince(start), 1)) s")
    }
}
