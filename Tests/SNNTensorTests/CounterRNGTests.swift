import Testing
import SNNTensor

@Suite("Counter-based random numbers")
struct CounterRNGTests {
    @Test("golden values (SplitMix64's finaliser, computed independently) and the stream-key form's bits")
    func goldenValuesAndStreamKeys() {
        // bits = mix(mix(seed ^ stream * 0xD1B54A32D192ED03) + counter), computed in Python with 64-bit wrap.
        let golden: [(seed: UInt64, stream: UInt64, counter: UInt64, bits: UInt64)] = [
            (0, 0, 0, 0xa706_dd2f_4d19_7e6f),
            (7, 3, 5, 0x4420_17d3_34a2_e446),
            (42, 1 << 40 + 9, 123_456_789, 0xfe20_3264_8591_481d),
        ]
        for g in golden {
            let rng = CounterRNG(seed: g.seed)
            #expect(rng.bits(stream: g.stream, counter: g.counter) == g.bits)
            #expect(rng.uniform(stream: g.stream, counter: g.counter) == Float(g.bits >> 40) / 16_777_216)
        }
        // The stream-key form draws the same numbers (the momentum scheduler's noise uses it).
        for seed: UInt64 in [0, 1, 0xDEAD_BEEF] {
            let rng = CounterRNG(seed: seed)
            for stream: UInt64 in [0, 2, 255, 1 << 63] {
                let key = rng.streamKey(stream)
                for counter: UInt64 in [0, 1, 77, 1 << 32 | 5, .max] {
                    #expect(CounterRNG.uniform(streamKey: key, counter: counter).bitPattern
                            == rng.uniform(stream: stream, counter: counter).bitPattern, "seed \(seed) stream \(stream) counter \(counter)")
                }
            }
        }
    }
}
