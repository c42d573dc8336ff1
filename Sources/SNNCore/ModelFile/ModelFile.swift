import Foundation
import SNNTensor

/// The SNNKit model file (`.snnmodel`): architecture, neuron parameters, weights and free-form
/// metadata in one versioned, checksummed binary file.
///
/// Layout (all integers little-endian):
///
/// | bytes | content |
/// |---|---|
/// | 8 | magic `SNNKITMD` |
/// | 4 | format version (UInt32, currently 2; version 1 is still read) |
/// | 8 | header length `h` (UInt64) |
/// | h | header: UTF-8 JSON of ``ModelFile/Header`` (spec with neuron parameters, tensor shapes, metadata) |
/// | 4 x n | the parameter tensors of the layers that have them, in layer order, Float32: synaptic weights and (version 2) the normalisation parameters of normalised LIF populations |
/// | 4 x m | (version 2) the running statistics of the normalised populations, in layer order, Float32 |
/// | 4 | CRC-32 of every preceding byte |
///
/// Version 1 files (weights only, no normalisation) load unchanged. Running statistics are checked on
/// load: the right length, finite, variances >= 0.
///
/// Files are written atomically (a temporary file in the same folder, then `rename`). Loading checks
/// the magic, the version, the header, every tensor's shape against the architecture, the neuron
/// parameters (``NetworkSpec/problem``: threshold > 0, beta in [0, 1], positive surrogate widths),
/// the exact length, and the checksum, and names the file and the problem when one fails.
public enum ModelFile {
    /// The magic bytes at offset 0.
    public static let magic = Array("SNNKITMD".utf8)
    /// The format version this build writes and reads.
    public static let version: UInt32 = 2
    /// The oldest format version this build reads.
    public static let oldestReadableVersion: UInt32 = 1

    /// The JSON header.
    public struct Header: Codable, Sendable {
        public var spec: NetworkSpec
        /// Shapes of the stored tensors, one per layer with parameters, in layer order.
        public var tensorShapes: [[Int]]
        /// Shapes of the stored running statistics, one per normalised population (version 2; absent in version 1).
        public var statisticsShapes: [[Int]]?
        /// Anything worth keeping with the weights (dataset, seed, accuracy, training command...).
        public var metadata: [String: String]
    }

    /// Writes `network` and `metadata` to `url` atomically.
    public static func write(_ network: Network, metadata: [String: String] = [:], to url: URL) throws {
        let stored = network.parameterIndices
        let normalized = network.normalizationIndices
        let header = Header(spec: network.spec, tensorShapes: stored.map { network.weights[$0].shape },
                            statisticsShapes: normalized.map { network.runningStatistics[$0].shape }, metadata: metadata)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(header)
        var bytes = [UInt8]()
        bytes.reserveCapacity(json.count + 32 + network.parameterCount * 4)
        bytes += magic
        append(&bytes, version)
        append(&bytes, UInt64(json.count))
        bytes += json
        for i in stored {
            network.weights[i].withUnsafeBufferPointer { p in
                for v in p { append(&bytes, v.bitPattern) }
            }
        }
        for i in normalized {
            for v in network.runningStatistics[i].data { append(&bytes, v.bitPattern) }
        }
        append(&bytes, CRC32.checksum(bytes))
        try writeAtomically(Data(bytes), to: url)
    }

