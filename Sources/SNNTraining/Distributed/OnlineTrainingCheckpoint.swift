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
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var bytes = TrainingCheckpoint.magic
        ModelFile.append(&bytes, Self.version)
        ModelFile.append(&bytes, UInt64(json.count))
        bytes += json
        func floats(_ values: [Float]) { for v in values { ModelFile.append(&bytes, v.bitPattern) } }
        for layer in model.parameters { for t in layer { floats(t.data) } }
        for layer in model.statistics { for t in layer { floats(t.data) } }
        for k in firstKeys { floats(optimizer.first[k]!) }
        for k in secondKeys { floats(optimizer.second[k]!) }
        ModelFile.append(&bytes, CRC32.checksum(bytes))
        return bytes
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
        guard bytes.count >= 24 else { throw fail("is too short (\(bytes.count) bytes) to be a training checkpoint") }
        guard Array(bytes[0..<8]) == TrainingCheckpoint.magic else {
            if Array(bytes[0..<8]) == ModelFile.magic { throw fail("is a model file, not a training checkpoint (write one with --checkpoint-every)") }
            throw fail("does not start with the magic 'SNNKITCK' (not an SNNKit training checkpoint)")
        }
        let v: UInt32 = ModelFile.load(bytes, 8)
        if v == TrainingCheckpoint.version {
            throw fail("is a checkpoint of layered or unlayered training of a plain network (format version 1), not of --method training; resume it without --method")
        }
        guard v == version else { throw fail("has checkpoint format version \(v); this build reads versions 1 (plain networks) and 2 (--method)") }
        let stored: UInt32 = ModelFile.load(bytes, bytes.count - 4)
        guard CRC32.checksum(bytes[0..<(bytes.count - 4)]) == stored else { throw fail("is corrupt (checksum mismatch: truncated or damaged)") }
        let jsonLength: UInt64 = ModelFile.load(bytes, 12)
        guard jsonLength <= UInt64(bytes.count - 24) else { throw fail("has a header length (\(jsonLength)) beyond the file") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[20..<(20 + Int(jsonLength))])) } catch {
            throw fail("has an unreadable header (\(error))")
        }
        guard header.kind == "online" else { throw fail("has header kind '\(header.kind)', not 'online'") }
        let shell: EMPFModel
        do { shell = try EMPFModel(spec: header.spec, seed: 0) } catch { throw fail("has an invalid architecture (\(error))") }
        guard header.parameterShapes == shell.parameters.map({ $0.map(\.shape) }),
              header.statisticsShapes == shell.statistics.map({ $0.map(\.shape) }) else {
            throw fail("stores tensors whose shapes do not match its architecture")
        }
        var offset = 20 + Int(jsonLength)
        let end = bytes.count - 4
        func floats(_ n: Int) throws -> [Float] {
            guard n >= 0, n <= (end - offset) / 4 else { throw fail("is shorter than its header says (tensor data missing)") }
            let out = (0..<n).map { Float(bitPattern: ModelFile.load(bytes, offset + 4 * $0)) }
            offset += 4 * n
            return out
        }
        let parameters = try shell.parameters.map { try $0.map { Tensor(shape: $0.shape, data: try floats($0.count)) } }
        let statistics = try shell.statistics.map { try $0.map { Tensor(shape: $0.shape, data: try floats($0.count)) } }
        let flatCounts = parameters.flatMap { $0 }.map(\.count)
        func moments(_ list: [[Int]]) throws -> [Int: [Float]] {
            var out: [Int: [Float]] = [:]
            for entry in list {
                guard entry.count == 2, entry[0] >= 0, entry[0] < flatCounts.count, entry[1] == flatCounts[entry[0]], out[entry[0]] == nil else {
                    throw fail("has an optimizer buffer \(entry) that does not match its architecture")
                }
                out[entry[0]] = try floats(entry[1])
            }
            return out
        }
        let first = try moments(header.firstMoments), second = try moments(header.secondMoments)
        guard offset == end else { throw fail("has \(end - offset) bytes after its data") }
        guard header.batchSize > 0, header.position.epoch >= 0, header.position.batchesDone >= 0, header.optimizerSteps >= 0 else {
            throw fail("has an invalid position or batch size")
        }
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
