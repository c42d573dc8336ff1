/// The arithmetic of one EM-PF neuron update at inference, shared by the step-by-step evaluator
/// (`EMPFStepper`) and the asynchronous engine so that both compute the same bits.
///
/// All quantities are in the unit of the (normalised) membrane; `theta > 0`.
public enum EMPFNeuronRule {
    /// `eps` of the membrane batch norm.
    public static let epsilon: Float = 1e-5

    /// Membrane batch norm with running statistics, in the layered expression's order:
    /// `u = gamma * ((m - mean) * invStd) + beta`, `invStd = 1 / sqrt(var + eps)`.
    @inlinable @inline(__always)
    public static func normalise(_ m: Float, mean: Float, invStd: Float, gamma: Float, beta: Float) -> Float {
        gamma * ((m - mean) * invStd) + beta
    }

    /// `1 / sqrt(var + eps)`, computed as the evaluator computes it.
    @inlinable @inline(__always)
    public static func invStd(variance: Float, epsilon: Float) -> Float { 1 / (variance + epsilon).squareRoot() }

    /// Fires on `u > theta` (strict). Returns the spike value and the post-reset membrane:
    /// `mode` 0 (excess) `s = u - theta`, `v = theta`; 1 (membrane) `s = u`, `v = 0`; 2 (LIF) `s = 1`,
    /// `v = 0`; silent: `s = 0`, `v = u`.
    @inlinable @inline(__always)
    public static func fire(_ u: Float, theta: Float, mode: Int) -> (spike: Float, membrane: Float) {
        guard u > theta else { return (0, u) }
        switch mode {
        case 0: return (u - theta, theta)
        case 1: return (u, 0)
        default: return (1, 0)
        }
    }

    /// The `mode` code of ``fire(_:theta:mode:)`` for a spike kind.
    public static func mode(_ kind: SpikeKind) -> Int {
        switch kind { case .excess: return 0; case .membrane: return 1; case .lif: return 2 }
    }
}
