import Foundation
import SNNTensor

/// The gzip container (RFC 1952) around DEFLATE: header, compressed data, CRC-32 and size.
///
/// Concatenated members are decoded one after another (as `gunzip` does); trailing zero bytes
/// after the last member are ignored. The CRC-32 and the length of every member are checked.
public enum Gzip {
    /// Whether `bytes` starts with the gzip magic number (1f 8b).
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// Decompresses a whole gzip file.
    /// - Parameters:
    ///   - file: named in errors.
    ///   - maxOutput: an error is thrown rather than produce more than this many bytes.
    public static func decompress(_ bytes: [UInt8], file: String? = nil, maxOutput: Int = 1 << 34) throws -> [UInt8] {
        do {
            return try bytes.withUnsafeBufferPointer { try decompress($0, maxOutput: maxOutput) }
        } catch let e as DataError {
            throw file.map { e.inFile($0) } ?? e
        }
    }

    /// The offset of the DEFLATE data of the member whose header starts at `p` (checks the header).
    static func memberHeaderEnd(_ buf: UnsafeBufferPointer<UInt8>, at start: Int) throws -> Int {
        var p = start
        guard buf.count - p >= 10 else {
            throw DataError(.truncated, offset: buf.count, "gzip: \(buf.count - p) bytes (expected a 10-byte header)")
        }
        guard buf[p] == 0x1F, buf[p + 1] == 0x8B else {
            throw DataError(.corrupt, offset: p, String(format: "gzip: bytes %02x %02x (expected the magic number 1f 8b)", buf[p], buf[p + 1]))
        }
        guard buf[p + 2] == 8 else {
            throw DataError(.unsupported, offset: p + 2, "gzip: compression method \(buf[p + 2]) (expected 8, DEFLATE)")
        }
        let flags = buf[p + 3]
        if flags & 0xE0 != 0 {
            throw DataError(.corrupt, offset: p + 3, "gzip: reserved flag bits set in \(flags)")
        }
        let headerStart = p
        p += 10
        if flags & 0x04 != 0 { // FEXTRA
            guard p + 2 <= buf.count else { throw DataError(.truncated, offset: buf.count, "gzip: header ends inside the extra-field length") }
            let xlen = Int(buf[p]) | Int(buf[p + 1]) << 8
            p += 2 + xlen
            guard p <= buf.count else { throw DataError(.truncated, offset: buf.count, "gzip: header ends inside the \(xlen)-byte extra field") }
        }
        for (bit, name) in [(UInt8(0x08), "file name"), (UInt8(0x10), "comment")] where flags & bit != 0 {
            while p < buf.count && buf[p] != 0 { p += 1 }
            guard p < buf.count else { throw DataError(.truncated, offset: buf.count, "gzip: header ends inside the \(name) (expected a zero byte)") }
            p += 1
        }
        if flags & 0x02 != 0 { // FHCRC
            guard p + 2 <= buf.count else { throw DataError(.truncated, offset: buf.count, "gzip: header ends before its CRC-16") }
            let stored = UInt32(buf[p]) | UInt32(buf[p + 1]) << 8
            let crc = CRC32.checksum(UnsafeBufferPointer(rebasing: buf[headerStart..<p])) & 0xFFFF
            if crc != stored { throw DataError(.corrupt, offset: p, "gzip: header CRC-16 \(stored) (expected \(crc))") }
            p += 2
        }
        return p
    }

    /// The first bytes of the first member's data: at least `count` of them, or all of them if the
    /// member is shorter, decoding little more than that (no checksum check). Lets a reader look
    /// at a header before it decides how much output to allow (see ``IDX/read(_:)``).
    public static func prefix(_ bytes: [UInt8], count: Int, file: String? = nil) throws -> [UInt8] {
        do {
            return try bytes.withUnsafeBufferPointer { buf in
                let p = try memberHeaderEnd(buf, at: 0)
                return try Inflate.prefix(UnsafeBufferPointer(rebasing: buf[p...]), atLeast: count, baseOffset: p)
            }
        } catch let e as DataError {
            throw file.map { e.inFile($0) } ?? e
        }
    }

    static func decompress(_ buf: UnsafeBufferPointer<UInt8>, maxOutput: Int) throws -> [UInt8] {
        var output: [UInt8] = []
        var p = 0
        var member = 0
        while true {
            if member > 0 {
                // Another member, or only zero padding, may follow.
                if p >= buf.count || buf[p...].allSatisfy({ $0 == 0 }) { break }
            }
            p = try memberHeaderEnd(buf, at: p)
            let result = try Inflate.decompress(UnsafeBufferPointer(rebasing: buf[p...]), maxOutput: maxOutput - output.count, baseOffset: p)
            p += result.consumed
            guard p + 8 <= buf.count else {
                throw DataError(.truncated, offset: buf.count, "gzip: file ends before the 8-byte CRC-32 and size trailer")
            }
            let storedCRC = UInt32(buf[p]) | UInt32(buf[p + 1]) << 8 | UInt32(buf[p + 2]) << 16 | UInt32(buf[p + 3]) << 24
            let storedSize = UInt32(buf[p + 4]) | UInt32(buf[p + 5]) << 8 | UInt32(buf[p + 6]) << 16 | UInt32(buf[p + 7]) << 24
            let crc = CRC32.checksum(result.output)
            if crc != storedCRC {
                throw DataError(.corrupt, offset: p, String(format: "gzip: CRC-32 of the data is %08x (expected %08x as stored)", crc, storedCRC))
            }
            if UInt32(truncatingIfNeeded: result.output.count) != storedSize {
                throw DataError(.corrupt, offset: p + 4, "gzip: \(result.output.count) bytes decoded (expected \(storedSize) modulo 2^32 as stored)")
            }
            p += 8
            if output.isEmpty { output = result.output } else { output.append(contentsOf: result.output) }
            member += 1
        }
        return output
    }
}
