import Foundation
import SNNEngines
import SNNTensor
import Testing

/// The spike-trace reader on malformed text: every input either parses into events inside the
/// declared populations or throws a `SpikeTraceError` naming the line (never traps).
struct SpikeTraceParsingTests {
    let good = """
    # snn-spike-trace v1 populations=4,3,2
    sample,frame,step,population,neuron
    0,0,1,0,3
    0,0,2,1,2
    0,1,5,2,1
    1,0,1,0,0

    """

    @Test func validTraceParses() throws {
        let t = try SpikeTrace.parse(good)
        #expect(t.populationSizes == [4, 3, 2])
        #expect(t.events.count == 4)
        #expect(t.events[2] == SpikeTrace.Event(sample: 0, frame: 1, step: 5, population: 2, neuron: 1))
    }

    @Test(arguments: [
        ("# snn-spike-trace v1 populations=\n0,0,1,0,0\n", "line 1"),
        ("# snn-spike-trace v1 populations= \n0,0,1,0,0\n", "line 1"),
        ("# snn-spike-trace v1 populations=,\n", "line 1"),
        ("# snn-spike-trace v1 populations=3,-1\n", "line 1"),
        ("# snn-spike-trace v1 populations=3,x\n", "line 1"),
        ("# snn-spike-trace v1 populations=3,0\n", "line 1"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0,0,0\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0,\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,1,0\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0,3\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0,-1\n", "line 2"),
        ("# snn-spike-trace v1 populations=3\n0,0,1,0,99999999999\n", "line 2"),
        ("0,0,1,5000,0\n", "population index"),
        (",,,,\n", "line 1"),
    ])
    func malformedTraceIsAnError(_ text: String, _ expected: String) {
        do {
            let t = try SpikeTrace.parse(text)
            Issue.record("parsed \(t) from \(text.debugDescription)")
        } catch let e as SpikeTraceError {
            #expect(e.description.contains(expected), "\(e.description)")
        } catch { Issue.record("unexpected error \(error)") }
    }

    @Test func readNamesTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString).csv")
        defer { try? FileManager.default.removeItem(at: url) }
        try "# snn-spike-trace v1 populations=\n".write(to: url, atomically: true, encoding: .utf8)
        #expect(throws: SpikeTraceError.self) { try SpikeTrace.read(from: url) }
        do { _ = try SpikeTrace.read(from: url) } catch { #expect("\(error)".contains(url.path)) }
    }

    /// Truncations and byte flips of a valid trace: an error, or events inside the populations.
    @Test func fuzzedTracesNeverEscapeThePopulations() {
        let bytes = Array(good.utf8)
        var rng = CounterRNG(seed: 7).generator(stream: 1)
        var errors = 0, results = 0
        for k in 0..<600 {
            var bad = k % 3 == 0 ? Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1)))) : bytes
            if k % 3 != 0 {
                for _ in 0..<(1 + k % 4) {
                    let i = Int(rng.next() % UInt64(bad.count))
                    bad[i] = [UInt8(ascii: ","), UInt8(ascii: "-"), UInt8(ascii: "\n"), UInt8(ascii: "9"), UInt8(ascii: "="), 0xFF, 0][Int(rng.next() % 7)]
                }
            }
            do {
                let t = try SpikeTrace.parse(String(decoding: bad, as: UTF8.self))
                results += 1
                for e in t.events {
                    #expect(Int(e.population) < t.populationSizes.count && Int(e.neuron) < t.populationSizes[Int(e.population)])
                    #expect(e.sample >= 0 && e.frame >= 0 && e.step >= 0)
                }
            } catch is SpikeTraceError { errors += 1 } catch { Issue.record("unexpected error \(error)") }
        }
        #expect(errors > 0 && results > 0)
    }

    @Test func asyncOptionsRefuseForwardGroupSizeBelowOne() {
        var o = AsyncOptions(forwardGroupSize: 8)
        #expect(o.problem == nil)
        o.forwardGroupSize = 0
        #expect(o.problem?.contains("at least 1") == true)
        o.forwardGroupSize = nil
        o.refractoryDropout = 2
        #expect(o.problem?.contains("refractory dropout") == true)
        o.refractoryDropout = 0
        o.scheduler = .momentum(noise: .nan)
        #expect(o.problem?.contains("noise") == true)
    }
}
