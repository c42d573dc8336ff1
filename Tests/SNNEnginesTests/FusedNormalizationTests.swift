import Testing
import SNNCore
import SNNTensor
@testable import SNNEngines

/// In training the layered engine normalises a population's input inside its step
/// (`LIFPopulation.stepNormalized`); that must give, bit for bit, what normalising first and stepping
/// on the normalised currents gives: outputs, spikes, membranes, the normalisation cache and the
/// batch statistics, for every kind with statistics, both resets, and maps whose rows are not a
/// multiple of the SIMD width.
@Suite(.serialized)
struct FusedNormalizationTests {
    @Test(arguments: ["bntt", "bn", "tdbn"], [ResetMode.subtract, .zero])
    func fusedStepEqualsTwoPasses(kind: String, reset: ResetMode) throws {
        var neuron = LIFParameters.bntt()
        neuron.reset = reset
        neuron.threshold = 0.6
        let spec = try NetworkSpec.parse("input=2x9x10,conv3k3p1:\(kind),avg2,conv4k3p1:\(kind),fc5:\(kind),fc3:readout",
                                         neuron: neuron, timeSteps: 4)
        let network = try Network(spec: spec, seed: 5)
        let steps = 4, batch = 3
        let rng = CounterRNG(seed: 8)
        let inputs = Tensor(shape: [steps, batch, 2, 9, 10], data: (0..<(steps * batch * 180)).map {
            rng.uniform(stream: 0, counter: UInt64($0)) * 2 - 0.7
        })
        let engine = try LayeredEngine(network: network)
        defer { LayeredEngine.fusesNormalization = true }
        LayeredEngine.fusesNormalization = false
        let twoPasses = engine.run(inputs: inputs, training: true, tape: true)
        LayeredEngine.fusesNormalization = true
        let fused = engine.run(inputs: inputs, training: true, tape: true)
        func bits(_ ts: [Tensor?]) -> [[UInt32]] { ts.map { $0?.data.map(\.bitPattern) ?? [] } }
        #expect(bits(fused.outputs) == bits(twoPasses.outputs))
        #expect(fused.spikeCounts == twoPasses.spikeCounts)
        #expect(bits(fused.batchStatistics) == bits(twoPasses.batchStatistics))
        let a = try #require(fused.tape), b = try #require(twoPasses.tape)
        for t in 0..<steps {
            #expect(bits(a.preReset[t]) == bits(b.preReset[t]), "U at step \(t)")
            #expect(bits(a.spikes[t]) == bits(b.spikes[t]), "spikes at step \(t)")
        }
        for layer in spec.layers.indices {
            #expect(a.normalization[layer]?.inverseStd == b.normalization[layer]?.inverseStd, "layer \(layer)")
            #expect(bits(a.normalization[layer]?.normalized ?? []) == bits(b.normalization[layer]?.normalized ?? []), "layer \(layer)")
        }
        #expect(fused.spikeCounts.joined().contains { $0 > 0 })
    }
}
