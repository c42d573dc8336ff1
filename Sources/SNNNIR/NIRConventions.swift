import Foundation

/// How NIR's continuous-time membrane equation `tau dv/dt = (v_leak - v) + r I` becomes SNNKit's
/// per-frame update `V <- beta V + I` (frame length `dt`, seconds). See docs/NIR.md.
public enum NIRDiscretization: String, CaseIterable, Sendable, Codable {
    /// Forward Euler, what snnTorch writes and reads (and Norse integrates with):
    /// `beta = 1 - dt / tau`, input gain `r dt / tau`. Export writes `tau = dt / (1 - beta)`, `r = tau / dt`
    /// (gain 1).
    case euler
    /// The exact solution for an input held constant over the frame (zero-order hold):
    /// `beta = exp(-dt / tau)`, input gain `r (1 - beta)`. Export writes `tau = -dt / ln(beta)`,
    /// `r = 1 / (1 - beta)` (gain 1).
    case exact

    /// The decay per frame of a membrane with time constant `tau` (seconds).
    public func beta(tau: Double, dt: Double) -> Double {
        switch self {
        case .euler: return 1 - dt / tau
        case .exact: return exp(-dt / tau)
        }
    }

    /// The factor on the input current `r I` per frame.
    public func gain(tau: Double, r: Double, dt: Double) -> Double {
        switch self {
        case .euler: return r * dt / tau
        case .exact: return r * (1 - exp(-dt / tau))
        }
    }

    /// `tau` and `r` that give decay `beta` with input gain 1 (nil when `beta` has no finite time constant).
    public func timeConstant(beta: Double, dt: Double) -> (tau: Double, r: Double)? {
        guard beta < 1, beta >= 0 else { return nil }
        switch self {
        case .euler:
            let tau = dt / (1 - beta)
            return (tau, tau / dt)
        case .exact:
            guard beta > 0 else { return nil }
            return (-dt / log(beta), 1 / (1 - beta))
        }
    }
}

/// Who wrote a NIR file, when its writer departs from NIR's equations (docs/NIR.md, "Norse").
public enum NIRProducer: String, CaseIterable, Sendable, Codable {
    /// NIR's equations as written (snnTorch, Python's `nir`, SNNKit).
    case nir
    /// Norse 1.1's `to_nir`: every time constant is written as `dt / tau_inv` (the time constant in seconds
    /// times `dt`), and a CubaLIF's input jumps into the synaptic current (`i <- i + w_in x`) instead of
    /// entering through `dt / tau_syn`.
    case norse
}

/// Options of NIR import and export.
public struct NIROptions: Sendable {
    /// Frame length in seconds: the time step NIR's time constants are discretised with. Default
    /// `1e-4`, what snnTorch's exporter assumes.
    public var dt: Double
    /// How time constants become decays.
    public var discretization: NIRDiscretization
    /// Whose conventions the file follows (import only).
    public var producer: NIRProducer
    /// The default frame length (snnTorch's export `dt`), seconds.
    public static let defaultDt = 1e-4

    public init(dt: Double = NIROptions.defaultDt, discretization: NIRDiscretization = .euler, producer: NIRProducer = .nir) {
        self.dt = dt; self.discretization = discretization; self.producer = producer
    }

    /// A time constant read from the file, in seconds (Norse's files hold `dt` times it).
    func timeConstant(_ stored: Double) -> Double { producer == .norse ? stored / dt : stored }

    /// Why the options cannot be used, or nil.
    public var problem: String? {
        guard dt.isFinite, dt > 0 else { return "--dt \(dt) must be a positive number of seconds" }
        return nil
    }
}
