import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor

/// One layered pass over a dataset that records, for every number of steps `k` (1...T), the accuracy of
/// stopping after `k` steps (argmax of the output summed over the first k steps: the read-out's mean, or
/// spike counts) and the spikes and synaptic operations spent up to then. The layered engine is causal,
/// so one run of T steps gives every k.
struct StepwiseEvaluation: Codable {
    var samples = 0
    /// `correct[k-1]`: samples right when stopping after k steps.
    var correct: [Int] = []
    /// Spikes per sample spent in the first k steps.
    var spikesPerSample: [Double] = []
    /// Synaptic operations per sample spent in the first k steps.
    var synapticOperationsPerSample: [Double] = []

    var steps: Int { correct.count }
    func accuracy(steps k: Int) -> Double { samples > 0 ? Double(correct[k - 1]) / Double(samples) : 0 }

    static func run(network: Network, dataset: any FrameDataset, batchSize: Int, progressTitle: String? = nil) throws -> StepwiseEvaluation {
        let engine = try LayeredEngine(network: network)
        let loader = BatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, seed: 0)
        let steps = dataset.timeSteps
        var r = StepwiseEvaluation()
        r.correct = [Int](repeating: 0, count: steps)
        var spikes = [Double](repeating: 0, count: steps), ops = spikes
        var progress = progressTitle.map { ProgressLine($0, total: dataset.count) }
        try loader.forEachBatch { batch in
            let run = engine.run(inputs: batch.inputs, countOperations: true)
            var sum = Tensor(shape: run.outputs[0].shape)
            for t in 0..<run.steps {
                for j in 0..<sum.count { sum.data[j] += run.outputs[t].data[j] }
                for (p, l) in zip(sum.argmaxRows(), batch.labels) where p == l { r.correct[t] += 1 }
                spikes[t] += run.spikesPerStep[t]
                ops[t] += run.operationsPerStep[t].total
            }
            r.samples += batch.labels.count
            progress?.update(r.samples, "acc \(format(r.accuracy(steps: steps) * 100, 1))%")
        }
        progress?.finish()
        let n = Double(max(r.samples, 1))
        var s = 0.0, o = 0.0
        for t in 0..<steps {
            s += spikes[t]; o += ops[t]
            r.spikesPerSample.append(s / n); r.synapticOperationsPerSample.append(o / n)
        }
        return r
    }
}

/// What early exit at one threshold gives.
struct EarlyExitResult: Codable {
    var threshold: Float?
    var rule: String
    var steps: Int
    var accuracy: Double
    var fullSteps: Int
    var fullAccuracy: Double
    var spikesPerSample: Double
    var spikesSavedPercent: Double
    var synapticOperationsPerSample: Double
    var synapticOperationsSavedPercent: Double

    init(threshold: Float?, rule: String, steps k: Int, sweep: StepwiseEvaluation) {
        let full = sweep.steps
        self.threshold = threshold; self.rule = rule; self.steps = k
        accuracy = sweep.accuracy(steps: k); fullSteps = full; fullAccuracy = sweep.accuracy(steps: full)
        spikesPerSample = sweep.spikesPerSample[k - 1]
        spikesSavedPercent = 100 * (1 - spikesPerSample / max(sweep.spikesPerSample[full - 1], 1e-12))
        synapticOperationsPerSample = sweep.synapticOperationsPerSample[k - 1]
        synapticOperationsSavedPercent = 100 * (1 - synapticOperationsPerSample / max(sweep.synapticOperationsPerSample[full - 1], 1e-12))
    }

    var line: String {
        (threshold.map { "threshold \(format(Double($0), 3)) (\(rule)): " } ?? "\(rule): ")
            + "\(steps)/\(fullSteps) steps, accuracy \(format(accuracy * 100, 2))% (full \(format(fullAccuracy * 100, 2))%), "
            + "\(format(spikesPerSample, 0)) spikes/sample (\(format(spikesSavedPercent, 1))% saved), "
            + "\(format(synapticOperationsPerSample, 0)) SynOps/sample (\(format(synapticOperationsSavedPercent, 1))% saved)"
    }
}

/// Parses `--early-exit`: a threshold in (0, inf) or `auto`.
enum EarlyExitRequest {
    case threshold(Float)
    case auto

    static func parse(_ text: String) throws -> EarlyExitRequest {
        if text == "auto" { return .auto }
        guard let v = Float(text), v > 0, v.isFinite else {
            throw ValidationError("--early-exit must be a gamma threshold in (0, inf) or 'auto', not '\(text)'")
        }
        return .threshold(v)
    }
}

/// The mean-gamma-per-step plot: one line per BNTT layer (and the mean over layers).
func gammaPlotSVG(_ profile: GammaProfile, names: [String]) -> String { gammaChart(profile, names: names).svg }

/// The channel-mean gamma of every BNTT population per time step, and their mean over layers.
func gammaChart(_ profile: GammaProfile, names: [String]) -> LineChart {
    var series = profile.meanGamma.enumerated().map { k, g in
        LineChart.Series(name: k < names.count ? names[k] : "layer \(profile.layers[k])",
                         x: g.indices.map { Double($0 + 1) }, y: g.map(Double.init))
    }
    let mean = profile.layerMean
    series.append(.init(name: "mean over layers", x: mean.indices.map { Double($0 + 1) }, y: mean.map(Double.init)))
    return LineChart(title: "BNTT: channel-mean gamma per time step", xLabel: "time step t", yLabel: "mean gamma_t", series: series, yFromZero: false)
}

/// Short names of the BNTT populations (`conv 3->16 k3` of the synaptic layer in front).
func gammaLayerNames(_ network: Network, _ profile: GammaProfile) -> [String] {
    profile.layers.map { i in
        let synaptic = network.spec.layers[..<i].lastIndex { $0.hasWeights }
        return synaptic.map { "L\($0) \(network.spec.layers[$0].shortName)" } ?? "layer \(i)"
    }
}
