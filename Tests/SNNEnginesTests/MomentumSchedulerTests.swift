import SNNTensor
import Testing
@testable import SNNEngines

/// The momentum queue against a plain model of its rule: the `F` highest keys leave first (ties: the
/// older integration), noise is drawn for a spike when it first has to be ordered, and a frame start
/// re-keys every waiting spike to 0. The queue's heap (newcomers sifted up or the heap rebuilt, then
/// popped) must pick exactly what the model picks.
struct MomentumSchedulerTests {
    /// The rule, written the slow way: every queued spike in one list, sorted when the order matters.
    struct Model {
        var ordered: [QueuedSpike] = [], pending: [QueuedSpike] = []
        var noise: Float, rng: CounterRNG, stream: UInt64, frame: UInt64 = 0

        mutating func pick(_ limit: Int) -> [QueuedSpike] {
            if limit >= ordered.count + pending.count {
                defer { ordered = []; pending = [] }
                return ordered + pending
            }
            for var s in pending {
                s.key += noise * rng.uniform(stream: stream, counter: frame << 32 | UInt64(UInt32(bitPattern: s.integration)))
                ordered.append(s)
            }
            pending = []
            // Highest key first; on equal keys the older integration (the rule, not the queue's comparator).
            ordered.sort { $0.key > $1.key || ($0.key == $1.key && $0.integration < $1.integration) }
            defer { ordered.removeFirst(limit) }
            return Array(ordered.prefix(limit))
        }
    }

    static func deliveryOrder(_ s: [QueuedSpike]) -> [QueuedSpike] { s.sorted { QueuedSpike.deliveredBefore($0, $1) } }

    /// Random pushes (keys from a few values, so ties are common), picks of 1 to 9 and frame starts,
    /// with and without noise; bursts of 700 spikes take the heap's rebuild path and drain again.
    @Test(arguments: [Float(0), 1e-6, 0.5])
    func picksFollowTheRule(noise: Float) {
        var queue = MomentumScheduler()
        let rng = CounterRNG(seed: 11)
        queue.reset(noise: noise, rng: rng, stream: 4)
        var model = Model(noise: noise, rng: rng, stream: 4)
        var draw = CounterRNG(seed: UInt64(noise * 1e7) + 3).generator(stream: 0)
        var integration: Int32 = 0
        for step in 0..<3_000 {
            // A burst every 500 steps, else a few spikes; keys from a small set, so ties are common.
            let arrivals = step % 500 == 250 ? 700 : Int(draw.next() % 10)
            for _ in 0..<arrivals {
                let key = Float(draw.next() % 7) * 0.25 - 0.5
                let s = QueuedSpike(neuron: Int32(draw.next() % 300), integration: integration, key: key, value: 1)
                queue.push(neuron: s.neuron, integration: s.integration, potential: s.key)
                model.pending.append(s)
                integration += 1
            }
            if step % 97 == 96 {
                queue.resetKeys()
                model.frame &+= 1
                let waiting = model.ordered + model.pending
                model.ordered = []
                model.pending = waiting.map { var s = $0; s.key = 0; return s }
            }
            let limit = 1 + Int(draw.next() % 9)
            var picked: [QueuedSpike] = []
            queue.pick(limit, into: &picked)
            let expected = model.pick(limit)
            #expect(Self.deliveryOrder(picked).map(\.integration) == Self.deliveryOrder(expected).map(\.integration), "step \(step)")
            #expect(Self.deliveryOrder(picked).map(\.key) == Self.deliveryOrder(expected).map(\.key), "step \(step)")
            #expect(queue.count == model.ordered.count + model.pending.count)
        }
    }

    /// The order key compares like the rule (higher key first; on equal keys, `-0 == +0` included,
    /// the older integration) and decodes back to the key and the integration.
    @Test func orderKeyFollowsTheRule() {
        var draw = CounterRNG(seed: 5).generator(stream: 1)
        let special: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                                .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.5, 1e-6]
        var spikes: [QueuedSpike] = []
        for i in 0..<400 {
            let key = i < special.count * 4 ? special[i % special.count]
                : Float(bitPattern: UInt32(truncatingIfNeeded: draw.next()) & 0xFF7F_FFFF)  // finite (exponent never all ones)
            let integration = Int32(truncatingIfNeeded: draw.next() % (i % 3 == 0 ? 4 : 1 << 31))
            spikes.append(QueuedSpike(neuron: Int32(i), integration: integration, key: key, value: Float(i)))
        }
        for a in spikes {
            let order = MomentumScheduler.orderKey(a.key, integration: a.integration)
            let back = MomentumScheduler.spike(order, .init(neuron: a.neuron, value: a.value))
            #expect(back.integration == a.integration && back.neuron == a.neuron && back.value == a.value)
            #expect(back.key == a.key && (back.key.bitPattern == a.key.bitPattern || a.key == 0))
            let wrong = spikes.filter { b in
                let above = a.key > b.key || (a.key == b.key && a.integration < b.integration)
                return a.integration != b.integration && above != (order > MomentumScheduler.orderKey(b.key, integration: b.integration))
            }
            #expect(wrong.isEmpty, "\(a.key) #\(a.integration) against \(wrong.prefix(3))")
        }
    }
}
