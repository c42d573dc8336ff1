import Foundation
import SNNCore
import SNNTensor

/// The byte layout both kinds of training checkpoint share (``TrainingCheckpoint``, format version 1,
/// and ``OnlineTrainingCheckpoint``, version 2), little-endian: magic `SNNKITCK` (8 bytes), format
/// version (UInt32), header length (UInt64), the JSON header (sorted keys), Float32 values, and a CRC-32
/// of everything before it (UInt32).
enum CheckpointContainer {
    static let magic = Array("SNNKITCK".utf8)

    /// The bytes of a checkpoint with `header` and the values of `tensors` in order.
    static func encode<H: Encodable>(version: UInt32, header: H, tensors: [[Float]]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var bytes = magic
        ModelFile.append(&bytes, version)
        ModelFile.append(&bytes, UInt64(json.count))
        bytes += json
        for values in tensors { for v in values { ModelFile.append(&bytes, v.bitPattern) } }
        ModelFile.append(&bytes, CRC32.checksum(bytes))
        return bytes
    }

    /// The format version of `bytes`, after checking the length and the magic (a model file is named as one).
    static func version(of bytes: [UInt8], fail: (String) -> CheckpointError) throws -> UInt32 {
        guard bytes.count >= 24 else { throw fail("is too short (\(bytes.count) bytes) to be a training checkpoint") }
        guard Array(bytes[0..<8]) == magic else {
            if Array(bytes[0..<8]) == ModelFile.magic { throw fail("is a model file, not a training checkpoint (write one with --checkpoint-every)") }
            throw fail("does not start with the magic 'SNNKITCK' (not an SNNKit training checkpoint)")
        }
        return ModelFile.load(bytes, 8)
    }

    /// Checks the magic, the version (the other kind of checkpoint is named), the checksum, and decodes
    /// the header; returns it with a reader of the values after it.
    static func open<H: Decodable>(_ bytes: [UInt8], version expected: UInt32, as: H.Type,
                                   fail: @escaping (String) -> CheckpointError) throws -> (header: H, values: ValueReader) {
        let v = try version(of: bytes, fail: fail)
        guard v == expected else {
            switch v {
            case 1: throw fail("is a checkpoint of layered or unlayered training of a plain network (format version 1), not of --method training; resume it without --method")
            case 2: throw fail("is a checkpoint of --method (online or EM-PF) training (format version 2); resume it with the --method it was trained with")
            default: throw fail("has checkpoint format version \(v); this build reads versions 1 (plain networks) and 2 (--method)")
            }
        }
        let stored: UInt32 = ModelFile.load(bytes, bytes.count - 4)
        guard CRC32.checksum(bytes[0..<(bytes.count - 4)]) == stored else { throw fail("is corrupt (checksum mismatch: truncated or damaged)") }
        let jsonLength: UInt64 = ModelFile.load(bytes, 12)
        guard jsonLength <= UInt64(bytes.count - 24) else { throw fail("has a header length (\(jsonLength)) beyond the file") }
        let header: H
        do { header = try JSONDecoder().decode(H.self, from: Data(bytes[20..<(20 + Int(jsonLength))])) } catch {
            throw fail("has an unreadable header (\(error))")
        }
        return (header, ValueReader(bytes: bytes, offset: 20 + Int(jsonLength), fail: fail))
    }

    /// Reads the Float32 values after the header, in order, and checks that they end where the checksum begins.
    struct ValueReader {
        let bytes: [UInt8]
        var offset: Int
        let fail: (String) -> CheckpointError

        mutating func floats(_ n: Int) throws -> [Float] {
            let end = bytes.count - 4
            guard n >= 0, n <= (end - offset) / 4 else { throw fail("is shorter than its header says (tensor data missing)") }
            var out = [Float](repeating: 0, count: n)
            for j in 0..<n { out[j] = Float(bitPattern: ModelFile.load(bytes, offset + 4 * j)) }
            offset += 4 * n
            return out
        }

        /// Optimizer moment buffers listed as `[index, length]`: each index once, with the length
        /// `expectedLength(index)` gives (nil: no such parameter).
        mutating func moments(_ list: [[Int]], expectedLength: (Int) -> Int?) throws -> [Int: [Float]] {
            var out: [Int: [Float]] = [:]
            for entry in list {
                guard entry.count == 2, let n = expectedLength(entry[0]), entry[1] == n, out[entry[0]] == nil else {
                    throw fail("has an optimizer buffer \(entry) that does not match its architecture")
                }
                out[entry[0]] = try floats(n)
            }
            return out
        }

        /// The training position and global batch size a header gives, checked.
        func check(position: TrainingPosition, batchSize: Int, optimizerSteps: Int) throws {
            guard batchSize > 0, position.epoch >= 0, position.batchesDone >= 0, optimizerSteps >= 0 else {
                throw fail("has an invalid position or batch size")
            }
        }

        func finish() throws {
            let left = bytes.count - 4 - offset
            guard left == 0 else { throw fail("has \(left) bytes after its data") }
        }
    }
}
