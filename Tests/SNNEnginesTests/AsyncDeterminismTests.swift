import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// Reproducibility, scheduling order and bookkeeping of the asynchronous engine on random networks.
@Suite(.serialized)
struct AsyncDeterminismTests {
    static func mlp(seed: UInt64) throws -> Network {
        let lif = LayerSpec.lif(LIFParameters(beta: 0.9, threshold: 0.3))
        return try AsyncTestSupport.network([.linear(inFeatures: 60, outFeatures: 40), lif, .linear(inFeatures: 40, outFeatures: 30), lif,
                                             .linear(inFeatures: 30, outFeatures: 8), lif], input: [60], gain: 2.5, seed: seed)
    }

    static func cnn(seed: UInt64) throws -> Network {
        let lif = LayerSpec.lif(LIFParameters(beta: 0.95, threshold: 0.3))
        return try AsyncTestSupport.network([.conv2d(inChannels: 2, outChannels: 4, kernel: 3, stride: 2, padding: 1), lif,
                                             .avgPool2d(kernel: 2, stride: 2), .flatten,
                                             .linear(inFeatures: 4 * 3 * 3, outFeatures: 6), lif], input: [2, 12, 12], gain: 3, seed: seed)
    }

    @Test("same seed, same result, whatever the thread count", arguments: [Scheduler.random, Scheduler.momentum], [1, 3])
    func threadIndependence(scheduler: Scheduler, f: Int) throws {
        for network in [try Self.mlp(seed: 7), try Self.cnn(seed: 7)] {
            let inputs = AsyncTestSupport.inputs(frames: 5, batch: 13, shape: network.spec.inputShape, density: 0.3, seed: 11)
            let engine = try AsyncEngine(network: network)
            let options = AsyncOptions(forwardGroupSize: f, scheduler: scheduler, stopRule: .onOutput(k: 2), refractoryDropout: 0.3,
                                       seed: 42, recordTape: true)
            let saved = Parallelism.threadCount
            Parallelism.threadCount = 1
            let one = engine.run(inputs: inputs, labels: Array(repeating: 1, count: 13), options: options)
            Parallelism.threadCount = 2
            let two = engine.run(inputs: inputs, labels: Array(repeating: 1, count: 13), options: options)
            Parallelism.threadCount = saved
            #expect(one.samples == two.samples)
            #expect(one.tapes! == two.tapes!)
            // Recording a tape does not change the run (tape-free runs take the vectorised path).
            var untaped = options
            untaped.recordTape = false
            #expect(engine.run(inputs: inputs, labels: Array(repeating: 1, count: 13), options: untaped).samples == one.samples)
            #expect(one.samples.contains { $0.totalSpikes > 0 })
            // A different seed changes something (the scheduler really draws).
            var other = options
            other.seed = 43
            let three = engine.run(inputs: inputs, labels: Array(repeating: 1, count: 13), options: other)
            #expect(three.tapes! != one.tapes!)
        }
    }

    @Test func batchSplitDoesNotChangeResults() throws {
        let network = try Self.mlp(seed: 3)
        let engine = try AsyncEngine(network: network)
        let inputs = AsyncTestSupport.inputs(frames: 4, batch: 8, shape: [60], density: 0.3, seed: 5)
        let options = AsyncOptions(forwardGroupSize: 2, scheduler: .random, seed: 9)
        let whole = engine.run(inputs: inputs, options: options)
        // Second half alone, with its global sample offset.
        var half = [Float]()
        for t in 0..<4 { half += inputs.data[(t * 8 + 4) * 60..<(t * 8 + 8) * 60] }
        var o2 = options
        o2.sampleIndexOffset = 4
        let second = engine.run(inputs: Tensor(shape: [4, 4, 60], data: half), options: o2)
        #expect(Array(whole.samples[4...]) == second.samples)
    }

    @Test func momentumEmitsInDecreasingPotential() throws {
        // One population of 6 neurons driven by one input with different weights: F = 1 emits them
        // strongest first.
        let lif = LayerSpec.lif(LIFParameters(beta: 1, threshold: 0.3))
        let weights: [Float] = [0.5, 2, 0.9, 1.4, 0.7, 3]
        let spec = NetworkSpec(inputShape: [1], layers: [.linear(inFeatures: 1, outFeatures: 6), lif])
        let network = try Network(spec: spec, weights: [Tensor(shape: [1, 6], data: weights), Tensor(shape: [0])])
        let run = try AsyncEngine(network: network).run(inputs: Tensor(shape: [1, 1, 1], data: [1]),
                                                        options: AsyncOptions(forwardGroupSize: 1, scheduler: .momentum, recordTape: true))
        #expect(run.tapes![0].emittedNeuron == [5, 1, 3, 2, 4, 0])
        #expect(run.samples[0].forwardStepsPerFrame == [6])
        #expect(run.samples[0].queueLengthSum == 6 + 5 + 4 + 3 + 2 + 1)
        // The output population's spikes are the outputs: class 5 leaves first.
        #expect(run.samples[0].firstOutputStep == 1)
    }

