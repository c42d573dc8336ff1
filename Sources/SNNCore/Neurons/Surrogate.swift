import Foundation

/// A surrogate gradient: the forward pass of a spiking neuron is the Heaviside step `H(x)` of
/// `x = U - theta` (membrane minus threshold); the backward pass replaces the step's derivative
/// (a Dirac delta) by the smooth function ``gradient(_:)``.
///
/// Each case also provides ``smoothStep(_:)``, the smooth function whose derivative is the
/// surrogate; tests use it to check gradients against finite differences.
public enum Surrogate: Codable, Hashable, Sendable {
    /// `1 / (pi * (1 + (pi * x * alpha / 2)^2))`, the arctangent surrogate as the reference
    /// asynchronous implementation writes it (SPEC section 1). Reference alpha: 2. It is snnTorch's
    /// `ATan` divided by `pi * alpha / 2`.
    case atan(alpha: Float)
    /// `1 / (1 + slope * |x|)^2`, the fast sigmoid (SuperSpike). Reference slope: 25.
    case fastSigmoid(slope: Float)
    /// `slope * e^(-slope x) / (1 + e^(-slope x))^2`, the derivative of the logistic sigmoid.
    case sigmoid(slope: Float)
    /// `height * max(0, 1 - |x| / halfWidth)`, the piecewise-linear surrogate BNTT uses (height 0.3, half-width 1).
    case triangle(height: Float, halfWidth: Float)

    /// The reference default, `atan(alpha: 2)`.
    public static let `default` = Surrogate.atan(alpha: 2)

    /// The surrogate derivative at `x = U - theta`.
    @inlinable public func gradient(_ x: Float) -> Float {
        switch self {
        case .atan(let alpha):
            let z = Float.pi * x * alpha / 2
            return 1 / (Float.pi * (1 + z * z))
        case .fastSigmoid(let slope):
            let d = 1 + slope * abs(x)
            return 1 / (d * d)
        case .sigmoid(let slope):
            let e = expf(-slope * x)
            return slope * e / ((1 + e) * (1 + e))
        case .triangle(let height, let halfWidth):
            return height * max(0, 1 - abs(x) / halfWidth)
        }
    }

    /// A smooth step whose derivative is ``gradient(_:)`` (for finite-difference checks).
    public func smoothStep(_ x: Float) -> Float {
        switch self {
        case .atan(let alpha):
            // d/dx [2 / (pi^2 alpha) * atan(pi alpha x / 2)] = 1 / (pi (1 + (pi alpha x / 2)^2))
            return 2 / (Float.pi * Float.pi * alpha) * atanf(Float.pi * x * alpha / 2) + 0.5
        case .fastSigmoid(let slope):
            return 0.5 + x / (1 + slope * abs(x))
        case .sigmoid(let slope):
            return 1 / (1 + expf(-slope * x))
        case .triangle(let h, let w):
            if x <= -w { return 0 }
            if x <= 0 { return h * ((x + w) + (x * x - w * w) / (2 * w)) }
            if x <= w { return h * (w / 2 + x - x * x / (2 * w)) }
            return h * w
        }
    }
}

extension Surrogate: CustomStringConvertible {
    public var description: String {
        switch self {
        case .atan(let a): return "atan(alpha: \(a))"
        case .fastSigmoid(let s): return "fastSigmoid(slope: \(s))"
        case .sigmoid(let s): return "sigmoid(slope: \(s))"
        case .triangle(let h, let w): return "triangle(height: \(h), halfWidth: \(w))"
        }
    }

    /// Parses `atan`, `atan:2`, `fast-sigmoid:25`, `sigmoid:5`, `triangle:0.3` (height; half-width 1).
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, !name.isEmpty else { return nil }
        let value = parts.count > 1 ? Float(parts[1]) : nil
        if parts.count > 1 && value == nil { return nil }
        switch name {
        case "atan": self = .atan(alpha: value ?? 2)
        case "fast-sigmoid", "fastsigmoid": self = .fastSigmoid(slope: value ?? 25)
        case "sigmoid": self = .sigmoid(slope: value ?? 5)
        case "triangle": self = .triangle(height: value ?? 0.3, halfWidth: 1)
        default: return nil
        }
    }
}
