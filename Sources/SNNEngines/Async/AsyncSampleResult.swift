import SNNCore

/// The measurements of one sample's asynchronous run.
///
/// Forward steps are counted from 1; "global" steps count across the frames of the sample (the
/// first step of frame 2 follows the last step of frame 1). Spikes are counted when a neuron fires
/// (they join the queue), emitted spikes when the scheduler lets them leave.
public struct AsyncSampleResult: Codable, Hashable, Sendable {
    /// Predicted class: argmax of the output spike counts (or read-out currents) summed over frames
    /// (first maximum on ties).
    public var prediction: Int
    /// The label, when given.
    public var label: Int?
    /// Emitted output spikes per frame per class.
    public var outputCounts: [[Int32]]
    /// Spikes fired per frame per population.
    public var spikesPerFrame: [[Int32]]
    /// Spikes emitted in total (all populations).
    public var emittedSpikes: Int
    /// Spikes still queued when the sample ended (never emitted).
    public var spikesLeftInQueue: Int
    /// Forward steps of every frame.
    public var forwardStepsPerFrame: [Int32]
    /// Frames ended early by the stop rule.
    public var framesStoppedEarly: Int
    /// Global forward step (from 1) of the first emitted output spike, and its frame (from 0).
    public var firstOutputStep: Int?
    public var firstOutputFrame: Int?
    /// Spikes emitted by the whole network up to and including the step of the first output spike.
    public var spikesUntilFirstOutput: Int?
    /// Global forward step of the first emitted output spike of the labelled class.
    public var firstCorrectOutputStep: Int?
    /// Spikes emitted up to and including the step of the first correct output spike.
    public var spikesUntilFirstCorrectOutput: Int?
    /// Histogram of the number of currents (synaptic events, input events included) a neuron
    /// received in a frame before its first spike of that frame; the last bin holds larger counts.
    public var currentsToSpikeHistogram: [Int]
    /// Queue length per forward step (after the step's new spikes joined, before the scheduler
    /// picked): sum over steps and maximum.
    public var queueLengthSum: Double
    public var queueLengthMax: Int
    /// Synaptic operations (NeuroBench: value ±1 is an accumulate, anything else a multiply-accumulate).
    public var synapticOperations: SynapticOperations
    /// Networks with a non-spiking read-out: its currents per frame per class; EM-PF networks with graded
    /// output spikes: the values the output neurons fired per frame per class (the prediction is the
    /// argmax of their sum over frames); nil otherwise.
    public var readoutPerFrame: [[Float]]? = nil
    /// When the run recorded spike values: per frame, per neuron (global layer-order ids, populations
    /// one after the other), the sum of the values it fired in the frame (a binary spike counts 1).
    public var spikeValuesPerFrame: [[Float]]? = nil
    /// EM-PF networks: per population, the values of the spikes it fired over the sample (a binary spike
    /// counts 1); nil for plain networks.
    public var spikeValueSums: [Double]? = nil

    /// Whether the prediction equals the label (false without a label).
    public var correct: Bool { label == prediction }
    /// Spikes fired in total.
    public var totalSpikes: Int { spikesPerFrame.reduce(0) { $0 + $1.reduce(0) { $0 + Int($1) } } }
    /// Forward steps in total.
    public var forwardSteps: Int { forwardStepsPerFrame.reduce(0) { $0 + Int($1) } }
    /// Output spikes summed over frames, per class.
    public var summedOutput: [Int] {
        guard let first = outputCounts.first else { return [] }
        var acc = first.map(Int.init)
        for f in outputCounts.dropFirst() { for j in acc.indices { acc[j] += Int(f[j]) } }
        return acc
    }
}
