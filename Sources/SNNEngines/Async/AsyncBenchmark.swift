import SNNCore
import SNNTensor

/// Throughput of the asynchronous engine, for `snn bench`.
///
/// Runs the same batch repeatedly for about `seconds` (at least once) with the measurements that
/// cost extra work switched off (no tape, no trace, no currents-to-spike counting) and reports
/// samples per second and synaptic events (synaptic operations, NeuroBench) per second.
public enum AsyncBenchmark {
    /// One measurement.
    public struct Result: Codable, Hashable, Sendable {
        /// `F` (nil: infinity), scheduler name, batch size.
        public var forwardGroupSize: Int?
        public var scheduler: String
        public var batch: Int
        /// Samples run per second of wall time.
        public var samplesPerSecond: Double
        /// Synaptic events (accumulates + multiply-accumulates) per second.
        public var synapticEventsPerSecond: Double
        /// Spikes emitted per second.
        public var spikesPerSecond: Double
        /// Mean forward steps per frame (how far the wave was spread out).
        public var forwardStepsPerFrame: Double
        /// Accuracy on the given labels (0 without labels).
        public var accuracy: Double
        /// Batches run and seconds spent.
        public var batches: Int
        public var seconds: Double
    }

    /// Measures the engine on one batch `inputs` (`[T, batch] + inputShape`).
    public static func run(network: Network, inputs: Tensor, labels: [Int]? = nil, F: Int?, scheduler: Scheduler,
                           stopRule: StopRule = .onSpikingDone, seconds: Double = 1, seed: UInt64 = 0) throws -> Result {
        let engine = try AsyncEngine(network: network)
        let options = AsyncOptions(forwardGroupSize: F, scheduler: scheduler, stopRule: stopRule, seed: seed,
                                   measuresCurrentsToSpike: false)
        let batch = inputs.shape[1]
        _ = engine.run(inputs: inputs, labels: labels, options: options)  // warm-up
        let clock = ContinuousClock()
        let start = clock.now
        var batches = 0
        var ops = 0.0, spikes = 0.0
        var last: AsyncRun?
        var elapsed = 0.0
        repeat {
            let r = engine.run(inputs: inputs, labels: labels, options: options)
            for s in r.samples { ops += s.synapticOperations.total; spikes += Double(s.emittedSpikes) }
            last = r
            batches += 1
            let d = clock.now - start
            elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        } while elapsed < seconds
        let m = last!.metrics
        return Result(forwardGroupSize: F, scheduler: scheduler.kind.rawValue, batch: batch,
                      samplesPerSecond: Double(batches * batch) / elapsed, synapticEventsPerSecond: ops / elapsed,
                      spikesPerSecond: spikes / elapsed, forwardStepsPerFrame: m.forwardStepsPerFrame,
                      accuracy: m.accuracy, batches: batches, seconds: elapsed)
    }

    /// Random binary input frames `[frames, batch] + shape` with the given density (about 8% for
    /// N-MNIST-like event frames), from a seeded counter-based generator.
    public static func randomInputs(frames: Int, batch: Int, shape: [Int], density: Float = 0.08, seed: UInt64 = 0) -> Tensor {
        let n = frames * batch * shape.reduce(1, *)
        let rng = CounterRNG(seed: seed)
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n where rng.uniform(stream: 0xBE7C, counter: UInt64(i)) < density { data[i] = 1 }
        return Tensor(shape: [frames, batch] + shape, data: data)
    }
}
