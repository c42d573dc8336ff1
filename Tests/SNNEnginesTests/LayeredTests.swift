import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// The layered engine on hand-computed examples, and its bookkeeping.
struct LayeredTests {
    // The golden network: 2 inputs -> linear 2->2 -> LIF. W is stored [in, out]: current_j = sum_i x_i W[i, j].
    //   W = [[0.75, 0.25],
    //        [0.5,  1.5 ]]
    // Inputs over 3 steps: x0 = [1, 0], x1 = [0, 1], x2 = [1, 0]
    // Currents:            I0 = [0.75, 0.25], I1 = [0.5, 1.5], I2 = [0.75, 0.25]
    // All values are binary fractions, so every comparison below is exact.
    static let w1: [Float] = [0.75, 0.25, 0.5, 1.5]
    static let x: [[Float]] = [[1, 0], [0, 1], [1, 0]]

    static func network(_ p: LIFParameters) throws -> Network {
        let spec = NetworkSpec(inputShape: [2], layers: [.linear(inFeatures: 2, outFeatures: 2), .lif(p)])
        return try Network(spec: spec, weights: [Tensor(shape: [2, 2], data: w1), Tensor(shape: [0])])
    }

    static func inputs(batch: Int = 1) -> Tensor {
        // [T, batch, 2]; extra samples repeat the first
        Tensor(shape: [3, batch, 2], data: x.flatMap { step in (0..<batch).flatMap { _ in step } })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var parameters: LIFParameters
        var u: [[Float]]   // pre-reset U per step
        var s: [[Float]]   // spikes per step
        var v: [[Float]]   // post-reset V per step
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // LIF, beta 0.5, theta 1, hard reset (V = U (1 - s)).
        //  n0: t0 U = 0 + 0.75 = 0.75 (no spike), V = 0.75
        //      t1 U = 0.5*0.75 + 0.5 = 0.875 (no), V = 0.875
        //      t2 U = 0.5*0.875 + 0.75 = 1.1875 > 1 -> spike, V = 0
        //  n1: t0 U = 0.25 (no), V = 0.25
        //      t1 U = 0.125 + 1.5 = 1.625 -> spike, V = 0
        //      t2 U = 0 + 0.25 = 0.25 (no), V = 0.25
        Case(name: "LIF hard reset", parameters: LIFParameters(beta: 0.5, threshold: 1, reset: .zero),
             u: [[0.75, 0.25], [0.875, 1.625], [1.1875, 0.25]], s: [[0, 0], [0, 1], [1, 0]], v: [[0.75, 0.25], [0.875, 0], [0, 0.25]]),
        // Same with reset by subtraction (V = U - theta s):
        //  n0: t0 0.75; t1 0.875; t2 U = 1.1875 -> spike, V = 0.1875
        //  n1: t0 0.25; t1 U = 1.625 -> spike, V = 0.625; t2 U = 0.3125 + 0.25 = 0.5625 (no), V = 0.5625
        Case(name: "LIF subtract", parameters: LIFParameters(beta: 0.5, threshold: 1, reset: .subtract),
             u: [[0.75, 0.25], [0.875, 1.625], [1.1875, 0.5625]], s: [[0, 0], [0, 1], [1, 0]],
             v: [[0.75, 0.25], [0.875, 0.625], [0.1875, 0.5625]]),
        // IF (beta 1), theta 1, hard reset:
        //  n0: t0 U = 0.75; t1 U = 0.75 + 0.5 = 1.25 -> spike, V = 0; t2 U = 0.75, V = 0.75
        //  n1: t0 U = 0.25; t1 U = 0.25 + 1.5 = 1.75 -> spike, V = 0; t2 U = 0.25, V = 0.25
        Case(name: "IF hard reset", parameters: .integrateAndFire(threshold: 1, reset: .zero),
             u: [[0.75, 0.25], [1.25, 1.75], [0.75, 0.25]], s: [[0, 0], [1, 1], [0, 0]], v: [[0.75, 0.25], [0, 0], [0.75, 0.25]]),
        // Threshold 0.3, beta 0.5, hard reset: n0 t0 U = 0.75 spikes at once, V = 0; t1 U = 0.5 -> spike; t2 U = 0.75 -> spike.
        //  n1: t0 U = 0.25 (no), V = 0.25; t1 U = 0.125 + 1.5 -> spike, V = 0; t2 U = 0.25 (no), V = 0.25
        Case(name: "LIF theta 0.3", parameters: LIFParameters(beta: 0.5, threshold: 0.3, reset: .zero),
             u: [[0.75, 0.25], [0.5, 1.625], [0.75, 0.25]], s: [[1, 0], [1, 1], [1, 0]], v: [[0, 0.25], [0, 0], [0, 0.25]]),
    ]

