import Foundation
import SNNCore
import SNNTensor

/// Settings of a training run.
public struct TrainingConfiguration: Sendable {
    public var epochs: Int = 10
    public var learningRate: Float = 1e-3
    public var optimizer: Optimizer.Kind = .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-5)
    public var schedule: LearningRateSchedule = .constant
    /// Clip the global gradient norm to this value (nil: no clipping).
    public var gradientClipNorm: Float? = nil
    public var loss: Loss = .rateCrossEntropy
    /// Weight decay of the normalisation parameters (BNTT's gamma; gamma and beta of BN and tdBN);
    /// nil: the optimizer's weight decay. BNTT's early exit needs a stronger decay on gamma than on weights.
    public var normalizationWeightDecay: Float? = nil
    /// Seeds dropout and any stochastic part of the forward pass; combined with the step number.
    public var seed: UInt64 = 0
    public init() {}
}

/// Progress of a training epoch, reported after every batch.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var batch: Int
    public var batchCount: Int?
    public var samples: Int
    public var meanLoss: Float
    public var accuracy: Double
    public var samplesPerSecond: Double
}

/// Metrics of one epoch.
public struct EpochMetrics: Codable, Sendable {
    public var epoch: Int
    public var loss: Float
    public var trainAccuracy: Double
    public var samples: Int
    public var seconds: Double
    public var samplesPerSecond: Double
    public var learningRate: Float
    /// Largest tape seen (bytes kept for the backward pass in one step).
    public var peakTapeBytes: Int

    public init(epoch: Int, loss: Float, trainAccuracy: Double, samples: Int, seconds: Double, samplesPerSecond: Double,
                learningRate: Float, peakTapeBytes: Int) {
        self.epoch = epoch; self.loss = loss; self.trainAccuracy = trainAccuracy; self.samples = samples; self.seconds = seconds
        self.samplesPerSecond = samplesPerSecond; self.learningRate = learningRate; self.peakTapeBytes = peakTapeBytes
    }
}

/// The training loop: batches in, forward with tape, loss, backward, (clip), optimizer step.
///
/// It knows neither where batches come from nor how gradients are computed (a ``GradientComputer``),
/// so layered BPTT and unlayered backprop share it.
public struct Trainer: Sendable {
    public var network: Network
    public var configuration: TrainingConfiguration
    public var computer: any GradientComputer
    public private(set) var optimizer: Optimizer
    /// Optimisation steps taken (seeds each step's stochastic parts; a checkpoint saves it).
    public var stepIndex: UInt64 = 0
    /// Data-parallel training: combines the gradients of all processes before the optimizer step
    /// (see ``DataParallelReducer``); nil: this process trains alone.
    public var gradientReducer: (any GradientReducer)? = nil

    public init(network: Network, configuration: TrainingConfiguration, computer: any GradientComputer) {
        self.network = network
        self.configuration = configuration
        self.computer = computer
        self.optimizer = Optimizer(configuration.optimizer, learningRate: configuration.learningRate)
        if let wd = configuration.normalizationWeightDecay {
            for i in network.normalizationIndices { optimizer.weightDecayOverrides[i] = wd }
        }
    }

    /// One optimisation step on a batch (`inputs`: `[T, batch] + inputShape`).
    public mutating func step(inputs: Tensor, labels: [Int]) -> StepResult {
        stepIndex += 1
        // Data parallel: a process whose share of the last batch is empty still takes part in the reduction.
        var result = labels.isEmpty && gradientReducer != nil
            ? StepResult(loss: 0, correct: 0, gradients: network.weights.map { Tensor(shape: $0.shape) }, tapeBytes: 0, spikes: 0)
            : computer.lossAndGradients(network: network, inputs: inputs, labels: labels, loss: configuration.loss,
                                        seed: configuration.seed &* 0x9E37_79B9 &+ stepIndex)
        if let gradientReducer { gradientReducer.reduce(&result, samples: labels.count, network: network) }
        if let clip = configuration.gradientClipNorm { Optimizer.clipGlobalNorm(&result.gradients, maxNorm: clip) }
        optimizer.step(weights: &network.weights, gradients: result.gradients, indices: network.parameterIndices)
        if let stats = result.runningStatistics { network.runningStatistics = stats }
        return result
    }

