import Foundation
import SNNCore
import SNNEngines
import SNNTensor

/// Training through the asynchronous execution (unlayered backprop): the ``AsyncEngine`` runs the
/// batch with a tape, the loss is taken on each frame's output spike counts, and
/// ``UnlayeredBackprop`` sends the gradient back through the forward steps in the order the
/// scheduler chose.
///
/// **Byte-identical at any thread count.** The batch is cut into ``reductionBlocks`` contiguous
/// blocks of samples (a number that depends on the batch size only). Each block's reverse passes run
/// on one thread, in sample order, into the block's own gradient buffers; the blocks' gradients and
/// losses are then summed in block order. Threads only decide which block runs where.
public struct UnlayeredTraining: GradientComputer {
    /// How the forward pass runs (F, scheduler, stop rule, refractory dropout...). `recordTape` is forced on.
    public var asyncOptions: AsyncOptions
    /// Reverse-pass options.
    public var backpropOptions: UnlayeredBackprop.Options
    /// Probability of dropping each input event during training (0: off).
    public var inputDropout: Float

    /// Most blocks a batch is cut into for the gradient reduction (each holds one gradient buffer).
    public static let reductionBlocks = 16

    /// Where the batch sits in the global batch of a data-parallel step (see ``BatchShareAware``):
    /// the first sample's position and the global batch size (nil: the batch is the whole batch).
    public var share: (firstSample: Int, globalBatch: Int)? = nil

    /// The reverse-pass buffers, kept from one step to the next (allocating them every step cost more
    /// in page faults than the reverse pass of a small network).
    let cache = WorkspaceCache()

    public var name: String { "unlayered" }

    public init(asyncOptions: AsyncOptions, backpropOptions: UnlayeredBackprop.Options = .init(), inputDropout: Float = 0) {
        self.asyncOptions = asyncOptions
        self.backpropOptions = backpropOptions
        self.inputDropout = inputDropout
    }

