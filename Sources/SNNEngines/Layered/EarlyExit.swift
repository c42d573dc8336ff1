import SNNCore

/// BNTT's early exit (Kim & Panda 2020): after training, the channel-mean of `gamma_t` of each BNTT
/// population tells how much time step `t` contributes; inference stops once it is small.
///
/// Two rules (see `BNTT.md`): ``Rule/tail`` exits at the earliest step after which every layer's mean
/// gamma stays below the threshold; ``Rule/naive`` at the first step where the mean over layers drops
/// below it (it fires early when deep layers start with small gammas).
public struct GammaProfile: Sendable, Codable, Equatable {
    /// How the exit step is chosen.
    public enum Rule: String, Sendable, Codable, CaseIterable {
        case tail, naive
    }

    /// The BNTT populations' layer indices.
    public var layers: [Int]
    /// `meanGamma[k][t]`: channel mean of gamma of population `layers[k]` at step `t`.
    public var meanGamma: [[Float]]
    /// Steps with their own gamma (the smallest over the layers).
    public var steps: Int { meanGamma.map(\.count).min() ?? 0 }

    /// The profile of `network`'s BNTT populations (empty when it has none).
    public init(network: Network) {
        layers = network.normalizationIndices.filter { network.spec.layers[$0].normalization?.kind == .bntt }
        meanGamma = layers.map { i in
            let norm = network.spec.layers[i].normalization!
            let w = network.weights[i]
            return (0..<norm.steps).map { t in
                var s: Float = 0
                for c in 0..<norm.channels { s += w.data[t * norm.channels + c] }
                return s / Float(norm.channels)
            }
        }
    }

    public init(layers: [Int], meanGamma: [[Float]]) { self.layers = layers; self.meanGamma = meanGamma }

    /// Mean over the layers at each step.
    public var layerMean: [Float] {
        (0..<steps).map { t in meanGamma.reduce(0) { $0 + $1[t] } / Float(max(meanGamma.count, 1)) }
    }

    /// The number of steps to run (1...`steps`) for `threshold` (must be in (0, inf)).
    public func exitSteps(threshold: Float, rule: Rule) throws -> Int {
        guard threshold > 0, threshold.isFinite else { throw EarlyExitError("early-exit threshold \(threshold) is outside (0, inf)") }
        guard steps > 0 else { throw EarlyExitError("the network has no BNTT layer: early exit needs per-step gammas") }
        switch rule {
        case .naive:
            let mean = layerMean
            return max(1, mean.firstIndex { $0 < threshold } ?? steps)
        case .tail:
            // Earliest t with every layer below the threshold at t and every later step.
            var t = steps
            while t > 0, meanGamma.allSatisfy({ $0[t - 1] < threshold }) { t -= 1 }
            return max(1, t)
        }
    }
}

/// A bad early-exit request (threshold outside (0, inf), no BNTT layer).
public struct EarlyExitError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
