import SNNCore

/// What the asynchronous engine cannot run yet, checked before it compiles a network.
public enum AsyncCompatibility {
    /// Throws for networks with normalised populations (BNTT, BN, tdBN): their folded form
    /// (``InputNormalization/folded(parameters:statistics:threshold:step:)``) is not wired into the
    /// event-driven engine yet.
    public static func check(_ spec: NetworkSpec) throws {
        if let i = spec.layers.firstIndex(where: { $0.normalization != nil }) {
            throw AsyncEngineError("layer \(i) (\(spec.layers[i].shortName)) has batch normalisation (\(spec.layers[i].normalization!.kind.rawValue)); the asynchronous engine does not run normalised populations yet: use --mode layered")
        }
    }
}