    /// The population update alone: U, spikes and post-reset V exact at every step.
    @Test(arguments: cases)
    func goldenPopulation(_ c: Case) {
        var v = Tensor(shape: [1, 2])
        for t in 0..<3 {
            let current = Tensor(shape: [1, 2], data: [Self.x[t][0] * Self.w1[0] + Self.x[t][1] * Self.w1[2],
                                                       Self.x[t][0] * Self.w1[1] + Self.x[t][1] * Self.w1[3]])
            var u = Tensor(shape: [1, 2]), s = Tensor(shape: [1, 2])
            let counts = LIFPopulation.step(v: &v, current: current, parameters: c.parameters, preReset: &u, spikes: &s)
            #expect(counts == [c.s[t].reduce(0, +)], "\(c.name) t\(t) spike count")
            #expect(u.data == c.u[t], "\(c.name) t\(t) U")
            #expect(s.data == c.s[t], "\(c.name) t\(t) spikes")
            #expect(v.data == c.v[t], "\(c.name) t\(t) V")
        }
    }

    /// The spike counts a population step returns are its spikes per sample, on the vectorised path (rows
    /// of 8 and a tail) and the general one (per-neuron leak), with both resets.
    @Test func stepCountsSpikesPerSample() {
        let batch = 3, n = 21
        let rng = CounterRNG(seed: 12)
        for perNeuron in [false, true] {
            for reset in [ResetMode.zero, .subtract] {
                var p = LIFParameters(beta: 0.9, threshold: 0.5, reset: reset)
                if perNeuron { p.perNeuronBeta = (0..<n).map { 0.5 + Float($0) / 50 } }
                var v = Tensor(shape: [batch, n])
                for t in 0..<4 {
                    let current = Tensor(shape: [batch, n], data: (0..<(batch * n)).map {
                        rng.uniform(stream: UInt64(t), counter: UInt64($0)) - 0.2
                    })
                    var u = Tensor(shape: [batch, n]), s = Tensor(shape: [batch, n])
                    let counts = LIFPopulation.step(v: &v, current: current, parameters: p, preReset: &u, spikes: &s)
                    #expect(counts == LIFPopulation.spikesPerSample(s), "per-neuron \(perNeuron) \(reset) t\(t)")
                    #expect(counts.contains { $0 > 0 })
                }
            }
        }
    }

    /// The whole engine on the golden net: spikes, output membranes, tape, counts, for a batch of identical samples.
    @Test(arguments: cases)
    func goldenEngine(_ c: Case) throws {
        let engine = try LayeredEngine(network: Self.network(c.parameters))
        let run = engine.run(inputs: Self.inputs(batch: 3), tape: true)
        #expect(run.steps == 3 && run.batch == 3)
        for t in 0..<3 {
            #expect(run.outputs[t].shape == [3, 2])
            #expect(run.outputs[t].data == c.s[t] + c.s[t] + c.s[t], "\(c.name) t\(t) spikes")
            #expect(run.outputMembranes[t].data == c.u[t] + c.u[t] + c.u[t], "\(c.name) t\(t) U")
            #expect(run.tape!.preReset[t][1]!.data == c.u[t] + c.u[t] + c.u[t])
            #expect(run.tape!.spikes[t][1]!.data == c.s[t] + c.s[t] + c.s[t])
            #expect(run.tape!.preReset[t][0] == nil)
            #expect(run.tape!.caches[t][0].input?.data == Self.x[t] + Self.x[t] + Self.x[t])
        }
        let total = c.s.flatMap { $0 }.reduce(0, +)
        #expect(run.spikeCounts == [[total, total, total]])
        let summed = [c.s[0][0] + c.s[1][0] + c.s[2][0], c.s[0][1] + c.s[1][1] + c.s[2][1]]
        #expect(run.summedOutput.data == summed + summed + summed)
        #expect(run.predictions == [Int](repeating: summed[1] > summed[0] ? 1 : 0, count: 3))
        #expect(run.tape!.byteCount > 0)
        // Without a tape nothing is kept, and the results are the same.
        let plain = engine.run(inputs: Self.inputs(batch: 3))
        #expect(plain.tape == nil && plain.outputs == run.outputs && plain.outputMembranes == run.outputMembranes)
    }

