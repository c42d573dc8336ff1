import SNNTensor

/// The momentum scheduler's queue of one sample: the pending spikes ordered by the pre-spike
/// potential `P` of the integration that produced each spike, highest first, plus tie-breaking noise
/// `lambda * u` (`u` uniform in `[0, 1)`). The most over-driven neurons leave first.
///
/// A binary max-heap holds the spikes whose keys are final; spikes that joined since the last pick
/// wait in an unordered list and enter the heap (sift-up, or a linear-time rebuild when many
/// arrive) only when the order matters, i.e. when more spikes are queued than `F`. Picking `F` of
/// `n` costs O(F log n); a step whose queue fits in `F` costs no heap work at all.
///
/// The noise of a spike is a pure function of the seed, the sample, the frame and the spike's
/// integration index (`CounterRNG.uniform(stream: sample, counter: frame << 32 | integration)`), so it
/// does not depend on when it is drawn. At the start of every frame `P` is reset to 0 (SPEC
/// section 1): the spikes that carried over are re-keyed `0 + lambda * u` with the new frame's noise.
/// Equal keys (e.g. `lambda = 0`) leave the older spike first. A neuron that fires again while its
/// earlier spike waits has two entries, each keyed by its own `P`.
struct MomentumScheduler {
    var heap: [QueuedSpike] = []
    /// Spikes not yet in the heap; their `key` is `P` without noise.
    var pending: [QueuedSpike] = []
    var noise: Float = 1e-6
    var rng = CounterRNG(seed: 0)
    var stream: UInt64 = 0
    /// `rng.streamKey(stream)`, computed once per sample (each spike's noise then costs one mixing round).
    var streamKey: UInt64 = 0
    var frame: UInt64 = 0

    var count: Int { heap.count + pending.count }

    mutating func reset(noise: Float, rng: CounterRNG, stream: UInt64) {
        heap.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        self.noise = noise; self.rng = rng; self.stream = stream; frame = 0
        streamKey = rng.streamKey(stream)
    }

    @inline(__always)
    static func above(_ a: QueuedSpike, _ b: QueuedSpike) -> Bool {
        a.key > b.key || (a.key == b.key && a.integration < b.integration)
    }

    /// Adds a spike with pre-spike potential `potential` and value `value`.
    @inline(__always)
    mutating func push(neuron: Int32, integration: Int32, potential: Float, value: Float = 1) {
        pending.append(QueuedSpike(neuron: neuron, integration: integration, key: potential, value: value))
    }

    /// Frame start: `P <- 0` for every waiting spike (keys get the new frame's noise when needed).
    mutating func resetKeys() {
        frame &+= 1
        guard count > 0 else { return }
        for i in pending.indices { pending[i].key = 0 }
        for var s in heap { s.key = 0; pending.append(s) }
        heap.removeAll(keepingCapacity: true)
    }

    /// Moves the `limit` highest spikes (all when nil) into `out`.
    mutating func pick(_ limit: Int?, into out: inout [QueuedSpike]) {
        if limit == nil || limit! >= count {
            out.append(contentsOf: heap)
            out.append(contentsOf: pending)
            heap.removeAll(keepingCapacity: true)
            pending.removeAll(keepingCapacity: true)
            return
        }
        if !pending.isEmpty {
            if noise != 0 {
                for i in pending.indices {
                    let counter = frame << 32 | UInt64(UInt32(bitPattern: pending[i].integration))
                    pending[i].key += noise * CounterRNG.uniform(streamKey: streamKey, counter: counter)
                }
            }
            if pending.count > heap.count {
                heap.append(contentsOf: pending)
                var i = heap.count / 2 - 1
                while i >= 0 { siftDown(i); i -= 1 }
            } else {
                for s in pending { heap.append(s); siftUp(heap.count - 1) }
            }
            pending.removeAll(keepingCapacity: true)
        }
        for _ in 0..<limit! { out.append(popMax()) }
    }

    /// Removes the highest spike. Bottom-up (Floyd): the hole at the root walks down to a leaf along
    /// the larger children (one comparison per level), then the last spike sifts up from there. Keys
    /// are totally ordered (ties broken by the unique integration index), so the spike returned
    /// does not depend on the heap's internal arrangement.
    @inline(__always)
    mutating func popMax() -> QueuedSpike {
        let top = heap[0]
        let last = heap.removeLast()
        let n = heap.count
        if n == 0 { return top }
        var i = 0
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            if child + 1 < n && MomentumScheduler.above(heap[child + 1], heap[child]) { child += 1 }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = last
        siftUp(i)
        return top
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        let x = heap[i]
        while i > 0 {
            let parent = (i - 1) / 2
            if !MomentumScheduler.above(x, heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = x
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        let x = heap[i]
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            if child + 1 < n && MomentumScheduler.above(heap[child + 1], heap[child]) { child += 1 }
            if !MomentumScheduler.above(heap[child], x) { break }
            heap[i] = heap[child]
            i = child
        }
        heap[i] = x
    }
}
