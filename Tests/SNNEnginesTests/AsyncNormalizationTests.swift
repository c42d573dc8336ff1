import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// BNTT, shared BN and tdBN populations, and non-spiking read-outs, on the asynchronous engine: at
/// F = infinity the folded form (scale of the incoming currents, bias current at frame start) equals
/// layered evaluation bit for bit; at finite F the bias still reaches neurons that receive nothing.
struct AsyncNormalizationTests {
    /// Random gammas (and shifts) and running statistics, so that scales differ per channel and step and
    /// biases are far from zero.
    static func randomise(_ network: inout Network, seed: UInt64) {
        var rng = CounterRNG(seed: seed).generator(stream: 7)
        for i in network.normalizationIndices {
            guard case .lif(let p) = network.spec.layers[i], let norm = p.normalization else { continue }
            for j in network.weights[i].data.indices {
                let gammaCount = norm.kind == .bntt ? norm.steps * norm.channels : norm.channels
                network.weights[i].data[j] = norm.kind == .bias ? 1.2 * (rng.uniform() - 0.5)
                    : j < gammaCount ? 0.4 + 1.6 * rng.uniform() : 0.6 * (rng.uniform() - 0.5)
            }
            let c = norm.channels
            for s in 0..<norm.statisticSets {
                for ch in 0..<c {
                    network.runningStatistics[i].data[(s * 2) * c + ch] = 2 * (rng.uniform() - 0.5)
                    network.runningStatistics[i].data[(s * 2 + 1) * c + ch] = 0.2 + 2 * rng.uniform()
                }
            }
        }
    }

    static let architectures: [(name: String, text: String)] = [
        ("conv stack + readout", "input=2x8x8,conv4k3p1:KIND,avg2,conv6k3p1:KIND,avg2,fc12:KIND,fc5:readout"),
        ("conv + maxpool + spiking output", "input=2x8x8,conv4k3p1:KIND,max2,fc10:KIND,fc4"),
        ("mlp + readout", "input=40,fc24:KIND,fc16,fc3:readout"),
    ]

    @Test("F = infinity equals layered for normalised populations and read-outs",
          arguments: InputNormalization.Kind.allCases, [ResetMode.subtract, .zero])
    func equalsLayered(kind: InputNormalization.Kind, reset: ResetMode) throws {
        var spikes = 0
        for arch in Self.architectures {
            for seed: UInt64 in [1, 2] {
                let spec = try NetworkSpec.parse(arch.text.replacingOccurrences(of: "KIND", with: kind.rawValue),
                                                 neuron: LIFParameters(beta: 0.95, threshold: 1, reset: reset), timeSteps: 6)
                var network = try Network(spec: spec, initializer: .xavierUniform(gain: 3), seed: seed)
                Self.randomise(&network, seed: seed)
                let inputs = AsyncTestSupport.inputs(frames: 6, batch: 4, shape: spec.inputShape, density: 0.3, counts: true, seed: seed)
                let layered = try LayeredEngine(network: network).run(inputs: inputs, tape: true, countOperations: true)
                let expected = AsyncTestSupport.layeredSpikes(layered, network: network)
                let engine = try AsyncEngine(network: network)
                #expect((engine.readout != nil) == arch.text.hasSuffix(":readout"))
                for scheduler in [Scheduler.random, Scheduler.momentum] {
                    let run = engine.run(inputs: inputs, labels: [0, 1, 2, 0],
                                         options: AsyncOptions(forwardGroupSize: nil, scheduler: scheduler, seed: seed, recordTrace: true))
                    let label = "\(arch.name) \(kind) \(reset) seed \(seed) \(scheduler)"
                    #expect(AsyncTestSupport.asyncSpikes(run) == expected, "\(label)")
                    #expect(run.spikeCounts == layered.spikeCounts, "\(label)")
                    #expect(run.predictions == layered.predictions, "\(label)")
                    for b in 0..<run.samples.count {
                        #expect(run.samples[b].synapticOperations == layered.synapticOperations![b], "\(label)")
                    }
                    if engine.readout != nil {
                        // The read-out currents, frame by frame, bit for bit.
                        for b in 0..<run.samples.count {
                            let frames = run.samples[b].readoutPerFrame!
                            for t in 0..<layered.steps {
                                let c = frames[t].count
                                #expect(frames[t].map(\.bitPattern) == layered.outputs[t].data[(b * c)..<((b + 1) * c)].map(\.bitPattern), "\(label) sample \(b) frame \(t)")
                            }
                        }
                    }
                }
                spikes += layered.spikeCounts.reduce(0) { $0 + Int($1.reduce(0, +)) }
            }
        }
        #expect(spikes > 0, "the networks must spike for the comparison to mean anything")
    }

