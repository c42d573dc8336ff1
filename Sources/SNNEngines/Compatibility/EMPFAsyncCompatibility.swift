import SNNCore

extension AsyncCompatibility {
    /// Throws for EM-PF networks the asynchronous engine cannot evaluate (``AsyncEngine/init(empf:)``),
    /// naming the layer.
    ///
    /// Graded spikes, learnable per-channel or per-neuron decays and thresholds, membrane batch norm
    /// (running statistics) and binary weights run. Channel attention does not: its gate
    /// `sigmoid(conv1d(mean_hw(x)))` needs the channel means of a whole frame's spike map before any
    /// spike of that map may leave, which no event order provides. `stopRule` is checked against a
    /// read-out (which emits no output spikes for `on-output` to wait for).
    public static func check(_ spec: EMPFSpec, stopRule: StopRule? = nil) throws {
        if let i = spec.layers.firstIndex(where: { if case .channelAttention = $0 { return true } else { return false } }) {
            throw AsyncEngineError("layer \(i) (\(spec.layers[i].shortName)) is channel attention: its gate needs the channel means of a whole frame's spike map, so the asynchronous engine does not run it; evaluate with --mode layered, or train without --channel-attention")
        }
        if let stopRule, case .onOutput = stopRule, case .synaptic(let last)? = spec.layers.last {
            throw AsyncEngineError("the stop rule \(stopRule.description) waits for output spikes, but the network ends with a non-spiking read-out (\(last.shortName)): use on-spiking-done or max-steps:N")
        }
    }
}
