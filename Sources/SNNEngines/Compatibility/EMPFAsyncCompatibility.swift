import SNNCore

extension AsyncCompatibility {
    /// EM-PF networks (graded spikes, learnable per-channel decays and thresholds, membrane batch norm,
    /// binary weights) are not run by the asynchronous engine yet: always throws, naming what is missing.
    public static func check(_ spec: EMPFSpec) throws {
        let graded = spec.layers.contains { if case .neuron(let n) = $0 { return n.kind.isGraded } else { return false } }
        throw AsyncEngineError("EM-PF networks\(graded ? " (graded spikes: an event would have to carry a value)" : "") are not run by the asynchronous engine yet; they run step by step (snn train --method, snn experiment empf)")
    }
}
