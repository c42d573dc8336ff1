import Foundation
import SNNCore
import SNNTensor

/// How an EM-PF (or LIF) network is trained (docs/ALGORITHMS.md, "EM-PF").
public enum OnlineMethod: String, CaseIterable, Codable, Sendable {
    /// EM-PF online: per-step gradient (the membrane between steps is a constant), accumulated.
    case empfOnline = "empf-online"
    /// OTTT: per-step gradient, weight gradients from presynaptic eligibility traces.
    case ottt
    /// SLTT: per-step gradient, membrane detached between steps (the same algorithm as empf-online,
    /// used on LIF networks).
    case sltt
    /// Backpropagation through time (all steps kept).
    case bptt

    /// Whether memory stays that of one time step.
    public var isOnline: Bool { self != .bptt }

    /// The accepted names, for error messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Options of ``OnlineTrainer``.
public struct OnlineTrainingOptions: Sendable {
    public var method: OnlineMethod
    /// Online methods: update the parameters after every time step instead of after the last.
    public var updateEveryStep: Bool
    /// Random back-propagation: input gradients through fixed random matrices (seeded, same shape
    /// and scale as the initial weights) instead of the forward weights.
    public var randomFeedback: Bool
    /// Clip the global gradient norm (0: off).
    public var clip: Float
    /// Seed of the feedback matrices and dropout.
    public var seed: UInt64
    /// Online methods: compute the gradient layer by layer over all steps at once
    /// (``OnlineTrainer/parallelGradients(inputs:labels:meter:)``); memory then grows with T.
    public var parallelTime = false

    public init(method: OnlineMethod = .empfOnline, updateEveryStep: Bool = false, randomFeedback: Bool = false,
                clip: Float = 0, seed: UInt64 = 0, parallelTime: Bool = false) {
        self.method = method; self.updateEveryStep = updateEveryStep; self.randomFeedback = randomFeedback
        self.clip = clip; self.seed = seed; self.parallelTime = parallelTime
    }
}

/// What one training batch gave.
public struct OnlineBatchResult: Sendable {
    /// Mean loss per sample (mean over steps of the per-step cross-entropy).
    public var loss: Float
    /// Correctly classified samples (argmax of the output summed over steps).
    public var correct: Int
    /// Peak bytes the step held (``ByteMeter``), on this process.
    public var peakBytes: Int
    /// Samples the loss and the correct count are over: the batch, or with a ``OnlineTrainer/communicator``
    /// of several ranks the global batch (every rank's share).
    public var samples: Int
}

/// Trains an ``EMPFModel`` with one of the ``OnlineMethod``s, reusing ``Optimizer``.
///
/// Loss: the mean over time steps of the softmax cross-entropy of that step's output (the last
/// layer's spikes, or currents of a read-out layer), averaged over the batch. Online methods run
/// forward one step, back-propagate that step's loss within the step (no path to earlier steps)
/// and free the step's tape before the next one; BPTT keeps every step's tape and carries `dL/dv`
/// back through time.
public struct OnlineTrainer: Sendable {
    public private(set) var model: EMPFModel
    public var optimizer: Optimizer
    public let options: OnlineTrainingOptions
    /// Fixed feedback matrices of the weighted layers (random back-propagation).
    public let feedback: [Tensor?]?
    /// Data parallelism: the processes whose gradients are averaged before every update (one
    /// all-reduce per update, ``allReduce(_:samples:extra:)``); nil or one rank: this process alone.
    public var communicator: (any Communicator)? = nil
    /// Where this process's samples sit in the global batch: dropout draws the masks the whole
    /// batch would draw there, so N ranks train like one process with the global batch.
    public var firstSample = 0
    /// Batches trained so far (restored from checkpoints): seeds each batch's dropout masks.
    public var stepIndex: UInt64 = 0
    /// All-reduces made and the seconds spent in them (including waiting for the slowest rank).
    public private(set) var reductions = 0
    public private(set) var reductionSeconds: Double = 0