    /// Two LIF layers: layer 2 sees layer 1's spikes of the same step (one threshold evaluation per layer per step).
    @Test func goldenTwoLayers() throws {
        // Layer 1 as in "LIF hard reset": spikes t0 [0, 0], t1 [0, 1], t2 [1, 0].
        // Layer 2: W2 = [[0.5, -0.25], [0.25, 0.5]], beta 0.5, theta 0.3, hard reset.
        //   I2: t0 [0, 0]; t1 = row 1 = [0.25, 0.5]; t2 = row 0 = [0.5, -0.25]
        //   n0: t0 U = 0; t1 U = 0.25 (< 0.3, no), V = 0.25; t2 U = 0.125 + 0.5 = 0.625 -> spike
        //   n1: t0 U = 0; t1 U = 0.5 -> spike, V = 0; t2 U = -0.25 (no)
        let p1 = LIFParameters(beta: 0.5, threshold: 1, reset: .zero), p2 = LIFParameters(beta: 0.5, threshold: 0.3, reset: .zero)
        let spec = NetworkSpec(inputShape: [2], layers: [.linear(inFeatures: 2, outFeatures: 2), .lif(p1),
                                                         .linear(inFeatures: 2, outFeatures: 2), .lif(p2)])
        let net = try Network(spec: spec, weights: [Tensor(shape: [2, 2], data: Self.w1), Tensor(shape: [0]),
                                                    Tensor(shape: [2, 2], data: [0.5, -0.25, 0.25, 0.5]), Tensor(shape: [0])])
        let run = try LayeredEngine(network: net).run(inputs: Self.inputs(), tape: true)
        #expect(run.outputs.map(\.data) == [[0, 0], [0, 1], [1, 0]])
        #expect(run.outputMembranes.map(\.data) == [[0, 0], [0.25, 0.5], [0.625, -0.25]])
        #expect(run.tape!.spikes.map { $0[1]!.data } == [[0, 0], [0, 1], [1, 0]])
        #expect(run.spikeCounts == [[2], [2]])
        #expect(run.neuronLayerIndices == [1, 3])
        #expect(run.predictions == [0])  // tie 1:1 -> first maximum
    }

