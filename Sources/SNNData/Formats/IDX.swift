import Foundation

/// The idx format of MNIST and Fashion-MNIST (`*-idx3-ubyte`, `*-idx1-ubyte`, plain or gzipped).
///
/// Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type these datasets use), the
/// number of dimensions, then each dimension as a big-endian 32-bit integer; then the data.
public enum IDX {
    /// A decoded idx file of unsigned bytes.
    public struct Array: Sendable {
        /// Dimensions, outermost first (e.g. `[10000, 28, 28]`).
        public var dims: [Int]
        /// The values, row-major.
        public var bytes: [UInt8]
    }

    /// Reads `url` (gunzipping it if needed) and checks the header against the data size.
    public static func read(_ url: URL) throws -> IDX.Array {
        try decode(try FileData.readDecompressing(url), file: url.path)
    }

    /// Decodes idx bytes.
    public static func decode(_ b: [UInt8], file: String? = nil) throws -> IDX.Array {
        guard b.count >= 4 else {
            throw DataError(.truncated, file: file, offset: b.count, "idx: \(b.count) bytes (expected a 4-byte magic number)")
        }
        guard b[0] == 0, b[1] == 0 else {
            throw DataError(.corrupt, file: file, offset: 0, "idx: magic starts with \(b[0]) \(b[1]) (expected 0 0)")
        }
        guard b[2] == 0x08 else {
            throw DataError(.unsupported, file: file, offset: 2, "idx: element type 0x\(String(b[2], radix: 16)) (expected 0x08, unsigned byte)")
        }
        let rank = Int(b[3])
        guard rank >= 1 && rank <= 4 else {
            throw DataError(.corrupt, file: file, offset: 3, "idx: \(rank) dimensions (expected 1 to 4)")
        }
        let header = 4 + 4 * rank
        guard b.count >= header else {
            throw DataError(.truncated, file: file, offset: b.count, "idx: header needs \(header) bytes, file has \(b.count)")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let v = Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3])
            dims.append(v)
            total = total.multipliedReportingOverflow(by: v).overflow ? Int.max : total * v
        }
        guard total != Int.max, b.count - header == total else {
            let kind: DataError.Kind = b.count - header < total ? .truncated : .corrupt
            throw DataError(kind, file: file, offset: min(b.count, header &+ total),
                            "idx: dimensions \(dims) need \(total) data bytes, file has \(b.count - header)")
        }
        return IDX.Array(dims: dims, bytes: Swift.Array(b[header...]))
    }

    /// Encodes unsigned bytes as idx (for tests and conversions).
    public static func encode(dims: [Int], bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { out += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
        return out + bytes
    }
}
