import Foundation

/// AEDAT 3.1 files (jAER / cAER, used by DVS128 Gesture): an ASCII header of `#` lines ending with
/// `#!END-HEADER\r\n`, then packets. Each packet has a 28-byte little-endian header (event type
/// int16, source int16, event size int32, timestamp offset int32, timestamp overflow int32,
/// capacity int32, number int32, valid int32) followed by `capacity * size` bytes of events.
///
/// Polarity events (type 1, 8 bytes): a 32-bit word with bit 0 = valid, bit 1 = polarity,
/// bits 2-16 = y, bits 17-31 = x, then a 32-bit timestamp in microseconds; the full timestamp is
/// `overflow << 31 | timestamp`. Other event types are skipped.
public enum AEDAT3 {
    /// Where one packet lies in a file, and the time span of its events.
    public struct Packet: Sendable, Equatable {
        /// Byte offset of the packet header.
        public var offset: Int
        public var eventType: Int
        public var eventSize: Int
        public var eventCount: Int
        /// First and last event timestamps (microseconds, overflow included); 0 for empty packets.
        public var firstTime: UInt64
        public var lastTime: UInt64
    }

    /// The polarity event type.
    public static let polarityType = 1

    /// The byte offset of the first packet (just after `#!END-HEADER\r\n`).
    public static func headerEnd(_ b: UnsafeRawBufferPointer, file: String?) throws -> Int {
        let magic = Array("#!AER-DAT3".utf8)
        guard b.count >= magic.count else {
            throw DataError(.truncated, file: file, offset: b.count, "AEDAT: \(b.count) bytes (expected a header starting with #!AER-DAT3)")
        }
        guard zip(magic, b.prefix(magic.count)).allSatisfy({ $0 == $1 }) else {
            throw DataError(.corrupt, file: file, offset: 0, "AEDAT: header does not start with #!AER-DAT3 (expected an AEDAT 3.x file)")
        }
        let end = Array("#!END-HEADER".utf8)
        var lineStart = 0
        var p = 0
        while p < b.count {
            if b[p] == UInt8(ascii: "\n") {
                let line = lineStart
                lineStart = p + 1
                if p - line >= end.count && zip(end, b[line..<(line + end.count)]).allSatisfy({ $0 == $1 }) { return p + 1 }
                if lineStart < b.count && b[lineStart] != UInt8(ascii: "#") {
                    throw DataError(.corrupt, file: file, offset: lineStart, "AEDAT: header line without '#' before #!END-HEADER")
                }
            }
            p += 1
        }
        throw DataError(.truncated, file: file, offset: b.count, "AEDAT: file ends inside the header (expected #!END-HEADER)")
    }

    @inline(__always) static func le32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    /// Lists the packets of a file, checking that each fits in the file.
    public static func packets(_ b: UnsafeRawBufferPointer, file: String?) throws -> [Packet] {
        var p = try headerEnd(b, file: file)
        var out: [Packet] = []
        while p < b.count {
            guard b.count - p >= 28 else {
                throw DataError(.truncated, file: file, offset: p, "AEDAT: \(b.count - p) bytes left (expected a 28-byte packet header)")
            }
            let type = Int(UInt16(b[p]) | UInt16(b[p + 1]) << 8)
            let size = Int(Int32(bitPattern: le32(b, p + 4)))
            let tsOffset = Int(Int32(bitPattern: le32(b, p + 8)))
            let overflow = UInt64(le32(b, p + 12))
            let capacity = Int(Int32(bitPattern: le32(b, p + 16)))
            let number = Int(Int32(bitPattern: le32(b, p + 20)))
            guard size > 0, size <= 1 << 16, capacity >= 0, number >= 0, number <= capacity, tsOffset >= 0, tsOffset + 4 <= size else {
                throw DataError(.corrupt, file: file, offset: p,
                                "AEDAT: packet header with event size \(size), timestamp offset \(tsOffset), capacity \(capacity), number \(number) (expected 0 <= number <= capacity, timestamp inside the event)")
            }
            let bodyBytes = capacity.multipliedReportingOverflow(by: size)
            guard !bodyBytes.overflow, bodyBytes.partialValue <= b.count - p - 28 else {
                throw DataError(.truncated, file: file, offset: p, "AEDAT: packet of \(capacity) x \(size) bytes runs past the end of the file (\(b.count - p - 28) bytes left)")
            }
            var first: UInt64 = 0, last: UInt64 = 0
            if number > 0 {
                first = overflow << 31 | UInt64(le32(b, p + 28 + tsOffset) & 0x7FFF_FFFF)
                last = overflow << 31 | UInt64(le32(b, p + 28 + (number - 1) * size + tsOffset) & 0x7FFF_FFFF)
            }
            out.append(Packet(offset: p, eventType: type, eventSize: size, eventCount: number, firstTime: first, lastTime: last))
            p += 28 + bodyBytes.partialValue
        }
        return out
    }

