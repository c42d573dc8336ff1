import SNNTensor

/// The momentum scheduler's queue of one sample: a binary max-heap of pending spikes keyed by the
/// pre-spike potential `P` of the integration that produced each spike, plus tie-breaking noise
/// `lambda * u` (`u` uniform in `[0, 1)`, drawn once when the spike joins the queue). The most
/// over-driven neurons leave first; picking `F` of `n` costs O(F log n).
///
/// At the start of every frame `P` is reset to 0 (SPEC section 1), so the spikes that carried over
/// are re-keyed `0 + lambda * u` and the heap is rebuilt. Equal keys (e.g. `lambda = 0`) leave the
/// older spike first. A neuron that fires again while its earlier spike waits has two entries, each
/// keyed by its own `P`. Random numbers come from the sample's own ``CounterRNG`` stream.
struct MomentumScheduler {
    var heap: [QueuedSpike] = []
    var noise: Float = 1e-6
    var rng = CounterRNG(seed: 0)
    var stream: UInt64 = 0
    var counter: UInt64 = 0

    var count: Int { heap.count }

    mutating func reset(noise: Float, rng: CounterRNG, stream: UInt64) {
        heap.removeAll(keepingCapacity: true)
        self.noise = noise; self.rng = rng; self.stream = stream; counter = 0
    }

    @inline(__always)
    static func above(_ a: QueuedSpike, _ b: QueuedSpike) -> Bool {
        a.key > b.key || (a.key == b.key && a.integration < b.integration)
    }

    @inline(__always)
    mutating func noiseSample() -> Float {
        guard noise != 0 else { return 0 }
        defer { counter &+= 1 }
        return noise * rng.uniform(stream: stream, counter: counter)
    }

    /// Adds a spike with pre-spike potential `potential`.
    mutating func push(neuron: Int32, integration: Int32, potential: Float) {
        let spike = QueuedSpike(neuron: neuron, integration: integration, key: potential + noiseSample())
        heap.append(spike)
        siftUp(heap.count - 1)
    }

    /// Frame start: `P <- 0` for every waiting spike; new noise; rebuild.
    mutating func resetKeys() {
        guard !heap.isEmpty else { return }
        for i in heap.indices { heap[i].key = 0 + noiseSample() }
        var i = heap.count / 2 - 1
        while i >= 0 { siftDown(i); i -= 1 }
    }

    /// Moves the `limit` highest spikes (all when nil) into `out`.
    mutating func pick(_ limit: Int?, into out: inout [QueuedSpike]) {
        if limit == nil || limit! >= heap.count {
            out.append(contentsOf: heap)
            heap.removeAll(keepingCapacity: true)
            return
        }
        for _ in 0..<limit! {
            out.append(heap[0])
            let last = heap.removeLast()
            if !heap.isEmpty { heap[0] = last; siftDown(0) }
        }
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
