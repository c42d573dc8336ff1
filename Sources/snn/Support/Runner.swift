import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// Layered evaluation of a whole dataset: accuracy, spikes and synaptic operations.
struct LayeredEvaluation: Codable {
    var samples = 0
    var correct = 0
    var accuracy: Double { samples > 0 ? Double(correct) / Double(samples) : 0 }
    /// Spikes per sample, per LIF population.
    var spikesPerSamplePerLayer: [Double] = []
    /// Spikes / (neurons x frames), per LIF population.
    var spikeDensityPerLayer: [Double] = []
    var spikesPerSample: Double = 0
    var synapticOperationsPerSample = SynapticOperations()
    var samplesPerSecond: Double = 0

    enum CodingKeys: String, CodingKey {
        case samples, correct, accuracy, spikesPerSamplePerLayer, spikeDensityPerLayer, spikesPerSample
        case synapticOperationsPerSample, samplesPerSecond
    }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(samples, forKey: .samples); try c.encode(correct, forKey: .correct)
        try c.encode(accuracy, forKey: .accuracy)
        try c.encode(spikesPerSamplePerLayer, forKey: .spikesPerSamplePerLayer)
        try c.encode(spikeDensityPerLayer, forKey: .spikeDensityPerLayer)
        try c.encode(spikesPerSample, forKey: .spikesPerSample)
        try c.encode(synapticOperationsPerSample, forKey: .synapticOperationsPerSample)
        try c.encode(samplesPerSecond, forKey: .samplesPerSecond)
    }
    init() {}
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        samples = try c.decode(Int.self, forKey: .samples); correct = try c.decode(Int.self, forKey: .correct)
        spikesPerSamplePerLayer = try c.decode([Double].self, forKey: .spikesPerSamplePerLayer)
        spikeDensityPerLayer = try c.decode([Double].self, forKey: .spikeDensityPerLayer)
        spikesPerSample = try c.decode(Double.self, forKey: .spikesPerSample)
        synapticOperationsPerSample = try c.decode(SynapticOperations.self, forKey: .synapticOperationsPerSample)
        samplesPerSecond = try c.decode(Double.self, forKey: .samplesPerSecond)
    }

    static func run(network: Network, dataset: any FrameDataset, batchSize: Int, seed: UInt64,
                    progressTitle: String? = nil) throws -> LayeredEvaluation {
        let engine = try LayeredEngine(network: network)
        let loader = BatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, seed: seed)
        var result = LayeredEvaluation()
        let populations = network.spec.neuronLayerIndices
        let shapes = engine.shapes
        var layerSpikes = [Double](repeating: 0, count: populations.count)
        var ops = SynapticOperations()
        var progress = progressTitle.map { ProgressLine($0, total: dataset.count) }
        let start = Date()
        try loader.forEachBatch { batch in
            let run = engine.run(inputs: batch.inputs, countOperations: true)
            for (p, b) in zip(run.predictions, batch.labels) where p == b { result.correct += 1 }
            result.samples += batch.labels.count
            for (k, counts) in run.spikeCounts.enumerated() { layerSpikes[k] += counts.reduce(0.0) { $0 + Double($1) } }
            for o in run.synapticOperations ?? [] { ops += o }
            progress?.update(result.samples, "acc \(format(result.accuracy * 100, 1))%")
        }
        progress?.finish()
        let n = Double(max(result.samples, 1))
        result.samplesPerSecond = Double(result.samples) / max(Date().timeIntervalSince(start), 1e-9)
        result.spikesPerSamplePerLayer = layerSpikes.map { $0 / n }
        result.spikesPerSample = layerSpikes.reduce(0, +) / n
        result.spikeDensityPerLayer = populations.enumerated().map { k, i in
            layerSpikes[k] / n / Double(shapes[i + 1].reduce(1, *) * dataset.timeSteps)
        }
        result.synapticOperationsPerSample = SynapticOperations(accumulates: ops.accumulates / n,
                                                                multiplyAccumulates: ops.multiplyAccumulates / n)
        return result
    }
}

/// Runs the training loop over a loader with a progress line; returns per-epoch metrics.
func trainLoop(trainer: inout Trainer, train: any FrameDataset, test: (any FrameDataset)?, epochs: Int, batchSize: Int,
               seed: UInt64, quiet: Bool = false, evaluate: (Network, any FrameDataset) throws -> Double) throws -> [EpochRecord] {
    var loader = BatchLoader(dataset: train, batchSize: batchSize, shuffle: true, seed: seed)
    var records: [EpochRecord] = []
    for epoch in 0..<epochs {
        // Signed rate coding (BNTT): fresh draws and augmentation every epoch.
        if let rate = train as? SignedRateImages {
            loader = BatchLoader(dataset: rate.forEpoch(epoch), batchSize: batchSize, shuffle: true, seed: seed)
        }
        var progress = ProgressLine("epoch \(epoch + 1)/\(epochs)", total: train.count)
        let metrics = try trainer.trainEpoch(epoch, batchCount: loader.batchCount, batches: { body in
            try loader.forEachBatch(epoch: epoch) { batch in try body(batch.inputs, batch.labels) }
        }, progress: { p in
            if !quiet {
                progress.update(p.samples, "loss \(format(Double(p.meanLoss), 4))  acc \(format(p.accuracy * 100, 1))%  \(format(p.samplesPerSecond, 0)) samples/s")
            }
        })
        progress.finish()
        let testAccuracy = try test.map { try evaluate(trainer.network, $0) }
        records.append(EpochRecord(metrics: metrics, testAccuracy: testAccuracy))
        if !quiet {
            print("epoch \(epoch + 1)/\(epochs): loss \(format(Double(metrics.loss), 4)), train acc \(format(metrics.trainAccuracy * 100, 1))%"
                  + (testAccuracy.map { ", test acc \(format($0 * 100, 1))%" } ?? "")
                  + ", \(format(metrics.samplesPerSecond, 0)) samples/s, lr \(metrics.learningRate)")
        }
    }
    return records
}

/// One epoch's record in the metrics JSON.
struct EpochRecord: Codable {
    var metrics: EpochMetrics
    var testAccuracy: Double?
}
