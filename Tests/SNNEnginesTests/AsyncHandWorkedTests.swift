import Testing
import SNNCore
import SNNEngines
import SNNTensor

/// Hand-worked examples of the asynchronous engine, checked exactly.
///
/// The chain: two input channels drive neurons A and B (population 0, identity weights), which both
/// project onto C (population 1): A -> C with +0.5, B -> C with -0.4. IF neurons, theta = 0.3.
/// When both spikes reach C in the same forward step, C gets 0.1 and stays silent; when A's spike
/// arrives first, C reaches 0.5 and fires (B's inhibition then meets a refractory neuron); when B's
/// arrives first, C goes to -0.4 and then only to 0.1.
struct AsyncHandWorkedTests {
    static let neuron = LIFParameters(beta: 1, threshold: 0.3, reset: .zero)

    static func chain() throws -> AsyncEngine {
        let spec = NetworkSpec(inputShape: [2], layers: [.linear(inFeatures: 2, outFeatures: 2), .lif(neuron),
                                                         .linear(inFeatures: 2, outFeatures: 1), .lif(neuron)])
        let network = try Network(spec: spec, weights: [Tensor(shape: [2, 2], data: [1, 0, 0, 1]), Tensor(shape: [0]),
                                                        Tensor(shape: [2, 1], data: [0.5, -0.4]), Tensor(shape: [0])])
        return try AsyncEngine(network: network)
    }

    /// One frame with input values `a`, `b`, then `extraFrames` silent frames.
    static func input(_ a: Float, _ b: Float, extraFrames: Int = 0) -> Tensor {
        Tensor(shape: [1 + extraFrames, 1, 2], data: [a, b] + [Float](repeating: 0, count: 2 * extraFrames))
    }

    @Test func layeredOrderKeepsCSilent() throws {
        let run = try Self.chain().run(inputs: Self.input(1, 1), labels: [0], options: AsyncOptions(forwardGroupSize: nil, recordTape: true))
        let s = run.samples[0]
        #expect(s.spikesPerFrame == [[2, 0]])
        #expect(s.forwardStepsPerFrame == [2])
        #expect(s.outputCounts == [[0]])
        let tape = run.tapes![0]
        #expect(tape.emittedNeuron == [0, 1])
        #expect(tape.stepEmissionStart == [0, 2, 2])
        #expect(tape.integrationNeuron == [0, 1, 2])
        #expect(tape.integrationMargin[2] == (0 + Float(0.5) + Float(-0.4)) - 0.3)
    }

