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
    ///
    /// A gzipped file is inflated only as far as its idx header says it should go: the header is
    /// decoded first, and inflating stops with an error as soon as the output passes the size the
    /// dimensions announce (a small `.gz` that expands to gigabytes is refused after a few bytes
    /// more than expected, not after filling memory).
    public static func read(_ url: URL) throws -> IDX.Array {
        let raw = try FileData.read(url)
        guard Gzip.isGzip(raw) else {
            if url.pathExtension == "gz" {
                throw DataError(.corrupt, file: url.path, offset: 0, "name ends in .gz but the file does not start with the gzip magic number 1f 8b")
            }
            return try decode(raw, file: url.path)
        }
        let head = try Gzip.prefix(raw, count: 4 + 4 * 4, file: url.path)
        guard let expected = expectedSize(head) else {
            // Too short or not an idx header: decoding the prefix reports what is wrong.
            return try decode(head, file: url.path)
        }
        let bytes: [UInt8]
        do { bytes = try Gzip.decompress(raw, file: url.path, maxOutput: expected) } catch let e as DataError where e.message.contains("exceeds the limit") {
            throw DataError(.corrupt, file: url.path, offset: e.offset,
                            "idx: the gzip data expands past the \(expected) bytes that the idx header announces (stopped inflating there)")
        }
        return try decode(bytes, file: url.path)
    }

    /// The file size (header and data) that an idx header announces, or nil if `head` does not
    /// start with a whole, valid unsigned-byte idx header.
    public static func expectedSize(_ head: [UInt8]) -> Int? {
        guard head.count >= 4, head[0] == 0, head[1] == 0, head[2] == 0x08 else { return nil }
        let rank = Int(head[3])
        guard rank >= 1 && rank <= 4, head.count >= 4 + 4 * rank else { return nil }
        var total = 4 + 4 * rank
        var product = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let v = Int(head[o]) << 24 | Int(head[o + 1]) << 16 | Int(head[o + 2]) << 8 | Int(head[o + 3])
            let m = product.multipliedReportingOverflow(by: v)
            if m.overflow { return nil }
            product = m.partialValue
        }
        let s = total.addingReportingOverflow(product)
        if s.overflow { return nil }
        total = s.partialValue
        return total
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
