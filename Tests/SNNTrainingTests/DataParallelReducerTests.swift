import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// Two ranks simulated in one process: rank A's `allReduceSum` adds the buffer rank B sent (recorded
/// by running B's step first with a recording communicator).
final class RecordingCommunicator: Communicator, @unchecked Sendable {
    var recorded: [Float] = []
    var peer: [Float]? = nil
    let rank: Int
    let size = 2
    init(rank: Int) { self.rank = rank }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        recorded = Array(buffer)
        if let peer { for i in buffer.indices { buffer[i] += peer[i] } }
    }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    func broadcast(_ bytes: inout [UInt8], root: Int) {}
    func barrier() {}
    func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? { nil }
    func abort(code: Int32) -> Never { fatalError("abort") }
}

struct DataParallelReducerTests {
    static func network() throws -> Network {
        try Network(spec: NetworkSpec(inputShape: [16], layers: [.linear(inFeatures: 16, outFeatures: 12), .lif(LIFParameters(beta: 0.8, threshold: 0.5)),
                                                               .linear(inFeatures: 12, outFeatures: 4), .lif(LIFParameters(beta: 0.8, threshold: 0.5))]), seed: 3)
    }

    /// The reduced gradient of two shares (6 and 4 samples) is the gradient of the whole batch of 10,
    /// and so is the loss, the correct count and the sample count.
    @Test func twoSharesGiveTheWholeBatchGradient() throws {
        let net = try Self.network()
        let (x, labels) = TrainingTests.dataset(samples: 10, steps: 6, seed: 5)
        let whole = LayeredBPTT().lossAndGradients(network: net, inputs: x, labels: labels, loss: .rateCrossEntropy, seed: 1)
        let (xa, la) = TrainingTests.batch(x, labels, 0..<6), (xb, lb) = TrainingTests.batch(x, labels, 6..<10)
        let commB = RecordingCommunicator(rank: 1)
        var b = LayeredBPTT().lossAndGradients(network: net, inputs: xb, labels: lb, loss: .rateCrossEntropy, seed: 1)
        DataParallelReducer(communicator: commB).reduce(&b, samples: 4, network: net)
        let commA = RecordingCommunicator(rank: 0)
        commA.peer = commB.recorded
        var a = LayeredBPTT().lossAndGradients(network: net, inputs: xa, labels: la, loss: .rateCrossEntropy, seed: 1)
        DataParallelReducer(communicator: commA).reduce(&a, samples: 6, network: net)
        #expect(commA.recorded.count == DataParallelReducer.bufferCount(for: net))
        #expect(DataParallelReducer.bufferCount(for: net) == 16 * 12 + 12 + 12 * 4 + 4 + 4 || DataParallelReducer.bufferCount(for: net) == 16 * 12 + 12 * 4 + 4)
        #expect(a.samples == 10 && a.correct == whole.correct)
        #expect(abs(a.loss - whole.loss) <= 1e-5 * max(1, abs(whole.loss)))
        var largest: Float = 0, diff: Float = 0
        for i in net.parameterIndices {
            for (p, q) in zip(a.gradients[i].data, whole.gradients[i].data) { largest = max(largest, abs(q)); diff = max(diff, abs(p - q)) }
        }
        #expect(largest > 0, "the batch must have a gradient for the test to mean anything")
        #expect(diff <= 1e-5 * largest, "reduced gradient differs from the whole batch's by \(diff) (largest \(largest))")
    }

    /// A trainer with an empty share still takes part (zero gradient, weight 0).
    @Test func anEmptyShareContributesNothing() throws {
        let net = try Self.network()
        var trainer = Trainer(network: net, configuration: TrainingConfiguration(), computer: LayeredBPTT())
        let comm = RecordingCommunicator(rank: 1)
        trainer.gradientReducer = DataParallelReducer(communicator: comm)
        // Alone with an empty share the sum would be zero samples: give it a peer with one sample's worth.
        var peer = [Float](repeating: 0, count: DataParallelReducer.bufferCount(for: net))
        peer[peer.count - 2] = 1
        comm.peer = peer
        let r = trainer.step(inputs: Tensor(shape: [6, 0, 16]), labels: [])
        #expect(comm.recorded.allSatisfy { $0 == 0 })
        #expect(r.samples == 1)
        #expect(trainer.optimizer.stepCount == 1)
    }
}

struct TrainingCheckpointTests {
    /// Write, read: the same weights, optimizer state, position and info; any flipped byte is refused.
    @Test func roundTripAndCorruption() throws {
        var trainer = Trainer(network: try DataParallelReducerTests.network(), configuration: TrainingConfiguration(), computer: LayeredBPTT())
        let (x, labels) = TrainingTests.dataset(samples: 8, steps: 6, seed: 2)
        for _ in 0..<3 { _ = trainer.step(inputs: x, labels: labels) }
        var position = TrainingPosition(epoch: 2, batchesDone: 5, step: trainer.stepIndex)
        position.lossSum = 1.5; position.correct = 3; position.samples = 40
        let c = TrainingCheckpoint(network: trainer.network, optimizer: trainer.optimizer.state, position: position, batchSize: 8, seed: 9,
                                   info: ["records": "[]"])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        try c.write(to: url)
        let back = try TrainingCheckpoint.read(from: url)
        #expect(back.network.spec == c.network.spec && back.network.weights == c.network.weights)
        #expect(back.optimizer == c.optimizer && back.optimizer.stepCount == 3 && !back.optimizer.second.isEmpty)
        #expect(back.position == position && back.batchSize == 8 && back.seed == 9 && back.info == ["records": "[]"])
        var bytes = try c.encoded()
        for offset in [0, 9, 30, bytes.count / 2, bytes.count - 1] {
            var bad = bytes
            bad[offset] ^= 0x10
            #expect(throws: CheckpointError.self) { try TrainingCheckpoint.decode(bad, source: "x") }
        }
        bytes.removeLast(7)
        #expect(throws: CheckpointError.self) { try TrainingCheckpoint.decode(bytes, source: "x") }
    }
}
