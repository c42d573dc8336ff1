import Foundation

/// What a neuron's membrane does after it spikes.
public enum ResetMode: String, Codable, Hashable, Sendable, CaseIterable {
    /// Hard reset: `V = U * (1 - s)` (the membrane goes to 0). The reference default.
    case zero
    /// Reset by subtraction: `V = U - theta * s`.
    case subtract
}

/// Parameters of a population of leaky integrate-and-fire (LIF) neurons.
///
/// Per time step (frame) of length `dt` the membrane decays, `V <- beta * V` with
/// `beta = exp(-dt / tau_m)`; at every integration `U = V + I`, a spike is
/// `s = H(U - theta)` (strictly greater), and the membrane resets (``ResetMode``). `beta = 1` is
/// the non-leaky integrate-and-fire (IF) neuron. Potentials are in the same arbitrary unit as
/// the synaptic weights; `theta` is in that unit too.
public struct LIFParameters: Codable, Hashable, Sendable {
    /// Membrane decay per time step, `exp(-dt / tau_m)`, in `[0, 1]`; 1 means IF (no leak).
    public var beta: Float
    /// Firing threshold `theta` (spike when `U - theta > 0`).
    public var threshold: Float
    /// Reset after a spike.
    public var reset: ResetMode
    /// Surrogate gradient used by training.
    public var surrogate: Surrogate
    /// When true the reset is treated as a constant in backprop (no gradient through `s` in the reset).
    public var detachReset: Bool
    /// Optional per-neuron decay (overrides ``beta`` where given; count = population size).
    public var perNeuronBeta: [Float]?
    /// Optional batch normalisation of the input current before it is integrated (BNTT, shared BN or
    /// tdBN; see ``InputNormalization``). Its parameters are the population's entry in
    /// ``Network/weights`` and its running statistics ``Network/runningStatistics``. Absent in
    /// model files written before it existed (decoded as nil).
    public var normalization: InputNormalization?
    /// Optional current-based synapse (``SynapticCurrent``): the current into the membrane decays by
    /// `alpha` per time step, `I_t = alpha I_{t-1} + x_t`, in `[0, 1)` (snnTorch's `Synaptic`, NIR's
    /// `CubaLIF`). nil (model files written before it existed): `I_t = x_t`.
    public var synapticDecay: Float?

    public init(beta: Float = 1, threshold: Float = 0.3, reset: ResetMode = .zero,
                surrogate: Surrogate = .default, detachReset: Bool = false, perNeuronBeta: [Float]? = nil,
                normalization: InputNormalization? = nil, synapticDecay: Float? = nil) {
        self.beta = beta; self.threshold = threshold; self.reset = reset
        self.surrogate = surrogate; self.detachReset = detachReset; self.perNeuronBeta = perNeuronBeta
        self.normalization = normalization; self.synapticDecay = synapticDecay
    }

    /// LIF with membrane time constant `tauM` and frame length `dt` (both in seconds): `beta = exp(-dt / tauM)`.
    public static func lif(tauM: Double, dt: Double, threshold: Float = 0.3, reset: ResetMode = .zero,
                           surrogate: Surrogate = .default) -> LIFParameters {
        LIFParameters(beta: Float(exp(-dt / tauM)), threshold: threshold, reset: reset, surrogate: surrogate)
    }

    /// Non-leaky integrate-and-fire.
    public static func integrateAndFire(threshold: Float = 0.3, reset: ResetMode = .zero,
                                        surrogate: Surrogate = .default) -> LIFParameters {
        LIFParameters(beta: 1, threshold: threshold, reset: reset, surrogate: surrogate)
    }

    /// The reference experiments' default: `theta = 0.3`, `tau_m = 1 ms`, `dt = 10 ms` (so `beta = e^-10`),
    /// hard reset, ATan(2) surrogate.
    public static let reference = LIFParameters.lif(tauM: 0.001, dt: 0.010)
}
