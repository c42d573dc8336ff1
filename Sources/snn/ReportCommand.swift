import ArgumentParser
import Foundation
import SNNReports

/// `snn report DIR`: rebuilds a report folder's `report.md` and pictures from its `metrics.json`;
/// `--html` also writes one self-contained HTML page.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Rebuild report.md and the pictures of a report folder from its metrics.json (--html: one self-contained page).",
        discussion: """
        Every `snn experiment ...` and `snn train --report DIR` writes a report folder: metrics.json (the tables, \
        the data of every picture, the exact command, seeds, SNNKit version, cores), report.md, one SVG per \
        picture and, when rsvg-convert is installed (Debian: librsvg2-bin), a PNG copy of each. This command \
        redraws everything from metrics.json; the result is byte-identical to what the run wrote.
        Example: snn report --html runs/train-report
        """
    )

    @Argument(help: "The report folder (holds metrics.json).")
    var folder: String

    @Flag(help: "Also write report.html: the same content on one page, pictures inlined.")
    var html = false

    @Flag(inversion: .prefixedNo, help: "Write PNG copies of the pictures (needs rsvg-convert).")
    var png = true

    func validate() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("\(folder): no such folder (give a report folder that holds metrics.json)")
        }
    }

    func run() throws {
        let out: ReportFolder.Output
        do { out = try ReportFolder.rebuild(URL(fileURLWithPath: folder), html: html, png: png) } catch let e as ReportFolder.Error {
            throw CLIError(e.description)
        }
        for note in out.notes { printNote(note) }
        print("rebuilt \(out.files.count) files in \(folder): \(out.files.joined(separator: ", "))")
    }
}

/// A note for the user on standard error (once per run: callers print each note once).
func printNote(_ s: String) {
    FileHandle.standardError.write(Data(("note: " + s + "\n").utf8))
}

/// Writes a report folder for a command and prints where; notes (e.g. no PNG converter) once.
func writeReportFolder(_ report: Report, to folder: URL) throws {
    let out: ReportFolder.Output
    do { out = try ReportFolder.write(report, to: folder) } catch let e as ReportFolder.Error { throw CLIError(e.description) }
    for note in out.notes { printNote(note) }
    print("report written to \(folder.path)/report.md (\(out.files.count) files; `snn report --html \(folder.path)` for one HTML page)")
}
