import Testing
import SNNCore
import SNNTensor

@Suite("Many events into a linear layer")
struct LinearEventsTests {
    @Test("linearEvents gives the bits of delivering the events one by one, for every width", arguments: [1, 7, 8, 13, 32, 40, 64, 70, 130])
    func sameBitsAsOneByOne(outFeatures o: Int) {
        let inputs = 50
        let rng = CounterRNG(seed: UInt64(o))
        let w: [Float] = (0..<(inputs * o)).map { j -> Float in
            let u: Float = rng.uniform(stream: 1, counter: UInt64(j))
            return u * 2 - 1
        }
        // Graded and binary values, some zeros (skipped by the caller: not in the index list).
        var x = [Float](repeating: 0, count: inputs)
        for i in 0..<inputs where i % 5 != 0 {
            let u: Float = rng.uniform(stream: 2, counter: UInt64(i))
            x[i] = i % 3 == 0 ? 1 : u * 3 - 1
        }
        let events = (0..<inputs).filter { x[$0] != 0 }.map { Int32($0) }
        let values = events.map { x[Int($0)] }
        let start = (0..<o).map { Float($0) * 0.01 - 0.2 }
        var one = start, many = start
        for e in events { SpikeDelivery.linear(value: x[Int(e)], source: Int(e), weight: w, outFeatures: o, current: &one) }
        SpikeDelivery.linearEvents(indices: events, count: events.count, values: values, weight: w, outFeatures: o, current: &many)
        #expect(many.map(\.bitPattern) == one.map(\.bitPattern))
        // No events: the currents are untouched.
        var none = start
        SpikeDelivery.linearEvents(indices: events, count: 0, values: values, weight: w, outFeatures: o, current: &none)
        #expect(none == start)
    }
}

@Suite("Silent adjoints of a linear layer, many rows at once")
struct SilentLinearAdjointsTests {
    @Test("silentLinearAdjoints gives linearAdjoint(value: 0)'s bits per row and leaves the weight gradient alone",
          arguments: [1, 7, 8, 10, 13, 64, 67])
    func sameBitsAsOneByOne(outFeatures o: Int) {
        let inputs = 12
        let rng = CounterRNG(seed: UInt64(100 + o))
        let w: [Float] = (0..<(inputs * o)).map { j in rng.uniform(stream: 1, counter: UInt64(j)) * 2 - 1 }
        // Gradients of mixed sign and magnitude, so that a different summation order would show.
        let g: [Float] = (0..<o).map { j in (rng.uniform(stream: 2, counter: UInt64(j)) - 0.5) * (j % 3 == 0 ? 1000 : 0.001) }
        // Every count from 0 to 11 (groups of four and a remainder), with repeated sources.
        for count in 0..<12 {
            let sources: [Int32] = (0..<count).map { Int32(($0 * 5 + count) % inputs) }
            var results = [Float](repeating: .nan, count: max(1, count))
            SpikeDelivery.silentLinearAdjoints(sources: sources, count: count, weight: w, outFeatures: o, currentGradient: g,
                                               results: &results)
            var dW = [Float](repeating: 0, count: inputs * o)
            for i in 0..<count {
                let one = SpikeDelivery.linearAdjoint(value: 0, source: Int(sources[i]), weight: w, outFeatures: o,
                                                      currentGradient: g, weightGradient: &dW)
                #expect(results[i].bitPattern == one.bitPattern, "width \(o), \(count) rows, row \(i): \(results[i]) vs \(one)")
            }
            #expect(dW.allSatisfy { $0 == 0 })
        }
    }
}

@Suite("Weight gradient of an input event")
struct LinearWeightGradientTests {
    @Test("linearWeightGradient adds linearAdjoint's weight-gradient row, bit for bit, and nothing else", arguments: [1, 7, 8, 13, 64, 70])
    func sameRowAsTheAdjoint(outFeatures o: Int) {
        let inputs = 5
        let rng = CounterRNG(seed: UInt64(o) + 100)
        func values(_ n: Int, _ stream: UInt64) -> [Float] { (0..<n).map { rng.uniform(stream: stream, counter: UInt64($0)) * 2 - 1 } }
        let w = values(inputs * o, 1), dCurrent = values(o, 2), start = values(inputs * o, 3)
        for (source, value) in [(0, Float(1)), (3, -0.37), (4, 2.5)] {
            var viaAdjoint = start, direct = start
            _ = SpikeDelivery.linearAdjoint(value: value, source: source, weight: w, outFeatures: o,
                                            currentGradient: dCurrent, weightGradient: &viaAdjoint)
            SpikeDelivery.linearWeightGradient(value: value, source: source, outFeatures: o, currentGradient: dCurrent,
                                               weightGradient: &direct)
            #expect(direct.map(\.bitPattern) == viaAdjoint.map(\.bitPattern), "source \(source) value \(value)")
            #expect(direct != start, "the row must change")
        }
    }
}
