import Foundation
import SNNCore
#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress display on standard error. On a terminal: a bar redrawn in place. Without
/// one (a log file, a pipe): nothing while the work is short, then at most one line a minute, so a
/// log holds the per-epoch result lines (printed to standard output) and not a line per batch.
struct ProgressLine {
    let title: String
    let total: Int?
    private var lastPrint = Date()
    private let isTTY = isatty(STDERR_FILENO) != 0
    /// Seconds between two lines when standard error is not a terminal.
    static let logInterval = 60.0

    init(_ title: String, total: Int?) { self.title = title; self.total = total }

    mutating func update(_ done: Int, _ info: String, force: Bool = false) {
        let now = Date()
        let interval = isTTY ? 0.1 : Self.logInterval
        guard force || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        var bar = ""
        if let total, total > 0 {
            let width = 24
            let filled = min(width, width * done / total)
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total) "
        }
        let line = "\(title) \(bar)\(info)"
        if isTTY { FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!) }
        else { FileHandle.standardError.write((line + "\n").data(using: .utf8)!) }
    }

    func finish() {
        if isTTY { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
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
