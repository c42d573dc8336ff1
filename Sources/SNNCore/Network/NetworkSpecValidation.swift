extension NetworkSpec {
    /// Why this network cannot be trained or run, beyond its shapes (``shapes()``), or nil: it has
    /// no layers or no layer with weights, or a LIF layer's parameters are out of range
    /// (``LIFParameters/problem``). The CLI refuses such an architecture and ``ModelFile`` such a file.
    public var problem: String? {
        guard !layers.isEmpty else { return "the network has no layers" }
        guard layers.contains(where: \.hasWeights) else { return "the network has no layer with weights (linear or conv)" }
        for (i, layer) in layers.enumerated() {
            if case .lif(let p) = layer, let problem = p.problem { return "layer \(i) (lif): \(problem)" }
        }
        return nil
    }
}