    /// Synaptic operations of the golden net: binary inputs are accumulates, fan-out 2 each; layer 2 counts layer-1 spikes.
    @Test func synapticOperations() throws {
        let p = LIFParameters(beta: 0.5, threshold: 1, reset: .zero)
        let spec = NetworkSpec(inputShape: [2], layers: [.linear(inFeatures: 2, outFeatures: 2), .lif(p),
                                                         .linear(inFeatures: 2, outFeatures: 3), .lif(p)])
        let net = try Network(spec: spec, weights: [Tensor(shape: [2, 2], data: Self.w1), Tensor(shape: [0]),
                                                    Tensor(shape: [2, 3], repeating: 0.1), Tensor(shape: [0])])
        // Sample 0: the golden inputs (3 input events x fan-out 2 = 6 ACs; 2 layer-1 spikes x fan-out 3 = 6 ACs).
        // Sample 1: inputs 0.5 (multiply-accumulates): 0.5*0.75 etc. never reach theta 1... 3 events x 2 = 6 MACs.
        let inputs = Tensor(shape: [3, 2, 2], data: [1, 0, 0.5, 0,
                                                     0, 1, 0, 0.5,
                                                     1, 0, 0.5, 0])
        let run = try LayeredEngine(network: net).run(inputs: inputs, countOperations: true)
        #expect(run.spikeCounts[0] == [2, 0])
        #expect(run.synapticOperations == [SynapticOperations(accumulates: 12, multiplyAccumulates: 0),
                                           SynapticOperations(accumulates: 0, multiplyAccumulates: 6)])
    }

    /// Samples are independent: a batch gives bit-identical results to running each sample alone.
    @Test func batchIndependence() throws {
        let p = LIFParameters(beta: 0.8, threshold: 0.3, reset: .zero)
        let spec = try NetworkSpec.parse("input=2x9x9,conv4k3s2p1,max2,fc6", neuron: p)
        let net = try Network(spec: spec, seed: 3)
        let T = 4, batch = 5, n = 2 * 9 * 9
        let rng = CounterRNG(seed: 77)
        let data = (0..<(T * batch * n)).map { rng.uniform(stream: 0, counter: UInt64($0)) < 0.3 ? Float(1) : 0 }
        let engine = try LayeredEngine(network: net)
        let all = engine.run(inputs: Tensor(shape: [T, batch, 2, 9, 9], data: data))
        #expect(all.spikeCounts.allSatisfy { $0.reduce(0, +) > 0 }, "the test needs spikes in every layer")
        for b in 0..<batch {
            var one = [Float]()
            for t in 0..<T { one += data[((t * batch + b) * n)..<((t * batch + b + 1) * n)] }
            let single = engine.run(inputs: Tensor(shape: [T, 1, 2, 9, 9], data: one))
            for t in 0..<T {
                #expect(single.outputs[t].data == Array(all.outputs[t].data[(b * 6)..<((b + 1) * 6)]))
                #expect(single.outputMembranes[t].data == Array(all.outputMembranes[t].data[(b * 6)..<((b + 1) * 6)]))
            }
            #expect(single.spikeCounts.map { $0[0] } == all.spikeCounts.map { $0[b] })
        }
    }

    /// Dropout only acts in training, and its mask is reproducible from the seed.
    @Test func dropoutDependsOnTrainingAndSeed() throws {
        let p = LIFParameters(beta: 0.9, threshold: 0.2, reset: .zero)
        let spec = NetworkSpec(inputShape: [20], layers: [.dropout(rate: 0.5), .linear(inFeatures: 20, outFeatures: 8), .lif(p)])
        let net = try Network(spec: spec, seed: 1)
        let inputs = Tensor(shape: [6, 3, 20], repeating: 1)
        let engine = try LayeredEngine(network: net)
        let evalA = engine.run(inputs: inputs, training: false, seed: 1)
        let evalB = engine.run(inputs: inputs, training: false, seed: 2)
        #expect(evalA.outputMembranes == evalB.outputMembranes)
        let trainA = engine.run(inputs: inputs, training: true, seed: 1)
        let trainA2 = engine.run(inputs: inputs, training: true, seed: 1)
        let trainB = engine.run(inputs: inputs, training: true, seed: 2)
        #expect(trainA.outputMembranes == trainA2.outputMembranes)
        #expect(trainA.outputMembranes != trainB.outputMembranes)
        #expect(trainA.outputMembranes != evalA.outputMembranes)
    }

    /// Smooth spikes: every spike is the surrogate's smooth step of U - theta, and the reset uses it.
    @Test func smoothSpikes() throws {
        let sur = Surrogate.sigmoid(slope: 4)
        let p = LIFParameters(beta: 0.5, threshold: 1, reset: .zero, surrogate: sur)
        let run = try LayeredEngine(network: Self.network(p)).run(inputs: Self.inputs(), smoothSpikes: true)
        var v: [Float] = [0, 0]
        for t in 0..<3 {
            for j in 0..<2 {
                let current = Self.x[t][0] * Self.w1[j] + Self.x[t][1] * Self.w1[2 + j]
                let u = 0.5 * v[j] + current
                let s = sur.smoothStep(u - 1)
                #expect(abs(run.outputMembranes[t].data[j] - u) < 1e-6)
                #expect(abs(run.outputs[t].data[j] - s) < 1e-6)
                v[j] = u * (1 - s)
            }
        }
    }

    /// Per-neuron decay overrides beta neuron by neuron.
    @Test func perNeuronBeta() throws {
        var p = LIFParameters(beta: 0.5, threshold: 10, reset: .zero)
        p.perNeuronBeta = [1, 0.25]
        let run = try LayeredEngine(network: Self.network(p)).run(inputs: Self.inputs())
        // n0 (beta 1): 0.75, 1.25, 2.0; n1 (beta 0.25): 0.25, 0.0625 + 1.5 = 1.5625, 0.390625 + 0.25 = 0.640625
        #expect(run.outputMembranes.map(\.data) == [[0.75, 0.25], [1.25, 1.5625], [2.0, 0.640625]])
    }

    /// Inputs that do not match the network stop the run with a message, also in release builds
    /// (which are compiled with -Ounchecked, where `precondition` is not evaluated).
    @Test func mismatchedInputsStop() async {
        await #expect(processExitsWith: .failure) {
            let net = try! LayeredTests.network(LIFParameters())
            _ = try! LayeredEngine(network: net).run(inputs: Tensor(shape: [3, 2, 5]))
        }
        await #expect(processExitsWith: .failure) {
            var v = Tensor(shape: [2, 4]), u = v, s = v
            LIFPopulation.step(v: &v, current: Tensor(shape: [2, 3]), parameters: LIFParameters(), preReset: &u, spikes: &s)
        }
    }

    /// A model written to a file and read back runs bit-identically.
    @Test func savedModelRunsIdentically() throws {
        let p = LIFParameters(beta: 0.85, threshold: 0.25, reset: .subtract, surrogate: .fastSigmoid(slope: 25))
        let net = try Network(spec: NetworkSpec.parse("input=2x10x10,conv4k3s2p1,avg2,fc5", neuron: p), seed: 8)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("layered-\(UUID().uuidString).snnmodel")
        defer { try? FileManager.default.removeItem(at: url) }
        try ModelFile.write(net, metadata: ["k": "v"], to: url)
        let back = try ModelFile.read(from: url).network
        let rng = CounterRNG(seed: 4)
        let x = Tensor(shape: [5, 3, 2, 10, 10], data: (0..<(5 * 3 * 200)).map { rng.uniform(stream: 0, counter: UInt64($0)) < 0.3 ? 1 : 0 })
        let a = try LayeredEngine(network: net).run(inputs: x), b = try LayeredEngine(network: back).run(inputs: x)
        #expect(a.outputs == b.outputs && a.outputMembranes == b.outputMembranes && a.spikeCounts == b.spikeCounts)
        #expect(a.spikeCounts[0].reduce(0, +) > 0)
    }
}
