import SNNCore

/// One population of LIF neurons of the asynchronous engine: a `.lif` layer of the network, seen as
/// a block of the network-wide neuron pool.
///
/// Neurons are numbered globally: population `p` holds the ids `offset ..< offset + count`, in the
/// row-major order of the layer's output (`[C, H, W]` or `[n]`).
///
/// These layer-order ids are what the tape, the trace and the queue use. Internally the engine stores
/// a population in *units*, the sets of neurons one synaptic event reaches together: behind a linear
/// connection every event reaches every neuron (one unit of `count` neurons); behind a convolution an
/// event reaches every channel at a set of positions, so a conv population is stored channels-last
/// (unit `u` = position `y * W + x`, its `C` neurons contiguous at storage index `offset + u * C + c`),
/// which lets a unit be integrated and a receptive field be delivered with vector instructions.
public struct AsyncPopulation: Sendable, Hashable {
    /// Index of the `.lif` layer in the network's layer list.
    public let layerIndex: Int
    /// Global id of the first neuron.
    public let offset: Int
    /// Number of neurons.
    public let count: Int
    /// Per-sample shape of the population (the LIF layer's output shape).
    public let shape: [Int]
    /// The neuron parameters (for an EM-PF population a placeholder: see ``spikeKind``).
    public let parameters: LIFParameters
    /// For an EM-PF population (``AsyncEngine/init(empf:)``), what its neurons emit; nil for LIF.
    public internal(set) var spikeKind: SpikeKind? = nil
    /// Units the population is touched in (see the type's documentation).
    let unitCount: Int
    /// Neurons per unit (contiguous in storage).
    let neuronsPerUnit: Int
    /// Whether storage is channels-last (conv-fed populations): storage `offset + u * C + c` holds the
    /// layer-order neuron `offset + c * unitCount + u`.
    let channelsLast: Bool
    /// Global id of the population's first unit (units are numbered network-wide too).
    let unitOffset: Int

    /// Layer-order index (inside the population) of storage index `local` (inside the population).
    @inline(__always)
    func layerIndex(ofStorage local: Int) -> Int {
        channelsLast ? (local % neuronsPerUnit) * unitCount + local / neuronsPerUnit : local
    }
}
