import Foundation
import SNNCore
import SNNTensor

/// Where a training run stands: enough, with the model and the optimizer state, to continue it and
/// get the same weights as a run that was never interrupted (every random draw of training is a
/// function of the seed, the epoch and the step index, so no generator state needs saving).
public struct TrainingPosition: Codable, Sendable, Equatable {
    /// The epoch in progress (from 0).
    public var epoch: Int
    /// Batches of that epoch already trained on (the epoch's batch count: the epoch's training is
    /// done but its end-of-epoch evaluation is not).
    public var batchesDone: Int
    /// Optimisation steps taken since the start (``Trainer/stepIndex``: seeds the stochastic parts).
    public var step: UInt64
    /// Sums over the epoch's batches so far (its metrics continue from them).
    public var lossSum: Double = 0
    public var correct: Int = 0
    public var samples: Int = 0
    public var seconds: Double = 0
    public var peakTapeBytes: Int = 0

    public init(epoch: Int, batchesDone: Int, step: UInt64) {
        self.epoch = epoch; self.batchesDone = batchesDone; self.step = step
    }
}

/// A training checkpoint: model, optimizer state, position (epoch, batch, step) and the settings a
/// resumed run must share (global batch size, seed), in one versioned, checksummed file written
/// atomically (a crash while writing leaves the previous checkpoint in place).
///
/// Layout (``CheckpointContainer``, little-endian): magic `SNNKITCK` (8 bytes), format version (UInt32), header length
/// (UInt64), the JSON ``Header``, then Float32 values: the parameter tensors in layer order, the
/// running statistics of normalised populations, the optimizer's first-moment buffers and its
/// second-moment buffers (tensor indices and lengths in the header); last, a CRC-32 of everything
/// before it (UInt32).
public struct TrainingCheckpoint: Sendable {
    public static let magic = CheckpointContainer.magic
    /// The format version this build writes and reads.
    public static let version: UInt32 = 1

    public var network: Network
    public var optimizer: Optimizer.State
    public var position: TrainingPosition
    /// The global batch size (all ranks together) the run was started with.
    public var batchSize: Int
    /// The seed of the shuffling and of the stochastic parts of training.
    public var seed: UInt64
    /// Anything else the writer keeps (e.g. the CLI's per-epoch records as JSON).
    public var info: [String: String]

    public init(network: Network, optimizer: Optimizer.State, position: TrainingPosition, batchSize: Int, seed: UInt64,
                info: [String: String] = [:]) {
        self.network = network; self.optimizer = optimizer; self.position = position
        self.batchSize = batchSize; self.seed = seed; self.info = info
    }

    struct Header: Codable {
        var spec: NetworkSpec
        var tensorShapes: [[Int]]
        var statisticsShapes: [[Int]]
        var optimizerSteps: Int
        /// `[tensor index, length]` of each first-moment buffer, then of each second-moment buffer.
        var firstMoments: [[Int]]
        var secondMoments: [[Int]]
        var position: TrainingPosition
        var batchSize: Int
        var seed: UInt64
        var info: [String: String]
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        let stored = network.parameterIndices, normalized = network.normalizationIndices
        let firstKeys = optimizer.first.keys.sorted(), secondKeys = optimizer.second.keys.sorted()
        let header = Header(spec: network.spec, tensorShapes: stored.map { network.weights[$0].shape },
                            statisticsShapes: normalized.map { network.runningStatistics[$0].shape },
                            optimizerSteps: optimizer.stepCount,
                            firstMoments: firstKeys.map { [$0, optimizer.first[$0]!.count] },
                            secondMoments: secondKeys.map { [$0, optimizer.second[$0]!.count] },
                            position: position, batchSize: batchSize, seed: seed, info: info)
        return try CheckpointContainer.encode(version: Self.version, header: header, tensors:
            stored.map { network.weights[$0].data } + normalized.map { network.runningStatistics[$0].data }
            + firstKeys.map { optimizer.first[$0]! } + secondKeys.map { optimizer.second[$0]! })
    }

    /// Writes the checkpoint to `url` atomically (temporary file, then rename).
    public func write(to url: URL) throws {
        try ModelFile.writeAtomically(Data(try encoded()), to: url)
    }

    /// Reads and verifies a checkpoint: magic, version, checksum, header, every size.
    public static func read(from url: URL) throws -> TrainingCheckpoint {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: url.path, problem: problem) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw fail("cannot be read (\(error.localizedDescription))") }
        return try decode([UInt8](data), fail: fail)
    }

    /// Reads a checkpoint from its bytes (e.g. broadcast by rank 0); `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> TrainingCheckpoint {
        try decode(bytes) { CheckpointError(path: source, problem: $0) }
    }

    static func decode(_ bytes: [UInt8], fail: @escaping (String) -> CheckpointError) throws -> TrainingCheckpoint {
        let opened = try CheckpointContainer.open(bytes, version: version, as: Header.self, fail: fail)
        let header = opened.header
        var values = opened.values
        func floats(_ n: Int) throws -> [Float] { try values.floats(n) }
        func count(_ shape: [Int]) throws -> Int {
            guard shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 31 }) else { throw fail("has an invalid tensor shape \(shape)") }
            return shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        }
        let shell: Network
        do { shell = try Network(spec: header.spec, initializer: .xavierUniform(gain: 0), seed: 0) } catch {
            throw fail("has an invalid architecture (\(error))")
        }
        guard header.tensorShapes.count == shell.parameterIndices.count,
              header.statisticsShapes.count == shell.normalizationIndices.count else {
            throw fail("has \(header.tensorShapes.count) parameter tensors for an architecture with \(shell.parameterIndices.count)")
        }
        var weights = shell.weights
        for (k, i) in shell.parameterIndices.enumerated() {
            guard header.tensorShapes[k] == shell.weights[i].shape else {
                throw fail("stores layer \(i) with shape \(header.tensorShapes[k]), its architecture needs \(shell.weights[i].shape)")
            }
            weights[i] = Tensor(shape: header.tensorShapes[k], data: try floats(try count(header.tensorShapes[k])))
        }
        var statistics = shell.runningStatistics
        for (k, i) in shell.normalizationIndices.enumerated() {
            guard header.statisticsShapes[k] == shell.runningStatistics[i].shape else {
                throw fail("stores the statistics of layer \(i) with shape \(header.statisticsShapes[k]), its architecture needs \(shell.runningStatistics[i].shape)")
            }
            statistics[i] = Tensor(shape: header.statisticsShapes[k], data: try floats(try count(header.statisticsShapes[k])))
        }
        let length = { (k: Int) -> Int? in shell.parameterIndices.contains(k) ? weights[k].count : nil }
        let first = try values.moments(header.firstMoments, expectedLength: length)
        let second = try values.moments(header.secondMoments, expectedLength: length)
        try values.finish()
        try values.check(position: header.position, batchSize: header.batchSize, optimizerSteps: header.optimizerSteps)
        let network: Network
        do { network = try Network(spec: header.spec, weights: weights, runningStatistics: statistics) } catch {
            throw fail("does not fit its architecture (\(error))")
        }
        return TrainingCheckpoint(network: network, optimizer: Optimizer.State(stepCount: header.optimizerSteps, first: first, second: second),
                                  position: header.position, batchSize: header.batchSize, seed: header.seed, info: header.info)
    }

}

/// A checkpoint that cannot be used: names the file and the problem.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String
    public init(path: String, problem: String) { self.path = path; self.problem = problem }
    public var description: String { "training checkpoint \(path) \(problem)" }
}
