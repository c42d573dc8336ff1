/// One spike waiting in a sample's queue: the neuron that fired, the integration that produced it
/// (the sample's running integration count, which orders spikes by age), the scheduler's key and the
/// spike's value: 1 for a binary spike, the graded value `s` of an EM-PF spike (its targets receive
/// `s * w`).
struct QueuedSpike: Sendable {
    var neuron: Int32
    var integration: Int32
    var key: Float
    var value: Float = 1

    /// Delivery order: ascending neuron id, older spike first.
    @inline(__always)
    static func deliveredBefore(_ a: QueuedSpike, _ b: QueuedSpike) -> Bool {
        a.neuron != b.neuron ? a.neuron < b.neuron : a.integration < b.integration
    }
}
