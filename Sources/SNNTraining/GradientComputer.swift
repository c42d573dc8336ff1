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
    /// Bytes of tape recorded over the whole batch by training that consumes its tapes as it goes
    /// (unlayered training: every sample's tape; layered BPTT in blocks of samples: every block's), so
    /// that far less is held at once; 0 when not measured.
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
///
/// **Blocks of samples.** A convolutional network without input normalisation (``trainsInBlocks(_:)``)
/// is trained in contiguous blocks of samples (``sampleBlocks(batch:)``, a number that depends on the
/// batch size only): each block runs forward, takes its rows of the loss gradient
/// (``Loss/evaluate(outputs:membranes:labels:batchSize:)``) and runs BPTT on one thread, with every
/// kernel kept on that thread (``SNNTensor/Parallelism/onCallingThread(_:)``); the blocks' weight
/// gradients are then summed in block order. Threads only decide which block runs where, so the
/// gradients are the same at any thread count, and the cores no longer meet at a barrier after every
/// small kernel of every time step. The forward pass, and so the loss, is the whole batch's bit for
/// bit (dropout masks are drawn at each sample's place in the batch); the weight gradients equal the
/// whole batch's up to the order of their sums. Other networks run the whole batch at once, each
/// kernel split over the cores: normalised populations share batch statistics, and networks of dense
/// layers alone multiply their wide, sparse input layers best with many samples at once.
public struct LayeredBPTT: GradientComputer {
    public var options: BPTT.Options
    /// Where the batch sits in the global batch of a data-parallel step (see ``BatchShareAware``).
    public var firstSample = 0
    /// Train networks that allow it in blocks of samples (see the type's description); off: always the
    /// whole batch at once, each kernel split over the cores.
    public var usesSampleBlocks = true
    public var name: String { "layered-bptt" }
    public init(options: BPTT.Options = .init()) { self.options = options }

    /// Samples per block at most (see the type's description). On the bench CNN (2 cores, batches of 32
    /// and 128; docs/BENCHMARKS.md) blocks of 8 and 16 trained equally fast, blocks of 4 about 7% slower.
    public static let samplesPerBlock = 8

    /// Whether `spec` is trained in blocks of samples: convolutional networks without input normalisation.
    public static func trainsInBlocks(_ spec: NetworkSpec) -> Bool {
        spec.layers.allSatisfy { $0.normalization == nil } && spec.layers.contains { if case .conv2d = $0 { true } else { false } }
    }

    /// The number of blocks a batch of `batch` samples is cut into (see ``AsyncEngine/sampleRange(ofBlock:batch:blocks:)``).
    public static func sampleBlocks(batch: Int) -> Int {
        max(1, (batch + samplesPerBlock - 1) / samplesPerBlock)
    }

