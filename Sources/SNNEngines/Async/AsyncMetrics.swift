import SNNCore

/// The measurements of the layer-synchronisation study, aggregated over the samples of one or more
/// asynchronous runs (means are per sample unless said otherwise). Codable, for JSON reports.
public struct AsyncMetrics: Codable, Hashable, Sendable {
    /// Samples measured.
    public var samples: Int
    /// `F` (nil: infinity), scheduler and stop rule, as text.
    public var forwardGroupSize: Int?
    public var scheduler: String
    public var stopRule: String
    /// Frames per sample.
    public var frames: Int
    /// Samples with a label, and how many were predicted correctly.
    public var labelled: Int
    public var correct: Int
    /// `correct / labelled` (0 without labels).
    public var accuracy: Double
    /// Spikes fired per sample (all populations), and per population.
    public var spikesPerSample: Double
    public var spikesPerSamplePerLayer: [Double]
    /// Spike density per population: spikes / (neurons x frames), averaged over samples.
    public var spikeDensityPerLayer: [Double]
    /// Overall spike density: all spikes / (all neurons x frames).
    public var spikeDensity: Double
    /// Spikes emitted per sample, and spikes left in the queue at the end of a sample.
    public var emittedSpikesPerSample: Double
    public var spikesLeftInQueuePerSample: Double
    /// Forward steps per frame (mean over all frames) and per sample.
    public var forwardStepsPerFrame: Double
    public var forwardStepsPerSample: Double
    /// Fraction of frames ended early by the stop rule.
    public var framesStoppedEarlyFraction: Double
    /// Samples that emitted at least one output spike, and at least one of the right class.
    public var samplesWithOutput: Int
    public var samplesWithCorrectOutput: Int
    /// Mean global forward step (from 1, counted across frames) of the first output spike, over the
    /// samples that had one; same for the first output spike of the labelled class.
    public var firstOutputStep: Double?
    public var firstCorrectOutputStep: Double?
    /// Mean spikes emitted by the whole network up to the first (correct) output spike.
    public var spikesUntilFirstOutput: Double?
    public var spikesUntilFirstCorrectOutput: Double?
    /// Summed histogram of the currents a neuron received in a frame before its first spike of the
    /// frame (last bin: that many or more), and its mean (bins taken at their index).
    public var currentsToSpikeHistogram: [Int]
    public var meanCurrentsToSpike: Double?
    /// Queue length per forward step (after new spikes joined, before the pick): mean over all
    /// forward steps, and maximum.
    public var queueLengthMean: Double
    public var queueLengthMax: Int
    /// Synaptic operations per sample (NeuroBench).
    public var synapticOperationsPerSample: SynapticOperations
    /// EM-PF networks: the values of the spikes each population fired, summed per sample (mean over
    /// samples); nil for binary-spike networks.
    public var spikeValuePerSamplePerLayer: [Double]? = nil

    static func mean(_ xs: [Int]) -> Double? { xs.isEmpty ? nil : Double(xs.reduce(0, +)) / Double(xs.count) }

    /// Aggregates one run.
    public init(_ run: AsyncRun) { self.init(runs: [run]) }

    /// Aggregates several runs with the same options and network (e.g. the batches of a dataset).
    public init(runs: [AsyncRun]) {
        let first = runs.first
        let all = runs.flatMap(\.samples)
        let sizes = first?.populationSizes ?? []
        let frames = first?.frames ?? 0
        let n = Double(max(1, all.count))
        samples = all.count
        forwardGroupSize = first?.options.forwardGroupSize
        scheduler = first.map { $0.options.scheduler.description } ?? ""
        stopRule = first.map { $0.options.stopRule.description } ?? ""
        self.frames = frames
        labelled = all.filter { $0.label != nil }.count
        correct = all.filter(\.correct).count
        accuracy = labelled > 0 ? Double(correct) / Double(labelled) : 0
        var perLayer = [Double](repeating: 0, count: sizes.count)
        for s in all { for f in s.spikesPerFrame { for p in f.indices { perLayer[p] += Double(f[p]) } } }
        let layerMeans = perLayer.map { $0 / n }
        spikesPerSamplePerLayer = layerMeans
        let total = layerMeans.reduce(0, +)
        spikesPerSample = total
        spikeDensityPerLayer = sizes.indices.map { layerMeans[$0] / Double(max(1, sizes[$0] * frames)) }
        spikeDensity = total / Double(max(1, sizes.reduce(0, +) * frames))
        emittedSpikesPerSample = Double(all.reduce(0) { $0 + $1.emittedSpikes }) / n
        spikesLeftInQueuePerSample = Double(all.reduce(0) { $0 + $1.spikesLeftInQueue }) / n
        let totalSteps = Double(all.reduce(0) { $0 + $1.forwardSteps })
        let totalFrames = Double(all.reduce(0) { $0 + $1.forwardStepsPerFrame.count })
        forwardStepsPerFrame = totalSteps / max(1, totalFrames)
        forwardStepsPerSample = totalSteps / n
        framesStoppedEarlyFraction = Double(all.reduce(0) { $0 + $1.framesStoppedEarly }) / max(1, totalFrames)
        let outs = all.compactMap(\.firstOutputStep)
        samplesWithOutput = outs.count
        firstOutputStep = AsyncMetrics.mean(outs)
        spikesUntilFirstOutput = AsyncMetrics.mean(all.compactMap(\.spikesUntilFirstOutput))
        let correctOuts = all.compactMap(\.firstCorrectOutputStep)
        samplesWithCorrectOutput = correctOuts.count
        firstCorrectOutputStep = AsyncMetrics.mean(correctOuts)
        spikesUntilFirstCorrectOutput = AsyncMetrics.mean(all.compactMap(\.spikesUntilFirstCorrectOutput))
        var hist = [Int](repeating: 0, count: all.map(\.currentsToSpikeHistogram.count).max() ?? 0)
        for s in all { for (i, c) in s.currentsToSpikeHistogram.enumerated() { hist[i] += c } }
        currentsToSpikeHistogram = hist
        let histTotal = hist.reduce(0, +)
        meanCurrentsToSpike = histTotal > 0 ? Double(hist.enumerated().reduce(0) { $0 + $1.offset * $1.element }) / Double(histTotal) : nil
        queueLengthMean = all.reduce(0) { $0 + $1.queueLengthSum } / max(1, totalSteps)
        queueLengthMax = all.map(\.queueLengthMax).max() ?? 0
        var ops = SynapticOperations()
        for s in all { ops += s.synapticOperations }
        synapticOperationsPerSample = SynapticOperations(accumulates: ops.accumulates / n, multiplyAccumulates: ops.multiplyAccumulates / n)
        if all.contains(where: { $0.spikeValueSums != nil }) {
            var sums = [Double](repeating: 0, count: sizes.count)
            for s in all { for (p, v) in (s.spikeValueSums ?? []).enumerated() { sums[p] += v } }
            spikeValuePerSamplePerLayer = sums.map { $0 / n }
        }
    }
}
