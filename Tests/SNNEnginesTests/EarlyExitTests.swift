import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// BNTT's early exit rules, the presets, and per-step counts of the layered engine.
struct EarlyExitTests {
    /// Deep layer starts low (like the prototype in BNTT.md): the naive rule exits at once, the tail
    /// rule only once every layer stays below the threshold.
    @Test func tailAndNaiveRules() throws {
        let p = GammaProfile(layers: [1, 3], meanGamma: [[1.0, 0.9, 0.6, 0.3, 0.2, 0.1],
                                                          [0.1, 0.5, 0.8, 0.7, 0.3, 0.2]])
        #expect(p.steps == 6)
        // Means over layers: 0.55, 0.7, 0.7, 0.5, 0.25, 0.15 -> first below 0.5 is t = 4 (run 4 steps).
        #expect(try p.exitSteps(threshold: 0.5, rule: .naive) == 4)
        #expect(try p.exitSteps(threshold: 0.6, rule: .naive) == 1)   // 0.55 < 0.6 at t = 0: at least one step
        // Tail: from t = 4 on both layers are below 0.35; from t = 3 layer 1 (0.7) is not.
        #expect(try p.exitSteps(threshold: 0.35, rule: .tail) == 4)
        #expect(try p.exitSteps(threshold: 0.15, rule: .tail) == 6)   // last step 0.2 >= 0.15: no exit
        #expect(try p.exitSteps(threshold: 2, rule: .tail) == 1)
        for bad: Float in [0, -1, .infinity, .nan] {
            #expect(throws: EarlyExitError.self) { try p.exitSteps(threshold: bad, rule: .tail) }
        }
        #expect(throws: EarlyExitError.self) { try GammaProfile(layers: [], meanGamma: []).exitSteps(threshold: 0.5, rule: .tail) }
    }

    @Test func profileIsTheChannelMeanPerStep() throws {
        let spec = try NetworkSpec.parse("input=4,fc3:bntt,fc2:bn,fc2:readout", neuron: .bntt(), timeSteps: 2)
        var net = try Network(spec: spec, seed: 1)
        net.weights[1] = Tensor(shape: [2, 3], data: [1, 2, 3, 0.5, 0.5, 2])
        let p = GammaProfile(network: net)
        #expect(p.layers == [1])  // only BNTT layers have per-step gammas
        #expect(p.meanGamma == [[2, 1]])
    }

    @Test func presets() throws {
        let vgg9 = try NetworkPresets.spec("vgg9", inputShape: [3, 32, 32], classes: 10, neuron: .bntt(), normalization: .bntt, timeSteps: 25)
        #expect(vgg9.layers.filter { if case .conv2d = $0 { true } else { false } }.count == 7)
        #expect(vgg9.layers.filter { $0.normalization?.kind == .bntt }.count == 8)  // 7 conv + the hidden fc
        #expect(try vgg9.shapes().last == [10])
        if case .linear(let i, let o) = vgg9.layers.last! { #expect(i == 1024 && o == 10) } else { Issue.record("read-out is not linear") }
        let vgg5 = try NetworkPresets.spec("vgg5", inputShape: [1, 28, 28], classes: 10, neuron: .bntt(), normalization: nil, timeSteps: 10)
        #expect(vgg5.layers.allSatisfy { $0.normalization == nil })
        #expect(throws: ShapeError.self) { try NetworkPresets.spec("vgg7", inputShape: [3, 32, 32], classes: 10, neuron: .bntt(), normalization: .bntt, timeSteps: 5) }
        #expect(throws: ShapeError.self) { try NetworkPresets.spec("vgg5", inputShape: [784], classes: 10, neuron: .bntt(), normalization: .bntt, timeSteps: 5) }
        // BNTT's neuron: the surrogate is 0.3 max(0, 1 - |U/theta - 1|) / theta in U - theta.
        let n = LIFParameters.bntt(beta: 0.99, threshold: 2)
        #expect(abs(n.surrogate.gradient(0) - 0.15) < 1e-7 && abs(n.surrogate.gradient(1) - 0.075) < 1e-7 && n.surrogate.gradient(2.5) == 0)
        #expect(n.reset == .subtract && n.detachReset)
    }

    /// A read-out network's outputs are its currents; per-step spike counts add up to the totals.
    @Test func readoutAndPerStepCounts() throws {
        let spec = try NetworkSpec.parse("input=1x6x6,conv3k3p1:bn,avg2,fc4:readout", neuron: LIFParameters(beta: 0.9, threshold: 0.2), timeSteps: 3)
        let net = try Network(spec: spec, seed: 3)
        let rng = CounterRNG(seed: 2)
        let inputs = Tensor(shape: [3, 2, 1, 6, 6], data: (0..<216).map { rng.uniform(stream: 0, counter: UInt64($0)) < 0.5 ? 1 : 0 })
        let run = try LayeredEngine(network: net).run(inputs: inputs, countOperations: true)
        #expect(run.outputMembranes.isEmpty && run.outputs.count == 3 && run.outputs[0].shape == [2, 4])
        #expect(run.outputs.contains { $0.data.contains { $0 != 0 && $0 != 1 } })  // currents, not spikes
        let total = run.spikeCounts.flatMap { $0 }.reduce(0.0) { $0 + Double($1) }
        #expect(abs(run.spikesPerStep.reduce(0, +) - total) < 1e-6 && total > 0)
        let ops = run.synapticOperations!.reduce(0.0) { $0 + $1.total }
        #expect(abs(run.operationsPerStep.reduce(0.0) { $0 + $1.total } - ops) < 1e-6)
    }
}
