import SNNTensor

/// The momentum scheduler's queue of one sample: the pending spikes ordered by the pre-spike
/// potential `P` of the integration that produced each spike, highest first, plus tie-breaking noise
/// `lambda * u` (`u` uniform in `[0, 1)`). The most over-driven neurons leave first.
///
/// Spikes whose keys are final are held as 64-bit order keys (``orderKey(_:integration:)``: the key's
/// bits made orderable, then the integration index reversed), so one integer comparison decides
/// which of two spikes leaves first. Spikes that joined since the last pick wait in an unordered
/// list and get their noise only when the order matters, i.e. when more spikes are queued than `F`.
/// Then the `F` highest are found by one of two routes that pick the same spikes:
/// - a queue of at most ``scanLimit`` spikes is scanned once per pick, branch-free in SIMD lanes
///   (the chosen spike's slot is filled by the last one);
/// - a longer queue becomes a binary max-heap (newcomers sifted up, or a linear-time rebuild when
///   many arrive); picking `F` of `n` then costs O(F log n).
/// A step whose queue fits in `F` costs no ordering work at all.
///
/// The noise of a spike is a pure function of the seed, the sample, the frame and the spike's
/// integration index (`CounterRNG.uniform(stream: sample, counter: frame << 32 | integration)`), so it
/// does not depend on when it is drawn. At the start of every frame `P` is reset to 0 (SPEC
/// section 1): the spikes that carried over are re-keyed `0 + lambda * u` with the new frame's noise.
/// Equal keys (e.g. `lambda = 0`) leave the older spike first. A neuron that fires again while its
/// earlier spike waits has two entries, each keyed by its own `P`.
struct MomentumScheduler {
    /// The neuron and the value of a spike in `keys`.
    struct Payload {
        var neuron: Int32
        var value: Float
    }

    /// Queues up to this length are scanned rather than kept as a heap (measured: at `F` = 8 the
    /// usual queue holds 25 spikes, and the heap's comparisons mispredicted).
    static let scanLimit = 192

    /// Order keys of the spikes whose keys are final: a max-heap when `isHeap`, else in no order.
    var keys: [Int64] = []
    /// `payload[i]` belongs to `keys[i]`.
    var payload: [Payload] = []
    var isHeap = false
    /// Spikes not yet in `keys`; their `key` is `P` without noise.
    var pending: [QueuedSpike] = []
    var noise: Float = 1e-6
    var rng = CounterRNG(seed: 0)
    var stream: UInt64 = 0
    /// `rng.streamKey(stream)`, computed once per sample (each spike's noise then costs one mixing round).
    var streamKey: UInt64 = 0
    var frame: UInt64 = 0

    var count: Int { keys.count + pending.count }

    mutating func reset(noise: Float, rng: CounterRNG, stream: UInt64) {
        keys.removeAll(keepingCapacity: true)
        payload.removeAll(keepingCapacity: true)
        pending.removeAll(keepingCapacity: true)
        isHeap = false
        self.noise = noise; self.rng = rng; self.stream = stream; frame = 0
        streamKey = rng.streamKey(stream)
    }

    /// One integer whose order is the queue's order: a spike with a larger order key leaves first.
    /// The high half is `key` with its bits made orderable (negative keys flipped, positive ones
    /// offset; `-0` counts as `+0`, as in floating-point comparison), the low half the integration
    /// index reversed, so that on equal keys the older spike is larger. The sign bit is flipped so
    /// that signed comparison gives the unsigned order. Keys are potentials at or above a threshold,
    /// plus noise: never NaN.
    @inline(__always)
    static func orderKey(_ key: Float, integration: Int32) -> Int64 {
        let bits = (key + 0).bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        let u = UInt64(ordered) << 32 | UInt64(~UInt32(bitPattern: integration))
        return Int64(bitPattern: u ^ 0x8000_0000_0000_0000)
    }

    /// The spike behind an order key and its payload (the inverse of ``orderKey(_:integration:)``).
    @inline(__always)
    static func spike(_ order: Int64, _ p: Payload) -> QueuedSpike {
        let u = UInt64(bitPattern: order) ^ 0x8000_0000_0000_0000
        let ordered = UInt32(truncatingIfNeeded: u >> 32)
        let bits = ordered & 0x8000_0000 != 0 ? ordered & 0x7FFF_FFFF : ~ordered
        return QueuedSpike(neuron: p.neuron, integration: Int32(bitPattern: ~UInt32(truncatingIfNeeded: u)),
                           key: Float(bitPattern: bits), value: p.value)
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
        var waiting: [QueuedSpike] = []
        swap(&waiting, &pending)
        for i in waiting.indices { waiting[i].key = 0 }
        moveKeyed(into: &waiting, rekeyedToZero: true)
        pending = waiting
    }

    /// Appends every spike held as an order key to `list` (its key set to 0 when `rekeyedToZero`)
    /// and empties the keys.
    mutating func moveKeyed(into list: inout [QueuedSpike], rekeyedToZero: Bool) {
        for i in keys.indices {
            var s = MomentumScheduler.spike(keys[i], payload[i])
            if rekeyedToZero { s.key = 0 }
            list.append(s)
        }
        keys.removeAll(keepingCapacity: true)
        payload.removeAll(keepingCapacity: true)
        isHeap = false
    }

