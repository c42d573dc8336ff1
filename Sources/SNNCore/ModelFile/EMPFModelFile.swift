import Foundation
import SNNTensor

/// Model files of EM-PF networks: format version 3 of the SNNKit model file (same magic, checksum
/// and atomic write as ``ModelFile``; versions 1 and 2 remain plain networks read by ``ModelFile``).
///
/// Layout (little-endian):
///
/// | bytes | content |
/// |---|---|
/// | 8 | magic `SNNKITMD` |
/// | 4 | format version 3 (UInt32) |
/// | 8 | header length `h` (UInt64) |
/// | h | UTF-8 JSON ``Header``: the ``EMPFSpec`` and one ``Entry`` per stored tensor, metadata |
/// | ... | the tensors in header order: Float32 values, or for a binary weight its sign bits packed 8 per byte (bit `j % 8` of byte `j / 8` set when weight `j` is negative; unused bits zero) followed by its scales as Float32 (one per layer or per output channel) |
/// | 4 | CRC-32 of every preceding byte |
///
/// Binary layers store only what inference uses, `alpha * sign(W)`: a loaded model's latent weight
/// is that product (same bits as the forward weight of the model that was written).
public enum EMPFModelFile {
    /// The format version of EM-PF model files.
    public static let version: UInt32 = 3

    /// One stored tensor.
    public struct Entry: Codable, Sendable, Equatable {
        /// Layer index and index within the layer's parameters (``EMPFModel/parameters``), or of its
        /// running statistics when `statistics` is true.
        public var layer: Int
        public var index: Int
        public var statistics: Bool
        public var shape: [Int]
        /// `float32` or `sign-bits`.
        public var encoding: String
        /// Sign bits: the number of bytes of packed bits and of scales.
        public var bitBytes: Int?
        public var scales: Int?
    }

    /// The JSON header.
    public struct Header: Codable, Sendable {
        public var kind: String
        public var spec: EMPFSpec
        public var entries: [Entry]
        public var metadata: [String: String]
    }

