import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// BNTT, shared BN, tdBN and the plain bias current: gradients against finite differences in training mode (batch statistics),
/// evaluation against the folded form, the running-statistics update, and the non-spiking read-out.
struct NormalizationTests {
    static let neuron = LIFParameters(beta: 0.9, threshold: 1, reset: .subtract, surrogate: .triangle(height: 0.3, halfWidth: 1))

    static func network(_ kind: InputNormalization.Kind, steps: Int = 3, seed: UInt64 = 4) throws -> Network {
        let spec = try NetworkSpec.parse("input=2x5x5,conv4k3p1:\(kind.rawValue),avg2,fc6:\(kind.rawValue),fc3:readout",
                                         neuron: neuron, timeSteps: steps)
        var net = try Network(spec: spec, initializer: .xavierUniform(gain: 2), seed: seed)
        // Scales away from 1 and (BN, tdBN) non-zero shifts, different per step and channel.
        for i in net.normalizationIndices {
            for j in net.weights[i].data.indices { net.weights[i].data[j] = 0.6 + 0.9 * Float((j * 7) % 11) / 11 }
            if kind == .bias { for j in net.weights[i].data.indices { net.weights[i].data[j] = Float(j % 5) * 0.3 - 0.5 } }
            if kind == .bn || kind == .tdbn { let c = net.weights[i].shape[1]; for j in c..<(2 * c) { net.weights[i].data[j] = Float(j % 3) * 0.3 - 0.2 } }
        }
        return net
    }

