import SNNCore
import SNNEngines
import SNNTensor

/// One training step's result: loss, correct predictions, weight gradients and tape size.
public struct StepResult: Sendable {
    /// Loss averaged over the batch.
    public var loss: Float
    /// Samples whose prediction (argmax of summed output) equals the label.
    public var correct: Int
    /// One gradient tensor per layer (empty shape for layers without weights).
    public var gradients: [Tensor]
    /// Bytes the forward pass kept for the backward pass (the most held at once).
    public var tapeBytes: Int
    /// Unlayered training: bytes of tape recorded over the whole batch, every sample's tape summed
    /// (the reverse passes consume each sample's tape as it ends, so far less is held at once); 0 when
    /// not measured.
    public var recordedTapeBytes: Int = 0
    /// Total spikes in the batch (all populations).
    public var spikes: Double
    /// Forward steps per sample, summed over frames (the number of time steps for layered execution).
    public var forwardStepsPerSample: Double
    /// The network's running statistics after this batch (normalised populations), nil when unchanged.
    public var runningStatistics: [Tensor]? = nil
    /// Samples that `loss`, `correct` and the gradients cover, when a ``GradientReducer`` combined
    /// several processes' batches (nil: the batch given to the step).
    public var samples: Int? = nil

    public init(loss: Float, correct: Int, gradients: [Tensor], tapeBytes: Int, spikes: Double, forwardStepsPerSample: Double = 0) {
        self.loss = loss; self.correct = correct; self.gradients = gradients; self.tapeBytes = tapeBytes; self.spikes = spikes
        self.forwardStepsPerSample = forwardStepsPerSample
    }
}

/// Something that runs a network forward on a batch and returns the loss and weight gradients:
/// BPTT through the layered engine, or unlayered backprop through the asynchronous engine.
public protocol GradientComputer: Sendable {
    /// A short name for logs (`layered-bptt`, `unlayered`).
    var name: String { get }
    /// Forward with a tape, the loss, and the backward pass. `inputs`: `[T, batch] + inputShape`.
    func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult
}

/// BPTT through the ``LayeredEngine``.
public struct LayeredBPTT: GradientComputer {
    public var options: BPTT.Options
    /// Where the batch sits in the global batch of a data-parallel step (see ``BatchShareAware``).
    public var firstSample = 0
    public var name: String { "layered-bptt" }
    public init(options: BPTT.Options = .init()) { self.options = options }

    public func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
        let engine = try! LayeredEngine(network: network)
        let run = engine.run(inputs: inputs, training: true, tape: true, seed: seed, firstSample: firstSample)
        let (value, gOut, gMem) = loss.evaluate(outputs: run.outputs, membranes: run.outputMembranes, labels: labels)
        let grads = BPTT.gradients(network: network, tape: run.tape!, outputGradients: gOut, membraneGradients: gMem, options: options)
        let correct = zip(run.predictions, labels).filter { $0 == $1 }.count
        let spikes = run.spikeCounts.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } }
        var result = StepResult(loss: value, correct: correct, gradients: grads, tapeBytes: run.tape!.byteCount, spikes: spikes,
                                forwardStepsPerSample: Double(run.steps))
        if !network.normalizationIndices.isEmpty {
            var stats = network.runningStatistics
            for i in network.normalizationIndices {
                if let batchStats = run.batchStatistics[i], let norm = network.spec.layers[i].normalization {
                    stats[i] = NormalizationKernels.updatedStatistics(norm, running: stats[i], batch: batchStats)
                }
            }
            result.runningStatistics = stats
        }
        return result
    }
}
