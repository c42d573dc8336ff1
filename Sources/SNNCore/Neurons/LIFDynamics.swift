/// The per-neuron update shared by every engine, written once so that the layered and the
/// asynchronous engines compute bit-identical membranes.
public enum LIFDynamics {
    /// One integration of input current `current` into membrane `v` (already decayed).
    ///
    /// Returns the pre-reset potential `U = (V + I) * (1 - R)` (0 for a refractory neuron), whether it
    /// spiked, and writes the post-reset membrane into `v`.
    @inlinable @inline(__always)
    public static func integrate(v: inout Float, current: Float, refractory: Bool,
                                 threshold: Float, reset: ResetMode) -> (u: Float, spiked: Bool) {
        let u: Float = refractory ? 0 : v + current
        let spiked = u - threshold > 0
        if spiked {
            v = reset == .zero ? 0 : u - threshold
        } else {
            v = u
        }
        return (u, spiked)
    }

    /// Derivative of the post-reset membrane with respect to `U` (for backprop).
    /// `spike` is the forward spike value (0/1, or the smooth step in gradient checks).
    @inlinable @inline(__always)
    public static func resetDerivative(u: Float, spike: Float, surrogateGradient sg: Float,
                                       threshold: Float, reset: ResetMode, detach: Bool) -> Float {
        switch reset {
        case .zero:
            // V = U (1 - s):  dV/dU = (1 - s) - U * s'
            return (1 - spike) - (detach ? 0 : u * sg)
        case .subtract:
            // V = U - theta s:  dV/dU = 1 - theta * s'
            return 1 - (detach ? 0 : threshold * sg)
        }
    }

    /// The smooth counterpart of ``integrate(v:current:refractory:threshold:reset:)`` used only by
    /// gradient checks: the spike is `surrogate.smoothStep(U - theta)` and the reset uses that value.
    @inlinable
    public static func integrateSmooth(v: inout Float, current: Float, threshold: Float, reset: ResetMode,
                                       surrogate: Surrogate) -> (u: Float, spike: Float) {
        let u = v + current
        let s = surrogate.smoothStep(u - threshold)
        v = reset == .zero ? u * (1 - s) : u - threshold * s
        return (u, s)
    }
}