    @Test func momentumEmitsTheMostOverdrivenFirst() throws {
        // B over-driven (P = 2): B leaves first, C sees -0.4 then +0.5: silent.
        let engine = try Self.chain()
        let options = AsyncOptions(forwardGroupSize: 1, scheduler: .momentum, recordTape: true)
        var run = engine.run(inputs: Self.input(1, 2), labels: [0], options: options)
        var s = run.samples[0]
        #expect(run.tapes![0].emittedNeuron == [1, 0])
        #expect(run.tapes![0].integrationNeuron == [0, 1, 2, 2])
        #expect(run.tapes![0].stepIntegrationStart == [0, 2, 3, 4])
        #expect(run.tapes![0].integrationMargin[3] == (Float(-0.4) + Float(0.5)) - 0.3)
        #expect(s.spikesPerFrame == [[2, 0]])
        #expect(s.forwardStepsPerFrame == [3])
        #expect(s.outputCounts == [[0]])
        #expect(s.firstOutputStep == nil)

        // A over-driven (P = 2): A leaves first, C reaches 0.5 and fires; B (P = 1) beats C (P = 0.5);
        // B's -0.4 meets refractory C (U = 0); C's spike leaves at step 3.
        run = engine.run(inputs: Self.input(2, 1), labels: [0], options: options)
        s = run.samples[0]
        let tape = run.tapes![0]
        #expect(tape.emittedNeuron == [0, 1, 2])
        #expect(tape.emittedIntegration == [0, 1, 2])
        #expect(tape.integrationNeuron == [0, 1, 2, 2])
        #expect(tape.integrationFlags == [AsyncTape.spikedBit | AsyncTape.setsRefractoryBit,
                                          AsyncTape.spikedBit | AsyncTape.setsRefractoryBit,
                                          AsyncTape.spikedBit | AsyncTape.setsRefractoryBit,
                                          AsyncTape.refractoryBit])
        #expect(tape.integrationMargin == [2 - 0.3, 1 - 0.3, 0.5 - 0.3, -0.3])
        #expect(s.spikesPerFrame == [[2, 1]])
        #expect(s.forwardStepsPerFrame == [3])
        #expect(s.outputCounts == [[1]])
        #expect(s.firstOutputStep == 3)
        #expect(s.spikesUntilFirstOutput == 3)
        #expect(s.firstCorrectOutputStep == 3)
        #expect(s.prediction == 0)
        // Queue after each step's integration: 2, 2 (B and C), 1 (C).
        #expect(s.queueLengthSum == 5)
        #expect(s.queueLengthMax == 2)
        // Synaptic events before firing: both input events reach A and B (dense 2x2 synapses), one spike reaches C.
        #expect(s.currentsToSpikeHistogram[1] == 1)
        #expect(s.currentsToSpikeHistogram[2] == 2)
        // NeuroBench: input value 2 is a multiply-accumulate, input value 1 an accumulate (fan-out 2
        // each); A's and B's spikes are accumulates of fan-out 1; C's output spike delivers nothing.
        #expect(s.synapticOperations == SynapticOperations(accumulates: 2 + 1 + 1, multiplyAccumulates: 2))
    }

    @Test("random scheduler with a fixed seed: the drawn order decides whether C fires", arguments: Array(UInt64(0)..<12))
    func randomOrder(seed: UInt64) throws {
        let engine = try Self.chain()
        let run = engine.run(inputs: Self.input(1, 1), labels: [0],
                             options: AsyncOptions(forwardGroupSize: 1, scheduler: .random, seed: seed, recordTape: true))
        let tape = run.tapes![0]
        // The draw, by hand: queue [A, B] in integration order; slot = floor(2 * bits / 2^64).
        let bits = CounterRNG(seed: seed).bits(stream: 0, counter: 0)
        let firstSlot = Int(UInt64(2).multipliedFullWidth(by: bits).high)
        #expect(Int(tape.emittedNeuron[0]) == firstSlot)
        let s = run.samples[0]
        if firstSlot == 0 {
            // A first: C fires at step 2; then B and C wait together.
            #expect(s.spikesPerFrame == [[2, 1]])
            #expect(s.outputCounts == [[1]])
            #expect(tape.emittedNeuron.sorted() == [0, 1, 2])
        } else {
            #expect(s.spikesPerFrame == [[2, 0]])
            #expect(s.outputCounts == [[0]])
            #expect(tape.emittedNeuron == [1, 0])
        }
    }

    @Test func randomSchedulerTakesBothOrders() throws {
        let engine = try Self.chain()
        var outcomes = Set<Int32>()
        for seed in UInt64(0)..<32 {
            let run = engine.run(inputs: Self.input(1, 1), options: AsyncOptions(forwardGroupSize: 1, scheduler: .random, seed: seed))
            outcomes.insert(run.samples[0].outputCounts[0][0])
        }
        #expect(outcomes == [0, 1])
    }

    @Test func stopRuleCarriesQueueAndPendingCurrentOver() throws {
        // F = 1, one forward step per frame: B leaves in frame 0, its -0.4 waits for frame 1; A carries over.
        let engine = try Self.chain()
        let options = AsyncOptions(forwardGroupSize: 1, scheduler: .momentum, stopRule: .maxForwardSteps(1), recordTape: true)
        let run = engine.run(inputs: Self.input(1, 2, extraFrames: 2), options: options)
        let s = run.samples[0]
        let tape = run.tapes![0]
        #expect(s.forwardStepsPerFrame == [1, 1, 1])
        #expect(s.framesStoppedEarly == 2)
        #expect(tape.stoppedEarly == [true, true, false])
        #expect(tape.emittedNeuron == [1, 0])
        #expect(tape.stepEmissionStart == [0, 1, 2, 2])
        // Frame 1 integrates C's carried -0.4, frame 2 its +0.5 on top.
        #expect(tape.integrationNeuron == [0, 1, 2, 2])
        let inhibition: Float = -0.4, theta: Float = 0.3
        #expect(tape.integrationMargin[2] == inhibition - theta)
        #expect(tape.integrationMargin[3] == (Float(-0.4) + Float(0.5)) - 0.3)
        #expect(s.spikesLeftInQueue == 0)
        #expect(tape.droppedNeuron.isEmpty)

        // Reference compatibility: pending currents are lost when the stop rule ends a frame.
        var compat = options
        compat.dropsPendingNegativeCurrentsOnStop = true
        let r2 = engine.run(inputs: Self.input(1, 2, extraFrames: 2), options: compat)
        let t2 = r2.tapes![0]
        #expect(r2.samples[0].forwardStepsPerFrame == [1, 1, 0])
        #expect(t2.integrationNeuron == [0, 1])
        #expect(t2.droppedNeuron == [2, 2])
        #expect(t2.frameDroppedStart == [0, 1, 2, 2])
    }

    @Test func compatibilityDropsPendingNegativeCurrentsAtQuiescence() throws {
        // Only B fires: C receives -0.4. Default: C integrates it (2 steps, V(C) = -0.4 carries on).
        let engine = try Self.chain()
        let base = AsyncOptions(forwardGroupSize: nil, recordTape: true)
        let r1 = engine.run(inputs: Self.input(0, 1), options: base)
        #expect(r1.samples[0].forwardStepsPerFrame == [2])
        #expect(r1.tapes![0].integrationNeuron == [0, 1, 2])
        var compat = base
        compat.dropsPendingNegativeCurrentsOnStop = true
        let r2 = engine.run(inputs: Self.input(0, 1), options: compat)
        #expect(r2.samples[0].forwardStepsPerFrame == [1])
        #expect(r2.tapes![0].integrationNeuron == [0, 1])
        #expect(r2.tapes![0].droppedNeuron == [2])
    }

    @Test func onOutputStopsKStepsAfterTheFirstOutputSpike() throws {
        // A wins (momentum): C's spike leaves at step 3. on-output:0 stops right there; B was already out.
        let engine = try Self.chain()
        for k in 0..<3 {
            let run = engine.run(inputs: Self.input(2, 1, extraFrames: 1),
                                 options: AsyncOptions(forwardGroupSize: 1, scheduler: .momentum, stopRule: .onOutput(k: k)))
            let s = run.samples[0]
            #expect(s.firstOutputStep == 3)
            // After step 3 the network is quiescent, so the frame ends naturally whatever k is.
            #expect(s.forwardStepsPerFrame[0] == 3)
            #expect(s.framesStoppedEarly == 0)
        }
    }

    @Test func refractoryDropoutLetsANeuronFireTwice() throws {
        // A -> C with weight 1 twice in a frame needs C to fire twice; with dropout 1 no spike sets R.
        let spec = NetworkSpec(inputShape: [1], layers: [.linear(inFeatures: 1, outFeatures: 2), .lif(Self.neuron),
                                                         .linear(inFeatures: 2, outFeatures: 1), .lif(Self.neuron)])
        let network = try Network(spec: spec, weights: [Tensor(shape: [1, 2], data: [1, 1]), Tensor(shape: [0]),
                                                        Tensor(shape: [2, 1], data: [1, 1]), Tensor(shape: [0])])
        let engine = try AsyncEngine(network: network)
        let x = Tensor(shape: [1, 1, 1], data: [1])
        let off = engine.run(inputs: x, options: AsyncOptions(forwardGroupSize: 1, scheduler: .momentum(noise: 0)))
        #expect(off.samples[0].spikesPerFrame == [[2, 1]])
        let on = engine.run(inputs: x, options: AsyncOptions(forwardGroupSize: 1, scheduler: .momentum(noise: 0), refractoryDropout: 1))
        #expect(on.samples[0].spikesPerFrame == [[2, 2]])
        #expect(on.samples[0].outputCounts == [[2]])
    }
}
