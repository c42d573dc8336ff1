/// How the asynchronous engine runs a batch: the forward group size `F`, the scheduler, the stop
/// rule, refractoriness and what to record.
public struct AsyncOptions: Codable, Hashable, Sendable {
    /// `F`: at most this many queued spikes leave per sample per forward step; `nil` is infinity
    /// (every queued spike leaves at once, which is layered execution).
    public var forwardGroupSize: Int?
    /// The scheduler that picks the spikes to emit.
    public var scheduler: Scheduler
    /// When a frame ends.
    public var stopRule: StopRule
    /// Probability that a spike does *not* set its neuron's refractory flag (a training aid).
    /// Default 0: off, as at evaluation.
    public var refractoryDropout: Float
    /// Reference (asynctorch) compatibility, off by default. When on: (1) a frame also ends when the
    /// queue is empty and no pending current is positive — the pending non-positive currents are
    /// dropped instead of integrated; (2) when a stop rule ends a frame, every pending current is
    /// dropped (the reference loses the currents of the last emission). Default: pending currents
    /// are always integrated (at quiescence in the same frame, after an early stop at the first
    /// forward step of the next frame, after that frame's decay).
    public var dropsPendingNegativeCurrentsOnStop: Bool
    /// Seed of the scheduler's and refractory dropout's random numbers.
    public var seed: UInt64
    /// Global index of the batch's first sample: random streams are keyed by
    /// `sampleIndexOffset + b`, so splitting a dataset into batches does not change results.
    public var sampleIndexOffset: Int
    /// Record an ``AsyncTape`` per sample (what unlayered backprop needs).
    public var recordTape: Bool
    /// Record every emitted spike (``SpikeTrace``).
    public var recordTrace: Bool
    /// Count, per neuron and frame, the currents delivered before its first spike of the frame
    /// (costs one counter increment per synaptic event).
    public var measuresCurrentsToSpike: Bool
    /// Bins of the currents-to-spike histogram (the last bin holds every larger count).
    public var currentsToSpikeBins: Int

    /// Why these options cannot run, or nil: `F` below 1 (no spike would ever leave, so a frame never
    /// ends), a refractory dropout outside `[0, 1]`, or a non-finite or negative scheduler noise.
    public var problem: String? {
        if let f = forwardGroupSize, f < 1 { return "forward group size F must be at least 1 (or infinity), got \(f)" }
        guard refractoryDropout >= 0, refractoryDropout <= 1 else { return "refractory dropout \(refractoryDropout) is outside [0, 1]" }
        guard scheduler.noise.isFinite, scheduler.noise >= 0 else {
            return "momentum scheduler noise \(scheduler.noise) must be finite and not negative"
        }
        guard currentsToSpikeBins >= 1 else { return "currentsToSpikeBins must be at least 1" }
        return nil
    }

    public init(forwardGroupSize: Int? = nil, scheduler: Scheduler = .momentum, stopRule: StopRule = .onSpikingDone,
                refractoryDropout: Float = 0, dropsPendingNegativeCurrentsOnStop: Bool = false, seed: UInt64 = 0,
                sampleIndexOffset: Int = 0, recordTape: Bool = false, recordTrace: Bool = false,
                measuresCurrentsToSpike: Bool = true, currentsToSpikeBins: Int = 64) {
        // fatalError, not precondition: release builds (-Ounchecked) drop preconditions, and F < 1 never ends.
        if let f = forwardGroupSize, f < 1 { fatalError("AsyncOptions: forward group size F must be at least 1 (or nil for infinity), got \(f)") }
        self.forwardGroupSize = forwardGroupSize
        self.scheduler = scheduler
        self.stopRule = stopRule
        self.refractoryDropout = refractoryDropout
        self.dropsPendingNegativeCurrentsOnStop = dropsPendingNegativeCurrentsOnStop
        self.seed = seed
        self.sampleIndexOffset = sampleIndexOffset
        self.recordTape = recordTape
        self.recordTrace = recordTrace
        self.measuresCurrentsToSpike = measuresCurrentsToSpike
        self.currentsToSpikeBins = max(1, currentsToSpikeBins)
    }
}
