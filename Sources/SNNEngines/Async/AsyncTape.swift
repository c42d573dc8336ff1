/// What one sample's asynchronous run leaves for unlayered backprop (SPEC section 4): the schedule
/// the scheduler actually chose and, for every integration, what the surrogate gradient needs.
///
/// Everything is stored flat, in execution order, with CSR-style offset arrays. Indices are 0-based.
///
/// **Frames and forward steps.** The sample's forward steps are numbered globally `0 ..< stepCount`
/// across frames; frame `f` owns the steps `frameStepStart[f] ..< frameStepStart[f + 1]`
/// (`frameStepStart.count == frames + 1`). At the start of every frame, before its first step, every
/// neuron decays, `V <- beta_n * V` (`beta_n` is ``populationBeta`` of its population, or the
/// population's `perNeuronBeta[n - offset]` when the network's ``SNNCore/LIFParameters`` give one),
/// the refractory flags and `P` are cleared, and the frame's input events are delivered (the
/// non-zero elements of the input frame, through the input connection, ascending index).
///
/// **A forward step** `s` first integrates, then emits:
/// 1. Integrations `stepIntegrationStart[s] ..< stepIntegrationStart[s + 1]` of the arrays
///    `integrationNeuron` (global neuron id, see ``AsyncPopulation``), `integrationMargin`
///    (`U - theta`, with `U = (V + I) * (1 - R)` the pre-reset potential) and `integrationFlags`
///    (bit 0 ``refractoryBit``: the neuron was refractory, so `U = 0` and its input was dropped;
///    bit 1 ``spikedBit``: `U - theta > 0`, it fired and `V <- 0` (hard reset) or `V <- U - theta`;
///    bit 2 ``setsRefractoryBit``: the spike set the refractory flag, i.e. refractory dropout did not
///    skip it). Order: populations input side first; inside a population the touched units in the
///    order they were first touched, and inside a unit ascending neuron id. The current `I` an
///    integration consumes is the sum of every current delivered to that neuron after its previous
///    integration: the emissions of earlier steps (normally just the previous step), the input
///    events of a frame start, and — when a stop rule ended a frame with currents pending — the
///    previous frame's last emissions (those currents survive the decay; only the membrane decays),
///    unless they were dropped (see ``droppedNeuron``).
/// 2. Emissions `stepEmissionStart[s] ..< stepEmissionStart[s + 1]` of `emittedNeuron` (global id)
///    and `emittedIntegration` (the index, into the integration arrays, of the integration whose
///    spike this is — it may belong to an earlier step, even an earlier frame, when the spike
///    waited in the queue). Emission order is delivery order: ascending neuron id (then older
///    spike first). Each emitted spike delivers value 1 through its population's outgoing
///    connection (folded pooling: the step's spikes of one population are pooled first, then the
///    pooled cells are delivered in ascending order); spikes of the last population are the
///    output spikes and deliver nothing.
///
/// **Dropped currents.** With ``AsyncOptions/dropsPendingNegativeCurrentsOnStop``, the pending
/// currents of the neurons `droppedNeuron[frameDroppedStart[f] ..< frameDroppedStart[f + 1]]` were
/// discarded at the end of frame `f` (they never reach an integration).
///
/// `stoppedEarly[f]` tells whether a stop rule ended frame `f` (queued spikes then carried over).
/// The schedule, the refractory flags and `P` are constants for the gradient.
public struct AsyncTape: Sendable, Hashable {
    /// Flag bit: the neuron was refractory at this integration.
    public static let refractoryBit: UInt8 = 1
    /// Flag bit: the integration produced a spike.
    public static let spikedBit: UInt8 = 2
    /// Flag bit: the spike set the refractory flag.
    public static let setsRefractoryBit: UInt8 = 4