    /// No input at all: only the bias current drives the normalised population. With a bias of
    /// 1.5 = -mean * gamma / sqrt(var + eps) (mean -1.5, variance 1 - eps, gamma 1) and theta 1, reset by
    /// subtraction, beta 1: frame 0 U = 1.5 (spike, V = 0.5), frame 1 U = 2 (spike, V = 1), frame 2
    /// U = 2.5 (spike, V = 1.5), frame 3 U = 3 (spike). At any F the neuron fires once per frame,
    /// though no event ever reaches it; and the output neuron it drives fires with it.
    @Test(arguments: [1, 2, 8] as [Int?] + [nil])
    func biasCurrentFiresWithoutInput(forwardGroupSize: Int?) throws {
        let spec = try NetworkSpec.parse("input=1,fc1:bn,fc1", neuron: LIFParameters(beta: 1, threshold: 1, reset: .subtract), timeSteps: 4)
        var network = try Network(spec: spec, initializer: .xavierUniform(gain: 1), seed: 0)
        let i = network.normalizationIndices[0]
        let eps = spec.layers[i].normalization!.epsilon
        network.weights[i].data = [1, 0]                 // gamma 1, shift 0
        network.runningStatistics[i].data = [-1.5, 1 - eps]
        network.weights[i + 1].data = [2]               // the output neuron fires on every input spike
        let inputs = Tensor(shape: [4, 1, 1])
        let layered = try LayeredEngine(network: network).run(inputs: inputs)
        #expect(layered.spikeCounts[0] == [4])
        #expect(layered.spikeCounts[1] == [4])
        let run = try AsyncEngine(network: network).run(inputs: inputs, options: AsyncOptions(forwardGroupSize: forwardGroupSize))
        #expect(run.spikeCounts == layered.spikeCounts)
        #expect(run.samples[0].spikesPerFrame == [[1, 1], [1, 1], [1, 1], [1, 1]])
    }

    @Test func refusals() throws {
        let spec = try NetworkSpec.parse("input=4,fc3:bntt,fc2:readout", neuron: .bntt(), timeSteps: 2)
        #expect(throws: AsyncEngineError.self) { try AsyncCompatibility.check(spec, frames: 3) }
        try AsyncCompatibility.check(spec, frames: 2)
        #expect(throws: AsyncEngineError.self) { try AsyncCompatibility.check(spec, stopRule: .onOutput(k: 1)) }
        #expect(throws: AsyncEngineError.self) { try AsyncCompatibility.checkTraining(spec) }
        let plain = try NetworkSpec.parse("input=4,fc3,fc2:readout", neuron: .bntt(), timeSteps: 2)
        #expect(throws: AsyncEngineError.self) { try AsyncCompatibility.checkTraining(plain) }
        let flat = try NetworkSpec.parse("input=1x4x4,conv2k3p1,fc2:readout", neuron: .bntt(), timeSteps: 2)
        #expect(try AsyncEngine(network: try Network(spec: flat)).readout?.inFeatures == 32)  // flatten in front is fine
        let pooled = try NetworkSpec.parse("input=1x4x4,conv2k3p1,avg2,fc2:readout", neuron: .bntt(), timeSteps: 2)
        #expect(throws: AsyncEngineError.self) { try AsyncEngine(network: try Network(spec: pooled)) }
    }
}
