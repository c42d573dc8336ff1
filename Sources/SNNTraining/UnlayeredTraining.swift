import SNNCore
import SNNEngines
import SNNTensor

/// Training through the asynchronous execution (unlayered backprop): the ``AsyncEngine`` runs the
/// batch with a tape, the loss is taken on each frame's output spike counts, and
/// ``UnlayeredBackprop`` sends the gradient back through the forward steps in the order the
/// scheduler chose.
///
/// Samples are independent: their reverse passes run in parallel, each thread adding into its own
/// gradient buffers, summed at the end in a fixed order (results do not depend on the thread count
/// beyond float summation order of those per-thread sums).
public struct UnlayeredTraining: GradientComputer {
    /// How the forward pass runs (F, scheduler, stop rule, refractory dropout...). `recordTape` is forced on.
    public var asyncOptions: AsyncOptions
    /// Reverse-pass options.
    public var backpropOptions: UnlayeredBackprop.Options
    /// Probability of dropping each input event during training (0: off).
    public var inputDropout: Float

    public var name: String { "unlayered" }

    public init(asyncOptions: AsyncOptions, backpropOptions: UnlayeredBackprop.Options = .init(), inputDropout: Float = 0) {
        self.asyncOptions = asyncOptions
        self.backpropOptions = backpropOptions
        self.inputDropout = inputDropout
    }

