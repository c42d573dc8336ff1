import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// An independent reference for MLPs of linear + LIF layers, in Double: the smoothed forward pass, with
/// an option to *freeze* the spike value used by the reset. The gradient of the loss with the reset's
/// spikes frozen at their current values is exactly what `detachReset` means, so finite differences of
/// this reference (in Double, tiny steps) check the detached BPTT gradient.
struct ReferenceMLP {
    var sizes: [Int]
    var weights: [[Double]]      // [in, out] per layer
    var beta: Double, threshold: Double, slope: Double
    var reset: ResetMode

    func smoothStep(_ x: Double) -> Double { 1 / (1 + exp(-slope * x)) }

    /// Returns the loss `sum_t <A_t, s_last> + <B_t, U_last>` and every spike value (for freezing).
    /// `frozenMembrane[t][l][b][j]`, when given, replaces the membrane carried into step t (before the decay):
    /// the gradient with it frozen is what `BPTT.Options.detachMembraneAcrossSteps` computes.
    func run(inputs: [[[Double]]], a: [[Double]], b: [[Double]], frozen: [[[[Double]]]]? = nil,
             frozenMembrane: [[[[Double]]]]? = nil)
        -> (loss: Double, spikes: [[[[Double]]]], outputs: [[[Double]]], membranes: [[[Double]]], carried: [[[[Double]]]]) {
        let steps = inputs.count, batch = inputs[0].count
        var v = (1..<sizes.count).map { l in [[Double]](repeating: [Double](repeating: 0, count: sizes[l]), count: batch) }
        var spikes: [[[[Double]]]] = []   // [t][layer][b][j]
        var outputs: [[[Double]]] = [], membranes: [[[Double]]] = []
        var loss: Double = 0
        var carried: [[[[Double]]]] = []
        for t in 0..<steps {
            if let f = frozenMembrane { v = f[t] }
            carried.append(v)
            var x = inputs[t]
            var stepSpikes: [[[Double]]] = []
            var lastU: [[Double]] = []
            for l in 0..<(sizes.count - 1) {
                let nIn = sizes[l], nOut = sizes[l + 1]
                var s = [[Double]](repeating: [Double](repeating: 0, count: nOut), count: batch)
                var u = s
                for bb in 0..<batch {
                    for j in 0..<nOut {
                        var current: Double = 0
                        for i in 0..<nIn { current += x[bb][i] * weights[l][i * nOut + j] }
                        let uu = beta * v[l][bb][j] + current
                        let ss = smoothStep(uu - threshold)
                        let sr = frozen?[t][l][bb][j] ?? ss
                        v[l][bb][j] = reset == .zero ? uu * (1 - sr) : uu - threshold * sr
                        u[bb][j] = uu; s[bb][j] = ss
                    }
                }
                stepSpikes.append(s)
                x = s
                lastU = u
            }
            spikes.append(stepSpikes)
            outputs.append(x); membranes.append(lastU)
            let classes = sizes.last!
            for bb in 0..<batch { for j in 0..<classes { loss += a[t][bb * classes + j] * x[bb][j] + b[t][bb * classes + j] * lastU[bb][j] } }
        }
        return (loss, spikes, outputs, membranes, carried)
    }
}

