import SNNTensor

/// A current-based synapse in front of a population (snnTorch's `Synaptic`, NIR's `CubaLIF`): the
/// current into the membrane is itself a leaky state, `I_t = alpha * I_{t-1} + x_t` (`I_{-1} = 0`),
/// where `x_t` is the frame's synaptic input (after any ``InputNormalization``) and `alpha` in `[0, 1)`
/// is ``LIFParameters/synapticDecay``; the membrane then integrates `I_t` as usual. `alpha = 0` (or
/// none) is the plain LIF population.
public enum SynapticCurrent {
    /// `I_t` for every step from the inputs `x_t` (each `[batch, neurons]`, any shape of that count).
    /// Each element is `alpha * I_{t-1} + x_t` in that order (the multiplication, then one addition).
    public static func forward(_ inputs: [Tensor], alpha: Float) -> [Tensor] {
        var out = inputs
        guard out.count > 1 else { return out }
        for t in 1..<out.count {
            let previous = out[t - 1]
            out[t].withUnsafeMutableBufferPointer { x in
                previous.withUnsafeBufferPointer { p in
                    for j in 0..<x.count { x[j] = alpha * p[j] + x[j] }
                }
            }
        }
        return out
    }

    /// The gradient with respect to the inputs `x_t` given the gradients with respect to the currents
    /// `I_t`: `dL/dx_t = dL/dI_t + alpha dL/dx_{t+1}` (a reverse recurrence over the steps).
    public static func backward(_ currentGradients: [Tensor], alpha: Float) -> [Tensor] {
        var out = currentGradients
        guard out.count > 1 else { return out }
        for t in stride(from: out.count - 2, through: 0, by: -1) {
            let later = out[t + 1]
            out[t].withUnsafeMutableBufferPointer { g in
                later.withUnsafeBufferPointer { l in
                    for j in 0..<g.count { g[j] += alpha * l[j] }
                }
            }
        }
        return out
    }
}
