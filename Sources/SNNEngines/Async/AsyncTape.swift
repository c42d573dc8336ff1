/// NOTE (from the lead, for the engine's author): this type is what unlayered backprop
/// (`SNNTraining/Unlayered*`, written by the lead) consumes. Fill it when `recordTape` is on; extend it
/// if you need to, but keep these fields and their meaning (or tell the lead what changed).

/// What one sample's asynchronous run recorded for unlayered backprop: every integration and every
/// emitted spike, in the order the engine executed them.
///
/// Neurons are identified by a network-wide id: populations are numbered in layer order and their
/// neurons are consecutive (`populationOffsets[p] ..< populationOffsets[p + 1]`).
///
/// Execution order that the reverse pass relies on: within a frame, the frame's input values are
/// delivered first (before any integration of that frame); then forward steps follow one another; in
/// each forward step *all* of its integrations happen first (neurons with pending current integrate
/// `U = (V + I) * (1 - R)`, test the threshold, and queue new spikes), *then* its emissions (the
/// scheduler's picks), whose currents are integrated at the target's next integration. At the start of
/// every frame every membrane decays (`V <- beta V`), `R` and `P` are cleared.
public struct AsyncTape: Sendable {
    /// One integration of one neuron.
    public struct Integration: Sendable, Hashable {
        /// Network-wide neuron id.
        public var neuron: Int32
        /// Pre-reset potential `U` (0 when the neuron was refractory).
        public var potential: Float
        /// Whether the neuron was refractory (its input was dropped and `U = 0`).
        public var refractory: Bool
        /// Whether it fired.
        public var spiked: Bool
        public init(neuron: Int32, potential: Float, refractory: Bool, spiked: Bool) {
            self.neuron = neuron; self.potential = potential; self.refractory = refractory; self.spiked = spiked
        }
    }

    /// One emitted spike (it left the queue and delivered its currents).
    public struct Emission: Sendable, Hashable {
        /// Network-wide id of the neuron that fired.
        public var neuron: Int32
        /// Index into ``integrations`` of the integration in which this spike fired.
        public var integration: Int32
        public init(neuron: Int32, integration: Int32) { self.neuron = neuron; self.integration = integration }
    }

    /// One forward step: the ranges of its integrations and emissions.
    public struct Step: Sendable, Hashable {
        public var frame: Int32
        public var integrations: Range<Int32>
        public var emissions: Range<Int32>
        public init(frame: Int32, integrations: Range<Int32>, emissions: Range<Int32>) {
            self.frame = frame; self.integrations = integrations; self.emissions = emissions
        }
    }

    /// Every integration, in execution order.
    public var integrations: [Integration] = []
    /// Every emission, in execution order.
    public var emissions: [Emission] = []
    /// Every forward step, in execution order (frames ascending).
    public var steps: [Step] = []
    /// `frameSteps[f]`: the range of ``steps`` that belong to frame `f` (may be empty).
    public var frameSteps: [Range<Int32>] = []
    /// Pending currents dropped by the reference-compatibility flag when a frame was stopped; when this
    /// is non-empty those currents never reached their targets (the backward pass needs to know).
    public var droppedPendingCurrents: Bool = false

    public init() {}

    /// Approximate bytes held (for memory reports).
    public var byteCount: Int {
        integrations.count * MemoryLayout<Integration>.stride + emissions.count * MemoryLayout<Emission>.stride
            + steps.count * MemoryLayout<Step>.stride
    }
}