    public init(model: EMPFModel, optimizer: Optimizer, options: OnlineTrainingOptions) throws {
        if options.method == .ottt || options.method == .sltt {
            for layer in model.spec.layers { if case .neuron(let n) = layer, n.kind.isGraded {
                throw ShapeError("--method \(options.method.rawValue) trains plain LIF networks (use --neuron lif)")
            } }
        }
        self.model = model
        self.optimizer = optimizer
        self.options = options
        if options.randomFeedback {
            let rng = CounterRNG(seed: options.seed ^ 0xFEED_BAC4)
            self.feedback = model.spec.layers.enumerated().map { i, layer in
                guard case .synaptic(let l) = layer, let shape = l.weightShape, let fans = l.fans else { return nil }
                var g = rng.generator(stream: UInt64(i))
                let bound = (6 / Float(fans.fanIn)).squareRoot()
                return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in (g.uniform() * 2 - 1) * bound })
            }
        } else { self.feedback = nil }
        var flat = 0
        for (i, layer) in model.spec.layers.enumerated() {
            for _ in model.parameters[i] {
                if case .synaptic = layer {} else { self.optimizer.weightDecayOverrides[flat] = 0 }
                flat += 1
            }
        }
    }

    /// The step-by-step network of the current parameters, drawing dropout masks at ``firstSample``.
    func makeStepper() throws -> EMPFStepper {
        var stepper = try EMPFStepper(model: model, ottt: options.method == .ottt)
        stepper.firstSample = firstSample
        return stepper
    }

    /// The seed of this batch's dropout masks: a function of the seed and ``stepIndex`` only, so a
    /// resumed run draws what an uninterrupted one draws.
    var dropoutSeed: UInt64 { options.seed &+ (stepIndex &+ 1) &* 0x9E37_79B9_7F4A_7C15 }

    /// Zero gradients shaped like the parameters.
    func zeroGradients() -> [[Tensor]] { model.parameters.map { $0.map { Tensor(shape: $0.shape) } } }

    /// Gradients of one batch without updating: `inputs` `[T, batch] + inputShape`. Used by
    /// ``trainBatch(inputs:labels:meter:)`` and by the gradient tests. Synaptic entries are gradients
    /// of the latent weights (binary layers: straight-through, clipped to `|W| <= 1`).
    public func gradients(inputs: Tensor, labels: [Int], meter: ByteMeter? = nil) throws
        -> (gradients: [[Tensor]], loss: Float, correct: Int, statistics: [[Int: ([Float], [Float])]]) {
        let stepper = try makeStepper()
        var grads = zeroGradients()
        meter?.alloc(grads.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count * 4 } })
        let r = try accumulate(stepper: stepper, inputs: inputs, labels: labels, gradients: &grads, meter: meter, update: nil)
        return (finish(grads), r.loss, r.correct, r.statistics)
    }

    /// The per-step loop shared by gradient computation and training; `update` (online methods with
    /// ``OnlineTrainingOptions/updateEveryStep``) applies the gradients after every step.
    func accumulate(stepper: EMPFStepper, inputs: Tensor, labels: [Int], gradients grads: inout [[Tensor]], meter: ByteMeter?,
                    update: ((inout [[Tensor]]) throws -> EMPFStepper)?) throws
        -> (loss: Float, correct: Int, statistics: [[Int: ([Float], [Float])]]) {
        let steps = inputs.shape[0], batch = inputs.shape[1]
        let frame = inputs.count / max(steps * batch, 1)
        var stepper = stepper
        var state = stepper.initialState(batch: batch)
        meter?.alloc(state.bytes)
        var loss: Float = 0
        var summed: Tensor? = nil
        var stats: [[Int: ([Float], [Float])]] = []
        var tapes: [EMPFStepTape] = []
        var outputGradients: [Tensor] = []
        for t in 0..<steps {
            let x = Tensor(shape: [batch] + model.spec.inputShape,
                           data: Array(inputs.data[(t * batch * frame)..<((t + 1) * batch * frame)]))
            let r = stepper.forward(x, state: &state, training: true, keepTape: true, step: t, seed: dropoutSeed)
            stats.append(r.batchStatistics)
            meter?.alloc(r.tape!.bytes)
            if summed == nil { summed = r.output } else { for j in 0..<r.output.count { summed!.data[j] += r.output.data[j] } }
            let (l, g) = Loss.softmaxCrossEntropy(r.output, labels, scale: 1 / Float(batch * steps))
            loss += l / Float(batch * steps)
            if options.method.isOnline {
                meter?.alloc(g)
                var noCarry: [Tensor?]? = nil
                stepper.backward(r.tape!, outputGradient: g, gradients: &grads, carry: &noCarry, feedback: feedback, meter: meter)
                meter?.free(g)
                meter?.free(r.tape!.bytes)
                if let update, t < steps - 1 { stepper = try update(&grads) }
            } else {
                meter?.alloc(g)
                tapes.append(r.tape!)
                outputGradients.append(g)
            }
        }
        if !options.method.isOnline {
            var carry: [Tensor?]? = model.spec.layers.map { _ in nil }
            for t in stride(from: steps - 1, through: 0, by: -1) {
                stepper.backward(tapes[t], outputGradient: outputGradients[t], gradients: &grads, carry: &carry, feedback: feedback, meter: meter)
                if let c = carry { meter?.alloc(c.reduce(0) { $0 + ($1?.count ?? 0) * 4 }) }
                meter?.free(tapes[t].bytes); meter?.free(outputGradients[t])
            }
        }
        var correct = 0
        if let summed {
            let k = summed.count / max(batch, 1)
            for b in 0..<batch {
                var best = 0
                for c in 1..<k where summed.data[b * k + c] > summed.data[b * k + best] { best = c }
                if best == labels[b] { correct += 1 }
            }
        }
        return (loss, correct, stats)
    }

    /// Straight-through gradient of binary layers: the forward weight's gradient, zeroed where `|W_latent| > 1`.
    func finish(_ grads: [[Tensor]]) -> [[Tensor]] {
        var out = grads
        for i in model.spec.layers.indices where model.isBinary(i) {
            let w = model.parameters[i][0]
            for j in 0..<w.count where abs(w.data[j]) > 1 { out[i][0].data[j] = 0 }
        }
        return out
    }

    /// One optimiser update from `grads` (then clamps decays to [0, 1] and thresholds to >= 1e-3).
    mutating func apply(_ grads: [[Tensor]]) throws {
        var flatW = model.parameters.flatMap { $0 }
        var flatG = finish(grads).flatMap { $0 }
        if options.clip > 0 { _ = Optimizer.clipGlobalNorm(&flatG, maxNorm: options.clip) }
        for g in flatG where !g.data.allSatisfy({ $0.isFinite }) { throw TrainingError(epoch: 0, batch: 0, problem: "a gradient is not finite") }
        let learnable = learnableFlatIndices()
        optimizer.step(weights: &flatW, gradients: flatG, indices: learnable)
        var k = 0
        for i in model.parameters.indices {
            for j in model.parameters[i].indices { model.parameters[i][j] = flatW[k]; k += 1 }
            if case .neuron = model.spec.layers[i] {
                for q in 0..<model.parameters[i][0].count { model.parameters[i][0].data[q] = min(1, max(0, model.parameters[i][0].data[q])) }
                for q in 0..<model.parameters[i][1].count { model.parameters[i][1].data[q] = max(1e-3, model.parameters[i][1].data[q]) }
            }
        }
    }

    func learnableFlatIndices() -> [Int] {
        var out: [Int] = []
        var k = 0
        for (i, layer) in model.spec.layers.enumerated() {
            for j in model.parameters[i].indices {
                if case .neuron(let n) = layer, j < 2, !n.learnable { k += 1; continue }
                out.append(k); k += 1
            }
        }
        return out
    }

    /// Running statistics: every step's batch statistics in turn, momentum 0.1.
    mutating func updateStatistics(_ stats: [[Int: ([Float], [Float])]]) {
        for step in stats {
            for (i, (mean, variance)) in step {
                for c in mean.indices {
                    model.statistics[i][0].data[c] = 0.9 * model.statistics[i][0].data[c] + 0.1 * mean[c]
                    model.statistics[i][1].data[c] = 0.9 * model.statistics[i][1].data[c] + 0.1 * variance[c]
                }
            }
        }
    }

    /// Trains on one batch and updates the parameters. With a ``communicator`` of several ranks,
    /// `inputs` is this rank's share of the global batch (possibly empty) and every rank calls this
    /// together: each update applies the global batch's mean gradient, the running statistics take
    /// the sample-weighted mean of the ranks' batch statistics, and the result's loss, correct count
    /// and samples are the global batch's.
    public mutating func trainBatch(inputs: Tensor, labels: [Int], meter: ByteMeter? = nil) throws -> OnlineBatchResult {
        let meter = meter ?? ByteMeter()
        meter.reset()
        let n = labels.count
        let steps = inputs.shape[0]
        var grads = zeroGradients()
        meter.alloc(grads.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count * 4 } })
        let everyStep = options.updateEveryStep && options.method.isOnline && !options.parallelTime
        var loss: Float = 0, correct = 0
        var stats: [[Int: ([Float], [Float])]] = []
        if n == 0 {
            // An empty share (the last batch has fewer samples than ranks): zero weight in every reduction.
            guard (communicator?.size ?? 1) > 1 else { stepIndex += 1; return OnlineBatchResult(loss: 0, correct: 0, peakBytes: meter.peak, samples: 0) }
            if everyStep {
                for _ in 0..<max(steps - 1, 0) {
                    var none: [Float] = []
                    _ = allReduce(&grads, samples: 0, extra: &none)
                    try apply(grads)
                    grads = zeroGradients()
                }
            }
        } else if options.parallelTime {
            let p = try parallelGradients(inputs: inputs, labels: labels, meter: meter)
            // parallelGradients already applied the straight-through mask; apply() applies it again (idempotent).
            grads = p.gradients; loss = p.loss; correct = p.correct; stats = p.statistics
        } else {
            var trainer = self
            let r = try accumulate(stepper: try makeStepper(), inputs: inputs, labels: labels, gradients: &grads, meter: meter,
                                   update: everyStep ? { g in
                                       var none: [Float] = []
                                       _ = trainer.allReduce(&g, samples: n, extra: &none)
                                       try trainer.apply(g)
                                       g = trainer.zeroGradients()
                                       return try trainer.makeStepper()
                                   } : nil)
            self = trainer
            loss = r.loss; correct = r.correct; stats = r.statistics
        }
        var total = n
        if let communicator, communicator.size > 1 {
            // The last (or only) update carries the batch statistics and the metrics in the same all-reduce.
            var extra = flattenStatistics(stats, steps: steps, samples: n) + [loss * Float(n), Float(correct)]
            total = allReduce(&grads, samples: n, extra: &extra)
            loss = total > 0 ? extra[extra.count - 2] / Float(total) : 0
            correct = Int(extra[extra.count - 1].rounded())
            stats = unflattenStatistics(extra, steps: steps, samples: total)
        }
        guard loss.isFinite else { throw TrainingError(epoch: 0, batch: 0, problem: "the loss is \(loss)") }
        try apply(grads)
        updateStatistics(stats)
        stepIndex += 1
        return OnlineBatchResult(loss: loss, correct: correct, peakBytes: meter.peak, samples: total)
    }

    /// Averages `grads` (means over this process's `samples`) over the ranks of ``communicator``,
    /// weighted by samples, in one all-reduce of one flat buffer: the gradients times `samples`,
    /// then `extra` (summed as given), then `samples`. Returns the samples of all ranks; `extra`
    /// holds the sums. One process: nothing moves, returns `samples`.
    mutating func allReduce(_ grads: inout [[Tensor]], samples: Int, extra: inout [Float]) -> Int {
        guard let communicator, communicator.size > 1 else { return samples }
        let gradientCount = grads.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        var buffer = [Float](repeating: 0, count: gradientCount + extra.count + 1)
        let w = Float(samples)
        var o = 0
        for layer in grads { for g in layer { for v in g.data { buffer[o] = v * w; o += 1 } } }
        for v in extra { buffer[o] = v; o += 1 }
        buffer[o] = w
        let started = Date()
        buffer.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        reductionSeconds += Date().timeIntervalSince(started)
        reductions += 1
        let total = buffer[o]
        let scale = total > 0 ? 1 / total : 0
        o = 0
        for i in grads.indices { for j in grads[i].indices { for q in 0..<grads[i][j].count { grads[i][j].data[q] = buffer[o] * scale; o += 1 } } }
        for k in extra.indices { extra[k] = buffer[o]; o += 1 }
        return Int(total.rounded())
    }

    /// Floats all-reduced per update for this model (gradients, the statistics of `steps` steps, loss, correct, samples).
    public func reductionCount(steps: Int) -> Int {
        model.parameters.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } + statisticsLayout().reduce(0) { $0 + 2 * $1.channels } * steps + 3
    }

    /// The normalised populations (layer, channels), in layer order: the layout of flattened statistics.
    func statisticsLayout() -> [(layer: Int, channels: Int)] {
        model.statistics.indices.compactMap { i in model.statistics[i].isEmpty ? nil : (i, model.statistics[i][0].count) }
    }

    /// Every step's batch means and variances, times `samples`, in ``statisticsLayout()`` order (zeros for an empty share).
    func flattenStatistics(_ stats: [[Int: ([Float], [Float])]], steps: Int, samples: Int) -> [Float] {
        let layout = statisticsLayout()
        var out: [Float] = []
        out.reserveCapacity(layout.reduce(0) { $0 + 2 * $1.channels } * steps)
        let w = Float(samples)
        for t in 0..<steps {
            for (i, c) in layout {
                if t < stats.count, let (mean, variance) = stats[t][i] {
                    out += mean.map { $0 * w }; out += variance.map { $0 * w }
                } else {
                    out += [Float](repeating: 0, count: 2 * c)
                }
            }
        }
        return out
    }

    /// The inverse of ``flattenStatistics(_:steps:samples:)`` on summed values: sample-weighted means.
    func unflattenStatistics(_ flat: [Float], steps: Int, samples: Int) -> [[Int: ([Float], [Float])]] {
        let layout = statisticsLayout()
        guard !layout.isEmpty, samples > 0 else { return [] }
        let scale = 1 / Float(samples)
        var o = 0
        return (0..<steps).map { _ in
            var step: [Int: ([Float], [Float])] = [:]
            for (i, c) in layout {
                let mean = flat[o..<(o + c)].map { $0 * scale }; o += c
                let variance = flat[o..<(o + c)].map { $0 * scale }; o += c
                step[i] = (mean, variance)
            }
            return step
        }
    }
}