    /// Reads and verifies a model file.
    public static func read(from url: URL) throws -> (network: Network, metadata: [String: String]) {
        let file = try ModelFileBytes(url: url) { v, fail in
            // Version 3 files hold EM-PF networks (floating-point spikes, binary weights): ``EMPFModelFile``.
            if v == EMPFModelFile.version { throw fail(8, "is an EM-PF model (format version 3), written by `snn train --method`, not a plain network: read it with EMPFModelFile (snn eval and snn info take it; this command does not)") }
            guard v >= oldestReadableVersion, v <= version else {
                throw fail(8, "has format version \(v); this build reads versions \(oldestReadableVersion) to \(version)")
            }
        }
        let bytes = file.bytes, v = file.version, headerLength = file.headerLength
        let fail = file.fail
        let header = try file.header(Header.self, describing: "a model header")
        let shapes: [[Int]]
        do { shapes = try header.spec.shapes() } catch { throw fail(20, "architecture is inconsistent: \(error)") }
        if let problem = header.spec.problem { throw fail(20, "architecture cannot run: \(problem)") }
        _ = shapes
        if v == 1, header.spec.layers.contains(where: { $0.normalization != nil }) {
            throw fail(20, "is format version 1 but its architecture has normalised populations (version 2 only)")
        }
        var offset = 20 + headerLength
        // Fix: count the weights without overflow traps (the header is untrusted); anything larger than
        // the file is reported as a length mismatch.
        var expectedCount = 0
        let statisticShapes = header.spec.layers.compactMap { $0.normalization?.statisticsShape }
        for shape in header.spec.layers.compactMap(\.parameterShape) + statisticShapes {
            var n = 1
            for d in shape { n = d > 0 && n <= Int.max / d ? n * d : Int.max / 8 }
            expectedCount = min(expectedCount + min(n, Int.max / 8), Int.max / 8)
        }
        guard expectedCount < bytes.count else {
            throw fail(offset, "is \(bytes.count) bytes, too short for the \(expectedCount) weights of this architecture (truncated?)")
        }
        let expectedLength = offset + 4 * expectedCount + 4
        guard bytes.count == expectedLength else {
            throw fail(offset, "is \(bytes.count) bytes, expected \(expectedLength) for this architecture (truncated or extra data)")
        }
        try file.verifyChecksum()
        var weights = [Tensor]()
        var shapeIndex = 0
        for (i, layer) in header.spec.layers.enumerated() {
            guard let shape = layer.parameterShape else { weights.append(Tensor(shape: [0])); continue }
            guard shapeIndex < header.tensorShapes.count, header.tensorShapes[shapeIndex] == shape else {
                throw fail(20, "tensor \(shapeIndex) for layer \(i) (\(layer.shortName)) has shape \(shapeIndex < header.tensorShapes.count ? header.tensorShapes[shapeIndex] : []), expected \(shape)")
            }
            shapeIndex += 1
            let n = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: n)
            for j in 0..<n { values[j] = Float(bitPattern: load(bytes, offset + 4 * j)) }
            offset += 4 * n
            guard values.allSatisfy({ $0.isFinite }) else { throw fail(offset, "layer \(i) holds non-finite weights") }
            weights.append(Tensor(shape: shape, data: values))
        }
        var statistics = [Tensor]()
        var statIndex = 0
        for (i, layer) in header.spec.layers.enumerated() {
            guard let norm = layer.normalization else { statistics.append(Tensor(shape: [0])); continue }
            let shape = norm.statisticsShape
            let stored = header.statisticsShapes ?? []
            guard statIndex < stored.count, stored[statIndex] == shape else {
                throw fail(20, "running statistics \(statIndex) for layer \(i) (\(layer.shortName)) have shape \(statIndex < stored.count ? stored[statIndex] : []), expected \(shape) (wrong length)")
            }
            statIndex += 1
            let n = shape.reduce(1, *)
            var values = [Float](repeating: 0, count: n)
            for j in 0..<n { values[j] = Float(bitPattern: load(bytes, offset + 4 * j)) }
            let t = Tensor(shape: shape, data: values)
            if let problem = norm.validate(statistics: t) { throw fail(offset, "layer \(i) (\(layer.shortName)): \(problem)") }
            offset += 4 * n
            statistics.append(t)
        }
        do {
            return (try Network(spec: header.spec, weights: weights, runningStatistics: statistics), header.metadata)
        } catch { throw fail(20, "\(error)") }
    }

    /// Writes `data` to a temporary file beside `url`, then renames it over `url`.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        // Fix: failures are ModelFileErrors naming the file; a failed write removes its partial temporary
        // file; the temporary name is unique per call (two writers in one process no longer share it).
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ModelFileError(url: url, offset: nil, problem: "could not be written: cannot create its folder (\(error.localizedDescription))")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
        // An interruption (SIGINT, SIGTERM, SIGHUP) during the write removes the temporary file.
        try InterruptCleanup.guarding(tmp.path) {
            do { try data.write(to: tmp) } catch {
                try? FileManager.default.removeItem(at: tmp)
                throw ModelFileError(url: url, offset: nil, problem: "could not be written (\(error.localizedDescription))")
            }
            if rename(tmp.path, url.path) != 0 {
                try? FileManager.default.removeItem(at: tmp)
                throw ModelFileError(url: url, offset: nil, problem: "could not be replaced (rename failed, errno \(errno))")
            }
        }
    }

    /// Appends `v` in little-endian byte order (the byte order of every SNNKit file format).
    public static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes += $0 }
    }

    /// Reads a little-endian integer at `offset` (the caller checks the bounds).
    public static func load<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int) -> T {
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size { v |= T(bytes[offset + i]) << (8 * i) }
        return v
    }
}

