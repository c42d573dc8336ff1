import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// Layered BPTT in blocks of samples (``LayeredBPTT``): the same forward pass and loss as the whole
/// batch, the blocks' gradients summed in block order, and the same bits at any thread count.
struct SampleBlockTrainingTests {
    static let neuron = LIFParameters(beta: 0.85, threshold: 0.4, reset: .subtract, surrogate: .fastSigmoid(slope: 5))

    /// A small convolutional network with dropout (whose masks depend on each sample's place in the batch).
    static func network(_ architecture: String, seed: UInt64) throws -> Network {
        try Network(spec: NetworkSpec.parse(architecture, neuron: neuron), initializer: .xavierUniform(gain: 2.5), seed: seed)
    }

    /// Spike frames `[steps, batch, 2, 8, 8]` at the given density, and labels.
    static func inputs(steps: Int, batch: Int, density: Float, seed: UInt64) -> (Tensor, [Int]) {
        let rng = CounterRNG(seed: seed)
        let n = steps * batch * 128
        let x = Tensor(shape: [steps, batch, 2, 8, 8], data: (0..<n).map { rng.uniform(stream: 3, counter: UInt64($0)) < density ? 1 : 0 })
        return (x, (0..<batch).map { Int(rng.bits(stream: 4, counter: UInt64($0)) % 5) })
    }

    static let architectures = ["input=2x8x8,conv4k3s2p1,drop0.3,conv6k3p1,max2,fc5",
                                "input=2x8x8,conv4k3p1,avg2,conv6k3s2p1,fc5:readout"]

    /// Batch 21 in 3 blocks of 7: the loss, correct count and spikes are the whole batch's bit for bit;
    /// the gradients are each block's BPTT gradient (its rows of the batch's loss gradient) summed in
    /// block order, bit for bit, and equal the whole batch's to rounding.
    @Test(arguments: [0, 1])
    func blocksSumTheirGradientsInOrder(architecture: Int) throws {
        let net = try Self.network(Self.architectures[architecture], seed: 5)
        #expect(LayeredBPTT.trainsInBlocks(net.spec))
        let batch = 21, steps = 4
        let blocks = LayeredBPTT.sampleBlocks(batch: batch)
        #expect(blocks == 3)
        let (x, labels) = Self.inputs(steps: steps, batch: batch, density: 0.3, seed: 11)
        let losses: [Loss] = architecture == 0 ? [.rateCrossEntropy, .countCrossEntropy, .membraneCrossEntropy, .countMSE] : [.meanCrossEntropy]
        for loss in losses {
            var whole = LayeredBPTT()
            whole.usesSampleBlocks = false
            let reference = whole.lossAndGradients(network: net, inputs: x, labels: labels, loss: loss, seed: 9)
            let blocked = LayeredBPTT().lossAndGradients(network: net, inputs: x, labels: labels, loss: loss, seed: 9)
            #expect(blocked.loss.bitPattern == reference.loss.bitPattern, "\(loss): loss")
            #expect(blocked.correct == reference.correct && blocked.spikes == reference.spikes, "\(loss): forward pass")

            // The blocks by hand: forward, the block's rows of the loss gradient, BPTT; summed in order.
            let engine = try LayeredEngine(network: net)
            var expected = net.weights.map { Tensor(shape: $0.shape) }
            for k in 0..<blocks {
                let r = AsyncEngine.sampleRange(ofBlock: k, batch: batch, blocks: blocks)
                let run = engine.run(inputs: TrainingTests.batch(x, labels, r).0, training: true, tape: true, seed: 9, firstSample: r.lowerBound)
                let (_, gOut, gMem) = loss.evaluate(outputs: run.outputs, membranes: run.outputMembranes, labels: Array(labels[r]),
                                                    batchSize: batch)
                let g = BPTT.gradients(network: net, tape: run.tape!, outputGradients: gOut, membraneGradients: gMem)
                for i in expected.indices { for j in 0..<expected[i].count { expected[i].data[j] += g[i].data[j] } }
            }
            var nonZero = 0
            for i in net.parameterIndices {
                #expect(blocked.gradients[i].data.map(\.bitPattern) == expected[i].data.map(\.bitPattern), "\(loss): layer \(i)")
                for (a, b) in zip(blocked.gradients[i].data, reference.gradients[i].data) {
                    #expect(abs(a - b) <= 1e-6 + 1e-4 * abs(b), "\(loss): layer \(i): blocks \(a), whole batch \(b)")
                    if b != 0 { nonZero += 1 }
                }
            }
            #expect(nonZero > 100, "\(loss): the comparison needs non-zero gradients (\(nonZero))")
            #expect(blocked.recordedTapeBytes > 0 && blocked.tapeBytes <= reference.tapeBytes)
        }
    }

    /// The same bits at 1, 2 and 3 threads (uneven blocks: 30 samples in 4 blocks of 7 or 8).
    @Test func sameBitsAtAnyThreadCount() throws {
        let net = try Self.network(Self.architectures[0], seed: 6)
        let (x, labels) = Self.inputs(steps: 3, batch: 30, density: 0.25, seed: 12)
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        var results: [StepResult] = []
        for threads in [1, 2, 3] {
            Parallelism.threadCount = threads
            results.append(LayeredBPTT().lossAndGradients(network: net, inputs: x, labels: labels, loss: .rateCrossEntropy, seed: 2))
        }
        for r in results.dropFirst() {
            #expect(r.loss.bitPattern == results[0].loss.bitPattern)
            for i in net.parameterIndices {
                #expect(r.gradients[i].data.map(\.bitPattern) == results[0].gradients[i].data.map(\.bitPattern), "layer \(i)")
            }
        }
        #expect(results[0].gradients.contains { $0.data.contains { $0 != 0 } })
    }

    /// Which networks take the blocks: convolutional ones without input normalisation.
    @Test func whichNetworksTrainInBlocks() throws {
        #expect(LayeredBPTT.trainsInBlocks(try NetworkSpec.parse("input=2x8x8,conv4k3,fc3", neuron: Self.neuron)))
        #expect(!LayeredBPTT.trainsInBlocks(try NetworkSpec.parse("16-8-3", neuron: Self.neuron)))
        #expect(!LayeredBPTT.trainsInBlocks(try NetworkSpec.parse("input=2x8x8,conv4k3:bntt,fc3:readout", neuron: Self.neuron, timeSteps: 4)))
        #expect(LayeredBPTT.sampleBlocks(batch: 8) == 1 && LayeredBPTT.sampleBlocks(batch: 9) == 2 && LayeredBPTT.sampleBlocks(batch: 128) == 16)
    }

    /// Kernels inside ``Parallelism/onCallingThread(_:)`` see one thread; outside, the setting again.
    @Test func callingThreadOnly() {
        let saved = Parallelism.threadCount
        defer { Parallelism.threadCount = saved }
        Parallelism.threadCount = 3
        let inside = Parallelism.onCallingThread { Parallelism.threadCount }
        #expect(inside == 1 && Parallelism.threadCount == 3)
    }
}
