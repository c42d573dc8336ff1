import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// Finite-difference gradient checks of BPTT through the layered engine.
///
/// The forward pass runs with `smoothSpikes: true` (every spike is the surrogate's smooth step and the
/// reset uses it), so BPTT's surrogate gradient is the exact gradient of that forward pass. The loss is a
/// fixed random linear functional of the outputs and of the output membranes,
/// `L = sum_t <A_t, outputs_t> + <B_t, membranes_t>`, evaluated in Double; its gradients are simply `A_t`
/// and `B_t`, which exercises both gradient paths of ``BPTT/gradients``.
struct GradientCheck {
    var network: Network
    var inputs: Tensor
    var training = false
    var seed: UInt64 = 0
    var a: [Tensor] = []
    var b: [Tensor]? = nil

    init(network: Network, inputs: Tensor, training: Bool = false, seed: UInt64 = 0, coefficientSeed: UInt64 = 99) {
        self.network = network; self.inputs = inputs; self.training = training; self.seed = seed
        let run = forward(network)
        let rng = CounterRNG(seed: coefficientSeed)
        a = run.outputs.enumerated().map { t, o in
            Tensor(shape: o.shape, data: (0..<o.count).map { rng.uniform(stream: UInt64(t), counter: UInt64($0)) * 2 - 1 })
        }
        if !run.outputMembranes.isEmpty {
            b = run.outputMembranes.enumerated().map { t, o in
                Tensor(shape: o.shape, data: (0..<o.count).map { rng.uniform(stream: 1000 + UInt64(t), counter: UInt64($0)) * 2 - 1 })
            }
        }
    }

    func forward(_ net: Network) -> LayeredRun {
        try! LayeredEngine(network: net).run(inputs: inputs, training: training, tape: true, seed: seed, smoothSpikes: true)
    }

    func loss(_ run: LayeredRun) -> Double {
        var l: Double = 0
        for t in 0..<run.outputs.count {
            for j in 0..<run.outputs[t].count { l += Double(a[t].data[j]) * Double(run.outputs[t].data[j]) }
            if let b { for j in 0..<run.outputMembranes[t].count { l += Double(b[t].data[j]) * Double(run.outputMembranes[t].data[j]) } }
        }
        return l
    }

    func bptt(options: BPTT.Options = .init(), network override: Network? = nil) -> [Tensor] {
        let net = override ?? network
        let run = forward(net)
        return BPTT.gradients(network: net, tape: run.tape!, outputGradients: a, membraneGradients: b, options: options)
    }

    /// Central difference of the loss with respect to weight `j` of layer `layer`.
    /// `stable` is false when a max-pool winner changed between the two evaluations (the loss is then not smooth there).
    func finiteDifference(layer: Int, index j: Int, eps: Float) -> (value: Double, stable: Bool) {
        var plus = network, minus = network
        plus.weights[layer].data[j] += eps
        minus.weights[layer].data[j] -= eps
        let rp = forward(plus), rm = forward(minus)
        let h = Double(plus.weights[layer].data[j]) - Double(minus.weights[layer].data[j])  // the step actually taken in Float
        let base = forward(network)
        var stable = true
        for t in 0..<base.tape!.caches.count {
            for (i, c) in base.tape!.caches[t].enumerated() where c.argmax != nil {
                if rp.tape!.caches[t][i].argmax != c.argmax || rm.tape!.caches[t][i].argmax != c.argmax { stable = false }
            }
        }
        return ((loss(rp) - loss(rm)) / h, stable)
    }

    struct Report: CustomStringConvertible {
        var layer: Int
        var checked: Int
        var relativeError: Double      // ||g - fd|| / ||fd|| over the checked weights
        var worst: Double              // max |g - fd| / (max |fd|)
        var gradientNorm: Double
        var description: String {
            "layer \(layer): \(checked) weights, relative error \(relativeError), worst \(worst), |fd| \(gradientNorm)"
        }
    }

    /// Compares `gradients` with finite differences (step 3e-3: the Float forward's rounding noise, which
    /// grows as 1/eps, then stays ~10x below the tolerance while the O(eps^2) truncation error is smaller still) on a sample of every weighted layer's weights
    /// (random ones plus the largest gradients).
    func compare(_ gradients: [Tensor], perLayer: Int = 10, eps: Float = 3e-3) -> [Report] {
        var reports: [Report] = []
        var rng = CounterRNG(seed: 5).generator(stream: 9)
        for layer in network.parameterIndices {
            let g = gradients[layer]
            #expect(g.shape == network.weights[layer].shape)
            let n = g.count
            var picks = Set((0..<min(perLayer, n)).map { _ in Int(rng.next() % UInt64(n)) })
            for j in g.data.indices.sorted(by: { abs(g.data[$0]) > abs(g.data[$1]) }).prefix(3) { picks.insert(j) }
            var num: Double = 0, den: Double = 0, worstAbs: Double = 0, maxFD: Double = 0, count = 0
            for j in picks.sorted() {
                let (fd, stable) = finiteDifference(layer: layer, index: j, eps: eps)
                guard stable else { continue }
                let d = Double(g.data[j]) - fd
                num += d * d; den += fd * fd
                worstAbs = max(worstAbs, abs(d)); maxFD = max(maxFD, abs(fd)); count += 1
            }
            reports.append(Report(layer: layer, checked: count, relativeError: (num / max(den, 1e-30)).squareRoot(),
                                  worst: worstAbs / max(maxFD, 1e-30), gradientNorm: den.squareRoot()))
        }
        return reports
    }

    /// Asserts that BPTT matches finite differences on every weighted layer.
    func expectCorrect(_ what: String, options: BPTT.Options = .init(), tolerance: Double = 1e-2,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let reports = compare(bptt(options: options))
        if ProcessInfo.processInfo.environment["SNN_GRADCHECK_VERBOSE"] != nil { print("gradcheck \(what): \(reports)") }
        for r in reports {
            #expect(r.checked >= 5, "\(what): too few comparable weights: \(r)", sourceLocation: sourceLocation)
            #expect(r.gradientNorm > 1e-3, "\(what): gradient too small to be a meaningful check: \(r)", sourceLocation: sourceLocation)
            #expect(r.relativeError < tolerance && r.worst < 2 * tolerance, "\(what): \(r)", sourceLocation: sourceLocation)
        }
    }

    /// Random inputs `[T, batch] + shape`, values in [0, 1) with the given density of non-zeros.
    static func inputs(steps: Int, batch: Int, shape: [Int], density: Float = 0.5, seed: UInt64 = 1) -> Tensor {
        let n = steps * batch * shape.reduce(1, *)
        let rng = CounterRNG(seed: seed)
        return Tensor(shape: [steps, batch] + shape, data: (0..<n).map { j in
            rng.uniform(stream: 0, counter: UInt64(j)) < density ? rng.uniform(stream: 1, counter: UInt64(j)) : 0
        })
    }
}