    /// Writes `model` to `url` atomically.
    public static func write(_ model: EMPFModel, metadata: [String: String] = [:], to url: URL) throws {
        var entries: [Entry] = []
        var payload: [UInt8] = []
        for i in model.spec.layers.indices {
            for (k, t) in model.parameters[i].enumerated() {
                if k == 0, model.isBinary(i), case .synaptic(let layer) = model.spec.layers[i] {
                    let scales = BinaryWeightMath.scales(of: t, perChannel: model.spec.binaryWeights == .perChannel, layer: layer)
                    var bits = [UInt8](repeating: 0, count: (t.count + 7) / 8)
                    for j in 0..<t.count where t.data[j] < 0 { bits[j / 8] |= 1 << UInt8(j % 8) }
                    payload += bits
                    for s in scales { ModelFile.append(&payload, s.bitPattern) }
                    entries.append(Entry(layer: i, index: k, statistics: false, shape: t.shape, encoding: "sign-bits", bitBytes: bits.count, scales: scales.count))
                } else {
                    for v in t.data { ModelFile.append(&payload, v.bitPattern) }
                    entries.append(Entry(layer: i, index: k, statistics: false, shape: t.shape, encoding: "float32", bitBytes: nil, scales: nil))
                }
            }
            for (k, t) in model.statistics[i].enumerated() {
                for v in t.data { ModelFile.append(&payload, v.bitPattern) }
                entries.append(Entry(layer: i, index: k, statistics: true, shape: t.shape, encoding: "float32", bitBytes: nil, scales: nil))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(Header(kind: "empf", spec: model.spec, entries: entries, metadata: metadata))
        var bytes = ModelFile.magic
        ModelFile.append(&bytes, version)
        ModelFile.append(&bytes, UInt64(json.count))
        bytes += json
        bytes += payload
        ModelFile.append(&bytes, CRC32.checksum(bytes))
        try ModelFile.writeAtomically(Data(bytes), to: url)
    }

    /// Whether the file at `url` is an EM-PF model file (version 3); false for other files or unreadable ones.
    public static func isEMPFFile(_ url: URL) -> Bool {
        guard let h = FileHandle(forReadingAtPath: url.path) else { return false }
        defer { try? h.close() }
        guard let d = try? h.read(upToCount: 12), d.count == 12 else { return false }
        let b = [UInt8](d)
        return Array(b[0..<8]) == ModelFile.magic && (ModelFile.load(b, 8) as UInt32) == version
    }

    /// Reads and verifies an EM-PF model file.
    public static func read(from url: URL) throws -> (model: EMPFModel, metadata: [String: String]) {
        let file = try ModelFileBytes(url: url) { v, fail in
            guard v == version else {
                throw fail(8, "has format version \(v), not an EM-PF model (version 3)" + (v <= ModelFile.version ? "; it is a plain network" : ""))
            }
        }
        let bytes = file.bytes, headerLength = file.headerLength
        let fail = file.fail
        try file.verifyChecksum()
        let header = try file.header(Header.self, describing: "an EM-PF model header")
        guard header.kind == "empf" else { throw fail(20, "header kind '\(header.kind)' is not 'empf'") }
        let shapes: [[Int]]
        do { shapes = try header.spec.shapes() } catch { throw fail(20, "architecture is inconsistent: \(error)") }
        let probe: EMPFModel
        do { probe = try EMPFModel(spec: header.spec, seed: 0) } catch { throw fail(20, "\(error)") }
        var parameters = probe.parameters, statistics = probe.statistics
        var expected = Set<[Int]>()
        for i in header.spec.layers.indices {
            for k in parameters[i].indices { expected.insert([i, k, 0]) }
            for k in statistics[i].indices { expected.insert([i, k, 1]) }
        }
        var offset = 20 + headerLength
        let end = bytes.count - 4
        func floats(_ n: Int, _ what: String) throws -> [Float] {
            guard n >= 0, n <= (end - offset) / 4 else { throw fail(offset, "\(what): \(n) values do not fit in the rest of the file (truncated?)") }
            let out = (0..<n).map { Float(bitPattern: ModelFile.load(bytes, offset + 4 * $0)) }
            offset += 4 * n
            return out
        }
        for e in header.entries {
            let what = "layer \(e.layer) tensor \(e.index)\(e.statistics ? " (statistics)" : "")"
            guard expected.remove([e.layer, e.index, e.statistics ? 1 : 0]) != nil else { throw fail(20, "\(what) is not part of this architecture, or stored twice") }
            let want = e.statistics ? statistics[e.layer][e.index].shape : parameters[e.layer][e.index].shape
            guard e.shape == want else { throw fail(20, "\(what) has shape \(e.shape), expected \(want)") }
            let n = want.reduce(1, *)
            switch e.encoding {
            case "float32":
                let values = try floats(n, what)
                guard values.allSatisfy({ $0.isFinite }) else { throw fail(offset, "\(what) holds non-finite values") }
                if e.statistics { statistics[e.layer][e.index] = Tensor(shape: want, data: values) } else { parameters[e.layer][e.index] = Tensor(shape: want, data: values) }
            case "sign-bits":
                guard !e.statistics, e.index == 0, header.spec.binaryWeights != .none, case .synaptic(let layer) = header.spec.layers[e.layer], layer.hasWeights else {
                    throw fail(20, "\(what) is stored as sign bits but is not a binary weight")
                }
                let needBytes = (n + 7) / 8
                guard let bitBytes = e.bitBytes, bitBytes == needBytes else {
                    throw fail(20, "\(what): \(e.bitBytes.map(String.init) ?? "no") bytes of sign bits for \(n) weights of shape \(want), expected \(needBytes)")
                }
                let channels = header.spec.binaryWeights == .perChannel ? BinaryWeightMath.outputChannels(layer) : 1
                guard e.scales == channels else { throw fail(20, "\(what): \(e.scales.map(String.init) ?? "no") scales, expected \(channels) (\(header.spec.binaryWeights.rawValue))") }
                guard bitBytes <= end - offset else { throw fail(offset, "\(what): sign bits run past the end of the file (truncated?)") }
                let bits = Array(bytes[offset..<(offset + bitBytes)])
                if n % 8 != 0, bits[bitBytes - 1] >> UInt8(n % 8) != 0 { throw fail(offset + bitBytes - 1, "\(what): padding bits after the \(n) weights are not zero") }
                offset += bitBytes
                let scales = try floats(channels, what)
                if let bad = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                    throw fail(offset - 4 * (channels - bad), "\(what): scale \(bad) is \(scales[bad]); scales must be finite and > 0")
                }
                var w = Tensor(shape: want)
                for j in 0..<n {
                    let a = scales[channels > 1 ? BinaryWeightMath.outputChannel(j, layer: layer) : 0]
                    w.data[j] = (bits[j / 8] >> UInt8(j % 8)) & 1 == 1 ? -a : a
                }
                parameters[e.layer][e.index] = w
            default:
                throw fail(20, "\(what) has unknown encoding '\(e.encoding)' (float32, sign-bits)")
            }
        }
        guard expected.isEmpty else { throw fail(20, "\(expected.count) tensors of the architecture are missing from the header") }
        guard offset == end else { throw fail(offset, "has \(end - offset) bytes after the last tensor (expected none)") }
        _ = shapes
        for (i, layer) in header.spec.layers.enumerated() {
            if case .neuron = layer {
                guard parameters[i][0].data.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw fail(20, "layer \(i): a decay is outside [0, 1]") }
                guard parameters[i][1].data.allSatisfy({ $0 > 0 }) else { throw fail(20, "layer \(i): a threshold is not > 0") }
                if statistics[i].count == 2, !statistics[i][1].data.allSatisfy({ $0 >= 0 }) { throw fail(20, "layer \(i): a running variance is negative") }
            }
        }
        do { return (try EMPFModel(spec: header.spec, parameters: parameters, statistics: statistics), header.metadata) } catch { throw fail(20, "\(error)") }
    }
}
