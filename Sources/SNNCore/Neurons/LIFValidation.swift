extension LIFParameters {
    /// Why these parameters cannot run, or nil when they can: `beta` (and every per-neuron decay)
    /// in `[0, 1]`, `threshold` finite and positive, the surrogate's parameters finite and positive.
    /// The CLI refuses the same values in its options and ``ModelFile`` refuses them on load.
    public var problem: String? {
        guard beta.isFinite, beta >= 0, beta <= 1 else { return "beta \(beta) is outside [0, 1]" }
        if let b = perNeuronBeta, let bad = b.first(where: { !($0 >= 0 && $0 <= 1) }) {
            return "a per-neuron decay \(bad) is outside [0, 1]"
        }
        guard threshold.isFinite, threshold > 0 else { return "threshold \(threshold) must be finite and positive" }
        if let a = synapticDecay, !(a >= 0 && a < 1) { return "synaptic decay alpha \(a) is outside [0, 1)" }
        if let p = surrogate.problem { return p }
        return nil
    }
}

extension Surrogate {
    /// Why this surrogate cannot be used (a non-finite or non-positive width, slope or height), or nil.
    public var problem: String? {
        let values: [(String, Float)]
        switch self {
        case .atan(let a): values = [("atan alpha", a)]
        case .fastSigmoid(let s): values = [("fast-sigmoid slope", s)]
        case .sigmoid(let s): values = [("sigmoid slope", s)]
        case .triangle(let h, let w): values = [("triangle height", h), ("triangle half-width", w)]
        }
        for (name, v) in values where !(v.isFinite && v > 0) { return "surrogate \(name) \(v) must be finite and positive" }
        return nil
    }
}