    /// Decay `beta` of every population (see the type's documentation for per-neuron decay).
    public var populationBeta: [Float] = []
    /// First global forward step of every frame, plus the total (`frames + 1` entries).
    public var frameStepStart: [Int32] = [0]
    /// Offsets of each step's integrations (`steps + 1` entries).
    public var stepIntegrationStart: [Int32] = [0]
    /// Global neuron id of every integration.
    public var integrationNeuron: [Int32] = []
    /// `U - theta` of every integration.
    public var integrationMargin: [Float] = []
    /// Flags of every integration (``refractoryBit``, ``spikedBit``, ``setsRefractoryBit``).
    public var integrationFlags: [UInt8] = []
    /// Offsets of each step's emissions (`steps + 1` entries).
    public var stepEmissionStart: [Int32] = [0]
    /// Global neuron id of every emitted spike, in emission order.
    public var emittedNeuron: [Int32] = []
    /// Integration index that produced every emitted spike.
    public var emittedIntegration: [Int32] = []
    /// Offsets into ``droppedNeuron`` per frame (`frames + 1` entries).
    public var frameDroppedStart: [Int32] = [0]
    /// Neurons whose pending current was dropped at the end of a frame.
    public var droppedNeuron: [Int32] = []
    /// Whether a stop rule ended each frame.
    public var stoppedEarly: [Bool] = []
    /// Global index of the first integration the integration arrays still hold (0 unless
    /// ``discardRecordedFrames()`` was called): values of ``stepIntegrationStart`` and
    /// ``emittedIntegration`` are global, array positions are `global - integrationBase`.
    public var integrationBase: Int32 = 0

    public init() {}

    /// Forgets everything recorded so far while recording goes on (a frame-by-frame consumer, such as
    /// truncated unlayered backprop, calls it after processing each frame so that memory stays that of
    /// one frame). Afterwards the tape holds only what comes next: ``frameStepStart`` starts at the
    /// current global forward step, ``stepIntegrationStart`` at the current global integration index
    /// (``integrationBase``), and emissions, drops and frame flags restart empty.
    public mutating func discardRecordedFrames() {
        restart(integrationBase: stepIntegrationStart.last ?? integrationBase, firstStep: frameStepStart.last ?? 0)
    }

    /// Empties the tape for the next sample, keeping every array's storage (the state of `init()`
    /// with ``populationBeta`` kept).
    public mutating func removeAllKeepingCapacity() {
        restart(integrationBase: 0, firstStep: 0)
    }

    /// Empties every recorded array (their storage kept) so that recording resumes at global
    /// integration `integrationBase` and global forward step `firstStep`.
    mutating func restart(integrationBase base: Int32, firstStep: Int32) {
        integrationBase = base
        integrationNeuron.removeAll(keepingCapacity: true)
        integrationMargin.removeAll(keepingCapacity: true)
        integrationFlags.removeAll(keepingCapacity: true)
        stepIntegrationStart.removeAll(keepingCapacity: true); stepIntegrationStart.append(base)
        emittedNeuron.removeAll(keepingCapacity: true)
        emittedIntegration.removeAll(keepingCapacity: true)
        stepEmissionStart.removeAll(keepingCapacity: true); stepEmissionStart.append(0)
        frameStepStart.removeAll(keepingCapacity: true); frameStepStart.append(firstStep)
        frameDroppedStart.removeAll(keepingCapacity: true); frameDroppedStart.append(0)
        droppedNeuron.removeAll(keepingCapacity: true)
        stoppedEarly.removeAll(keepingCapacity: true)
    }

    /// Forward steps recorded.
    public var stepCount: Int { stepIntegrationStart.count - 1 }
    /// Frames recorded.
    public var frameCount: Int { frameStepStart.count - 1 }
    /// Bytes held (for memory reports).
    public var byteCount: Int {
        4 * (frameStepStart.count + stepIntegrationStart.count + integrationNeuron.count + integrationMargin.count
             + stepEmissionStart.count + emittedNeuron.count + emittedIntegration.count + frameDroppedStart.count
             + droppedNeuron.count + populationBeta.count) + integrationFlags.count + stoppedEarly.count
    }
}
