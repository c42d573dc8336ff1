/// When the asynchronous engine ends a frame (time step) of a sample.
///
/// Without a stop rule that ends it earlier, a frame ends at quiescence: the sample's queue is empty
/// and no current is pending. When a rule ends a frame early, the spikes still queued carry over to
/// the next frame (and pending currents too, unless
/// ``AsyncOptions/dropsPendingNegativeCurrentsOnStop`` asks for the reference behaviour). Forward
/// steps are counted per frame from 1.
public enum StopRule: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Drain every frame to quiescence ("on spiking done").
    case onSpikingDone
    /// "On output": if the sample's first output spike *of this frame* is emitted at forward step
    /// `s` of the frame, the frame ends after forward step `s + k` (so `k = 0` stops right after the
    /// step that emitted it). The latency knob of the study; the output counters of every frame
    /// are reset, as in the reference implementation.
    case onOutput(k: Int)
    /// End a frame after at most `n` forward steps (n >= 1).
    case maxForwardSteps(Int)

    public var description: String {
        switch self {
        case .onSpikingDone: return "on-spiking-done"
        case .onOutput(let k): return "on-output:\(k)"
        case .maxForwardSteps(let n): return "max-steps:\(n)"
        }
    }

    /// Whether the frame must end after forward step `step` (1-based within the frame), given the
    /// forward step of the frame's first output spike.
    func stops(afterStep step: Int, firstOutputStep: Int?) -> Bool {
        switch self {
        case .onSpikingDone: return false
        case .onOutput(let k): if let s = firstOutputStep { return step >= s + k } else { return false }
        case .maxForwardSteps(let n): return step >= n
        }
    }
}
