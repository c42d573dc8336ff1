/// One spike waiting in a sample's queue: the neuron that fired, the integration that produced it
/// (the sample's running integration count, which orders spikes by age) and the scheduler's key.
struct QueuedSpike: Sendable {
    var neuron: Int32
    var integration: Int32
    var key: Float

    /// Delivery order: ascending neuron id, older spike first.
    @inline(__always)
    static func deliveredBefore(_ a: QueuedSpike, _ b: QueuedSpike) -> Bool {
        a.neuron != b.neuron ? a.neuron < b.neuron : a.integration < b.integration
    }
}
