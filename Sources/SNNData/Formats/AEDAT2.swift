import Foundation

/// AEDAT 2.0 files (jAER), the format of POKER-DVS, MNIST-DVS and CIFAR10-DVS.
///
/// A file starts with ASCII header lines that begin with `#` (the first is `#!AER-DAT2.0`) and end
/// with `\n` (jAER writes `\r\n`); the header ends at the first line that does not start with `#`.
/// Then come events of 8 bytes, big-endian: a 32-bit address and a 32-bit timestamp in microseconds.
///
/// DVS128 address layout: polarity = bit 0 (as recorded: 1 = ON for jAER's DVS128), x = bits 1-7,
/// y = bits 8-14. An address with any bit above 14 set is a special (external or sync) event of
/// the jAER DVS128 format; such events are counted and skipped. The coordinates are returned as
/// the address holds them: jAER itself draws DVS128 recordings with x mirrored (`127 - x`) and
/// y = 0 at the bottom; a dataset that needs another orientation maps the events itself
/// (see ``CIFAR10DVSDataset``). POKER-DVS crops use the address fields directly (x, y < 32-35).
public enum AEDAT2 {
    /// The decoded polarity events of one file and what was skipped.
    public struct Recording: Sendable, Equatable {
        /// DVS events, timestamps in microseconds relative to the first event of the file.
        public var events: [Event]
        /// The timestamp (microseconds, as stored) of the first event.
        public var firstTimestamp: UInt32
        /// Special events (address bits above 14 set) that were skipped.
        public var specialEvents: Int
        /// Number of header lines.
        public var headerLines: Int
    }

    /// The byte offset of the first event: just after the last `#` header line.
    /// - Throws: ``DataError`` if the file does not start with `#!AER-DAT2`, a header line has no
    ///   end, or the header announces another major version.
    public static func dataOffset(_ b: UnsafeBufferPointer<UInt8>, file: String?) throws -> (offset: Int, lines: Int) {
        let magic = Array("#!AER-DAT".utf8)
        guard b.count >= magic.count + 1 else {
            throw DataError(.truncated, file: file, offset: b.count, "AEDAT 2.0: \(b.count) bytes (expected a header starting with #!AER-DAT2.0)")
        }
        guard zip(magic, b.prefix(magic.count)).allSatisfy({ $0 == $1 }) else {
            throw DataError(.corrupt, file: file, offset: 0, "AEDAT 2.0: file does not start with #!AER-DAT (expected a jAER AEDAT file)")
        }
        let major = b[magic.count]
        guard major == UInt8(ascii: "2") else {
            let shown = major >= 0x20 && major < 0x7F ? String(UnicodeScalar(major)) : "byte \(major)"
            throw DataError(.unsupported, file: file, offset: magic.count,
                            "AEDAT: version \(shown) (expected 2.0; AEDAT 3.x files are read by the DVS Gesture reader)")
        }
        var p = 0
        var lines = 0
        while p < b.count && b[p] == UInt8(ascii: "#") {
            var q = p
            while q < b.count && b[q] != UInt8(ascii: "\n") { q += 1 }
            guard q < b.count else {
                throw DataError(.truncated, file: file, offset: b.count, "AEDAT 2.0: file ends inside header line \(lines + 1) (expected a line end)")
            }
            lines += 1
            p = q + 1
        }
        return (p, lines)
    }

    @inline(__always) static func be32(_ b: UnsafeBufferPointer<UInt8>, _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }

    /// Decodes a whole file with the DVS128 address layout.
    /// - Throws: ``DataError``: `truncated` if the event data is not a whole number of 8-byte
    ///   events, `timestamps` if a timestamp is below the one before it, and the header errors of
    ///   ``dataOffset(_:file:)``.
    public static func decode(_ bytes: [UInt8], file: String? = nil) throws -> Recording {
        try bytes.withUnsafeBufferPointer { b in
            let (start, lines) = try dataOffset(b, file: file)
            let payload = b.count - start
            if payload % 8 != 0 {
                throw DataError(.truncated, file: file, offset: b.count - payload % 8,
                                "AEDAT 2.0: \(payload) bytes of events is not a whole number of 8-byte events (\(payload % 8) bytes left over)")
            }
            let n = payload / 8
            var events: [Event] = []
            events.reserveCapacity(n)
            var first: UInt32? = nil
            var last: UInt32 = 0
            var special = 0
            for i in 0..<n {
                let o = start + 8 * i
                let address = be32(b, o)
                let t = be32(b, o + 4)
                if i > 0 && t < last {
                    throw DataError(.timestamps, file: file, offset: o + 4,
                                    "AEDAT 2.0: event \(i) at \(t) us comes after one at \(last) us (expected non-decreasing timestamps)")
                }
                last = t
                if address >> 15 != 0 { special += 1; continue }
                let t0 = first ?? t
                if first == nil { first = t }
                events.append(Event(x: UInt16(address >> 1 & 0x7F), y: UInt16(address >> 8 & 0x7F),
                                    polarity: UInt8(address & 1), timestamp: t - t0))
            }
            return Recording(events: events, firstTimestamp: first ?? 0, specialEvents: special, headerLines: lines)
        }
    }

    /// Reads and decodes one file.
    public static func read(_ url: URL) throws -> Recording {
        try decode(try FileData.read(url), file: url.path)
    }

    /// Encodes DVS events (x, y < 128) as an AEDAT 2.0 file with the DVS128 address layout, the
    /// timestamps offset by `startTime` microseconds (for tests and conversions).
    public static func encode(events: [Event], startTime: UInt32 = 0, comment: String = "written by SNNKit") -> [UInt8] {
        var out = Array("#!AER-DAT2.0\r\n# This is a raw AE data file\r\n# Data format is int32 address, int32 timestamp (8 bytes total)\r\n# \(comment)\r\n".utf8)
        out.reserveCapacity(out.count + 8 * events.count)
        func put32(_ v: UInt32) { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        for e in events {
            put32(UInt32(e.y & 0x7F) << 8 | UInt32(e.x & 0x7F) << 1 | UInt32(e.polarity & 1))
            put32(startTime &+ e.timestamp)
        }
        return out
    }
}