/// Evaluation and operation counts of an EM-PF network.
public enum EMPFEvaluation {
    /// Result of a test pass.
    public struct Result: Sendable, Codable {
        public var accuracy: Double
        public var samples: Int
        /// Synaptic operations per sample: accumulates (binary spikes, or any spike into binary
        /// weights: a sign-selected addition) and multiply-accumulates (graded spikes into float
        /// weights, and the one multiplication by alpha per output of a binary layer).
        public var operationsPerSample: SynapticOperations
    }

    /// Runs `inputs` `[T, batch] + inputShape` and returns the summed outputs `[batch, K]`, the operations per
    /// sample, the spikes (non-zero values) each population fired and the sum of their values, both summed
    /// over the batch and the steps.
    /// `binaryKernels`: binary linear layers run the additions-only kernel (``PackedBinaryLinear``).
    /// `exactEventOrder`: every layer sums in event order (no packed kernel, no im2col GEMM), the
    /// bit-exact reference of the asynchronous engine at F = infinity (``EMPFStepper/exactEventOrder``).
    public static func run(_ model: EMPFModel, inputs: Tensor, binaryKernels: Bool = true,
                           exactEventOrder: Bool = false) throws -> (outputs: Tensor, operations: SynapticOperations, spikes: [Int], values: [Double]) {
        let stepper = try EMPFStepper(model: model, binaryKernels: binaryKernels, exactEventOrder: exactEventOrder)
        let steps = inputs.shape[0], batch = inputs.shape[1]
        let frame = inputs.count / max(steps * batch, 1)
        var state = stepper.initialState(batch: batch)
        var summed: Tensor? = nil
        var ops: SynapticOperations? = SynapticOperations()
        let populations = model.spec.layers.indices.filter { if case .neuron = model.spec.layers[$0] { return true } else { return false } }
        var spikes = [Int](repeating: 0, count: populations.count)
        var values = [Double](repeating: 0, count: populations.count)
        for t in 0..<steps {
            let x = Tensor(shape: [batch] + model.spec.inputShape, data: Array(inputs.data[(t * batch * frame)..<((t + 1) * batch * frame)]))
            let r = stepper.forward(x, state: &state, training: false, keepTape: false, step: t, operations: &ops) { i, y in
                if let p = populations.firstIndex(of: i) {
                    spikes[p] += y.data.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
                    values[p] += y.data.reduce(0.0) { $0 + Double($1) }
                }
            }
            let h = r.output
            let out = h.reshaped([batch, h.count / batch])
            if summed == nil { summed = out } else { for j in 0..<out.count { summed!.data[j] += out.data[j] } }
        }
        var perSample = ops!
        perSample.accumulates /= Double(batch); perSample.multiplyAccumulates /= Double(batch)
        return (summed ?? Tensor(shape: [batch, 0]), perSample, spikes, values)
    }

    /// Argmax of summed outputs per sample.
    public static func predictions(_ summed: Tensor) -> [Int] {
        let batch = summed.shape[0], k = summed.count / max(batch, 1)
        return (0..<batch).map { b in
            var best = 0
            for c in 1..<k where summed.data[b * k + c] > summed.data[b * k + best] { best = c }
            return best
        }
    }
}
