import SNNCore

/// What an asynchronous run of a batch produced: one ``AsyncSampleResult`` per sample, and the
/// tapes and trace when they were asked for.
public struct AsyncRun: Sendable {
    /// The options of the run.
    public var options: AsyncOptions
    /// Frames (time steps) per sample.
    public var frames: Int
    /// Neurons per population.
    public var populationSizes: [Int]
    /// Per-sample measurements, in batch order.
    public var samples: [AsyncSampleResult]
    /// Per-sample tapes (``AsyncOptions/recordTape``; nil when a frame tape consumer took them).
    public var tapes: [AsyncTape]?
    /// Every emitted spike (``AsyncOptions/recordTrace``).
    public var trace: SpikeTrace?

    public init(options: AsyncOptions, frames: Int, populationSizes: [Int], samples: [AsyncSampleResult]) {
        self.options = options; self.frames = frames; self.populationSizes = populationSizes; self.samples = samples
    }

    /// Predicted class per sample.
    public var predictions: [Int] { samples.map(\.prediction) }

    /// Spikes per population per sample, summed over frames (`[population][sample]`, the layout of
    /// ``LayeredRun/spikeCounts``).
    public var spikeCounts: [[Float]] {
        populationSizes.indices.map { p in
            samples.map { s in Float(s.spikesPerFrame.reduce(0) { $0 + Int($1[p]) }) }
        }
    }

    /// The aggregated measurements.
    public var metrics: AsyncMetrics { AsyncMetrics(self) }
}
