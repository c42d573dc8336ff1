import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// F = infinity is layered execution: the asynchronous engine must reproduce the layered engine's
/// spikes (per neuron, per frame) and output counts bit for bit, and its membranes (`U - theta`).
struct AsyncEquivalenceTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var input: [Int]
        var layers: [LayerSpec]
        var gain: Float
        var density: Float
        var counts: Bool
        var description: String { name }
    }

    static func lif(_ beta: Float) -> LayerSpec { .lif(LIFParameters(beta: beta, threshold: 0.3, reset: .zero)) }

    static let cases: [Case] = [
        Case(name: "dense IF", input: [40], layers: [.linear(inFeatures: 40, outFeatures: 24), lif(1),
                                                     .linear(inFeatures: 24, outFeatures: 16), lif(1),
                                                     .linear(inFeatures: 16, outFeatures: 6), lif(1)],
             gain: 2.5, density: 0.3, counts: false),
        Case(name: "dense leaky, count inputs", input: [30], layers: [.linear(inFeatures: 30, outFeatures: 20), lif(0.8),
                                                                       .dropout(rate: 0.3),
                                                                       .linear(inFeatures: 20, outFeatures: 20), lif(0.9),
                                                                       .linear(inFeatures: 20, outFeatures: 5), lif(0.7)],
             gain: 2, density: 0.25, counts: true),
        Case(name: "conv + avgpool leaky", input: [2, 10, 10],
             layers: [.conv2d(inChannels: 2, outChannels: 4, kernel: 3, stride: 1, padding: 1), lif(0.9),
                      .avgPool2d(kernel: 2, stride: 2),
                      .conv2d(inChannels: 4, outChannels: 6, kernel: 3, stride: 1, padding: 0), lif(0.95),
                      .flatten, .linear(inFeatures: 6 * 3 * 3, outFeatures: 5), lif(1)],
             gain: 3, density: 0.3, counts: false),
        Case(name: "conv strided IF + input avgpool", input: [2, 12, 12],
             layers: [.avgPool2d(kernel: 2, stride: 2),
                      .conv2d(inChannels: 2, outChannels: 5, kernel: 3, stride: 2, padding: 1), lif(1),
                      .avgPool2d(kernel: 3, stride: 1),
                      .flatten, .linear(inFeatures: 5 * 1 * 1, outFeatures: 4), lif(1)],
             gain: 4, density: 0.5, counts: true),
        Case(name: "conv + maxpool (OR folding)", input: [1, 9, 9],
             layers: [.conv2d(inChannels: 1, outChannels: 3, kernel: 3, stride: 1, padding: 1), lif(0.9),
                      .maxPool2d(kernel: 3, stride: 3),
                      .flatten, .linear(inFeatures: 27, outFeatures: 4), lif(0.9)],
             gain: 3, density: 0.4, counts: false),
    ]

    @Test("F = infinity equals the layered engine bit for bit", arguments: cases, [UInt64(1), 2, 3])
    func layeredEquivalence(c: Case, seed: UInt64) throws {
        let network = try AsyncTestSupport.network(c.layers, input: c.input, gain: c.gain, seed: seed)
        let inputs = AsyncTestSupport.inputs(frames: 6, batch: 5, shape: c.input, density: c.density, counts: c.counts, seed: seed)
        let layered = try LayeredEngine(network: network).run(inputs: inputs, tape: true, countOperations: true)
        let engine = try AsyncEngine(network: network)
        for scheduler in [Scheduler.random, Scheduler.momentum] {
            let run = engine.run(inputs: inputs, labels: [0, 1, 2, 3, 0],
                                 options: AsyncOptions(forwardGroupSize: nil, scheduler: scheduler, recordTape: true, recordTrace: true))
            // Spikes per neuron per frame.
            let expected = AsyncTestSupport.layeredSpikes(layered, network: network)
            let got = AsyncTestSupport.asyncSpikes(run)
            #expect(got == expected, "\(c.name) seed \(seed) \(scheduler)")
            // Without a tape the engine takes its vectorised integration path: same result.
            let fast = engine.run(inputs: inputs, labels: [0, 1, 2, 3, 0],
                                  options: AsyncOptions(forwardGroupSize: nil, scheduler: scheduler, recordTrace: true))
            #expect(AsyncTestSupport.asyncSpikes(fast) == expected)
            #expect(fast.samples == run.samples)
            // Every layer spiked somewhere (the test exercises every population).
            for p in run.populationSizes.indices {
                #expect(run.spikeCounts[p].reduce(0, +) > 0, "population \(p) never spiked in \(c.name)")
            }
            #expect(run.spikeCounts == layered.spikeCounts)
            // Output counts per frame and predictions.
            for t in 0..<run.frames {
                for b in 0..<run.samples.count {
                    let classes = run.populationSizes.last!
                    let layeredRow = (0..<classes).map { Int32(layered.outputs[t].data[b * classes + $0]) }
                    #expect(run.samples[b].outputCounts[t] == layeredRow)
                }
            }
            #expect(run.predictions == layered.predictions)
            // One population advances per forward step: L steps per frame with activity reaching the output.
            for s in run.samples { #expect(s.forwardStepsPerFrame.allSatisfy { $0 <= Int32(run.populationSizes.count) }) }
            // Synaptic operations as NeuroBench counts them, same as the layered count.
            for b in 0..<run.samples.count {
                #expect(run.samples[b].synapticOperations == layered.synapticOperations![b])
            }
            // Membranes: every async integration's U - theta equals the layered one, bit for bit.
            let pops = engine.populations
            for (b, tape) in run.tapes!.enumerated() {
                for t in 0..<tape.frameCount {
                    for s in Int(tape.frameStepStart[t])..<Int(tape.frameStepStart[t + 1]) {
                        for i in Int(tape.stepIntegrationStart[s])..<Int(tape.stepIntegrationStart[s + 1]) {
                            let n = Int(tape.integrationNeuron[i])
                            let p = pops.lastIndex { $0.offset <= n }!
                            guard case .lif(let params) = network.spec.layers[pops[p].layerIndex] else { continue }
                            let u = layered.tape!.preReset[t][pops[p].layerIndex]!
                            let expectedMargin = u.data[b * pops[p].count + n - pops[p].offset] - params.threshold
                            #expect(tape.integrationMargin[i].bitPattern == expectedMargin.bitPattern)
                        }
                    }
                }
            }
        }
    }
}
