import SNNCore
import SNNEngines
import SNNTensor

/// Backpropagation through time over a ``LayeredTape``: reverse mode through time steps (latest
/// first) and, inside each step, through the layers (last first), with the neurons' surrogate
/// gradient in place of the spike's derivative.
///
/// For a LIF population with `U_t = beta V_{t-1} + I_t`, `s_t = H(U_t - theta)` and post-reset
/// `V_t = reset(U_t, s_t)`:
/// `dL/dU_t = dL/ds_t * sg(U_t - theta) + dL/dV_t * dV_t/dU_t (+ dL/dU_t from a membrane loss)`,
/// `dL/dI_t = dL/dU_t`, and `dL/dV_{t-1} = beta * dL/dU_t` (zero when ``Options/detachMembraneAcrossSteps``).
public enum BPTT {
    /// Options of the backward pass.
    public struct Options: Sendable {
        /// Cut the membrane's gradient path between time steps (each step's gradient then stays within
        /// the step, as in online training); off for true BPTT.
        public var detachMembraneAcrossSteps = false
        public init(detachMembraneAcrossSteps: Bool = false) { self.detachMembraneAcrossSteps = detachMembraneAcrossSteps }
    }

    /// The weight gradients (one tensor per layer; empty for layers without weights).
    public static func gradients(network: Network, tape: LayeredTape, outputGradients: [Tensor],
                                 membraneGradients: [Tensor]?, options: Options = .init()) -> [Tensor] {
        let spec = network.spec
        let shapes = tape.shapes
        // Fix: validate the gradients against the tape (release builds have no bounds checks, so a short or
        // mis-shaped list was read out of bounds).
        let outCount = tape.shapes.last!.reduce(1, *)
        if outputGradients.count != tape.steps || tape.steps == 0
            || outputGradients.contains(where: { $0.count != outputGradients[0].count || $0.count % outCount != 0 })
            || (membraneGradients.map { $0.count != tape.steps || $0.contains { $0.count != outputGradients[0].count } } ?? false) {
            fatalError("BPTT: need \(tape.steps) output (and membrane) gradients of [batch, \(outCount)], got \(outputGradients.map(\.shape))")
        }
        let batch = outputGradients[0].shape[0]
        var grads = network.weights.map { Tensor(shape: $0.shape) }
        let firstNeeded = firstLayerNeedingInputGradient(spec)
        // Layer by layer (last first), every step of a layer (latest first) before the layer below: the
        // same operations per element as step by step, and what normalisation over time needs.
        var gs = outputGradients
        layers: for i in stride(from: spec.layers.count - 1, through: 0, by: -1) {
            let layer = spec.layers[i]
            if case .lif(let p) = layer {
                let perNeuron = shapes[i + 1].reduce(1, *)
                let n = batch * perNeuron
                var carriedIn = Tensor(shape: [batch, perNeuron])  // dL/dV_t carried from step t+1
                let keepCarry = !options.detachMembraneAcrossSteps
                let betas = p.perNeuronBeta
                for t in stride(from: tape.steps - 1, through: 0, by: -1) {
                    let u = tape.preReset[t][i]!
                    let spikes = tape.spikes[t][i]!
                    let g = gs[t]
                    var dU = Tensor(shape: [batch, perNeuron])
                    let extra = (i == spec.layers.count - 1) ? membraneGradients?[t] : nil
                    var carriedOut = Tensor(shape: [batch, perNeuron])
                    // Raw pointers: no copy-on-write checks in the per-element loop.
                    u.withUnsafeBufferPointer { up in
                    spikes.withUnsafeBufferPointer { sp in
                    g.withUnsafeBufferPointer { gp in
                    carriedIn.withUnsafeBufferPointer { cp in
                    dU.withUnsafeMutableBufferPointer { dp in
                    carriedOut.withUnsafeMutableBufferPointer { op in
                        for j in 0..<n {
                            let uj = up[j]
                            let x = uj - p.threshold
                            let sg = p.surrogate.gradient(x)
                            var d = gp[j] * sg
                            d += cp[j] * LIFDynamics.resetDerivative(u: uj, spike: sp[j], surrogateGradient: sg,
                                                                      threshold: p.threshold, reset: p.reset, detach: p.detachReset)
                            if let e = extra { d += e.data[j] }
                            dp[j] = d
                            if keepCarry { op[j] = d * (betas?[j % perNeuron] ?? p.beta) }
                        }
                    }}}}}}
                    carriedIn = carriedOut
                    gs[t] = dU
                }
                if let norm = p.normalization {
                    guard let cache = tape.normalization[i] else {
                        fatalError("BPTT: the tape has no normalisation cache for layer \(i) (run the engine with training: true)")
                    }
                    gs = NormalizationKernels.backward(norm, parameters: network.weights[i], threshold: p.threshold, cache: cache,
                                                       outputGradients: gs, parameterGradient: &grads[i])
                }
            } else {
                if i < firstNeeded && !layer.hasWeights { break }
                for t in stride(from: tape.steps - 1, through: 0, by: -1) {
                    let dx = SynapticKernels.backward(layer, weight: network.weights[i], cache: tape.caches[t][i],
                                                      outputGradient: gs[t].reshaped([batch] + shapes[i + 1]),
                                                      inShape: shapes[i], outShape: shapes[i + 1],
                                                      needInputGradient: i > firstNeeded, weightGradient: &grads[i])
                    if let dx { gs[t] = dx.reshaped([batch, dx.count / batch]) }
                }
                if i <= firstNeeded { break layers }
            }
        }
        return grads
    }

    /// The first layer with weights: nothing below it needs an input gradient.
    static func firstLayerNeedingInputGradient(_ spec: NetworkSpec) -> Int {
        spec.layers.firstIndex(where: { $0.hasWeights }) ?? spec.layers.count
    }
}