    /// Every parameter of every layer (weights, gamma per step and channel, beta) against central
    /// differences of the smooth-spike forward pass in training mode.
    @Test(arguments: InputNormalization.Kind.allCases)
    func gradientsMatchFiniteDifferences(kind: InputNormalization.Kind) throws {
        let net = try Self.network(kind)
        let inputs = GradientCheck.inputs(steps: 3, batch: 4, shape: [2, 5, 5], density: 0.6, seed: 8)
        let check = GradientCheck(network: net, inputs: inputs, training: true)
        let reports = check.compare(check.bptt(), perLayer: 40)
        if ProcessInfo.processInfo.environment["SNN_GRADCHECK_VERBOSE"] != nil { print("gradcheck \(kind): \(reports)") }
        #expect(reports.count == 5)  // conv, its normalisation, fc, its normalisation, read-out
        for r in reports {
            #expect(r.checked >= (kind == .bias ? 3 : 5), "\(kind): \(r)")  // a bias has one value per channel (4 on the conv)
            #expect(r.gradientNorm > 1e-3, "\(kind): \(r)")
            #expect(r.relativeError < 1e-2 && r.worst < 2e-2, "\(kind): \(r)")
        }
        // Gamma of every step gets a gradient of its own (BNTT).
        if kind == .bntt {
            let g = check.bptt()[1]
            for t in 0..<3 { #expect(g.data[(t * 4)..<((t + 1) * 4)].contains { abs($0) > 1e-6 }, "step \(t)") }
        }
    }

    /// The normalisation's input gradient alone (through mean and variance), per step, against finite
    /// differences of a random linear functional of its outputs.
    @Test(arguments: InputNormalization.Kind.allCases)
    func inputGradientPerStep(kind: InputNormalization.Kind) throws {
        let norm = InputNormalization(kind: kind, channels: 3, steps: 2)
        var params = norm.initialParameters()
        for j in params.data.indices { params.data[j] = 0.5 + Float(j) * 0.2 }
        let stats = norm.initialStatistics()
        let rng = CounterRNG(seed: 12)
        let xs = (0..<2).map { t in Tensor(shape: [3, 12], data: (0..<36).map { rng.uniform(stream: UInt64(t), counter: UInt64($0)) * 2 - 0.5 }) }
        let a = (0..<2).map { t in Tensor(shape: [3, 12], data: (0..<36).map { rng.uniform(stream: 10 + UInt64(t), counter: UInt64($0)) - 0.5 }) }
        func loss(_ inputs: [Tensor]) -> Double {
            let y = NormalizationKernels.forward(norm, parameters: params, statistics: stats, threshold: 0.7, inputs: inputs, training: true, keepCache: false).outputs
            var l: Double = 0
            for t in 0..<2 { for j in 0..<36 { l += Double(a[t].data[j]) * Double(y[t].data[j]) } }
            return l
        }
        let r = NormalizationKernels.forward(norm, parameters: params, statistics: stats, threshold: 0.7, inputs: xs, training: true, keepCache: true)
        var pg = Tensor(shape: norm.parameterShape)
        let dx = NormalizationKernels.backward(norm, parameters: params, threshold: 0.7, cache: r.cache!, outputGradients: a, parameterGradient: &pg)
        for t in 0..<2 {
            for j in stride(from: 0, to: 36, by: 5) {
                var p = xs, m = xs
                p[t].data[j] += 1e-2; m[t].data[j] -= 1e-2
                let fd = (loss(p) - loss(m)) / Double(p[t].data[j] - m[t].data[j])
                #expect(abs(fd - Double(dx[t].data[j])) < 2e-3 * max(1, abs(fd)), "\(kind) step \(t) index \(j): \(dx[t].data[j]) vs \(fd)")
            }
        }
    }

    /// The backward pass can write its input gradient position-major for a conv layer below
    /// (`positionMajor`): the same values transposed, the same parameter gradient, and the channel-major
    /// tensors only when asked for.
    @Test(arguments: InputNormalization.Kind.allCases)
    func backwardLayouts(kind: InputNormalization.Kind) throws {
        let norm = InputNormalization(kind: kind, channels: 3, steps: 2)
        var params = norm.initialParameters()
        for j in params.data.indices { params.data[j] = 0.5 + Float(j) * 0.2 }
        let rng = CounterRNG(seed: 13)
        let batch = 2, spatial = 20
        let xs = (0..<2).map { t in Tensor(shape: [batch, 3 * spatial], data: (0..<(batch * 3 * spatial)).map { rng.uniform(stream: UInt64(t), counter: UInt64($0)) * 2 - 0.5 }) }
        let a = (0..<2).map { t in Tensor(shape: [batch, 3 * spatial], data: (0..<(batch * 3 * spatial)).map { rng.uniform(stream: 10 + UInt64(t), counter: UInt64($0)) - 0.5 }) }
        let r = NormalizationKernels.forward(norm, parameters: params, statistics: norm.initialStatistics(), threshold: 0.7, inputs: xs,
                                             training: true, keepCache: true)
        var pgPlain = Tensor(shape: norm.parameterShape), pgBoth = pgPlain, pgAlone = pgPlain
        let plain = NormalizationKernels.backward(norm, parameters: params, threshold: 0.7, cache: r.cache!, outputGradients: a, parameterGradient: &pgPlain)
        let both = NormalizationKernels.backward(norm, parameters: params, threshold: 0.7, cache: r.cache!, outputGradients: a,
                                                 parameterGradient: &pgBoth, channelMajor: true, positionMajor: true)
        let alone = NormalizationKernels.backward(norm, parameters: params, threshold: 0.7, cache: r.cache!, outputGradients: a,
                                                  parameterGradient: &pgAlone, channelMajor: false, positionMajor: true)
        func bits(_ t: Tensor) -> [UInt32] { t.data.map(\.bitPattern) }
        #expect(bits(pgBoth) == bits(pgPlain) && bits(pgAlone) == bits(pgPlain))
        for t in 0..<2 { #expect(bits(both.channelMajor[t]) == bits(plain[t]), "step \(t)") }
        guard kind != .bias else {
            // The bias kind passes its output gradient through: there is nothing to transpose.
            #expect(both.positionMajor == nil && alone.positionMajor == nil)
            return
        }
        let transposed = try #require(both.positionMajor), only = try #require(alone.positionMajor)
        for t in 0..<2 {
            #expect(alone.channelMajor[t].shape == [batch, 0])
            #expect(transposed[t].shape == [batch, spatial, 3] && bits(only[t]) == bits(transposed[t]))
            var wrong = 0
            for b in 0..<batch { for c in 0..<3 { for q in 0..<spatial
                where transposed[t].data[(b * spatial + q) * 3 + c] != plain[t].data[(b * 3 + c) * spatial + q] { wrong += 1 } } }
            #expect(wrong == 0, "step \(t)")
        }
    }

    /// At evaluation each variant is `gamma (x - mu) / sqrt(var + eps) (* theta for tdBN) (+ beta)` with
    /// the running statistics of the step; the engine's normalised current (U at step 0, where the
    /// membrane starts at 0) equals that formula computed here by hand, and the folded form gives it too.
    @Test(arguments: InputNormalization.Kind.allCases)
    func evaluationEqualsFoldedForm(kind: InputNormalization.Kind) throws {
        var p = Self.neuron
        p.threshold = 0.8
        let spec = try NetworkSpec.parse("input=6,fc5:\(kind.rawValue)", neuron: p, timeSteps: 3)
        var net = try Network(spec: spec, seed: 2)
        let norm = spec.layers[1].normalization!
        for j in net.weights[1].data.indices { net.weights[1].data[j] = 0.3 + Float(j) * 0.17 }
        for s in 0..<norm.statisticSets { for c in 0..<5 {
            net.runningStatistics[1].data[(s * 2) * 5 + c] = Float(c) * 0.2 - 0.3 + Float(s) * 0.1
            net.runningStatistics[1].data[(s * 2 + 1) * 5 + c] = 0.1 + Float(c * (s + 1)) * 0.25
        } }
        let inputs = GradientCheck.inputs(steps: 3, batch: 2, shape: [6], density: 0.7, seed: 3)
        // Layer 1's input current: x W, computed here.
        let w = net.weights[0]
        for t in 0..<3 {
            // A one-step run from the step's input isolates that step only for t = 0 (the membrane is
            // zero); later steps are checked through the folded form of step t applied at step 0 of a
            // network whose statistic set 0 is replaced by set t.
            var stepNet = net
            if kind == .bntt {
                for c in 0..<5 {
                    stepNet.weights[1].data[c] = net.weights[1].data[t * 5 + c]
                    stepNet.runningStatistics[1].data[c] = net.runningStatistics[1].data[(t * 2) * 5 + c]
                    stepNet.runningStatistics[1].data[5 + c] = net.runningStatistics[1].data[(t * 2 + 1) * 5 + c]
                }
            }
            let frame = Tensor(shape: [1, 2, 6], data: Array(inputs.data[(t * 12)..<((t + 1) * 12)]))
            let run = try LayeredEngine(network: stepNet).run(inputs: frame, tape: true)
            let u = run.tape!.preReset[0][1]!
            let (scale, bias) = norm.folded(parameters: net.weights[1], statistics: net.runningStatistics[1], threshold: 0.8, step: t)
            for b in 0..<2 { for c in 0..<5 {
                var x: Float = 0
                for i in 0..<6 { x += frame.data[b * 6 + i] * w.data[i * 5 + c] }
                let set = kind == .bntt ? t : 0
                let mean = net.runningStatistics[1].data[(set * 2) * 5 + c], variance = net.runningStatistics[1].data[(set * 2 + 1) * 5 + c]
                let gamma = kind == .bntt ? net.weights[1].data[t * 5 + c] : net.weights[1].data[c]
                let beta: Float = kind == .bntt || kind == .bias ? 0 : net.weights[1].data[5 + c]
                let expected = kind == .bias ? x + net.weights[1].data[c]
                    : (kind == .tdbn ? gamma * 0.8 : gamma) * (x - mean) / (variance + norm.epsilon).squareRoot() + beta
                #expect(abs(u.data[b * 5 + c] - expected) <= 1e-5 * max(1, abs(expected)), "\(kind) t=\(t)")
                #expect(abs(scale[c] * x + bias[c] - expected) <= 1e-5 * max(1, abs(expected)), "\(kind) t=\(t) folded")
            } }
        }
    }

    /// Running statistics: momentum 0.1 towards the batch mean and unbiased variance, per step for
    /// BNTT, step after step for shared BN, once over all steps for tdBN; the trainer keeps them.
    @Test(arguments: InputNormalization.Kind.allCases)
    func runningStatisticsUpdate(kind: InputNormalization.Kind) throws {
        let norm = InputNormalization(kind: kind, channels: 1, steps: 2)
        let xs = [Tensor(shape: [2, 1], data: [1, 3]), Tensor(shape: [2, 1], data: [5, 9])]
        let r = NormalizationKernels.forward(norm, parameters: norm.initialParameters(), statistics: norm.initialStatistics(),
                                             threshold: 1, inputs: xs, training: true, keepCache: false)
        if kind == .bias {
            // No statistics: the output is x + b and the trainer leaves the (unused) running statistics alone.
            #expect(r.batchStatistics == nil)
            #expect(r.outputs.map(\.data) == xs.map(\.data))  // b = 0 initially
            let net = try Self.network(kind)
            var config = TrainingConfiguration()
            config.loss = .meanCrossEntropy
            var trainer = Trainer(network: net, configuration: config, computer: LayeredBPTT())
            _ = trainer.step(inputs: GradientCheck.inputs(steps: 3, batch: 4, shape: [2, 5, 5]), labels: [0, 1, 2, 0])
            #expect(trainer.network.runningStatistics == net.runningStatistics)
            #expect(trainer.network.weights[1] != net.weights[1], "the bias did not move")
            return
        }
        let updated = NormalizationKernels.updatedStatistics(norm, running: norm.initialStatistics(), batch: r.batchStatistics!)
        switch kind {
        case .bntt:  // step 0: mean 2, var 2; step 1: mean 7, var 8
            #expect(zip(updated.data, [0.2, 1.1, 0.7, 1.7]).allSatisfy { abs($0 - Float($1)) < 1e-6 }, "\(updated.data)")
        case .bn:  // two updates of the one set
            let m1: Float = 0.1 * 2, v1: Float = 0.9 + 0.1 * 2
            let m2 = 0.9 * m1 + 0.1 * 7, v2 = 0.9 * v1 + 0.1 * 8
            #expect(abs(updated.data[0] - m2) < 1e-6 && abs(updated.data[1] - v2) < 1e-6)
        case .tdbn:  // mean 4.5 over the 4 values, unbiased variance 35/3
            #expect(abs(updated.data[0] - 0.45) < 1e-6 && abs(updated.data[1] - (0.9 + 3.5 / 3)) < 1e-5)
        case .bias: break
        }
        // The trainer stores the update.
        let net = try Self.network(kind)
        var config = TrainingConfiguration()
        config.loss = .meanCrossEntropy
        config.optimizer = .sgd(momentum: 0.9, weightDecay: 1e-4)
        config.learningRate = 0.01
        var trainer = Trainer(network: net, configuration: config, computer: LayeredBPTT())
        _ = trainer.step(inputs: GradientCheck.inputs(steps: 3, batch: 4, shape: [2, 5, 5]), labels: [0, 1, 2, 0])
        #expect(trainer.network.runningStatistics != net.runningStatistics)
        for i in net.normalizationIndices { #expect(trainer.network.runningStatistics[i].data.allSatisfy { $0.isFinite }) }
    }

    /// mean-ce: cross-entropy of the output averaged over steps; its gradient per step against finite differences.
    @Test func meanCrossEntropyGradient() {
        let rng = CounterRNG(seed: 5)
        let outputs = (0..<3).map { t in Tensor(shape: [2, 4], data: (0..<8).map { rng.uniform(stream: UInt64(t), counter: UInt64($0)) * 4 - 2 }) }
        let labels = [1, 3]
        let (_, g, m) = Loss.meanCrossEntropy.evaluate(outputs: outputs, membranes: [], labels: labels)
        #expect(m == nil)
        for t in 0..<3 { for j in 0..<8 {
            var p = outputs, q = outputs
            p[t].data[j] += 1e-2; q[t].data[j] -= 1e-2
            let fd = (Loss.meanCrossEntropy.evaluate(outputs: p, membranes: [], labels: labels).loss
                      - Loss.meanCrossEntropy.evaluate(outputs: q, membranes: [], labels: labels).loss) / 2e-2
            #expect(abs(fd - g[t].data[j]) < 1e-3, "t \(t) j \(j)")
        } }
        // The value is the CE of the mean: constant outputs over time give the one-step CE.
        let same = [outputs[0], outputs[0]]
        let one = Loss.meanCrossEntropy.evaluate(outputs: [outputs[0]], membranes: [], labels: labels).loss
        #expect(abs(Loss.meanCrossEntropy.evaluate(outputs: same, membranes: [], labels: labels).loss - one) < 1e-6)
    }

    /// A trained BNTT model with a read-out, saved and loaded, gives the same outputs bit for bit.
    @Test func saveLoadGivesSameOutputs() throws {
        var trainer = Trainer(network: try Self.network(.bntt), configuration: {
            var c = TrainingConfiguration(); c.loss = .meanCrossEntropy; c.optimizer = .sgd(momentum: 0.9, weightDecay: 1e-4)
            c.normalizationWeightDecay = 5e-3; c.learningRate = 0.05; return c }(), computer: LayeredBPTT())
        let inputs = GradientCheck.inputs(steps: 3, batch: 4, shape: [2, 5, 5])
        for _ in 0..<3 { _ = trainer.step(inputs: inputs, labels: [0, 1, 2, 1]) }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bntt-\(UUID().uuidString).snnmodel")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(trainer.network, to: url)
        let (loaded, _) = try ModelFile.read(from: url)
        let a = try LayeredEngine(network: trainer.network).run(inputs: inputs)
        let b = try LayeredEngine(network: loaded).run(inputs: inputs)
        #expect(a.outputs.map { $0.data.map(\.bitPattern) } == b.outputs.map { $0.data.map(\.bitPattern) })
        #expect(a.spikeCounts == b.spikeCounts)
        #expect(a.outputs.contains { $0.data.contains { $0 != 0 } })
    }

    /// The separate weight decay acts on the normalisation parameters only.
    @Test func normalizationWeightDecayIsSeparate() throws {
        let net = try Self.network(.bntt)
        var c = TrainingConfiguration()
        c.optimizer = .sgd(momentum: 0, weightDecay: 0)
        c.normalizationWeightDecay = 0.5
        c.learningRate = 1
        let trainer = Trainer(network: net, configuration: c, computer: LayeredBPTT())
        var opt = trainer.optimizer
        var w = net.weights
        let zeros = net.weights.map { Tensor(shape: $0.shape) }
        opt.step(weights: &w, gradients: zeros, indices: net.parameterIndices)
        #expect(w[0] == net.weights[0])  // conv weights: no decay
        #expect(zip(w[1].data, net.weights[1].data).allSatisfy { abs($0 - 0.5 * $1) < 1e-6 })  // gamma halved
    }

    @Test func bnttScheduleDividesAt50To90Percent() {
        let s = LearningRateSchedule.bntt(epochs: 10)
        #expect([0, 4, 5, 6, 7, 8, 9].map { s.rate(base: 1, epoch: $0) }.map { ($0 * 1000).rounded() } == [1000, 1000, 100, 100, 10, 10, 1])
    }
}