    @Test func smallerFSpreadsTheWaveOverMoreForwardSteps() throws {
        let network = try Self.mlp(seed: 1)
        let engine = try AsyncEngine(network: network)
        let inputs = AsyncTestSupport.inputs(frames: 3, batch: 6, shape: [60], density: 0.3, seed: 2)
        var previous = 0.0
        for f in [nil, 32, 8, 2] as [Int?] {
            let m = engine.run(inputs: inputs, options: AsyncOptions(forwardGroupSize: f, scheduler: .momentum)).metrics
            #expect(m.forwardStepsPerFrame >= previous)
            previous = m.forwardStepsPerFrame
            #expect(m.spikesLeftInQueuePerSample == 0)
            #expect(m.emittedSpikesPerSample == m.spikesPerSample)
        }
        #expect(previous > 3)
    }

    @Test func onOutputBoundsTheFrameLength() throws {
        let network = try Self.mlp(seed: 4)
        let engine = try AsyncEngine(network: network)
        let inputs = AsyncTestSupport.inputs(frames: 4, batch: 10, shape: [60], density: 0.3, seed: 8)
        for k in [0, 2] {
            let run = engine.run(inputs: inputs, options: AsyncOptions(forwardGroupSize: 2, scheduler: .random,
                                                                       stopRule: .onOutput(k: k), recordTape: true, recordTrace: true))
            var stopped = 0
            for (b, s) in run.samples.enumerated() {
                stopped += s.framesStoppedEarly
                // In every frame: no step after (first output step of the frame) + k.
                for f in 0..<run.frames {
                    let events = run.trace!.events.filter { Int($0.sample) == b && Int($0.frame) == f }
                    guard let firstOut = events.first(where: { Int($0.population) == 2 }) else { continue }
                    let frameStart = Int(run.tapes![b].frameStepStart[f])
                    let lastStep = frameStart + Int(s.forwardStepsPerFrame[f])
                    #expect(lastStep <= Int(firstOut.step) + k)
                }
            }
            #expect(stopped > 0)
        }
        let capped = engine.run(inputs: inputs, options: AsyncOptions(forwardGroupSize: 1, stopRule: .maxForwardSteps(5)))
        #expect(capped.samples.allSatisfy { $0.forwardStepsPerFrame.allSatisfy { $0 <= 5 } })
        #expect(capped.samples.contains { $0.spikesLeftInQueue > 0 })
    }

    @Test func tapeIsConsistentWithTheMeasurements() throws {
        let network = try Self.cnn(seed: 2)
        let engine = try AsyncEngine(network: network)
        let inputs = AsyncTestSupport.inputs(frames: 3, batch: 4, shape: [2, 12, 12], density: 0.3, seed: 3)
        let run = engine.run(inputs: inputs, options: AsyncOptions(forwardGroupSize: 3, scheduler: .random, refractoryDropout: 0.5,
                                                                   recordTape: true, recordTrace: true))
        for (b, tape) in run.tapes!.enumerated() {
            let s = run.samples[b]
            #expect(tape.frameCount == run.frames)
            #expect(tape.stepCount == s.forwardSteps)
            #expect(tape.emittedNeuron.count == s.emittedSpikes)
            let fired = tape.integrationFlags.filter { $0 & AsyncTape.spikedBit != 0 }.count
            #expect(fired == s.totalSpikes)
            // Every emission points back to a spiking integration of the same neuron, not later than the step.
            for s in 0..<tape.stepCount {
                for e in Int(tape.stepEmissionStart[s])..<Int(tape.stepEmissionStart[s + 1]) {
                    let i = Int(tape.emittedIntegration[e])
                    #expect(i < Int(tape.stepIntegrationStart[s + 1]))
                    #expect(tape.integrationNeuron[i] == tape.emittedNeuron[e])
                    #expect(tape.integrationFlags[i] & AsyncTape.spikedBit != 0)
                }
            }
            #expect(tape.byteCount > 0)
        }
        #expect(run.trace!.events.count == run.samples.reduce(0) { $0 + $1.emittedSpikes })
        // Metrics round-trip through JSON.
        let m = run.metrics
        let data = try JSONEncoder().encode(m)
        #expect(try JSONDecoder().decode(AsyncMetrics.self, from: data) == m)
        // Trace round-trips through CSV.
        let parsed = try SpikeTrace.parse(run.trace!.csv())
        #expect(parsed == run.trace!)
    }

    @Test func unsupportedNetworksThrowClearly() throws {
        let lif = LayerSpec.lif(LIFParameters())
        // A trailing linear layer is a read-out; anything else after the last population is refused.
        let readout = NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), lif, .linear(inFeatures: 3, outFeatures: 2)])
        #expect(try AsyncEngine(network: try Network(spec: readout)).readout?.outFeatures == 2)
        let noOutput = NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), lif, .dropout(rate: 0.1)])
        #expect(throws: AsyncEngineError.self) { try AsyncEngine(network: try Network(spec: noOutput)) }
        let noSynapse = NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), lif, .dropout(rate: 0.1), lif])
        #expect(throws: AsyncEngineError.self) { try AsyncEngine(network: try Network(spec: noSynapse)) }
    }
}