    public func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
        precondition(loss != .membraneCrossEntropy, "unlayered training needs a loss on spike counts (rate-ce, count-ce, count-mse)")
        let engine: AsyncEngine
        do {
            try AsyncCompatibility.checkTraining(network.spec)
            engine = try AsyncEngine(network: network)
        } catch { fatalError("unlayered training: \(error)") }
        var x = inputs
        if inputDropout > 0 {
            let rng = CounterRNG(seed: seed ^ 0xD20F)
            // Counter: the element's index in the global batch's [T, B] + shape tensor (the same draws on any number of processes).
            let frames = x.shape[0], batch = x.shape[1], size = x.count / max(1, frames * batch)
            let (first, global) = share ?? (0, batch)
            for j in 0..<x.count where x.data[j] != 0 {
                let f = j / (batch * size), b = (j / size) % batch, k = j % size
                if rng.uniform(stream: 7, counter: UInt64((f * global + first + b) * size + k)) < inputDropout { x.data[j] = 0 }
            }
        }
        var options = asyncOptions
        options.recordTape = true
        options.seed = asyncOptions.seed &+ seed
        let blocks = max(1, min(Self.reductionBlocks, inputs.shape[1]))
        let workspaces = cache.workspaces(engine: engine, count: blocks)
        defer { cache.giveBack(workspaces) }
        if backpropOptions.truncatePerFrame && loss == .rateCrossEntropy {
            return onlinePerFrame(engine: engine, workspaces: workspaces, network: network, inputs: x, labels: labels, options: options)
        }
        return wholeSamples(engine: engine, workspaces: workspaces, network: network, inputs: x, labels: labels,
                            loss: loss, options: options)
    }

    /// The reverse pass over each sample's whole tape, run as soon as the sample's last frame ends, on
    /// the thread that ran it (the tape is still in cache, and the worker's tape arrays are reused for
    /// its next sample). The sample's loss gradient comes from its own output counts: the loss's rows
    /// are independent, so they are the batch evaluation's rows bit for bit (``Loss/evaluate(outputs:membranes:labels:batchSize:)``).
    /// The engine runs each reduction block on one thread, in sample order.
    func wholeSamples(engine: AsyncEngine, workspaces: [UnlayeredBackprop.Workspace], network: Network, inputs x: Tensor,
                      labels: [Int], loss: Loss, options: AsyncOptions) -> StepResult {
        let frames = x.shape[0], batch = x.shape[1]
        let classes = engine.classCount
        let inputSize = x.count / (frames * batch)
        let blocks = workspaces.count
        let meter = TapeMeter(blocks: blocks)
        defer { meter.deallocate() }
        let outBase = engine.populations.last!.offset
        let backprop = backpropOptions
        let run: AsyncRun = x.withUnsafeBufferPointer { inBuf in
            let base = inBuf.baseAddress!
            let consumer: (Int, Int, Int, inout AsyncTape) -> Void = { _, b, frame, tape in
                guard frame == frames - 1 else { return }
                let k = AsyncEngine.sampleBlock(b, batch: batch, blocks: blocks)
                // The sample's output spike counts per frame, from the emissions on its tape.
                var outputs = [Tensor](repeating: Tensor(shape: [1, classes]), count: frames)
                for f in 0..<frames {
                    let steps = Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1])
                    for e in Int(tape.stepEmissionStart[steps.lowerBound])..<Int(tape.stepEmissionStart[steps.upperBound]) {
                        let n = Int(tape.emittedNeuron[e])
                        if n >= outBase { outputs[f].data[n - outBase] += 1 }
                    }
                }
                let gOut = loss.evaluate(outputs: outputs, membranes: [], labels: [labels[b]], batchSize: batch).outputGradients
                var dCount = [Float](repeating: 0, count: frames * classes)
                for f in 0..<frames { for c in 0..<classes { dCount[f * classes + c] = gOut[f].data[c] } }
                meter.add(block: k, bytes: tape.byteCount)
                // Frame f of sample b is at (f * batch + b) * inputSize in the time-major batch.
                workspaces[k].accumulate(tape: tape, input: base + b * inputSize, frames: frames, frameStride: batch * inputSize,
                                         outputGradient: dCount, options: backprop)
            }
            return engine.run(inputs: x, labels: labels, options: options, sampleBlocks: blocks, frameTapeConsumer: consumer)
        }
        // The loss value over the whole batch, as the batch evaluation gives it.
        var outputs = [Tensor](repeating: Tensor(shape: [batch, classes]), count: frames)
        for b in 0..<batch {
            for f in 0..<frames { for c in 0..<classes { outputs[f].data[b * classes + c] = Float(run.samples[b].outputCounts[f][c]) } }
        }
        let value = loss.evaluate(outputs: outputs, membranes: [], labels: labels).loss
        var gradients = network.weights.map { Tensor(shape: $0.shape) }
        UnlayeredBackprop.Workspace.sumGradients(workspaces, into: &gradients)
        // At most one sample's tape per worker is alive at a time.
        let tape = meter.totals()
        return Self.result(of: run, loss: value, gradients: gradients, tapeBytes: tape.held, recordedTapeBytes: tape.recorded)
    }

    /// Truncation per frame with the per-frame loss (rate-ce): each frame's reverse pass runs as soon as
    /// the frame ends, on the thread that ran it, and the frame's tape is then dropped, so the tape
    /// memory is that of one frame instead of the whole sample. Same gradients as `truncatePerFrame`
    /// on the full tape. The engine runs each reduction block on one thread, in sample order.
    func onlinePerFrame(engine: AsyncEngine, workspaces: [UnlayeredBackprop.Workspace], network: Network, inputs x: Tensor,
                        labels: [Int], options: AsyncOptions) -> StepResult {
        let frames = x.shape[0], batch = x.shape[1]
        let classes = engine.classCount
        let inputSize = x.count / (frames * batch)
        let blocks = workspaces.count
        let lossPerBlock = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
        lossPerBlock.initialize(repeating: 0, count: blocks)
        let meter = TapeMeter(blocks: blocks)
        defer { lossPerBlock.deallocate(); meter.deallocate() }
        let outBase = engine.populations.last!.offset
        let scale = 1 / Float(frames * batch)
        let backprop = backpropOptions
        let run: AsyncRun = x.withUnsafeBufferPointer { inBuf in
            let base = inBuf.baseAddress!
            let consumer: (Int, Int, Int, inout AsyncTape) -> Void = { _, b, frame, tape in
                let k = AsyncEngine.sampleBlock(b, batch: batch, blocks: blocks)
                // This frame's output counts, loss and dL/dcount (rate-ce: CE of the frame's counts / (T B)).
                var counts = [Float](repeating: 0, count: classes)
                for e in tape.emittedNeuron {
                    let n = Int(e)
                    if n >= outBase { counts[n - outBase] += 1 }
                }
                let (l, g) = Loss.softmaxCrossEntropy(Tensor(shape: [1, classes], data: counts), [labels[b]], scale: scale)
                lossPerBlock[k] += Double(l)
                let lossGradient: [Float] = g.data
                var dCount = [Float](repeating: 0, count: frames * classes)
                for c in 0..<classes { dCount[frame * classes + c] = lossGradient[c] }
                meter.add(block: k, bytes: tape.byteCount)
                workspaces[k].accumulate(tape: tape, input: base + b * inputSize, frames: frames, frameStride: batch * inputSize,
                                         firstFrame: frame, outputGradient: dCount, options: backprop)
                tape.discardRecordedFrames()
            }
            return engine.run(inputs: x, labels: labels, options: options, sampleBlocks: blocks, frameTapeConsumer: consumer)
        }
        var totalLoss: Double = 0
        for k in 0..<blocks { totalLoss += lossPerBlock[k] }
        var gradients = network.weights.map { Tensor(shape: $0.shape) }
        UnlayeredBackprop.Workspace.sumGradients(workspaces, into: &gradients)
        // At most one frame's tape per worker is alive at a time.
        let tape = meter.totals()
        return Self.result(of: run, loss: Float(totalLoss) / Float(frames * batch), gradients: gradients, tapeBytes: tape.held,
                           recordedTapeBytes: tape.recorded)
    }

    /// The step's result: correct predictions, spikes and forward steps per sample from the run.
    static func result(of run: AsyncRun, loss: Float, gradients: [Tensor], tapeBytes: Int, recordedTapeBytes: Int) -> StepResult {
        let correct = run.samples.filter(\.correct).count
        let spikes = run.samples.reduce(0.0) { $0 + Double($1.totalSpikes) }
        let steps = run.samples.reduce(0.0) { $0 + Double($1.forwardSteps) } / Double(max(run.samples.count, 1))
        var result = StepResult(loss: loss, correct: correct, gradients: gradients, tapeBytes: tapeBytes, spikes: spikes,
                                forwardStepsPerSample: steps)
        result.recordedTapeBytes = recordedTapeBytes
        return result
    }
}

