import Testing
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// End-to-end training on the real data the project ships: the accuracy bars of the foundation issue.
struct RealDataTrainingTests {
    static func train(_ train: any FrameDataset, spec: NetworkSpec, epochs: Int, loss: Loss, seed: UInt64) throws -> Network {
        var config = TrainingConfiguration()
        config.learningRate = 2e-3
        config.loss = loss
        config.seed = seed
        var trainer = Trainer(network: try Network(spec: spec, seed: seed), configuration: config, computer: LayeredBPTT())
        let loader = BatchLoader(dataset: train, batchSize: 32, shuffle: true, seed: seed)
        for epoch in 0..<epochs {
            _ = try trainer.trainEpoch(epoch, batches: { body in try loader.forEachBatch(epoch: epoch) { try body($0.inputs, $0.labels) } })
        }
        return trainer.network
    }

    static func accuracy(_ network: Network, _ test: any FrameDataset) throws -> Double {
        let engine = try LayeredEngine(network: network)
        var correct = 0
        try BatchLoader(dataset: test, batchSize: 128, shuffle: false, seed: 0).forEachBatch { batch in
            correct += zip(engine.run(inputs: batch.inputs).predictions, batch.labels).filter { $0 == $1 }.count
        }
        return Double(correct) / Double(test.count)
    }

    static func split(_ all: any FrameDataset) -> (any FrameDataset, any FrameDataset) {
        let (train, test) = DatasetSplit.stratified(labels: (0..<all.count).map { all.label($0) }, testFraction: 0.2, seed: 1)
        return (SubsetDataset(all, indices: train), SubsetDataset(all, indices: test))
    }

    @Test func digitsMLPExceeds90Percent() throws {
        let (train, test) = Self.split(try DigitsDataset.shipped(encoding: .poisson, timeSteps: 16, seed: 1))
        let spec = try NetworkSpec.parse("64-128-10", neuron: .reference)
        let acc = try Self.accuracy(try Self.train(train, spec: spec, epochs: 12, loss: .rateCrossEntropy, seed: 1), test)
        #expect(acc > 0.90, "8x8 digits test accuracy \(acc)")
    }

    @Test func nmnistMLPReaches85PercentOnHeldBackSamples() throws {
        let root = try #require(ProjectData.locate("nmnist-small"))
        let (train, test) = Self.split(try NMNISTDataset(root: root))
        let spec = NetworkSpec(inputShape: [2, 34, 34], layers: [.flatten] + (try NetworkSpec.parse("2312-64-64-64-10", neuron: .reference)).layers)
        let acc = try Self.accuracy(try Self.train(train, spec: spec, epochs: 15, loss: .countCrossEntropy, seed: 1), test)
        #expect(test.count >= 190)
        #expect(acc >= 0.85, "N-MNIST held-back accuracy \(acc) on \(test.count) samples")
    }
}