/// The opening every SNNKit model file shares (plain networks and EM-PF models), read whole and
/// checked in the order problems are reported: length (at least 24 bytes), the magic `SNNKITMD`, the
/// format version (by the reader's own rule), then the header length (a little-endian `UInt64` at
/// byte 12; the JSON header starts at byte 20). The CRC-32 of everything before the last 4 bytes is
/// checked by ``verifyChecksum()``, when the reader chooses.
struct ModelFileBytes {
    let url: URL
    let bytes: [UInt8]
    let version: UInt32
    let headerLength: Int

    /// An error at `offset` (nil: the whole file) naming the file.
    func fail(_ offset: Int?, _ problem: String) -> ModelFileError { ModelFileError(url: url, offset: offset, problem: problem) }

    /// Reads `url`; `acceptVersion(version, fail)` throws for a version the reader does not take.
    init(url: URL, acceptVersion: (UInt32, (Int?, String) -> ModelFileError) throws -> Void) throws {
        self.url = url
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelFileError(url: url, offset: nil, problem: "cannot be read (\(error.localizedDescription))")
        }
        bytes = [UInt8](data)
        let fail = { (offset: Int?, problem: String) in ModelFileError(url: url, offset: offset, problem: problem) }
        guard bytes.count >= 24 else { throw fail(0, "is \(bytes.count) bytes long, too short for a model file (at least 24)") }
        guard Array(bytes[0..<8]) == ModelFile.magic else { throw fail(0, "does not start with the magic 'SNNKITMD' (not an SNNKit model file)") }
        version = ModelFile.load(bytes, 8)
        try acceptVersion(version, fail)
        // Fix: `Int(UInt64)` trapped on a length field with the top bit set (a single flipped bit).
        headerLength = Int(clamping: ModelFile.load(bytes, 12) as UInt64)
        guard headerLength > 0, headerLength <= bytes.count - 24 else {
            throw fail(12, "header length \(headerLength) does not fit in a file of \(bytes.count) bytes (truncated?)")
        }
    }

    /// Throws unless the stored CRC-32 (last 4 bytes) is that of the rest of the file.
    func verifyChecksum() throws {
        let crc = CRC32.checksum(bytes[0..<(bytes.count - 4)])
        let stored: UInt32 = ModelFile.load(bytes, bytes.count - 4)
        guard crc == stored else {
            throw fail(bytes.count - 4, String(format: "checksum mismatch (stored %08x, computed %08x): the file is corrupt", stored, crc))
        }
    }

    /// The JSON header decoded as `H` (`describing` names it in the error, e.g. "a model header").
    func header<H: Decodable>(_ type: H.Type, describing: String) throws -> H {
        do { return try JSONDecoder().decode(H.self, from: Data(bytes[20..<(20 + headerLength)])) } catch {
            throw fail(20, "header is not valid JSON for \(describing): \(error)")
        }
    }
}

/// A model file that cannot be used: names the file, the byte offset (when known) and the problem.
public struct ModelFileError: Error, CustomStringConvertible, Sendable {
    public var url: URL
    public var offset: Int?
    public var problem: String
    public var description: String {
        "model file \(url.path)\(offset.map { " (byte \($0))" } ?? ""): \(problem)"
    }
}