    /// Sets `epoch`'s learning rate from the schedule (for loops that call ``step(inputs:labels:)``
    /// themselves; ``trainEpoch(_:batchCount:batches:progress:)`` does it).
    public mutating func beginEpoch(_ epoch: Int) {
        optimizer.learningRate = configuration.schedule.rate(base: configuration.learningRate, epoch: epoch)
    }

    /// Continues from a checkpoint's optimizer state.
    public mutating func restoreOptimizer(_ state: Optimizer.State) { optimizer.restore(state) }

    /// The first non-finite weight (layer index and value), or nil when every weight is finite.
    public func firstNonFiniteWeight() -> (layer: Int, value: Float)? {
        for i in network.parameterIndices {
            let bad: Float? = network.weights[i].withUnsafeBufferPointer { p in
                var sum: Float = 0
                for v in p { sum += v * 0 }  // NaN or infinity anywhere makes the sum NaN
                return sum.isNaN ? (p.first { !$0.isFinite } ?? .nan) : nil
            }
            if let bad { return (i, bad) }
        }
        return nil
    }

    /// Trains one epoch. `batches` calls its argument once per batch; `progress` is called after each.
    /// Throws ``TrainingError`` (naming the epoch and batch) as soon as the loss or a weight is not finite.
    public mutating func trainEpoch(_ epoch: Int, batchCount: Int? = nil,
                                    batches: ((Tensor, [Int]) throws -> Void) throws -> Void,
                                    progress: @escaping (TrainingProgress) -> Void = { _ in }) throws -> EpochMetrics {
        optimizer.learningRate = configuration.schedule.rate(base: configuration.learningRate, epoch: epoch)
        let start = Date()
        var samples = 0, correct = 0, batchIndex = 0, peakTape = 0
        var lossSum: Double = 0
        try batches { inputs, labels in
            let r = self.step(inputs: inputs, labels: labels)
            let n = r.samples ?? labels.count  // all processes' samples when data parallel
            samples += n; correct += r.correct; batchIndex += 1
            // A non-finite loss or weight poisons every later step: stop here (no model gets written).
            guard r.loss.isFinite else {
                throw TrainingError(epoch: epoch, batch: batchIndex, problem: "the loss is \(r.loss)")
            }
            if let bad = self.firstNonFiniteWeight() {
                throw TrainingError(epoch: epoch, batch: batchIndex, problem: "layer \(bad.layer) has a non-finite weight (\(bad.value)) after the update")
            }
            lossSum += Double(r.loss) * Double(n)
            peakTape = max(peakTape, r.tapeBytes)
            let elapsed = Date().timeIntervalSince(start)
            progress(TrainingProgress(epoch: epoch, batch: batchIndex, batchCount: batchCount, samples: samples,
                                      meanLoss: Float(lossSum / Double(samples)), accuracy: Double(correct) / Double(samples),
                                      samplesPerSecond: Double(samples) / max(elapsed, 1e-9)))
        }
        let seconds = Date().timeIntervalSince(start)
        return EpochMetrics(epoch: epoch, loss: Float(lossSum / Double(max(samples, 1))),
                            trainAccuracy: Double(correct) / Double(max(samples, 1)), samples: samples, seconds: seconds,
                            samplesPerSecond: Double(samples) / max(seconds, 1e-9), learningRate: optimizer.learningRate,
                            peakTapeBytes: peakTape)
    }
}

/// Training stopped because it diverged: the loss or a weight became NaN or infinite.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    /// The epoch (from 0) and batch (from 1) of the step that diverged.
    public var epoch: Int
    public var batch: Int
    public var problem: String
    public init(epoch: Int, batch: Int, problem: String) { self.epoch = epoch; self.batch = batch; self.problem = problem }
    public var description: String {
        "training diverged at epoch \(epoch + 1), batch \(batch): \(problem)"
    }
}
