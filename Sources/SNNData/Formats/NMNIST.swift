import Foundation

/// The N-MNIST binary event format (Orchard et al. 2015): one file per sample, 5 bytes per event.
///
/// Byte 0 is x, byte 1 is y (0..33 on the 34x34 ATIS sensor), the top bit of byte 2 is the
/// polarity (1 = ON), and the remaining 23 bits of bytes 2-4 (big-endian) are the timestamp in
/// microseconds.
public enum NMNIST {
    /// Sensor width and height in pixels.
    public static let width = 34
    public static let height = 34
    /// Number of digit classes.
    public static let classCount = 10
    /// End of the first saccade in microseconds (the usual cut).
    public static let firstSaccadeEnd: UInt32 = 100_000

    /// Reads and validates one sample file.
    public static func readEvents(url: URL) throws -> [Event] {
        let bytes = try FileData.read(url)
        return try decode(bytes, file: url.path)
    }

    /// Decodes the bytes of one sample file. Throws if the length is not a multiple of 5, if a
    /// coordinate is outside the 34x34 sensor, or if timestamps go backwards.
    /// - Parameter sensorSize: coordinates must be below this (34 for N-MNIST).
    public static func decode(_ bytes: [UInt8], file: String? = nil, sensorSize: Int = 34) throws -> [Event] {
        if bytes.count % 5 != 0 {
            throw DataError(.truncated, file: file, offset: bytes.count - bytes.count % 5,
                            "N-MNIST: \(bytes.count) bytes is not a whole number of 5-byte events (\(bytes.count % 5) bytes left over)")
        }
        let n = bytes.count / 5
        var events = [Event]()
        events.reserveCapacity(n)
        var last: UInt32 = 0
        try bytes.withUnsafeBufferPointer { b in
            for i in 0..<n {
                let o = 5 * i
                let x = b[o], y = b[o + 1]
                if Int(x) >= sensorSize || Int(y) >= sensorSize {
                    throw DataError(.corrupt, file: file, offset: o,
                                    "N-MNIST: event \(i) at (\(x), \(y)) (expected x and y below \(sensorSize))")
                }
                let ts = UInt32(b[o + 2] & 0x7F) << 16 | UInt32(b[o + 3]) << 8 | UInt32(b[o + 4])
                if ts < last {
                    throw DataError(.timestamps, file: file, offset: o,
                                    "N-MNIST: event \(i) at \(ts) us comes after one at \(last) us (expected non-decreasing timestamps)")
                }
                last = ts
                events.append(Event(x: UInt16(x), y: UInt16(y), polarity: b[o + 2] >> 7, timestamp: ts))
            }
        }
        return events
    }

    /// Encodes events in the N-MNIST format (for tests and for writing converted data).
    public static func encode(_ events: [Event]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(events.count * 5)
        for e in events {
            out.append(UInt8(truncatingIfNeeded: e.x))
            out.append(UInt8(truncatingIfNeeded: e.y))
            let t = e.timestamp & 0x7F_FFFF
            out.append((e.polarity != 0 ? 0x80 : 0) | UInt8(t >> 16))
            out.append(UInt8(truncatingIfNeeded: t >> 8))
            out.append(UInt8(truncatingIfNeeded: t))
        }
        return out
    }
}
