import Foundation

/// Writes and rebuilds report folders: `metrics.json` (the ``Report``), `report.md`, one SVG per
/// figure, PNG copies when `rsvg-convert` is installed, and on request `report.html`.
///
/// Everything but `metrics.json` is a function of `metrics.json` alone: `write` stores the report,
/// reads it back and renders from what it read, exactly as ``rebuild(_:html:png:)`` does later, so a
/// rebuild gives byte-identical files.
public enum ReportFolder {
    public static let metricsFile = "metrics.json"
    public static let markdownFile = "report.md"
    public static let htmlFile = "report.html"

    /// What a write or rebuild produced, and notes for the user (e.g. no PNG converter).
    public struct Output: Sendable {
        public var files: [String] = []
        public var notes: [String] = []
    }

    /// Errors naming the folder or file.
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
        public init(_ d: String) { description = d }
    }

    /// Writes `metrics.json` then everything rendered from it into `folder` (created if needed).
    @discardableResult
    public static func write(_ report: Report, to folder: URL, html: Bool = false, png: Bool = true) throws -> Output {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try checkFigureNames(report)
        try writeAtomically(try encode(report), to: folder.appendingPathComponent(metricsFile))
        var out = try rebuild(folder, html: html, png: png)
        out.files.insert(metricsFile, at: 0)
        return out
    }

    /// Reads `metrics.json` in `folder` and writes `report.md` and the pictures (and `report.html`).
    @discardableResult
    public static func rebuild(_ folder: URL, html: Bool = false, png: Bool = true) throws -> Output {
        let report = try read(folder)
        try checkFigureNames(report)
        var out = Output()
        try writeAtomically(Data(markdown(report).utf8), to: folder.appendingPathComponent(markdownFile))
        out.files.append(markdownFile)
        var svgs: [URL] = []
        for f in report.figures {
            let url = folder.appendingPathComponent(f.file + ".svg")
            try writeAtomically(Data(f.chart.svg.utf8), to: url)
            out.files.append(f.file + ".svg")
            svgs.append(url)
        }
        if png && !svgs.isEmpty {
            if let converter = PNGConverter.find() {
                for svg in svgs {
                    let target = svg.deletingPathExtension().appendingPathExtension("png")
                    try converter.convert(svg, to: target)
                    out.files.append(target.lastPathComponent)
                }
            } else {
                out.notes.append("PNG pictures skipped: rsvg-convert is not installed (Debian: apt-get install librsvg2-bin); the SVG pictures are written")
            }
        }
        if html {
            try writeAtomically(Data(htmlPage(report).utf8), to: folder.appendingPathComponent(htmlFile))
            out.files.append(htmlFile)
        }
        return out
    }

    /// The report in `folder/metrics.json`; errors name the file and what is wrong.
    public static func read(_ folder: URL) throws -> Report {
        let url = folder.appendingPathComponent(metricsFile)
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw Error("\(url.path): cannot be read (\(FileManager.default.fileExists(atPath: url.path) ? error.localizedDescription : "no such file; is \(folder.path) a report folder?"))")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            let report = try decoder.decode(Report.self, from: data)
            guard report.format == Report.formatTag else {
                throw Error("\(url.path): format '\(report.format)' is not '\(Report.formatTag)' (written by another SNNKit version?)")
            }
            return report
        } catch let e as Error { throw e } catch {
            throw Error("\(url.path): not a report (\(describe(error)))")
        }
    }

    /// The report as `metrics.json` text (sorted keys, non-finite numbers as "inf"/"nan").
    public static func encode(_ report: Report) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try encoder.encode(report)
        data.append(0x0A)
        return data
    }

    static func checkFigureNames(_ report: Report) throws {
        var seen = Set<String>()
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        for f in report.figures {
            guard !f.file.isEmpty, !f.file.hasPrefix("."), f.file.unicodeScalars.allSatisfy(allowed.contains) else {
                throw Error("figure file name '\(f.file)': use letters, digits, '-', '_' and '.' only")
            }
            guard seen.insert(f.file).inserted else { throw Error("figure file name '\(f.file)' is used twice") }
        }
    }

    static func describe(_ error: any Swift.Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted(let c)?: return c.debugDescription + path(c.codingPath)
        case .keyNotFound(let k, let c)?: return "missing '\(k.stringValue)'" + path(c.codingPath)
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: return c.debugDescription + path(c.codingPath)
        default: return "\(error)"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "" : " at " + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Writes through a temporary file in the same folder, then renames it into place.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        do { try data.write(to: url, options: .atomic) } catch {
            throw Error("\(url.path): cannot be written (\(error.localizedDescription))")
        }
    }

    // MARK: Markdown

    /// The provenance paragraph under the title.
    public static func provenanceText(_ p: Provenance) -> String {
        let seeds = p.seeds.isEmpty ? "" : (p.seeds.count == 1 ? "seed \(p.seeds[0]), " : "seeds \(p.seeds.map(String.init).joined(separator: ", ")), ")
        return "Made by `\(p.commandLine)` (SNNKit \(p.version), \(seeds)\(p.threads) threads on \(p.cores) cores, "
            + "\(String(format: "%.0f", p.seconds)) s, finished \(p.finished))."
    }

    /// `report.md`: title, provenance, then the blocks; figures point at their SVG.
    public static func markdown(_ r: Report) -> String {
        var md = "# \(r.title)\n\n\(provenanceText(r.provenance))\n\n"
        for b in r.blocks {
            switch b {
            case .heading(let t, let level): md += String(repeating: "#", count: max(1, min(6, level))) + " \(t)\n\n"
            case .text(let t): md += t.trimmingCharacters(in: .newlines) + "\n\n"
            case .table(let t): md += t.text + "\n"
            case .figure(let f): md += "![\(f.caption.replacingOccurrences(of: "]", with: ")"))](\(f.file).svg)\n\n"
            }
        }
        while md.hasSuffix("\n\n") { md.removeLast() }
        return md
    }

    // MARK: HTML

    /// One self-contained page: the same content as `report.md`, the SVG pictures inlined, no
    /// external file, script or font.
    public static func htmlPage(_ r: Report) -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(html(r.title))</title>
        <style>
        body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
        th { background: #f2f4f7; }
        tr:nth-child(even) td { background: #fafbfc; }
        code { background: #f2f4f7; padding: 0 3px; }
        figure { margin: 1.5em 0; }
        figure svg { max-width: 100%; height: auto; }
        figcaption { color: #555; font-size: 0.9em; }
        </style>
        </head>
        <body>
        <h1>\(inline(r.title))</h1>
        <p>\(inline(provenanceText(r.provenance)))</p>

        """
        for b in r.blocks {
            switch b {
            case .heading(let t, let level):
                let l = max(1, min(6, level))
                h += "<h\(l)>\(inline(t))</h\(l)>\n"
            case .text(let t):
                for paragraph in t.components(separatedBy: "\n\n") where !paragraph.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    let lines = paragraph.split(separator: "\n").map(String.init)
                    if lines.allSatisfy({ $0.hasPrefix("- ") }) {
                        h += "<ul>\n" + lines.map { "<li>\(inline(String($0.dropFirst(2))))</li>\n" }.joined() + "</ul>\n"
                    } else {
                        h += "<p>\(inline(paragraph))</p>\n"
                    }
                }
            case .table(let t):
                h += "<table>\n<tr>" + t.header.map { "<th>\(inline($0))</th>" }.joined() + "</tr>\n"
                for row in t.rows { h += "<tr>" + row.map { "<td>\(inline($0))</td>" }.joined() + "</tr>\n" }
                h += "</table>\n"
            case .figure(let f):
                h += "<figure id=\"\(html(f.file))\">\n\(f.chart.svg)<figcaption>\(inline(f.caption))</figcaption>\n</figure>\n"
            }
        }
        return h + "</body>\n</html>\n"
    }

    static func html(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Markdown inline markup to HTML: `code`, **bold**, *italics*; everything else escaped.
    static func inline(_ s: String) -> String {
        var out = "", i = s.startIndex
        var bold = false, italic = false
        while i < s.endIndex {
            let c = s[i]
            if c == "`", let close = s[s.index(after: i)...].firstIndex(of: "`") {
                out += "<code>" + html(String(s[s.index(after: i)..<close])) + "</code>"
                i = s.index(after: close)
            } else if s[i...].hasPrefix("**") {
                out += bold ? "</strong>" : "<strong>"; bold.toggle()
                i = s.index(i, offsetBy: 2)
            } else if c == "*", italic || (s.index(after: i) < s.endIndex && !s[s.index(after: i)].isWhitespace && s[s.index(after: i)...].contains("*")) {
                out += italic ? "</em>" : "<em>"; italic.toggle()
                i = s.index(after: i)
            } else {
                out += html(String(c))
                i = s.index(after: i)
            }
        }
        if italic { out += "</em>" }
        if bold { out += "</strong>" }
        return out
    }
}

/// Converts SVG to PNG with the system tool `rsvg-convert` (Debian package `librsvg2-bin`), when
/// it is on the `PATH`; SNNKit writes SVG only without it.
public struct PNGConverter: Sendable {
    public var executable: URL

    /// `rsvg-convert` on the `PATH`, or nil. `SNNKIT_NO_PNG=1` turns PNG pictures off.
    public static func find(environment env: [String: String] = ProcessInfo.processInfo.environment) -> PNGConverter? {
        if env["SNNKIT_NO_PNG"] == "1" { return nil }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent("rsvg-convert")
            if FileManager.default.isExecutableFile(atPath: url.path) { return PNGConverter(executable: url) }
        }
        return nil
    }

    /// Renders `svg` to `png` (same size in pixels), through a temporary file renamed into place.
    public func convert(_ svg: URL, to png: URL) throws {
        let tmp = png.deletingLastPathComponent().appendingPathComponent(".\(png.lastPathComponent).\(getpid()).tmp")
        let p = Process()
        p.executableURL = executable
        p.arguments = ["--format", "png", "--output", tmp.path, svg.path]
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard p.terminationStatus == 0 else {
            try? FileManager.default.removeItem(at: tmp)
            throw ReportFolder.Error("\(executable.path) failed on \(svg.path) (status \(p.terminationStatus)): \(message)")
        }
        _ = try? FileManager.default.removeItem(at: png)
        try FileManager.default.moveItem(at: tmp, to: png)
    }
}

/// SNNKit's version as reports record it.
public enum BuildInfo {
    /// `SNNKIT_VERSION` when set (packagers, CI); else `git <12 hex digits>` of the checkout that holds
    /// the running executable (SwiftPM builds into `.build/` inside the checkout); else `unknown`.
    public static var version: String {
        if let v = ProcessInfo.processInfo.environment["SNNKIT_VERSION"], !v.isEmpty { return v }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments.first ?? ""
        return gitRevision(startingAt: URL(fileURLWithPath: exe).deletingLastPathComponent()).map { "git \($0.prefix(12))" } ?? "unknown"
    }

    /// The commit checked out in the git working tree that contains `dir` (walking up), read from the
    /// files under `.git` (plain checkouts, worktrees whose `.git` is a file, packed refs); nil when
    /// there is none or it cannot be read. Needs no `git` program.
    public static func gitRevision(startingAt dir: URL) -> String? {
        let fm = FileManager.default
        var d = dir.standardizedFileURL
        for _ in 0..<64 {
            let dotGit = d.appendingPathComponent(".git")
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: dotGit.path, isDirectory: &isDir) {
                var gitDir = dotGit
                if !isDir.boolValue {
                    guard let text = try? String(contentsOf: dotGit, encoding: .utf8),
                          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gitdir:") }) else { return nil }
                    let path = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
                    gitDir = path.hasPrefix("/") ? URL(fileURLWithPath: path) : d.appendingPathComponent(path)
                }
                return resolveHead(gitDir: gitDir)
            }
            let parent = d.deletingLastPathComponent()
            if parent.path == d.path { return nil }
            d = parent
        }
        return nil
    }

    static func resolveHead(gitDir: URL) -> String? {
        guard let head = try? String(contentsOf: gitDir.appendingPathComponent("HEAD"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines) else { return nil }
        if isHash(head) { return head }
        guard head.hasPrefix("ref:") else { return nil }
        let ref = head.dropFirst(4).trimmingCharacters(in: .whitespaces)
        var commonDir = gitDir
        if let c = try? String(contentsOf: gitDir.appendingPathComponent("commondir"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !c.isEmpty {
            commonDir = c.hasPrefix("/") ? URL(fileURLWithPath: c) : gitDir.appendingPathComponent(c)
        }
        for base in [gitDir, commonDir] {
            if let v = try? String(contentsOf: base.appendingPathComponent(ref), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), isHash(v) {
                return v
            }
        }
        for base in [gitDir, commonDir] {
            guard let packed = try? String(contentsOf: base.appendingPathComponent("packed-refs"), encoding: .utf8) else { continue }
            for line in packed.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("^") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2, parts[1] == ref, isHash(String(parts[0])) { return String(parts[0]) }
            }
        }
        return nil
    }

    static func isHash(_ s: String) -> Bool {
        (s.count == 40 || s.count == 64) && s.allSatisfy { $0.isHexDigit }
    }
}
