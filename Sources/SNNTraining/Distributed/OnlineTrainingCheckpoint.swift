import Foundation
import SNNCore
import SNNTensor

/// A checkpoint of online or EM-PF training (`snn train --method ...`): the EM-PF model with its
/// latent (not binarised) weights, the optimizer state, the position and the settings a resumed run
/// must share. Same container as ``TrainingCheckpoint`` (magic `SNNKITCK`, checksum, atomic write)
/// with format version 2, so each reader names the other kind when given the wrong one.
///
/// Layout (little-endian): magic `SNNKITCK` (8 bytes), format version 2 (UInt32), header length
/// (UInt64), the JSON ``Header``, then Float32 values: every parameter tensor of every layer in order
/// (latent weights, decays, thresholds, ...), every running-statistics tensor in order, the
/// optimizer's first-moment buffers and its second-moment buffers (flat parameter indices and
/// lengths in the header); last, a CRC-32 of everything before it (UInt32).
public struct OnlineTrainingCheckpoint: Sendable {
    /// The format version of online-training checkpoints (``TrainingCheckpoint`` is version 1).
    public static let version: UInt32 = 2

    public var model: EMPFModel
    public var optimizer: Optimizer.State
    /// Where training stands; ``TrainingPosition/step`` counts trained batches (``OnlineTrainer/stepIndex``).
    public var position: TrainingPosition
    /// The global batch size (all ranks together).
    public var batchSize: Int
    public var seed: UInt64
    /// The training method (``OnlineMethod`` raw value).
    public var method: String
    /// Anything else the writer keeps (the CLI's per-epoch records as JSON).
    public var info: [String: String]

    public init(model: EMPFModel, optimizer: Optimizer.State, position: TrainingPosition, batchSize: Int, seed: UInt64,
                method: String, info: [String: String] = [:]) {
        self.model = model; self.optimizer = optimizer; self.position = position
        self.batchSize = batchSize; self.seed = seed; self.method = method; self.info = info
    }

    struct Header: Codable {
        var kind: String
        var spec: EMPFSpec
        var parameterShapes: [[[Int]]]
        var statisticsShapes: [[[Int]]]
        var optimizerSteps: Int
        /// `[flat parameter index, length]` of each first-moment buffer, then of each second-moment buffer.
        var firstMoments: [[Int]]
        var secondMoments: [[Int]]
        var position: TrainingPosition
        var batchSize: Int
        var seed: UInt64
        var method: String
        var info: [String: String]
    }

    /// The file's bytes.
    public func encoded() throws -> [UInt8] {
        let firstKeys = optimizer.first.keys.sorted(), secondKeys = optimizer.second.keys.sorted()
        let header = Header(kind: "online", spec: model.spec, parameterShapes: model.parameters.map { $0.map(\.shape) },
                            statisticsShapes: model.statistics.map { $0.map(\.shape) }, optimizerSteps: optimizer.stepCount,
                            firstMoments: firstKeys.map { [$0, optimizer.first[$0]!.count] },
                            secondMoments: secondKeys.map { [$0, optimizer.second[$0]!.count] },
                            position: position, batchSize: batchSize, seed: seed, method: method, info: info)
        return try CheckpointContainer.encode(version: Self.version, header: header, tensors:
            model.parameters.flatMap { $0.map(\.data) } + model.statistics.flatMap { $0.map(\.data) }
            + firstKeys.map { optimizer.first[$0]! } + secondKeys.map { optimizer.second[$0]! })
    }

    /// Writes the checkpoint to `url` atomically (temporary file, then rename).
    public func write(to url: URL) throws {
        try ModelFile.writeAtomically(Data(try encoded()), to: url)
    }

    /// Reads and verifies a checkpoint: magic, version, checksum, header, every shape and size.
    public static func read(from url: URL) throws -> OnlineTrainingCheckpoint {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw CheckpointError(path: url.path, problem: "cannot be read (\(error.localizedDescription))")
        }
        return try decode([UInt8](data), source: url.path)
    }

    /// Reads a checkpoint from its bytes (e.g. broadcast by rank 0); `source` names it in errors.
    public static func decode(_ bytes: [UInt8], source: String) throws -> OnlineTrainingCheckpoint {
        func fail(_ problem: String) -> CheckpointError { CheckpointError(path: source, problem: problem) }
        let opened = try CheckpointContainer.open(bytes, version: version, as: Header.self, fail: fail)
        let header = opened.header
        var values = opened.values
        guard header.kind == "online" else { throw fail("has header kind '\(header.kind)', not 'online'") }
        let shell: EMPFModel
        do { shell = try EMPFModel(spec: header.spec, seed: 0) } catch { throw fail("has an invalid architecture (\(error))") }
        guard header.parameterShapes == shell.parameters.map({ $0.map(\.shape) }),
              header.statisticsShapes == shell.statistics.map({ $0.map(\.shape) }) else {
            throw fail("stores tensors whose shapes do not match its architecture")
        }
        func floats(_ n: Int) throws -> [Float] { try values.floats(n) }
        let parameters = try shell.parameters.map { try $0.map { Tensor(shape: $0.shape, data: try floats($0.count)) } }
        let statistics = try shell.statistics.map { try $0.map { Tensor(shape: $0.shape, data: try floats($0.count)) } }
        let flatCounts = parameters.flatMap { $0 }.map(\.count)
        let length = { (k: Int) -> Int? in k >= 0 && k < flatCounts.count ? flatCounts[k] : nil }
        let first = try values.moments(header.firstMoments, expectedLength: length)
        let second = try values.moments(header.secondMoments, expectedLength: length)
        try values.finish()
        try values.check(position: header.position, batchSize: header.batchSize, optimizerSteps: header.optimizerSteps)
        guard OnlineMethod(rawValue: header.method) != nil else { throw fail("names an unknown method '\(header.method)'") }
        let model: EMPFModel
        do { model = try EMPFModel(spec: header.spec, parameters: parameters, statistics: statistics) } catch {
            throw fail("does not fit its architecture (\(error))")
        }
        return OnlineTrainingCheckpoint(model: model, optimizer: Optimizer.State(stepCount: header.optimizerSteps, first: first, second: second),
                                        position: header.position, batchSize: header.batchSize, seed: header.seed,
                                        method: header.method, info: header.info)
    }
}
