import SNNTensor

/// Which queued spikes a sample emits at each forward step of the asynchronous engine.
///
/// Every sample keeps one queue of pending spikes spanning all populations. At a forward step the
/// scheduler picks at most `F` (``AsyncOptions/forwardGroupSize``) of them; the rest wait.
///
/// - ``Kind/random``: `F` queued spikes chosen uniformly at random (without replacement)
///   (``RandomScheduler``).
/// - ``Kind/momentum``: the queued spikes with the highest pre-spike potential `P` first — the most
///   over-driven neurons fire first — with tiny uniform noise `lambda * u`, `u` in `[0, 1)`, added to
///   the key to break ties (``MomentumScheduler``).
///
/// Both draw their random numbers from a ``CounterRNG`` stream keyed by the sample's global index,
/// so a run is reproducible from its seed and independent of the thread count. With `F = nil`
/// (infinity) every queued spike leaves at once and no random number is drawn: both schedulers are
/// then the layered execution.
public struct Scheduler: Codable, Hashable, Sendable, CustomStringConvertible {
    /// The scheduling strategies of the layer-synchronisation study.
    public enum Kind: String, Codable, Hashable, Sendable, CaseIterable {
        case random
        case momentum
    }

    /// The strategy.
    public var kind: Kind
    /// Momentum only: the tie-breaking noise scale `lambda` (in membrane units, like `P`).
    public var noise: Float

    public init(kind: Kind, noise: Float = 1e-6) {
        self.kind = kind
        self.noise = noise
    }

    /// Uniformly random choice among the queued spikes.
    public static let random = Scheduler(kind: .random, noise: 0)
    /// Highest `P` first with the reference's tie-breaking noise `lambda = 1e-6`.
    public static let momentum = Scheduler(kind: .momentum, noise: 1e-6)

    /// Momentum with noise scale `lambda`.
    public static func momentum(noise lambda: Float) -> Scheduler { Scheduler(kind: .momentum, noise: lambda) }

    /// Momentum with annealed noise: the scale moves geometrically from `initial` to `final` as
    /// `progress` goes from 0 to 1 (e.g. the fraction of training done). A large initial noise
    /// makes momentum behave like random scheduling early in training; the final noise is the
    /// tie-breaker. `progress` is clamped to `[0, 1]`; scales must be positive.
    public static func annealedMomentum(initial: Float, final: Float, progress: Double) -> Scheduler {
        let t = Float(min(1, max(0, progress)))
        let lambda = initial * powf(final / initial, t)
        return Scheduler(kind: .momentum, noise: lambda)
    }

    public var description: String {
        switch kind {
        case .random: return "random"
        case .momentum: return "momentum(lambda=\(noise))"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
