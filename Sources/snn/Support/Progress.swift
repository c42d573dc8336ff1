import Foundation
import SNNCore
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display on standard error. On a terminal: one line redrawn in place (`\r`),
/// cut to the terminal's width (`COLUMNS`, else 80) so it never wraps into a stack of lines, and
/// cleared when the work is done. Without a terminal (a log file, a pipe): nothing; the result lines
/// the commands print to standard output (one per epoch, one per evaluation) are the log.
struct ProgressLine {
    let title: String
    let total: Int?
    private var lastPrint = Date.distantPast
    private let isTTY = isatty(STDERR_FILENO) != 0
    /// Seconds between two redraws on a terminal.
    static let redrawInterval = 0.1

    init(_ title: String, total: Int?) { self.title = title; self.total = total }

    /// The terminal's width in columns: `COLUMNS` when set, else 80.
    static var columns: Int {
        if let c = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), c >= 20 { return c }
        return 80
    }

    /// The line drawn for `done` of `total` with `info` (no control characters), at most `width` characters.
    static func text(title: String, done: Int, total: Int?, info: String, width: Int) -> String {
        var bar = ""
        if let total, total > 0 {
            let cells = 16
            let filled = min(cells, max(0, cells * done / total))
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "] \(done)/\(total) "
        }
        let line = "\(title) \(bar)\(info)".trimmingCharacters(in: .whitespaces)
        return line.count <= width ? line : String(line.prefix(max(0, width - 1))) + "…"
    }

    mutating func update(_ done: Int, _ info: String, force: Bool = false) {
        guard isTTY else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) >= Self.redrawInterval else { return }
        lastPrint = now
        let line = Self.text(title: title, done: done, total: total, info: info, width: Self.columns - 1)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    func finish() {
        if isTTY { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// Writes any Encodable value as pretty JSON, atomically.
func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(value)
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try ModelFile.writeAtomically(data, to: url)
}

func format(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }
