import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// Unlayered backprop: finite differences on a replayed smooth forward pass, and equality with
/// layered BPTT at F = infinity.
struct UnlayeredBackpropTests {
    static func network(_ sizes: [Int], neuron: LIFParameters, seed: UInt64, low: Float, high: Float) throws -> Network {
        var layers: [LayerSpec] = []
        for i in 1..<sizes.count { layers += [.linear(inFeatures: sizes[i - 1], outFeatures: sizes[i]), .lif(neuron)] }
        let spec = NetworkSpec(inputShape: [sizes[0]], layers: layers)
        var net = try Network(spec: spec, seed: seed)
        var rng = CounterRNG(seed: seed).generator(stream: 77)
        for i in net.parameterIndices { for j in 0..<net.weights[i].count { net.weights[i].data[j] = low + (high - low) * rng.uniform() } }
        return net
    }

    static func inputs(frames: Int, batch: Int, size: Int, seed: UInt64, density: Float) -> Tensor {
        var rng = CounterRNG(seed: seed).generator(stream: 5)
        var x = Tensor(shape: [frames, batch, size])
        for j in 0..<x.count where rng.uniform() < density { x.data[j] = 0.2 + 0.8 * rng.uniform() }
        return x
    }

    /// The loss of a smooth replay, in Double for finite differences.
    static func replayLoss(_ engine: AsyncEngine, _ net: Network, _ tape: AsyncTape, _ x: [Float], frames: Int, label: Int) -> (Float, UnlayeredBackprop.SmoothReplay, [Float]) {
        let replay = x.withUnsafeBufferPointer { UnlayeredBackprop.replaySmooth(engine: engine, network: net, tape: tape, input: $0.baseAddress!, frames: frames) }
        let classes = replay.outputs.count / frames
        let outputs = (0..<frames).map { f in Tensor(shape: [1, classes], data: Array(replay.outputs[(f * classes)..<((f + 1) * classes)])) }
        let (loss, g, _) = Loss.rateCrossEntropy.evaluate(outputs: outputs, membranes: [], labels: [label])
        return (loss, replay, g.flatMap(\.data))
    }

    @Test(arguments: [ResetMode.zero, .subtract], [Scheduler.momentum, .random])
    func finiteDifferencesOnReplayedSchedule(reset: ResetMode, scheduler: Scheduler) throws {
        try checkReplay(sizes: [6, 5, 4, 3], frames: 3, F: 2, reset: reset, scheduler: scheduler, stride: 3)
    }

    @Test(arguments: [Scheduler.momentum, .random])
    func finiteDifferencesOnALargerBusierNetwork(scheduler: Scheduler) throws {
        try checkReplay(sizes: [24, 16, 12, 5], frames: 4, F: 3, reset: .zero, scheduler: scheduler, stride: 17)
    }

    @Test(arguments: [Scheduler.momentum, .random])
    func finiteDifferencesThroughConvolutionsAndAveragePooling(scheduler: Scheduler) throws {
        let neuron = LIFParameters(beta: 0.6, threshold: 0.3, reset: .zero, surrogate: .sigmoid(slope: 4))
        let spec = NetworkSpec(inputShape: [1, 6, 6], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .lif(neuron),
            .avgPool2d(kernel: 2, stride: 2),
            .conv2d(inChannels: 2, outChannels: 3, kernel: 2, stride: 1, padding: 0), .lif(neuron),
            .flatten, .linear(inFeatures: 12, outFeatures: 3), .lif(neuron),
        ])
        var net = try Network(spec: spec, seed: 5)
        var rng = CounterRNG(seed: 5).generator(stream: 77)
        for i in net.parameterIndices { for j in 0..<net.weights[i].count { net.weights[i].data[j] = -0.2 + 1.2 * rng.uniform() } }
        try checkReplay(network: net, inputSize: 36, frames: 3, F: 3, scheduler: scheduler, stride: 1)
    }

    func checkReplay(sizes: [Int], frames: Int, F: Int, reset: ResetMode, scheduler: Scheduler, stride step: Int) throws {
        let neuron = LIFParameters(beta: 0.6, threshold: 0.3, reset: reset, surrogate: .sigmoid(slope: 4))
        let net = try Self.network(sizes, neuron: neuron, seed: 3, low: -0.3, high: 0.9)
        try checkReplay(network: net, inputSize: sizes[0], frames: frames, F: F, scheduler: scheduler, stride: step)
    }

    func checkReplay(network net: Network, inputSize: Int, frames: Int, F: Int, scheduler: Scheduler, stride step: Int) throws {
        var x = Self.inputs(frames: frames, batch: 1, size: inputSize, seed: 9, density: 0.7)
        x.reshape([frames, 1] + net.spec.inputShape)
        let engine = try AsyncEngine(network: net)
        let run = engine.run(inputs: x, labels: [1], options: AsyncOptions(forwardGroupSize: F, scheduler: scheduler, seed: 4, recordTape: true))
        let tape = try #require(run.tapes?.first)
        #expect(tape.emittedNeuron.count > 3, "the schedule should emit spikes")
        let (_, replay, dCount) = Self.replayLoss(engine, net, tape, x.data, frames: frames, label: 1)
        var grads = net.weights.map { Tensor(shape: $0.shape) }
        x.data.withUnsafeBufferPointer { p in
            UnlayeredBackprop.accumulate(engine: engine, tape: tape, input: p.baseAddress!, frames: frames,
                                         outputGradient: dCount, options: .init(), into: &grads, replay: replay)
        }
        var checked = 0, largest: Float = 0
        for layer in net.parameterIndices {
            for j in stride(from: 0, to: net.weights[layer].count, by: step) {
                var plus = net, minus = net
                let eps: Float = 1e-2
                plus.weights[layer].data[j] += eps
                minus.weights[layer].data[j] -= eps
                let lp = Self.replayLoss(engine, plus, tape, x.data, frames: frames, label: 1).0
                let lm = Self.replayLoss(engine, minus, tape, x.data, frames: frames, label: 1).0
                let numeric = (lp - lm) / (2 * eps)
                let analytic = grads[layer].data[j]
                largest = max(largest, abs(analytic))
                #expect(abs(numeric - analytic) <= 2e-3 + 2e-2 * abs(numeric), "layer \(layer) weight \(j): numeric \(numeric), analytic \(analytic)")
                checked += 1
            }
        }
        #expect(checked > 10)
        #expect(largest > 1e-3, "gradients should not all vanish")
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func equalsLayeredBPTTAtInfiniteF(seed: UInt64) throws {
        let neuron = LIFParameters(beta: 0.5, threshold: 0.3, reset: .zero, surrogate: .atan(alpha: 2))
        let net = try Self.network([10, 8, 6, 4], neuron: neuron, seed: seed, low: -0.15, high: 0.5)
        let frames = 4, batch = 3
        let x = Self.inputs(frames: frames, batch: batch, size: 10, seed: seed + 10, density: Float(1))
        let labels = [0, 1, 2]
        // The setting where the two must agree: every neuron receives current in every frame.
        let engine = try AsyncEngine(network: net)
        let run = engine.run(inputs: x, labels: labels, options: AsyncOptions(forwardGroupSize: nil, recordTape: true))
        for tape in try #require(run.tapes) {
            for f in 0..<frames {
                var integrated = [Int](repeating: 0, count: engine.neuronCount)
                for s in Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1]) {
                    for r in Int(tape.stepIntegrationStart[s])..<Int(tape.stepIntegrationStart[s + 1]) { integrated[Int(tape.integrationNeuron[r])] += 1 }
                }
                try #require(integrated.allSatisfy { $0 == 1 }, "frame \(f): every neuron must integrate exactly once (choose weights so)")
            }
        }
        Self.expectLayeredBPTTGradients(net, x, labels, losses: [.rateCrossEntropy, .countCrossEntropy, .countMSE], nonZero: 50)
    }

    /// Unlayered backprop at F = infinity against layered BPTT: same loss, same gradients (to float
    /// summation order), and at least `nonZero` non-zero gradients so the comparison means something.
    static func expectLayeredBPTTGradients(_ net: Network, _ x: Tensor, _ labels: [Int], losses: [Loss], nonZero: Int) {
        for loss in losses {
            let layered = LayeredBPTT().lossAndGradients(network: net, inputs: x, labels: labels, loss: loss, seed: 0)
            let unlayered = UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: nil))
                .lossAndGradients(network: net, inputs: x, labels: labels, loss: loss, seed: 0)
            #expect(layered.loss == unlayered.loss, "\(loss): forward passes differ")
            var compared = 0
            for i in net.parameterIndices {
                for j in 0..<net.weights[i].count {
                    let a = layered.gradients[i].data[j], b = unlayered.gradients[i].data[j]
                    #expect(abs(a - b) <= 1e-5 + 1e-4 * abs(a), "\(loss) layer \(i) weight \(j): layered \(a), unlayered \(b)")
                    if a != 0 { compared += 1 }
                }
            }
            #expect(compared > nonZero, "most gradients should be non-zero")
        }
    }

    @Test func finiteFTrainingLearnsASeparableTask() throws {
        // Two classes told apart by which half of the inputs is active.
        let neuron = LIFParameters(beta: 0.5, threshold: 0.3)
        let spec = NetworkSpec(inputShape: [8], layers: [.linear(inFeatures: 8, outFeatures: 12), .lif(neuron), .linear(inFeatures: 12, outFeatures: 2), .lif(neuron)])
        var trainer = Trainer(network: try Network(spec: spec, seed: 2), configuration: { var c = TrainingConfiguration(); c.learningRate = 1e-2; return c }(),
                              computer: UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: 2, scheduler: .momentum)))
        var rng = CounterRNG(seed: 8).generator(stream: 1)
        func batch() -> (Tensor, [Int]) {
            let labels = (0..<16).map { _ in Int(rng.next() % 2) }
            var x = Tensor(shape: [4, 16, 8])
            for f in 0..<4 { for b in 0..<16 { for i in 0..<4 where rng.uniform() < 0.7 { x.data[(f * 16 + b) * 8 + labels[b] * 4 + i] = 1 } } }
            return (x, labels)
        }
        var lastAccuracy = 0.0
        for _ in 0..<150 { let (x, y) = batch(); lastAccuracy = Double(trainer.step(inputs: x, labels: y).correct) / 16 }
        var correct = 0
        for _ in 0..<10 { let (x, y) = batch(); correct += trainer.computer.lossAndGradients(network: trainer.network, inputs: x, labels: y, loss: .rateCrossEntropy, seed: 0).correct }
        #expect(correct >= 150, "accuracy \(correct)/160 after training (last batch \(lastAccuracy))")
    }
}

/// Truncation per frame with the per-frame loss runs each frame's reverse pass as the frame ends and
/// drops its tape: same gradients as truncating on the full tape, with the memory of one frame.
struct OnlineTruncationTests {
    @Test(arguments: [2, 8])
    func onlinePerFrameEqualsTruncationOnTheFullTape(F: Int) throws {
        let neuron = LIFParameters(beta: 0.5, threshold: 0.3)
        let net = try UnlayeredBackpropTests.network([12, 10, 8, 4], neuron: neuron, seed: 4, low: -0.2, high: 0.6)
        let frames = 5, batch = 6
        let x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: 12, seed: 21, density: 0.6)
        let labels = [0, 1, 2, 3, 1, 2]
        let asyncOptions = AsyncOptions(forwardGroupSize: F, scheduler: .momentum, seed: 3)
        let online = UnlayeredTraining(asyncOptions: asyncOptions, backpropOptions: .init(truncatePerFrame: true))
            .lossAndGradients(network: net, inputs: x, labels: labels, loss: .rateCrossEntropy, seed: 0)

        // The same truncated gradient from full tapes.
        var options = asyncOptions
        options.recordTape = true
        let run = try AsyncEngine(network: net).run(inputs: x, labels: labels, options: options)
        var outputs = [Tensor](repeating: Tensor(shape: [batch, 4]), count: frames)
        for b in 0..<batch { for f in 0..<frames { for c in 0..<4 { outputs[f].data[b * 4 + c] = Float(run.samples[b].outputCounts[f][c]) } } }
        let (loss, gOut, _) = Loss.rateCrossEntropy.evaluate(outputs: outputs, membranes: [], labels: labels)
        let workspace = UnlayeredBackprop.Workspace(engine: try AsyncEngine(network: net))
        x.data.withUnsafeBufferPointer { p in
            for b in 0..<batch {
                var d = [Float](repeating: 0, count: frames * 4)
                for f in 0..<frames { for c in 0..<4 { d[f * 4 + c] = gOut[f].data[b * 4 + c] } }
                workspace.accumulate(tape: run.tapes![b], input: p.baseAddress! + b * 12, frames: frames, frameStride: batch * 12,
                                     outputGradient: d, options: .init(truncatePerFrame: true))
            }
        }
        var full = net.weights.map { Tensor(shape: $0.shape) }
        workspace.addGradients(into: &full)
        #expect(abs(online.loss - loss) < 1e-5, "loss \(online.loss) vs \(loss)")
        var nonZero = 0
        for i in net.parameterIndices {
            for j in 0..<full[i].count {
                #expect(abs(online.gradients[i].data[j] - full[i].data[j]) <= 1e-6 + 1e-4 * abs(full[i].data[j]),
                        "layer \(i) weight \(j): online \(online.gradients[i].data[j]), full tape \(full[i].data[j])")
                if full[i].data[j] != 0 { nonZero += 1 }
            }
        }
        #expect(nonZero > 50)
        // Memory: the online path never holds more than one frame of tape per sample.
        let fullBytes = run.tapes!.reduce(0) { $0 + $1.byteCount }
        #expect(online.tapeBytes * 2 < fullBytes, "online tape \(online.tapeBytes) B vs full \(fullBytes) B")
    }
}

/// Each sample's reverse pass runs as its last frame ends, on the worker's reused tape, with the loss
/// gradient of its own output counts: bit for bit what the whole batch's tapes and the batch's loss
/// evaluation give (the gradients summed block by block in the same order).
struct WholeSampleReversePassTests {
    @Test(arguments: [Loss.rateCrossEntropy, .countCrossEntropy, .countMSE], [Optional(3), nil])
    func streamedEqualsBatchOfTapes(loss: Loss, F: Int?) throws {
        let neuron = LIFParameters(beta: 0.8, threshold: 0.3, reset: .subtract)
        let net = try UnlayeredBackpropTests.network([12, 10, 8, 4], neuron: neuron, seed: 9, low: -0.2, high: 0.6)
        let frames = 4, batch = 21
        let x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: 12, seed: 5, density: 0.5)
        let labels = (0..<batch).map { $0 % 4 }
        let asyncOptions = AsyncOptions(forwardGroupSize: F, scheduler: .momentum, seed: 2)
        let streamed = UnlayeredTraining(asyncOptions: asyncOptions)
            .lossAndGradients(network: net, inputs: x, labels: labels, loss: loss, seed: 0)

        var options = asyncOptions
        options.recordTape = true
        let engine = try AsyncEngine(network: net)
        let run = engine.run(inputs: x, labels: labels, options: options)
        var outputs = [Tensor](repeating: Tensor(shape: [batch, 4]), count: frames)
        for b in 0..<batch { for f in 0..<frames { for c in 0..<4 { outputs[f].data[b * 4 + c] = Float(run.samples[b].outputCounts[f][c]) } } }
        let (value, gOut, _) = loss.evaluate(outputs: outputs, membranes: [], labels: labels)
        let blocks = min(UnlayeredTraining.reductionBlocks, batch)
        let workspaces = (0..<blocks).map { _ in UnlayeredBackprop.Workspace(engine: engine) }
        x.data.withUnsafeBufferPointer { p in
            for k in 0..<blocks {
                for b in AsyncEngine.sampleRange(ofBlock: k, batch: batch, blocks: blocks) {
                    var d = [Float](repeating: 0, count: frames * 4)
                    for f in 0..<frames { for c in 0..<4 { d[f * 4 + c] = gOut[f].data[b * 4 + c] } }
                    workspaces[k].accumulate(tape: run.tapes![b], input: p.baseAddress! + b * 12, frames: frames,
                                             frameStride: batch * 12, outputGradient: d, options: .init())
                }
            }
        }
        var expected = net.weights.map { Tensor(shape: $0.shape) }
        UnlayeredBackprop.Workspace.sumGradients(workspaces, into: &expected)
        #expect(streamed.loss.bitPattern == value.bitPattern)
        var nonZero = 0
        for i in net.parameterIndices {
            #expect(streamed.gradients[i].data.map(\.bitPattern) == expected[i].data.map(\.bitPattern), "layer \(i)")
            nonZero += expected[i].data.filter { $0 != 0 }.count
        }
        #expect(nonZero > 50)
        // One sample's tape per worker is held; the recorded total is every sample's tape.
        #expect(streamed.recordedTapeBytes == run.tapes!.reduce(0) { $0 + $1.byteCount })
        #expect(streamed.tapeBytes <= 2 * run.tapes!.map(\.byteCount).max()! * max(1, Parallelism.threadCount))
    }

    /// Rows evaluated alone with the batch's size give the batch's gradient rows bit for bit.
    @Test(arguments: Loss.allCases.filter { $0 != .membraneCrossEntropy })
    func lossRowsEvaluateAlone(loss: Loss) {
        var rng = CounterRNG(seed: 3).generator(stream: 0)
        let frames = 3, batch = 5, classes = 4
        let outputs = (0..<frames).map { _ in Tensor(shape: [batch, classes], data: (0..<batch * classes).map { _ in Float(rng.next() % 5) }) }
        let labels = (0..<batch).map { _ in Int(rng.next() % UInt64(classes)) }
        let whole = loss.evaluate(outputs: outputs, membranes: [], labels: labels).outputGradients
        for b in 0..<batch {
            let row = outputs.map { Tensor(shape: [1, classes], data: Array($0.data[b * classes..<(b + 1) * classes])) }
            let alone = loss.evaluate(outputs: row, membranes: [], labels: [labels[b]], batchSize: batch).outputGradients
            for f in 0..<frames {
                #expect(alone[f].data.map(\.bitPattern) == whole[f].data[b * classes..<(b + 1) * classes].map(\.bitPattern), "row \(b) frame \(f)")
            }
        }
    }
}

/// Max pooling as the engine runs it (an OR of the window's spikes, once per frame): the reverse
/// pass routes a pooled cell's gradient to the spike that fired it, and a silent window's to its
/// first element, as layered max pooling does.
struct MaxPoolingBackpropTests {
    static func network(seed: UInt64) throws -> Network {
        let neuron = LIFParameters(beta: 0.6, threshold: 0.3, reset: .zero, surrogate: .sigmoid(slope: 4))
        let spec = NetworkSpec(inputShape: [1, 6, 6], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .lif(neuron),
            .maxPool2d(kernel: 2, stride: 2),
            .flatten, .linear(inFeatures: 18, outFeatures: 6), .lif(neuron),
            .linear(inFeatures: 6, outFeatures: 3), .lif(neuron),
        ])
        var net = try Network(spec: spec, seed: seed)
        var rng = CounterRNG(seed: seed).generator(stream: 77)
        for i in net.parameterIndices { for j in 0..<net.weights[i].count { net.weights[i].data[j] = -0.2 + 0.9 * rng.uniform() } }
        return net
    }

    @Test(arguments: [Scheduler.momentum, .random], [2, 5])
    func finiteDifferencesThroughMaxPooling(scheduler: Scheduler, F: Int) throws {
        try UnlayeredBackpropTests().checkReplay(network: Self.network(seed: 6), inputSize: 36, frames: 3, F: F,
                                                 scheduler: scheduler, stride: 1)
    }

    @Test(arguments: [UInt64(1), 2])
    func equalsLayeredBPTTAtInfiniteF(seed: UInt64) throws {
        let net = try Self.network(seed: seed)
        let frames = 3, batch = 2
        var x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: 36, seed: seed + 3, density: 1)
        x.reshape([frames, batch, 1, 6, 6])
        let labels = [0, 2]
        let engine = try AsyncEngine(network: net)
        let run = engine.run(inputs: x, labels: labels, options: AsyncOptions(forwardGroupSize: nil, recordTape: true))
        var pooledSpikes = 0
        for tape in try #require(run.tapes) {
            for f in 0..<frames {
                var integrated = [Int](repeating: 0, count: engine.neuronCount)
                for s in Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1]) {
                    for r in Int(tape.stepIntegrationStart[s])..<Int(tape.stepIntegrationStart[s + 1]) { integrated[Int(tape.integrationNeuron[r])] += 1 }
                }
                try #require(integrated.allSatisfy { $0 == 1 }, "frame \(f): every neuron must integrate exactly once")
            }
            pooledSpikes += tape.emittedNeuron.filter { $0 < 72 }.count
        }
        #expect(pooledSpikes > 10, "the conv population must spike into the max pooling")
        UnlayeredBackpropTests.expectLayeredBPTTGradients(net, x, labels, losses: [.rateCrossEntropy, .countMSE], nonZero: 40)
    }
}

/// Unlayered training reduces gradients in fixed blocks of samples: the same bits at any thread count.
struct UnlayeredThreadIndependenceTests {
    /// The fused reduction gives the bits of adding each workspace in turn, and leaves the workspaces
    /// zeroed, ready for the next step (their next reverse passes give the same gradients again).
    @Test func summedGradientsAreAddedInWorkspaceOrder() throws {
        let neuron = LIFParameters(beta: 0.7, threshold: 0.3)
        let net = try UnlayeredBackpropTests.network([300, 16, 12, 4], neuron: neuron, seed: 9, low: -0.2, high: 0.6)
        let frames = 3, batch = 5, size = 300
        let x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: size, seed: 4, density: 0.4)
        let engine = try AsyncEngine(network: net)
        var options = AsyncOptions(forwardGroupSize: 4, scheduler: .momentum, seed: 6)
        options.recordTape = true
        let run = engine.run(inputs: x, labels: [0, 1, 2, 3, 0], options: options)
        let d = (0..<(frames * 4)).map { Float($0 % 5) * 0.3 - 0.5 }
        let copy = UnlayeredBackprop.WeightCopy(net)
        let workspaces = (0..<batch).map { _ in UnlayeredBackprop.Workspace(engine: engine, weights: copy) }
        func reverse() {
            x.data.withUnsafeBufferPointer { p in
                for b in 0..<batch {
                    workspaces[b].accumulate(tape: run.tapes![b], input: p.baseAddress! + b * size, frames: frames,
                                             frameStride: batch * size, outputGradient: d, options: .init())
                }
            }
        }
        reverse()
        var expected = net.weights.map { Tensor(shape: $0.shape) }
        for w in workspaces { w.addGradients(into: &expected) }
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        for threads in [1, 2, 3] {
            Parallelism.threadCount = threads
            var summed = net.weights.map { Tensor(shape: $0.shape) }
            UnlayeredBackprop.Workspace.sumGradients(workspaces, into: &summed)
            for i in net.parameterIndices {
                #expect(summed[i].data.map(\.bitPattern) == expected[i].data.map(\.bitPattern), "layer \(i) at \(threads) threads")
            }
            // The workspaces are zero now: summing again adds nothing; a new reverse pass gives the same sums.
            var again = net.weights.map { Tensor(shape: $0.shape) }
            UnlayeredBackprop.Workspace.sumGradients(workspaces, into: &again)
            #expect(again.allSatisfy { $0.data.allSatisfy { $0 == 0 } })
            reverse()
        }
        #expect(expected.flatMap(\.data).filter { $0 != 0 }.count > 100, "gradients should not vanish")
    }

    @Test(arguments: [false, true])
    func gradientsAreIdenticalAtAnyThreadCount(truncatePerFrame: Bool) throws {
        let neuron = LIFParameters(beta: 0.7, threshold: 0.3)
        let net = try UnlayeredBackpropTests.network([20, 16, 12, 4], neuron: neuron, seed: 5, low: -0.2, high: 0.6)
        let frames = 4, batch = 37
        let x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: 20, seed: 8, density: 0.5)
        let labels = (0..<batch).map { $0 % 4 }
        let computer = UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: 3, scheduler: .momentum, seed: 2),
                                         backpropOptions: .init(truncatePerFrame: truncatePerFrame))
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        var reference: StepResult?
        for threads in [1, 2, 3, 8] {
            Parallelism.threadCount = threads
            let r = computer.lossAndGradients(network: net, inputs: x, labels: labels, loss: .rateCrossEntropy, seed: 1)
            guard let ref = reference else { reference = r; continue }
            #expect(r.loss.bitPattern == ref.loss.bitPattern, "loss at \(threads) threads")
            for i in net.parameterIndices {
                #expect(r.gradients[i].data.map(\.bitPattern) == ref.gradients[i].data.map(\.bitPattern), "layer \(i) at \(threads) threads")
            }
        }
        let g = reference!.gradients.flatMap(\.data)
        #expect(g.filter { $0 != 0 }.count > 100, "gradients should not vanish")
    }

    @Test func trainedModelsAreByteIdenticalAtAnyThreadCount() throws {
        let neuron = LIFParameters(beta: 0.5, threshold: 0.3)
        let spec = NetworkSpec(inputShape: [10], layers: [.linear(inFeatures: 10, outFeatures: 12), .lif(neuron),
                                                          .linear(inFeatures: 12, outFeatures: 3), .lif(neuron)])
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        var models: [[UInt32]] = []
        for threads in [1, 2, 5] {
            Parallelism.threadCount = threads
            var trainer = Trainer(network: try Network(spec: spec, seed: 4), configuration: TrainingConfiguration(),
                                  computer: UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: 2, scheduler: .random, seed: 1)))
            var rng = CounterRNG(seed: 3).generator(stream: 2)
            for _ in 0..<5 {
                let labels = (0..<24).map { _ in Int(rng.next() % 3) }
                var x = Tensor(shape: [3, 24, 10])
                for j in 0..<x.count where rng.uniform() < 0.4 { x.data[j] = 1 }
                _ = trainer.step(inputs: x, labels: labels)
            }
            models.append(trainer.network.weights.flatMap(\.data).map(\.bitPattern))
        }
        #expect(models[1] == models[0])
        #expect(models[2] == models[0])
    }
}
