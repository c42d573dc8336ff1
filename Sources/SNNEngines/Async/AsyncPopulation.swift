import SNNCore

/// One population of LIF neurons of the asynchronous engine: a `.lif` layer of the network, seen as
/// a block of the network-wide neuron pool.
///
/// Neurons are numbered globally: population `p` holds the ids `offset ..< offset + count`, in the
/// row-major order of the layer's output (`[C, H, W]` or `[n]`).
///
/// A population is *touched* in units: a unit is the set of neurons that one synaptic event reaches
/// together. Behind a linear connection every event reaches every neuron (one unit of `count`
/// neurons); behind a convolution an event reaches every channel at a set of positions (one unit per
/// position `y * W + x`, holding the neurons `c * H * W + y * W + x`). The neurons of unit `u` are
/// `offset + c * unitStride + u` for `c < neuronsPerUnit`.
public struct AsyncPopulation: Sendable, Hashable {
    /// Index of the `.lif` layer in the network's layer list.
    public let layerIndex: Int
    /// Global id of the first neuron.
    public let offset: Int
    /// Number of neurons.
    public let count: Int
    /// Per-sample shape of the population (the LIF layer's output shape).
    public let shape: [Int]
    /// The neuron parameters.
    public let parameters: LIFParameters
    /// Units the population is touched in (see the type's documentation).
    public let unitCount: Int
    /// Neurons per unit.
    public let neuronsPerUnit: Int
    /// Distance between two neurons of one unit.
    public let unitStride: Int
    /// Global id of the population's first unit (units are numbered network-wide too).
    public let unitOffset: Int
}
