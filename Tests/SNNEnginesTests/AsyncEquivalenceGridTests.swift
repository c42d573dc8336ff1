import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// F = infinity is layered execution for every neuron setting, not only the defaults: a grid of reset
/// modes, leaks, thresholds, per-neuron leaks and refractory dropout over every layer kind the
/// asynchronous engine runs (linear, conv, average and max pooling folded in, pooling of the input,
/// flatten, dropout).
struct AsyncEquivalenceGridTests {
    struct Setting: CustomStringConvertible, Sendable {
        var reset: ResetMode
        var beta: Float
        var threshold: Float
        var perNeuronBeta: Bool
        var refractoryDropout: Float
        var description: String {
            "\(reset) beta=\(beta) theta=\(threshold)\(perNeuronBeta ? " per-neuron" : "") rd=\(refractoryDropout)"
        }
    }

    static let settings: [Setting] = {
        var out: [Setting] = []
        for reset in ResetMode.allCases {
            for beta: Float in [1e-4, 0.5, 0.95, 1] {
                for threshold: Float in [0.3, 1] {
                    out.append(Setting(reset: reset, beta: beta, threshold: threshold, perNeuronBeta: false, refractoryDropout: 0))
                }
            }
            out.append(Setting(reset: reset, beta: 0.9, threshold: 0.5, perNeuronBeta: true, refractoryDropout: 0))
            out.append(Setting(reset: reset, beta: 0.95, threshold: 1, perNeuronBeta: false, refractoryDropout: 0.5))
        }
        return out
    }()

    /// Architectures covering every layer kind; `lif(i)` is filled in from the setting.
    static func architectures(_ s: Setting) -> [(name: String, input: [Int], layers: [LayerSpec])] {
        func lif(_ count: Int, _ salt: Int) -> LayerSpec {
            var per: [Float]? = nil
            if s.perNeuronBeta {
                per = (0..<count).map { (j: Int) -> Float in
                    let step = Float((j * 7 + salt) % 11)
                    return 0.5 + 0.05 * step
                }
            }
            return .lif(LIFParameters(beta: s.beta, threshold: s.threshold, reset: s.reset, perNeuronBeta: per))
        }
        return [
            ("dense + dropout", [30], [.linear(inFeatures: 30, outFeatures: 20), lif(20, 1), .dropout(rate: 0.3),
                                       .linear(inFeatures: 20, outFeatures: 12), lif(12, 2),
                                       .linear(inFeatures: 12, outFeatures: 5), lif(5, 3)]),
            ("conv + avgpool", [2, 8, 8], [.conv2d(inChannels: 2, outChannels: 4, kernel: 3, stride: 1, padding: 1), lif(4 * 64, 4),
                                           .avgPool2d(kernel: 2, stride: 2),
                                           .conv2d(inChannels: 4, outChannels: 5, kernel: 3, stride: 1, padding: 0), lif(5 * 4, 5),
                                           .flatten, .linear(inFeatures: 20, outFeatures: 4), lif(4, 6)]),
            ("input avgpool + strided conv", [2, 12, 12], [.avgPool2d(kernel: 2, stride: 2),
                                                           .conv2d(inChannels: 2, outChannels: 5, kernel: 3, stride: 2, padding: 1), lif(5 * 9, 7),
                                                           .avgPool2d(kernel: 3, stride: 1),
                                                           .flatten, .linear(inFeatures: 5, outFeatures: 4), lif(4, 8)]),
            ("conv + maxpool", [1, 9, 9], [.conv2d(inChannels: 1, outChannels: 3, kernel: 3, stride: 1, padding: 1), lif(3 * 81, 9),
                                           .maxPool2d(kernel: 3, stride: 3),
                                           .flatten, .linear(inFeatures: 27, outFeatures: 4), lif(4, 10)]),
            ("input maxpool", [1, 8, 8], [.maxPool2d(kernel: 2, stride: 2), .flatten,
                                          .linear(inFeatures: 16, outFeatures: 10), lif(10, 11),
                                          .linear(inFeatures: 10, outFeatures: 3), lif(3, 12)]),
        ]
    }

