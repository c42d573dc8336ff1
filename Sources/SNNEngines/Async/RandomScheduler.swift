import SNNTensor

/// The random scheduler's queue of one sample: an unordered array of pending spikes from which `F`
/// are drawn uniformly without replacement, each draw O(1) (pick a random slot, move the last
/// spike into it).
///
/// Random numbers come from `CounterRNG(seed).bits(stream:counter:)` on the sample's own stream, so
/// the choice depends only on the seed and the sample's global index. When `F` is at least the
/// queue length every spike leaves and no number is drawn. Also used, without drawing, as the plain
/// queue of both schedulers at `F = infinity`.
struct RandomScheduler {
    var entries: [QueuedSpike] = []
    var rng = CounterRNG(seed: 0)
    var stream: UInt64 = 0
    var counter: UInt64 = 0

    var count: Int { entries.count }

    mutating func reset(rng: CounterRNG, stream: UInt64) {
        entries.removeAll(keepingCapacity: true)
        self.rng = rng; self.stream = stream; counter = 0
    }

    @inline(__always)
    mutating func push(_ spike: QueuedSpike) { entries.append(spike) }

    /// Moves at most `limit` spikes (all when nil) into `out`.
    mutating func pick(_ limit: Int?, into out: inout [QueuedSpike]) {
        let n = entries.count
        if limit == nil || limit! >= n {
            if out.isEmpty {
                // Trade storage: the queue keeps `out`'s empty buffer (no copy, both capacities kept).
                swap(&out, &entries)
            } else {
                out.append(contentsOf: entries)
                entries.removeAll(keepingCapacity: true)
            }
            return
        }
        for _ in 0..<limit! {
            let m = UInt64(entries.count)
            // Multiply-shift maps 64 random bits to 0..<m without a division.
            let j = Int(m.multipliedFullWidth(by: rng.bits(stream: stream, counter: counter)).high)
            counter &+= 1
            out.append(entries[j])
            entries[j] = entries[entries.count - 1]
            entries.removeLast()
        }
    }
}