    public func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
        let engine = try! LayeredEngine(network: network)
        if usesSampleBlocks && Self.trainsInBlocks(network.spec) && inputs.rank >= 2 && Self.sampleBlocks(batch: inputs.shape[1]) > 1 {
            return blockwise(engine: engine, inputs: inputs, labels: labels, loss: loss, seed: seed)
        }
        let run = engine.run(inputs: inputs, training: true, tape: true, seed: seed, firstSample: firstSample)
        let (value, gOut, gMem) = loss.evaluate(outputs: run.outputs, membranes: run.outputMembranes, labels: labels)
        let grads = BPTT.gradients(network: network, tape: run.tape!, outputGradients: gOut, membraneGradients: gMem, options: options)
        let correct = zip(run.predictions, labels).filter { $0 == $1 }.count
        var result = StepResult(loss: value, correct: correct, gradients: grads, tapeBytes: run.tape!.byteCount,
                                spikes: Self.totalSpikes(run.spikeCounts),
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

    /// Spikes of the whole batch: each population's per-sample counts summed, then the populations.
    static func totalSpikes(_ spikeCounts: [[Float]]) -> Double {
        spikeCounts.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } }
    }

    /// What one block of samples gives: its run's outputs and counts, its weight gradients, its tape size.
    struct BlockResult {
        var outputs: [Tensor], membranes: [Tensor], spikeCounts: [[Float]]
        var gradients: [Tensor]
        var correct: Int, tapeBytes: Int
    }

    /// One block: samples `rows` of the time-major batch `inputs` (`shape`: `[T, batch] + frame`) copied
    /// out, run forward, given their rows of the whole batch's loss gradient, and run back by BPTT.
    func runBlock(engine: LayeredEngine, inputs x: UnsafePointer<Float>, shape: [Int], rows: Range<Int>, labels: [Int],
                  loss: Loss, seed: UInt64) -> BlockResult {
        let steps = shape[0], batch = shape[1]
        let frameSize = shape.dropFirst(2).reduce(1, *)
        let blockInputs = Tensor(shape: [steps, rows.count] + Array(shape.dropFirst(2))) { d in
            for t in 0..<steps {
                (d.baseAddress! + t * rows.count * frameSize)
                    .initialize(from: x + (t * batch + rows.lowerBound) * frameSize, count: rows.count * frameSize)
            }
        }
        let run = engine.run(inputs: blockInputs, training: true, tape: true, seed: seed, firstSample: firstSample + rows.lowerBound)
        let (_, gOut, gMem) = loss.evaluate(outputs: run.outputs, membranes: run.outputMembranes, labels: labels, batchSize: batch)
        let grads = BPTT.gradients(network: engine.network, tape: run.tape!, outputGradients: gOut, membraneGradients: gMem,
                                   options: options)
        return BlockResult(outputs: run.outputs, membranes: run.outputMembranes, spikeCounts: run.spikeCounts, gradients: grads,
                           correct: zip(run.predictions, labels).filter { $0 == $1 }.count, tapeBytes: run.tape!.byteCount)
    }

    /// The blocks of samples path (see the type's description).
    func blockwise(engine: LayeredEngine, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
        let network = engine.network
        let steps = inputs.shape[0], batch = inputs.shape[1]
        if labels.count != batch { fatalError("LayeredBPTT: \(labels.count) labels for a batch of \(batch)") }
        let blocks = Self.sampleBlocks(batch: batch)
        var results = [BlockResult?](repeating: nil, count: blocks)
        inputs.withUnsafeBufferPointer { x in
            results.withUnsafeMutableBufferPointer { out in
                // Blocks dealt round-robin to the workers (a block's result does not depend on who runs it).
                let workers = Parallelism.workerCount(forBlocks: blocks)
                concurrentPerform(workers) { w in
                    for k in stride(from: w, to: blocks, by: workers) {
                        let rows = AsyncEngine.sampleRange(ofBlock: k, batch: batch, blocks: blocks)
                        out[k] = Parallelism.onCallingThread {
                            runBlock(engine: engine, inputs: x.baseAddress!, shape: inputs.shape, rows: rows, labels: Array(labels[rows]),
                                     loss: loss, seed: seed)
                        }
                    }
                }
            }
        }
        let parts = results.map { $0! }
        // The weight gradients summed in block order, element by element (split over the cores).
        var gradients = network.weights.map { Tensor(shape: $0.shape) }
        for i in gradients.indices where gradients[i].count > 0 {
            let sources = parts.map(\.gradients[i])
            gradients[i].withUnsafeMutableBufferPointer { total in
                let t = total.baseAddress!
                withPointers(sources) { src in
                    parallelFor(total.count, minimumChunk: 16_384) { range in
                        for p in src { for j in range { t[j] += p[j] } }
                    }
                }
            }
        }
        // The loss value over the whole batch, as the batch evaluation gives it (the same bits as one run).
        let outputs = (0..<steps).map { t in Tensor.concatenatingRows(parts.map(\.outputs[t])) }
        let membranes = parts[0].membranes.isEmpty ? [] : (0..<steps).map { t in Tensor.concatenatingRows(parts.map(\.membranes[t])) }
        let value = loss.evaluate(outputs: outputs, membranes: membranes, labels: labels).loss
        let spikeCounts = parts[0].spikeCounts.indices.map { population in parts.flatMap { $0.spikeCounts[population] } }
        // At most one block's tape per worker is alive at a time.
        let largestTape = parts.map(\.tapeBytes).max() ?? 0
        var result = StepResult(loss: value, correct: parts.reduce(0) { $0 + $1.correct }, gradients: gradients,
                                tapeBytes: largestTape * Parallelism.workerCount(forBlocks: blocks),
                                spikes: Self.totalSpikes(spikeCounts), forwardStepsPerSample: Double(steps))
        result.recordedTapeBytes = parts.reduce(0) { $0 + $1.tapeBytes }
        return result
    }
}