struct DetachResetTests {
    @Test(arguments: [ResetMode.zero, .subtract])
    func detachedGradientMatchesFrozenResetReference(_ reset: ResetMode) throws {
        let sizes = [5, 6, 4]
        let steps = 4, batch = 2
        let beta: Float = 0.8, theta: Float = 0.3, slope: Float = 4
        for detach in [true, false] {
            let p = LIFParameters(beta: beta, threshold: theta, reset: reset, surrogate: .sigmoid(slope: slope), detachReset: detach)
            let spec = NetworkSpec(inputShape: [5], layers: [.linear(inFeatures: 5, outFeatures: 6), .lif(p),
                                                             .linear(inFeatures: 6, outFeatures: 4), .lif(p)])
            let net = try Network(spec: spec, seed: 21)
            let inputs = GradientCheck.inputs(steps: steps, batch: batch, shape: [5], seed: 8)
            let gc = GradientCheck(network: net, inputs: inputs)
            let grads = gc.bptt()

            let ref = ReferenceMLP(sizes: sizes, weights: [net.weights[0].data.map(Double.init), net.weights[2].data.map(Double.init)],
                                   beta: Double(beta), threshold: Double(theta), slope: Double(slope), reset: reset)
            let x: [[[Double]]] = (0..<steps).map { t in (0..<batch).map { bb in (0..<5).map { Double(inputs.data[(t * batch + bb) * 5 + $0]) } } }
            let a = gc.a.map { $0.data.map(Double.init) }, b = gc.b!.map { $0.data.map(Double.init) }
            let base = ref.run(inputs: x, a: a, b: b)
            // The engine's smoothed forward agrees with the Double reference.
            let run = gc.forward(net)
            for t in 0..<steps {
                for bb in 0..<batch { for j in 0..<4 {
                    #expect(abs(Double(run.outputs[t].data[bb * 4 + j]) - base.outputs[t][bb][j]) < 1e-5)
                    #expect(abs(Double(run.outputMembranes[t].data[bb * 4 + j]) - base.membranes[t][bb][j]) < 1e-5)
                } }
            }
            // Exact gradients (every weight) by Double central differences, with the reset's spikes frozen when detached.
            let h = 1e-6
            var num: Double = 0, den: Double = 0
            for (layerIndex, l) in [(0, 0), (2, 1)] {
                for j in 0..<ref.weights[l].count {
                    var rp = ref, rm = ref
                    rp.weights[l][j] += h; rm.weights[l][j] -= h
                    let frozen = detach ? base.spikes : nil
                    let fd = (rp.run(inputs: x, a: a, b: b, frozen: frozen).loss - rm.run(inputs: x, a: a, b: b, frozen: frozen).loss) / (2 * h)
                    let g = Double(grads[layerIndex].data[j])
                    num += (g - fd) * (g - fd); den += fd * fd
                    #expect(abs(g - fd) < 2e-4 + 2e-3 * abs(fd), "\(reset) detach=\(detach) layer \(layerIndex) w\(j): BPTT \(g), reference \(fd)")
                }
            }
            #expect((num / den).squareRoot() < 1e-3, "\(reset) detach=\(detach): relative error \((num / den).squareRoot())")
            #expect(den.squareRoot() > 1e-2)
        }
    }

    /// `detachMembraneAcrossSteps`: the membrane carried from one step to the next is a constant for the gradient.
    @Test func membraneDetachedAcrossStepsMatchesFrozenMembraneReference() throws {
        let steps = 4, batch = 2
        let p = LIFParameters(beta: 0.8, threshold: 0.3, reset: .zero, surrogate: .sigmoid(slope: 4))
        let spec = NetworkSpec(inputShape: [5], layers: [.linear(inFeatures: 5, outFeatures: 6), .lif(p),
                                                         .linear(inFeatures: 6, outFeatures: 4), .lif(p)])
        let net = try Network(spec: spec, seed: 23)
        let inputs = GradientCheck.inputs(steps: steps, batch: batch, shape: [5], seed: 9)
        let gc = GradientCheck(network: net, inputs: inputs)
        let grads = gc.bptt(options: .init(detachMembraneAcrossSteps: true))
        let full = gc.bptt()
        let ref = ReferenceMLP(sizes: [5, 6, 4], weights: [net.weights[0].data.map(Double.init), net.weights[2].data.map(Double.init)],
                               beta: 0.8, threshold: 0.3, slope: 4, reset: .zero)
        let x: [[[Double]]] = (0..<steps).map { t in (0..<batch).map { bb in (0..<5).map { Double(inputs.data[(t * batch + bb) * 5 + $0]) } } }
        let a = gc.a.map { $0.data.map(Double.init) }, b = gc.b!.map { $0.data.map(Double.init) }
        let base = ref.run(inputs: x, a: a, b: b)
        let h = 1e-6
        var num: Double = 0, den: Double = 0, differsFromFull: Double = 0
        for (layerIndex, l) in [(0, 0), (2, 1)] {
            for j in 0..<ref.weights[l].count {
                var rp = ref, rm = ref
                rp.weights[l][j] += h; rm.weights[l][j] -= h
                let fd = (rp.run(inputs: x, a: a, b: b, frozenMembrane: base.carried).loss
                          - rm.run(inputs: x, a: a, b: b, frozenMembrane: base.carried).loss) / (2 * h)
                let g = Double(grads[layerIndex].data[j])
                num += (g - fd) * (g - fd); den += fd * fd
                differsFromFull = max(differsFromFull, abs(Double(full[layerIndex].data[j]) - g))
            }
        }
        #expect((num / den).squareRoot() < 1e-3, "relative error \((num / den).squareRoot())")
        #expect(differsFromFull > 1e-2, "the option should change the gradient")
    }
}