    /// Moves the `limit` highest spikes (all when nil) into `out`, in no particular order.
    mutating func pick(_ limit: Int?, into out: inout [QueuedSpike]) {
        if limit == nil || limit! >= count {
            if keys.isEmpty && out.isEmpty {
                // Trade storage: the queue keeps `out`'s empty buffer (no copy, both capacities kept).
                swap(&out, &pending)
                return
            }
            moveKeyed(into: &out, rekeyedToZero: false)
            out.append(contentsOf: pending)
            pending.removeAll(keepingCapacity: true)
            return
        }
        let limit = limit!
        let joining = pending.count
        for i in pending.indices {
            var s = pending[i]
            if noise != 0 {
                let counter = frame << 32 | UInt64(UInt32(bitPattern: s.integration))
                s.key += noise * CounterRNG.uniform(streamKey: streamKey, counter: counter)
            }
            keys.append(MomentumScheduler.orderKey(s.key, integration: s.integration))
            payload.append(Payload(neuron: s.neuron, value: s.value))
        }
        pending.removeAll(keepingCapacity: true)
        if keys.count <= MomentumScheduler.scanLimit {
            isHeap = false
            for _ in 0..<limit { out.append(removeScannedMax()) }
            return
        }
        if !isHeap || joining > keys.count - joining {
            var i = keys.count / 2 - 1
            while i >= 0 { siftDown(i); i -= 1 }
            isHeap = true
        } else {
            for i in (keys.count - joining)..<keys.count { siftUp(i) }
        }
        for _ in 0..<limit { out.append(popMax()) }
    }

    /// Removes the highest spike of an unordered queue: one pass over the order keys in SIMD lanes
    /// (each lane keeps its largest key and where it was, by selection, not by branching), then the
    /// last spike moves into the freed slot.
    @inline(__always)
    mutating func removeScannedMax() -> QueuedSpike {
        let n = keys.count
        let at = keys.withUnsafeBufferPointer { k -> Int in
            let base = k.baseAddress!
            // Two sets of lanes (keys 8j..8j+3 and 8j+4..8j+7), so that two selections run at once.
            var best = SIMD4<Int64>(repeating: .min), where_ = SIMD4<Int64>(repeating: 0)
            var best2 = best, where2 = where_
            var lane = SIMD4<Int64>(0, 1, 2, 3)
            var i = 0
            while i + 8 <= n {
                let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD4<Int64>.self)
                let v2 = UnsafeRawPointer(base + i + 4).loadUnaligned(as: SIMD4<Int64>.self)
                let larger = v .> best, larger2 = v2 .> best2
                best.replace(with: v, where: larger)
                where_.replace(with: lane, where: larger)
                best2.replace(with: v2, where: larger2)
                where2.replace(with: lane &+ 4, where: larger2)
                lane &+= 8
                i += 8
            }
            let second = best2 .> best
            best.replace(with: best2, where: second)
            where_.replace(with: where2, where: second)
            if i + 4 <= n {
                let v = UnsafeRawPointer(base + i).loadUnaligned(as: SIMD4<Int64>.self)
                let larger = v .> best
                best.replace(with: v, where: larger)
                where_.replace(with: lane, where: larger)
                i += 4
            }
            // Lanes folded in halves, and the last keys one by one, by selection: which key is larger
            // is random, so a branch here mispredicted about every other time.
            let half = SIMD4<Int64>(best[2], best[3], best[0], best[1]), halfAt = SIMD4<Int64>(where_[2], where_[3], where_[0], where_[1])
            let upper = half .> best
            best.replace(with: half, where: upper)
            where_.replace(with: halfAt, where: upper)
            var top = best[0], at = where_[0]
            let other = best[1], otherAt = where_[1]
            let lane1 = other > top
            top = lane1 ? other : top
            at = lane1 ? otherAt : at
            while i < n {
                let k = base[i]
                let larger = k > top
                top = larger ? k : top
                at = larger ? Int64(i) : at
                i += 1
            }
            return Int(at)
        }
        let s = MomentumScheduler.spike(keys[at], payload[at])
        keys[at] = keys[n - 1]; payload[at] = payload[n - 1]
        keys.removeLast(); payload.removeLast()
        return s
    }

    /// Removes the highest spike of the heap. Bottom-up (Floyd): the hole at the root walks down to
    /// a leaf along the larger children (one comparison per level), then the last spike sifts up
    /// from there.
    @inline(__always)
    mutating func popMax() -> QueuedSpike {
        let top = MomentumScheduler.spike(keys[0], payload[0])
        let lastKey = keys.removeLast(), lastPayload = payload.removeLast()
        let n = keys.count
        if n == 0 { return top }
        var i = 0
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            if child + 1 < n && keys[child + 1] > keys[child] { child += 1 }
            keys[i] = keys[child]; payload[i] = payload[child]
            i = child
        }
        keys[i] = lastKey; payload[i] = lastPayload
        siftUp(i)
        return top
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        let x = keys[i], p = payload[i]
        while i > 0 {
            let parent = (i - 1) / 2
            if x <= keys[parent] { break }
            keys[i] = keys[parent]; payload[i] = payload[parent]
            i = parent
        }
        keys[i] = x; payload[i] = p
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = keys.count
        let x = keys[i], p = payload[i]
        while true {
            var child = 2 * i + 1
            if child >= n { break }
            if child + 1 < n && keys[child + 1] > keys[child] { child += 1 }
            if keys[child] <= x { break }
            keys[i] = keys[child]; payload[i] = payload[child]
            i = child
        }
        keys[i] = x; payload[i] = p
    }
}
