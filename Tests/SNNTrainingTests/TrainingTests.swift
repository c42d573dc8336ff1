import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// End-to-end: the losses through BPTT, the trainer, and learning on a synthetic problem.
struct TrainingTests {
    /// A synthetic 4-class problem: class c fires input channels 4c..4c+3 at rate 0.7, the others at 0.1
    /// (Bernoulli rate coding over `steps` frames). Returns inputs `[T, n, 16]` and labels.
    static func dataset(samples n: Int, steps: Int, seed: UInt64) -> (Tensor, [Int]) {
        let rng = CounterRNG(seed: seed)
        let labels = (0..<n).map { Int(rng.bits(stream: 0, counter: UInt64($0)) % 4) }
        var data = [Float](repeating: 0, count: steps * n * 16)
        for t in 0..<steps {
            for b in 0..<n {
                for j in 0..<16 {
                    let rate: Float = j / 4 == labels[b] ? 0.7 : 0.1
                    let idx = (t * n + b) * 16 + j
                    data[idx] = rng.uniform(stream: 1, counter: UInt64(idx)) < rate ? 1 : 0
                }
            }
        }
        return (Tensor(shape: [steps, n, 16], data: data), labels)
    }

    static func accuracy(_ net: Network, _ x: Tensor, _ labels: [Int]) -> Double {
        let run = try! LayeredEngine(network: net).run(inputs: x)
        return Double(zip(run.predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// Samples `range` of a time-major batch `[T, n] + frame` and their labels.
    static func batch(_ x: Tensor, _ labels: [Int], _ range: Range<Int>) -> (Tensor, [Int]) {
        let steps = x.shape[0], n = x.shape[1], f = x.count / (steps * n)
        var out = [Float]()
        for t in 0..<steps { out += x.data[((t * n + range.lowerBound) * f)..<((t * n + range.upperBound) * f)] }
        return (Tensor(shape: [steps, range.count] + Array(x.shape.dropFirst(2)), data: out), Array(labels[range]))
    }

    /// From chance to > 90% train accuracy with BPTT, Adam and the reference rate loss, reproducibly.
    @Test func learnsSyntheticProblem() throws {
        let neuron = LIFParameters(beta: 0.8, threshold: 0.3)
        let spec = try NetworkSpec.parse("16-32-4", neuron: neuron)
        let (x, labels) = Self.dataset(samples: 256, steps: 8, seed: 4)
        let initial = try Network(spec: spec, seed: 7)
        let before = Self.accuracy(initial, x, labels)
        var config = TrainingConfiguration()
        config.learningRate = 1e-2
        config.loss = .rateCrossEntropy
        config.seed = 1
        var trainer = Trainer(network: initial, configuration: config, computer: LayeredBPTT())
        var losses: [Float] = []
        for epoch in 0..<12 {
            let m = try trainer.trainEpoch(epoch, batchCount: 8) { body in
                for k in 0..<8 {
                    let (bx, by) = Self.batch(x, labels, (k * 32)..<((k + 1) * 32))
                    try body(bx, by)
                }
            }
            losses.append(m.loss)
            #expect(m.samples == 256 && m.peakTapeBytes > 0 && m.loss.isFinite)
        }
        let after = Self.accuracy(trainer.network, x, labels)
        #expect(before < 0.6, "initial accuracy \(before) is not near chance")
        #expect(after > 0.9, "train accuracy after 96 steps: \(after) (losses \(losses))")
        #expect(losses.last! < losses.first!)
        #expect(trainer.optimizer.stepCount == 96)
        // Held-out samples from the same distribution.
        let (tx, tl) = Self.dataset(samples: 128, steps: 8, seed: 99)
        #expect(Self.accuracy(trainer.network, tx, tl) > 0.85)
        // Reproducible: the same seeds give bit-identical weights.
        var again = Trainer(network: try Network(spec: spec, seed: 7), configuration: config, computer: LayeredBPTT())
        for epoch in 0..<2 {
            _ = try again.trainEpoch(epoch) { body in
                for k in 0..<8 { let (bx, by) = Self.batch(x, labels, (k * 32)..<((k + 1) * 32)); try body(bx, by) }
            }
        }
        var once = Trainer(network: try Network(spec: spec, seed: 7), configuration: config, computer: LayeredBPTT())
        for epoch in 0..<2 {
            _ = try once.trainEpoch(epoch) { body in
                for k in 0..<8 { let (bx, by) = Self.batch(x, labels, (k * 32)..<((k + 1) * 32)); try body(bx, by) }
            }
        }
        #expect(again.network == once.network)
    }

    /// The library losses through LayeredBPTT give the gradient of the loss of the smoothed forward pass.
    @Test(arguments: [Loss.rateCrossEntropy, .membraneCrossEntropy, .countCrossEntropy, .countMSE])
    func lossGradientsThroughBPTT(_ loss: Loss) throws {
        let p = LIFParameters(beta: 0.8, threshold: 0.3, reset: .zero, surrogate: .sigmoid(slope: 4))
        let spec = try NetworkSpec.parse("6-5-3", neuron: p)
        let net = try Network(spec: spec, seed: 12)
        let x = GradientCheck.inputs(steps: 4, batch: 3, shape: [6], seed: 2)
        let labels = [0, 2, 1]
        func forward(_ n: Network) -> LayeredRun { try! LayeredEngine(network: n).run(inputs: x, tape: true, smoothSpikes: true) }
        let run = forward(net)
        let (_, gOut, gMem) = loss.evaluate(outputs: run.outputs, membranes: run.outputMembranes, labels: labels)
        let grads = BPTT.gradients(network: net, tape: run.tape!, outputGradients: gOut, membraneGradients: gMem)
        let eps: Float = 2e-3
        var num: Double = 0, den: Double = 0
        for layer in [0, 2] {
            for j in stride(from: 0, to: net.weights[layer].count, by: 2) {
                var a = net, b = net
                a.weights[layer].data[j] += eps; b.weights[layer].data[j] -= eps
                let ra = forward(a), rb = forward(b)
                let la = Double(loss.evaluate(outputs: ra.outputs, membranes: ra.outputMembranes, labels: labels).loss)
                let lb = Double(loss.evaluate(outputs: rb.outputs, membranes: rb.outputMembranes, labels: labels).loss)
                let fd = (la - lb) / Double(a.weights[layer].data[j] - b.weights[layer].data[j])
                let d = Double(grads[layer].data[j]) - fd
                num += d * d; den += fd * fd
            }
        }
        let rel = (num / den).squareRoot()
        #expect(den.squareRoot() > 1e-3, "\(loss): gradient too small")
        #expect(rel < 2e-2, "\(loss): relative error \(rel), |fd| \(den.squareRoot())")
    }

    /// The trainer clips the global gradient norm before the optimizer step.
    @Test func trainerClipsGradients() throws {
        struct Fixed: GradientComputer {
            var name: String { "fixed" }
            func lossAndGradients(network: Network, inputs: Tensor, labels: [Int], loss: Loss, seed: UInt64) -> StepResult {
                let grads = network.weights.map { Tensor(shape: $0.shape, repeating: 10) }
                return StepResult(loss: 1, correct: 0, gradients: grads, tapeBytes: 0, spikes: 0)
            }
        }
        let spec = try NetworkSpec.parse("3-2", neuron: LIFParameters())
        let net = try Network(spec: spec, seed: 1)
        var config = TrainingConfiguration()
        config.optimizer = .sgd(momentum: 0, weightDecay: 0)
        config.learningRate = 1
        config.gradientClipNorm = 0.5
        var trainer = Trainer(network: net, configuration: config, computer: Fixed())
        _ = trainer.step(inputs: Tensor(shape: [1, 1, 3]), labels: [0])
        var moved: Double = 0
        for j in 0..<6 { let d = Double(trainer.network.weights[0].data[j] - net.weights[0].data[j]); moved += d * d }
        #expect(abs(moved.squareRoot() - 0.5) < 1e-5)
        // The schedule sets the learning rate per epoch.
        config.schedule = .step(every: 1, gamma: 0.5)
        config.gradientClipNorm = nil
        var scheduled = Trainer(network: net, configuration: config, computer: Fixed())
        let m = try scheduled.trainEpoch(2) { body in try body(Tensor(shape: [1, 1, 3]), [0]) }
        #expect(m.learningRate == 0.25)
        #expect(abs(scheduled.network.weights[0].data[0] - (net.weights[0].data[0] - 2.5)) < 1e-5)
    }
}