    /// The valid polarity events with `from <= time < to`, timestamps made relative to `from`.
    /// Throws if timestamps go backwards, an event is outside a `sensorSize x sensorSize` sensor, or
    /// a polarity packet has the wrong event size.
    public static func polarityEvents(_ b: UnsafeRawBufferPointer, packets: [Packet], from: UInt64 = 0, to: UInt64 = .max,
                                      sensorSize: Int = 128, file: String?) throws -> [Event] {
        var events: [Event] = []
        var lastTime: UInt64 = 0
        for pk in packets where pk.eventType == polarityType && pk.eventCount > 0 {
            if pk.lastTime < from || pk.firstTime >= to {
                lastTime = max(lastTime, pk.lastTime)
                continue
            }
            guard pk.eventSize == 8 else {
                throw DataError(.corrupt, file: file, offset: pk.offset, "AEDAT: polarity packet with \(pk.eventSize)-byte events (expected 8)")
            }
            let overflow = UInt64(le32(b, pk.offset + 12)) << 31
            for i in 0..<pk.eventCount {
                let o = pk.offset + 28 + 8 * i
                let word = le32(b, o)
                let t = overflow | UInt64(le32(b, o + 4) & 0x7FFF_FFFF)
                if t < lastTime {
                    throw DataError(.timestamps, file: file, offset: o, "AEDAT: event at \(t) us after one at \(lastTime) us (expected non-decreasing timestamps)")
                }
                lastTime = t
                guard word & 1 == 1, t >= from, t < to else { continue }
                let x = Int(word >> 17 & 0x7FFF), y = Int(word >> 2 & 0x7FFF)
                guard x < sensorSize, y < sensorSize else {
                    throw DataError(.corrupt, file: file, offset: o, "AEDAT: event at (\(x), \(y)) (expected coordinates below \(sensorSize))")
                }
                let rel = t - from
                guard rel <= UInt64(UInt32.max) else { continue }
                events.append(Event(x: UInt16(x), y: UInt16(y), polarity: UInt8(word >> 1 & 1), timestamp: UInt32(rel)))
            }
        }
        return events
    }

    /// Writes polarity events as an AEDAT 3.1 file (for tests and conversions); `timestamps` are
    /// absolute microseconds.
    public static func encode(events: [Event], packetSize: Int = 512) -> [UInt8] {
        var out = Array("#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n".utf8)
        func put32(_ v: UInt32) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        var i = 0
        while i < events.count {
            let chunk = events[i..<min(events.count, i + packetSize)]
            out += [1, 0, 1, 0]
            put32(8); put32(4); put32(0)
            put32(UInt32(chunk.count)); put32(UInt32(chunk.count)); put32(UInt32(chunk.count))
            for e in chunk {
                put32(UInt32(e.x) << 17 | UInt32(e.y) << 2 | UInt32(e.polarity & 1) << 1 | 1)
                put32(e.timestamp & 0x7FFF_FFFF)
            }
            i += packetSize
        }
        return out
    }
}
