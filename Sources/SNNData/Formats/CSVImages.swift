/// A strict parser for numeric image CSV files: each row holds `pixelCount` non-negative integers
/// (pixel values `0...maxValue`) followed by an integer label. No header; `\n` or `\r\n` line ends.
public enum CSVImages {
    /// Parses `bytes`; returns pixels scaled to `[0, 1]` and labels. Errors name the row (as
    /// `sample`) and the byte offset.
    public static func parse(_ bytes: [UInt8], pixelCount: Int, maxValue: Float, classCount: Int,
                             file: String? = nil) throws -> (pixels: [Float], labels: [Int]) {
        var pixels = [Float]()
        var labels = [Int]()
        let scale = 1 / maxValue
        try bytes.withUnsafeBufferPointer { b in
            var p = 0
            var row = 0
            let n = b.count
            while p < n {
                // Skip blank lines.
                if b[p] == UInt8(ascii: "\n") || b[p] == UInt8(ascii: "\r") { p += 1; continue }
                var field = 0
                while true {
                    let start = p
                    var v = 0
                    var digits = 0
                    while p < n, b[p] >= 48, b[p] <= 57 {
                        v = v * 10 + Int(b[p] - 48)
                        digits += 1
                        if digits > 9 { break }
                        p += 1
                    }
                    // Allow "12.0" style values with a zero fraction.
                    if p < n, b[p] == UInt8(ascii: "."), digits > 0 {
                        p += 1
                        while p < n, b[p] == 48 { p += 1 }
                    }
                    if digits == 0 || digits > 9 {
                        throw DataError(.corrupt, file: file, offset: start, sample: row,
                                        "CSV row \(row), field \(field): expected a non-negative integer")
                    }
                    if field < pixelCount {
                        if Float(v) > maxValue {
                            throw DataError(.corrupt, file: file, offset: start, sample: row,
                                            "CSV row \(row), pixel \(field) = \(v) (expected 0...\(Int(maxValue)))")
                        }
                        pixels.append(Float(v) * scale)
                    } else if field == pixelCount {
                        if v >= classCount {
                            throw DataError(.label, file: file, offset: start, sample: row,
                                            "CSV row \(row): label \(v) (expected 0...\(classCount - 1))")
                        }
                        labels.append(v)
                    }
                    field += 1
                    if p < n, b[p] == UInt8(ascii: ",") {
                        p += 1
                        if field > pixelCount {
                            throw DataError(.corrupt, file: file, offset: p - 1, sample: row,
                                            "CSV row \(row) has more than \(pixelCount + 1) fields")
                        }
                        continue
                    }
                    if p < n, b[p] == UInt8(ascii: "\r") { p += 1 }
                    if p < n, b[p] != UInt8(ascii: "\n") {
                        throw DataError(.corrupt, file: file, offset: p, sample: row,
                                        "CSV row \(row), field \(field - 1): unexpected byte \(b[p]) (expected a digit, ',' or a line end)")
                    }
                    if field != pixelCount + 1 {
                        throw DataError(.truncated, file: file, offset: p, sample: row,
                                        "CSV row \(row) has \(field) fields (expected \(pixelCount) pixels and a label)")
                    }
                    p += 1
                    break
                }
                row += 1
            }
        }
        if labels.isEmpty {
            throw DataError(.truncated, file: file, offset: 0, "CSV: no rows (expected \(pixelCount) pixels and a label per row)")
        }
        return (pixels, labels)
    }
}
