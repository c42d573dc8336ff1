/// The `user*_*_labels.csv` files of DVS128 Gesture: a header `class,startTime_usec,endTime_usec`
/// then one row per gesture with the class (1...11) and its start and end in microseconds.
public enum GestureLabels {
    /// One labelled gesture: class index 0...10 (the file's class minus 1), start and end (microseconds).
    public struct Gesture: Sendable, Equatable {
        public var label: Int
        public var start: UInt64
        public var end: UInt64
    }

    /// Parses a labels file. Errors give the row (as `sample`) and the byte offset.
    public static func parse(_ bytes: [UInt8], file: String? = nil, classCount: Int = 11) throws -> [Gesture] {
        var out: [Gesture] = []
        var lineStart = 0
        var row = 0
        let text = bytes
        while lineStart < text.count {
            var end = lineStart
            while end < text.count && text[end] != UInt8(ascii: "\n") { end += 1 }
            let line = String(decoding: text[lineStart..<end], as: UTF8.self).trimmingCharactersInSet()
            defer { lineStart = end + 1; row += 1 }
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingCharactersInSet() }
            if row == 0 && Int(fields.first ?? "") == nil { continue } // header
            guard fields.count == 3, let c = Int(fields[0]), let s = UInt64(fields[1]), let e = UInt64(fields[2]) else {
                throw DataError(.corrupt, file: file, offset: lineStart, sample: row, "gesture labels: row '\(line)' (expected class,startTime_usec,endTime_usec as integers)")
            }
            guard c >= 1 && c <= classCount else {
                throw DataError(.label, file: file, offset: lineStart, sample: row, "gesture labels: class \(c) (expected 1...\(classCount))")
            }
            guard s < e else {
                throw DataError(.timestamps, file: file, offset: lineStart, sample: row, "gesture labels: start \(s) us not before end \(e) us")
            }
            out.append(Gesture(label: c - 1, start: s, end: e))
        }
        return out
    }
}