    @Test("F = infinity equals layered for every neuron setting and layer kind", arguments: settings)
    func grid(setting: Setting) throws {
        // Integrations that leave a membrane above threshold after a reset by subtraction (the case where
        // a neuron can fire in the next frame without input): the grid must contain them.
        var aboveAfterReset = 0
        for arch in Self.architectures(setting) {
            for seed: UInt64 in [1, 2] {
                let gain: Float = 10 * setting.threshold
                let network = try AsyncTestSupport.network(arch.layers, input: arch.input, gain: gain, seed: seed)
                let inputs = AsyncTestSupport.inputs(frames: 6, batch: 4, shape: arch.input, density: 0.35, counts: true, seed: seed)
                let layered = try LayeredEngine(network: network).run(inputs: inputs, tape: true, countOperations: true)
                let engine = try AsyncEngine(network: network)
                let expected = AsyncTestSupport.layeredSpikes(layered, network: network)
                for step in layered.tape!.preReset { for u in step.compactMap({ $0 }) { aboveAfterReset += u.data.filter { $0 > 2 * setting.threshold }.count } }
                for scheduler in [Scheduler.random, Scheduler.momentum] {
                    for tape in [false, true] {
                        let run = engine.run(inputs: inputs, labels: [0, 1, 2, 0],
                                             options: AsyncOptions(forwardGroupSize: nil, scheduler: scheduler,
                                                                   refractoryDropout: setting.refractoryDropout, seed: seed,
                                                                   recordTape: tape, recordTrace: true))
                        let label = "\(arch.name) \(setting) seed \(seed) \(scheduler) tape \(tape)"
                        #expect(AsyncTestSupport.asyncSpikes(run) == expected, "\(label)")
                        #expect(run.spikeCounts == layered.spikeCounts, "\(label)")
                        #expect(run.predictions == layered.predictions, "\(label)")
                        for b in 0..<run.samples.count {
                            #expect(run.samples[b].synapticOperations == layered.synapticOperations![b], "\(label)")
                        }
                    }
                }
            }
        }
        if setting.reset == .subtract && setting.beta >= 0.95 {
            #expect(aboveAfterReset > 0, "the grid must exercise membranes left above threshold (\(setting))")
        }
    }

    /// The case the grid exists for, worked by hand: reset by subtraction without leak leaves a
    /// membrane above threshold, so the neuron fires in the next frame without any input, and its
    /// spike must reach the next population in that frame exactly as in layered execution.
    /// Input 1 -> n1 (w = 3.5, theta = 1) -> n2 (w = 1.5, theta = 1), beta = 1, subtract.
    /// Frame 0 (x = 1): n1: U = 3.5, spikes, V = 2.5; n2: U = 1.5, spikes, V = 0.5.
    /// Frame 1 (x = 0): n1: U = 2.5, spikes, V = 1.5; n2: U = 0.5 + 1.5 = 2, spikes, V = 1.
    /// Frame 2 (x = 0): n1: U = 1.5, spikes, V = 0.5; n2: U = 1 + 1.5 = 2.5, spikes, V = 1.5.
    /// Frame 3 (x = 0): n1: U = 0.5, silent; n2: U = 1.5, spikes (no input at all), V = 0.5.
    /// Evaluated at the first forward step instead of its wave front, n2 would fire in frame 1 before
    /// n1's spike arrives and integrate twice.
    @Test func supraThresholdMembraneFiresAtItsWaveFront() throws {
        let p = LIFParameters(beta: 1, threshold: 1, reset: .subtract)
        var network = try Network(spec: NetworkSpec(inputShape: [1], layers: [.linear(inFeatures: 1, outFeatures: 1), .lif(p),
                                                                              .linear(inFeatures: 1, outFeatures: 1), .lif(p)]), seed: 1)
        network.weights[0] = Tensor(shape: [1, 1], data: [3.5])
        network.weights[2] = Tensor(shape: [1, 1], data: [1.5])
        let inputs = Tensor(shape: [4, 1, 1], data: [1, 0, 0, 0])
        let layered = try LayeredEngine(network: network).run(inputs: inputs, tape: true)
        #expect(layered.outputs.map { $0.data[0] } == [1, 1, 1, 1])
        #expect(layered.spikeCounts == [[3], [4]])
        let run = try AsyncEngine(network: network).run(inputs: inputs, labels: [0],
                                                        options: AsyncOptions(forwardGroupSize: nil, recordTape: true, recordTrace: true))
        #expect(run.samples[0].outputCounts == [[1], [1], [1], [1]])
        #expect(run.spikeCounts == [[3], [4]])
        // n2 integrates once per frame, at forward step 2, also in frame 3 where nothing reaches it.
        let tape = run.tapes![0]
        for f in 0..<4 {
            let steps = Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1])
            var n2Integrations = 0
            for s in steps {
                for r in Int(tape.stepIntegrationStart[s])..<Int(tape.stepIntegrationStart[s + 1]) where tape.integrationNeuron[r] == 1 {
                    n2Integrations += 1
                    #expect(s - steps.lowerBound == 1, "frame \(f): n2 integrates at its wave front (step 2)")
                }
            }
            #expect(n2Integrations == 1, "frame \(f)")
        }
        // At F = 1 (one spike per step) the same holds: nothing of the frame can reach n2 before step 2.
        let slow = try AsyncEngine(network: network).run(inputs: inputs, labels: [0], options: AsyncOptions(forwardGroupSize: 1))
        #expect(slow.samples[0].outputCounts == [[1], [1], [1], [1]])
    }
}