/// Tape sizes of one training step, per reduction block (each block's tapes reach the reverse pass on
/// one thread, so blocks write only their own slots): the largest tape handed over at once, and the
/// sum of all tapes recorded.
struct TapeMeter {
    let blocks: Int
    private let largest: UnsafeMutablePointer<Int>, recorded: UnsafeMutablePointer<Int>

    init(blocks: Int) {
        self.blocks = blocks
        largest = .allocate(capacity: 2 * blocks)
        largest.initialize(repeating: 0, count: 2 * blocks)
        recorded = largest + blocks
    }

    func add(block k: Int, bytes: Int) {
        largest[k] = max(largest[k], bytes)
        recorded[k] += bytes
    }

    /// Held at once: the largest tape times the workers that may each hold one; recorded: the sum.
    func totals() -> (held: Int, recorded: Int) {
        var top = 0, sum = 0
        for k in 0..<blocks { top = max(top, largest[k]); sum += recorded[k] }
        return (top * Parallelism.workerCount(forBlocks: blocks), sum)
    }

    func deallocate() { largest.deallocate() }
}

/// Reverse-pass workspaces kept between training steps of the same network shape.
final class WorkspaceCache: @unchecked Sendable {
    private let lock = NSLock()
    private var spec: NetworkSpec?
    private var weights: UnlayeredBackprop.WeightCopy?
    private var free: [UnlayeredBackprop.Workspace] = []
    private var busy = false

    /// `count` workspaces for `engine`'s network, with its current weights and zeroed gradients.
    func workspaces(engine: AsyncEngine, count: Int) -> [UnlayeredBackprop.Workspace] {
        lock.lock(); defer { lock.unlock() }
        let network = engine.network
        if busy {
            // Another step of the same computer is running (concurrent use): private buffers.
            let copy = UnlayeredBackprop.WeightCopy(network)
            return (0..<count).map { _ in UnlayeredBackprop.Workspace(engine: engine, weights: copy) }
        }
        busy = true
        if spec != network.spec || !(weights?.fits(network) ?? false) {
            spec = network.spec
            weights = UnlayeredBackprop.WeightCopy(network)
            free = []
        } else {
            weights!.update(from: network)
        }
        var out: [UnlayeredBackprop.Workspace] = []
        while out.count < count, let w = free.popLast() {
            w.resetGradients()
            out.append(w)
        }
        while out.count < count { out.append(UnlayeredBackprop.Workspace(engine: engine, weights: weights!)) }
        return out
    }

    /// Returns workspaces for the next step.
    func giveBack(_ workspaces: [UnlayeredBackprop.Workspace]) {
        lock.lock(); defer { lock.unlock() }
        guard workspaces.first?.weightCopy === weights else { return }
        free += workspaces
        busy = false
    }
}
