import SNNCore

/// What the asynchronous engine and unlayered training cannot run, checked before any work.
public enum AsyncCompatibility {
    /// Throws for networks the asynchronous engine cannot evaluate.
    ///
    /// Normalised populations (BNTT, BN, tdBN) and populations with a bias current run in their folded form (a per-channel scale of the
    /// incoming currents and a bias current at frame start, see ``AsyncEngine``), a trailing synaptic
    /// layer without neurons runs as a non-spiking read-out; the structural checks are the engine's.
    /// `frames`, when given, is checked against the time steps BNTT has statistics for; `stopRule`
    /// against a read-out (which emits no output spikes for `on-output` to wait for).
    public static func check(_ spec: NetworkSpec, frames: Int? = nil, stopRule: StopRule? = nil) throws {
        if let stopRule, case .onOutput = stopRule, let last = spec.layers.last, !last.isNeuron {
            throw AsyncEngineError("the stop rule \(stopRule.description) waits for output spikes, but the network ends with a non-spiking read-out (\(last.shortName)): use on-spiking-done or max-steps:N")
        }
        for (i, layer) in spec.layers.enumerated() {
            if case .lif(let p) = layer, let alpha = p.synapticDecay { throw AsyncEngineError(synapticCurrentProblem(layer: i, alpha: alpha)) }
        }
        if let frames { try checkFrames(spec, frames: frames) }
    }

    /// Throws when `frames` exceeds the time steps a BNTT layer has statistics for: a check of the data
    /// against the network that holds for the layered engine too (it calls no asynchronous feature).
    public static func checkFrames(_ spec: NetworkSpec, frames: Int) throws {
        for (i, layer) in spec.layers.enumerated() {
            guard let norm = layer.normalization, norm.kind == .bntt, frames > norm.steps else { continue }
            throw AsyncEngineError("layer \(i) (\(layer.shortName)) has BNTT statistics for \(norm.steps) time steps; the data has \(frames) frames (--frames)")
        }
    }

    /// Why a population with a current-based synapse cannot run asynchronously.
    static func synapticCurrentProblem(layer i: Int, alpha: Float) -> String {
        "layer \(i) has a current-based synapse (synaptic decay alpha = \(alpha), NIR CubaLIF / snnTorch Synaptic): the asynchronous engine does not run synaptic-current populations (their current outlasts the frame, so a neuron must integrate in frames without input events); evaluate it with --mode layered"
    }

    /// Throws for networks that unlayered backprop (training through the asynchronous execution)
    /// cannot train: normalised populations and non-spiking read-outs (their gradients through the
    /// event order are not derived).
    public static func checkTraining(_ spec: NetworkSpec) throws {
        try check(spec)
        if let i = spec.layers.firstIndex(where: { $0.normalization?.kind == .bias }) {
            throw AsyncEngineError("layer \(i) (\(spec.layers[i].shortName)) has a bias current; unlayered training (--mode async) does not train biases (their gradient through the event order is not derived): train with --mode layered and evaluate with --mode async")
        }
        if let i = spec.layers.firstIndex(where: { $0.normalization != nil }) {
            throw AsyncEngineError("layer \(i) (\(spec.layers[i].shortName)) has batch normalisation (\(spec.layers[i].normalization!.kind.rawValue)); unlayered training (--mode async) does not train normalised populations: train with --mode layered and evaluate with --mode async")
        }
        if let last = spec.layers.last, !last.isNeuron {
            throw AsyncEngineError("the last layer (\(last.shortName)) is a non-spiking read-out; unlayered training (--mode async) needs output spikes: train with --mode layered and evaluate with --mode async")
        }
    }
}
