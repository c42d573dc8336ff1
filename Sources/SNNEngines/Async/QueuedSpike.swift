import SNNTensor

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

    /// `(neuron, integration)` as one unsigned key with the same order as ``deliveredBefore(_:_:)``
    /// (the sign bit flipped so that signed order becomes unsigned order).
    @inline(__always)
    static func deliveryKey(_ s: QueuedSpike) -> UInt64 {
        UInt64(UInt32(bitPattern: s.neuron) ^ 0x8000_0000) << 32 | UInt64(UInt32(bitPattern: s.integration) ^ 0x8000_0000)
    }

    /// Sorts `spikes` into delivery order (``deliveredBefore(_:_:)``): the order is total (no two spikes
    /// share an integration), so any sort gives the same result; ``SNNTensor/sortByUniqueKey(_:key:)``
    /// insertion-sorts the usual short forward step in place, without a comparison closure.
    @inline(__always)
    static func sortForDelivery(_ spikes: inout [QueuedSpike]) {
        sortByUniqueKey(&spikes, key: deliveryKey)
    }
}
