import Testing
import SNNCore
import SNNTensor
@testable import SNNEngines

/// In training the layered engine normalises a population's input inside its step
/// (`LIFPopulation.stepNormalized`); that must give, bit for bit, what normalising first and stepping
/// on the normalised currents gives: outputs, spikes, membranes, the normalisation cache and the
/// batch statistics, for every kind with statistics, both resets, and maps whose rows are not a
/// multiple of the SIMD width. On 8x16 maps the first population also does the 2x2 pooling after it in
/// its step (`LayeredEngine.poolsInStep`), which must give the pooling layer's bits.
@Suite(.serialized)
struct FusedNormalizationTests {
    @Test(arguments: ["bntt", "bn", "tdbn"], [(ResetMode.subtract, 9, 10), (.zero, 9, 10), (.subtract, 8, 16), (.zero, 8, 16)])
    func fusedStepEqualsTwoPasses(kind: String, setting: (reset: ResetMode, height: Int, width: Int)) throws {
        var neuron = LIFParameters.bntt()
        neuron.reset = setting.reset
        neuron.threshold = 0.6
        let (h, w) = (setting.height, setting.width)
        let spec = try NetworkSpec.parse("input=2x\(h)x\(w),conv3k3p1:\(kind),avg2,conv4k3p1:\(kind),fc5:\(kind),fc3:readout",
                                         neuron: neuron, timeSteps: 4)
        let network = try Network(spec: spec, seed: 5)
        let steps = 4, batch = 3
        let rng = CounterRNG(seed: 8)
        let inputs = Tensor(shape: [steps, batch, 2, h, w], data: (0..<(steps * batch * 2 * h * w)).map {
            rng.uniform(stream: 0, counter: UInt64($0)) * 2 - 0.7
        })
        let engine = try LayeredEngine(network: network)
        #expect(engine.poolsInStep(population: 1) == (w % 8 == 0 && h % 2 == 0))
        #expect(!engine.poolsInStep(population: 4))
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
            // The second conv's cached input: the pooled spike maps.
            #expect(bits([a.caches[t][3].input]) == bits([b.caches[t][3].input]), "pooled maps at step \(t)")
        }
        for layer in spec.layers.indices {
            #expect(a.normalization[layer]?.inverseStd == b.normalization[layer]?.inverseStd, "layer \(layer)")
            #expect(bits(a.normalization[layer]?.normalized ?? []) == bits(b.normalization[layer]?.normalized ?? []), "layer \(layer)")
        }
        #expect(fused.spikeCounts.joined().contains { $0 > 0 })
    }
}