    public func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
        precondition(loss != .membraneCrossEntropy, "unlayered training needs a loss on spike counts (rate-ce, count-ce, count-mse)")
        let engine: AsyncEngine
        let graph: PopulationGraph
        do {
            engine = try AsyncEngine(network: network)
            graph = try PopulationGraph(spec: network.spec)
        } catch { preconditionFailure("unlayered training: \(error)") }
        var x = inputs
        if inputDropout > 0 {
            let rng = CounterRNG(seed: seed ^ 0xD20F)
            for j in 0..<x.count where x.data[j] != 0 && rng.uniform(stream: 7, counter: UInt64(j)) < inputDropout { x.data[j] = 0 }
        }
        var options = asyncOptions
        options.recordTape = true
        options.seed = asyncOptions.seed &+ seed
        let frames = inputs.shape[0], batch = inputs.shape[1]
        let classes = engine.classCount
        if backpropOptions.truncatePerFrame && loss == .rateCrossEntropy {
            return onlinePerFrame(engine: engine, graph: graph, network: network, inputs: x, labels: labels, options: options)
        }
        let run = engine.run(inputs: x, labels: labels, options: options)
        // Per-frame output counts as [batch, classes] tensors, the loss and its gradient.
        var outputs = [Tensor](repeating: Tensor(shape: [batch, classes]), count: frames)
        for b in 0..<batch {
            for f in 0..<frames { for c in 0..<classes { outputs[f].data[b * classes + c] = Float(run.samples[b].outputCounts[f][c]) } }
        }
        let (value, gOut, _) = loss.evaluate(outputs: outputs, membranes: [], labels: labels)
        let inputSize = inputs.count / (frames * batch)
        let chunks = max(1, min(Parallelism.threadCount, batch))
        let workspaces = (0..<chunks).map { _ in UnlayeredBackprop.Workspace(graph: graph, network: network) }
        let tapes = run.tapes!
        let backprop = backpropOptions
        x.withUnsafeBufferPointer { inBuf in
            concurrentPerform(chunks) { c in
                let workspace = workspaces[c]
                var dCount = [Float](repeating: 0, count: frames * classes)
                for b in (batch * c / chunks)..<(batch * (c + 1) / chunks) {
                    for f in 0..<frames { for k in 0..<classes { dCount[f * classes + k] = gOut[f].data[b * classes + k] } }
                    // Frame f of sample b is at (f * batch + b) * inputSize in the time-major batch.
                    workspace.accumulate(tape: tapes[b], input: inBuf.baseAddress! + b * inputSize, frames: frames,
                                         frameStride: batch * inputSize, outputGradient: dCount, options: backprop)
                }
            }
        }
        var gradients = network.weights.map { Tensor(shape: $0.shape) }
        for w in workspaces { w.addGradients(into: &gradients) }
        return Self.result(of: run, loss: value, gradients: gradients, tapeBytes: tapes.reduce(0) { $0 + $1.byteCount })
    }

    /// Truncation per frame with the per-frame loss (rate-ce): each frame's reverse pass runs as soon as
    /// the frame ends, on the thread that ran it, and the frame's tape is then dropped, so the tape
    /// memory is that of one frame instead of the whole sample. Same gradients as `truncatePerFrame`
    /// on the full tape.
    func onlinePerFrame(engine: AsyncEngine, graph: PopulationGraph, network: Network, inputs x: Tensor, labels: [Int],
                        options: AsyncOptions) -> StepResult {
        let frames = x.shape[0], batch = x.shape[1]
        let classes = engine.classCount
        let inputSize = x.count / (frames * batch)
        let workers = max(1, min(Parallelism.threadCount, batch))
        let workspaces = (0..<workers).map { _ in UnlayeredBackprop.Workspace(graph: graph, network: network) }
        let lossPerWorker = UnsafeMutablePointer<Double>.allocate(capacity: workers)
        lossPerWorker.initialize(repeating: 0, count: workers)
        let peakTape = UnsafeMutablePointer<Int>.allocate(capacity: workers)
        peakTape.initialize(repeating: 0, count: workers)
        defer { lossPerWorker.deallocate(); peakTape.deallocate() }
        let outBase = graph.offsets[graph.neurons.count - 1]
        let scale = 1 / Float(frames * batch)
        let backprop = backpropOptions
        let run: AsyncRun = x.withUnsafeBufferPointer { inBuf in
            let base = inBuf.baseAddress!
            let consumer: (Int, Int, Int, inout AsyncTape) -> Void = { worker, b, frame, tape in
                // This frame's output counts, loss and dL/dcount (rate-ce: CE of the frame's counts / (T B)).
                var counts = [Float](repeating: 0, count: classes)
                for e in tape.emittedNeuron {
                    let n = Int(e)
                    if n >= outBase { counts[n - outBase] += 1 }
                }
                let (l, g) = Loss.softmaxCrossEntropy(Tensor(shape: [1, classes], data: counts), [labels[b]], scale: scale)
                lossPerWorker[worker] += Double(l)
                let lossGradient: [Float] = g.data
                var dCount = [Float](repeating: 0, count: frames * classes)
                for c in 0..<classes { dCount[frame * classes + c] = lossGradient[c] }
                peakTape[worker] = max(peakTape[worker], tape.byteCount)
                workspaces[worker].accumulate(tape: tape, input: base + b * inputSize, frames: frames, frameStride: batch * inputSize,
                                              firstFrame: frame, outputGradient: dCount, options: backprop)
                tape.discardRecordedFrames()
            }
            return engine.run(inputs: x, labels: labels, options: options, frameTapeConsumer: consumer)
        }
        var totalLoss: Double = 0
        var tapeBytes: Int = 0
        for w in 0..<workers {
            totalLoss += lossPerWorker[w]
            tapeBytes += peakTape[w]
        }
        var gradients = network.weights.map { Tensor(shape: $0.shape) }
        for w in workspaces { w.addGradients(into: &gradients) }
        return Self.result(of: run, loss: Float(totalLoss) / Float(frames * batch), gradients: gradients, tapeBytes: tapeBytes)
    }

    /// The step's result: correct predictions, spikes and forward steps per sample from the run.
    static func result(of run: AsyncRun, loss: Float, gradients: [Tensor], tapeBytes: Int) -> StepResult {
        let correct = run.samples.filter(\.correct).count
        let spikes = run.samples.reduce(0.0) { $0 + Double($1.totalSpikes) }
        let steps = run.samples.reduce(0.0) { $0 + Double($1.forwardSteps) } / Double(max(run.samples.count, 1))
        return StepResult(loss: loss, correct: correct, gradients: gradients, tapeBytes: tapeBytes, spikes: spikes,
                          forwardStepsPerSample: steps)
    }
}
