import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SNNReports
import Testing

/// The texts and element names of an SVG document, read with Foundation's XML parser (so a picture
/// that is not well-formed XML fails here).
final class SVGContent: NSObject, XMLParserDelegate {
    var texts: [String] = []
    var elements: [String: Int] = [:]
    var root: String?
    private var current = ""

    init(_ svg: String) throws {
        super.init()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = self
        guard parser.parse() else { throw ReportFolder.Error("SVG does not parse as XML: \(parser.parserError.map { "\($0)" } ?? "?")") }
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if root == nil { root = name }
        elements[name, default: 0] += 1
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current) }
        current = ""
    }
}

/// A report with one chart of every kind.
func sampleReport() -> Report {
    var r = Report(title: "Sample <report> & co", provenance: Provenance(
        command: ["snn", "train", "--arch", "64-10", "--note", "it's"], seeds: [7], version: "git 0123456789ab",
        cores: 2, threads: 2, seconds: 12.6, finished: "2026-12-01T18:00:00Z"))
    r.text("Dataset: **digits**, `64-10` network; *italic* words.")
    var t = MarkdownTable(header: ["epoch", "loss"])
    t.append(["1", "2.1"]); t.append(["2", "1.7"])
    r.heading("Training")
    r.table(t)
    r.figure("loss", caption: "loss per epoch", .lines(LineChart(title: "Training loss", xLabel: "epoch", yLabel: "loss (nats)", series: [
        .init(name: "train loss", x: [1, 2, 3], y: [2.1, 1.7, 1.2]),
        .init(name: "threshold", x: [1, 3], y: [0.3, 0.3], dashed: true, markers: false),
    ])))
    r.figure("spikes", caption: "spikes per neuron", .bars(BarChart(title: "Spikes per neuron", xLabel: "population (neurons)", yLabel: "spikes / neuron / sample",
                                                                   groups: ["layer 1 (128)", "output (10)"], series: [.init(name: "layered", values: [5.7, 2.8]), .init(name: "async", values: [5.7, 5.3])])))
    r.figure("raster", caption: "raster", .raster(RasterChart(title: "Spikes of sample 0", xLabel: "time step (dt = 10 ms)",
                                                              bands: [.init(name: "layer 1", neurons: 4), .init(name: "output", neurons: 2)],
                                                              first: 1, last: 5, step: [1, 2, 2, 5], band: [0, 0, 1, 1], neuron: [3, 0, 1, 0],
                                                              markers: [.init(x: 3, label: "frame 2")])))
    r.figure("confusion", caption: "confusion matrix", .heatmap(HeatmapChart(title: "Confusion matrix", xLabel: "predicted class", yLabel: "true class",
                                                                            columns: ["0", "1"], rows: ["0", "1"], values: [[9, 1], [0, 10]], shadeLabel: "share of the true class")))
    return r
}

struct ReportFolderTests {
    func tempFolder() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("snn-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func rebuildGivesByteIdenticalFiles() throws {
        let dir = try tempFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let written = try ReportFolder.write(sampleReport(), to: dir, png: false)
        #expect(written.files == ["metrics.json", "report.md", "loss.svg", "spikes.svg", "raster.svg", "confusion.svg"])
        let names = ["report.md", "loss.svg", "spikes.svg", "raster.svg", "confusion.svg"]
        let before = try names.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        for n in names { try FileManager.default.removeItem(at: dir.appendingPathComponent(n)) }
        try ReportFolder.rebuild(dir, png: false)
        let after = try names.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        #expect(before == after)
        // metrics.json round-trips to the same report.
        #expect(try ReportFolder.read(dir) == sampleReport())
    }

    @Test func markdownHasTitleProvenanceTablesAndFigures() throws {
        let md = ReportFolder.markdown(sampleReport())
        let lines = md.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "# Sample <report> & co")
        #expect(lines[2] == "Made by `snn train --arch 64-10 --note 'it'\\''s'` (SNNKit git 0123456789ab, seed 7, 2 threads on 2 cores, 13 s, finished 2026-12-01T18:00:00Z).")
        #expect(md.contains("## Training\n\n| epoch | loss |\n|-------|------|\n| 1     | 2.1  |\n| 2     | 1.7  |\n\n![loss per epoch](loss.svg)\n"))
        #expect(md.hasSuffix("![confusion matrix](confusion.svg)\n"))
    }

    @Test func htmlPageIsSelfContained() throws {
        let html = ReportFolder.htmlPage(sampleReport())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(html.contains("<h1>Sample &lt;report&gt; &amp; co</h1>"))
        #expect(html.contains("<strong>digits</strong>, <code>64-10</code> network; <em>italic</em> words."))
        #expect(html.contains("<tr><td>2</td><td>1.7</td></tr>"))
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("<script"))
    }

    @Test func lineChartParsesWithSeriesAndAxisLabels() throws {
        guard case .lines(let chart) = sampleReport().figures[0].chart else { Issue.record("not a line chart"); return }
        let svg = try SVGContent(chart.svg)
        #expect(svg.root == "svg")
        for label in ["Training loss", "epoch", "loss (nats)", "train loss", "threshold"] { #expect(svg.texts.contains(label), "missing \(label)") }
        #expect(svg.elements["polyline"] == 2)
        #expect(svg.elements["circle"] == 3)  // markers on the first series only
        // Integer x values: integer ticks only.
        #expect(!svg.texts.contains("2.5") && svg.texts.contains("3"))
    }

    @Test func barChartParsesWithSeriesAndAxisLabels() throws {
        let svg = try SVGContent(sampleReport().figures[1].chart.svg)
        for label in ["Spikes per neuron", "population (neurons)", "spikes / neuron / sample", "layer 1 (128)", "output (10)", "layered", "async"] {
            #expect(svg.texts.contains(label), "missing \(label)")
        }
        #expect(svg.elements["rect"] == 1 + 4 + 2)
    }

    @Test func rasterParsesWithBandsAndAxisLabels() throws {
        let svg = try SVGContent(sampleReport().figures[2].chart.svg)
        for label in ["Spikes of sample 0", "time step (dt = 10 ms)", "neuron index within its population", "layer 1", "output", "4 neurons", "2 neurons", "frame 2"] {
            #expect(svg.texts.contains(label), "missing \(label)")
        }
        // Background, two bands, four spikes.
        #expect(svg.elements["rect"] == 1 + 2 + 4)
        #expect(svg.elements["g"] == 2)
    }

    @Test func heatmapParsesWithCellsAndAxisLabels() throws {
        let svg = try SVGContent(sampleReport().figures[3].chart.svg)
        for label in ["Confusion matrix", "predicted class", "true class", "share of the true class", "9", "10"] {
            #expect(svg.texts.contains(label), "missing \(label)")
        }
        // Zero cells print nothing: 9, 1 and 10, then the row and column labels and the key.
        #expect(svg.texts.filter { $0 == "1" }.count == 1 + 1 + 1 + 1)
    }

    @Test func badMetricsFileIsAnErrorNamingIt() throws {
        let dir = try tempFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: ReportFolder.Error.self) { try ReportFolder.rebuild(dir) }
        try Data("{\"format\": \"snnkit-report v1\", \"title\": 3}".utf8).write(to: dir.appendingPathComponent("metrics.json"))
        do { try ReportFolder.rebuild(dir); Issue.record("no error") } catch let e as ReportFolder.Error {
            #expect(e.description.contains("metrics.json"))
        }
        var bad = sampleReport()
        bad.figure("../escape", caption: "x", .bars(BarChart(title: "t", xLabel: "x", yLabel: "y", groups: [], series: [])))
        #expect(throws: ReportFolder.Error.self) { try ReportFolder.write(bad, to: dir, png: false) }
    }

    @Test func gitRevisionFromPlainCheckoutWorktreeAndPackedRefs() throws {
        let root = try tempFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let hashA = String(repeating: "a1", count: 20), hashB = String(repeating: "b2", count: 20)
        // A plain checkout with a loose ref.
        let repo = root.appendingPathComponent("repo")
        try fm.createDirectory(at: repo.appendingPathComponent(".git/refs/heads"), withIntermediateDirectories: true)
        try "ref: refs/heads/main\n".write(to: repo.appendingPathComponent(".git/HEAD"), atomically: true, encoding: .utf8)
        try "\(hashA)\n".write(to: repo.appendingPathComponent(".git/refs/heads/main"), atomically: true, encoding: .utf8)
        let build = repo.appendingPathComponent(".build/debug")
        try fm.createDirectory(at: build, withIntermediateDirectories: true)
        #expect(BuildInfo.gitRevision(startingAt: build) == hashA)
        // A worktree: .git is a file; its branch only in packed-refs of the common folder.
        let wt = root.appendingPathComponent("wt")
        let wtGit = repo.appendingPathComponent(".git/worktrees/wt")
        try fm.createDirectory(at: wtGit, withIntermediateDirectories: true)
        try fm.createDirectory(at: wt, withIntermediateDirectories: true)
        try "gitdir: \(wtGit.path)\n".write(to: wt.appendingPathComponent(".git"), atomically: true, encoding: .utf8)
        try "ref: refs/heads/topic\n".write(to: wtGit.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
        try "../..\n".write(to: wtGit.appendingPathComponent("commondir"), atomically: true, encoding: .utf8)
        try "# pack-refs with: peeled\n\(hashB) refs/heads/topic\n".write(to: repo.appendingPathComponent(".git/packed-refs"), atomically: true, encoding: .utf8)
        #expect(BuildInfo.gitRevision(startingAt: wt) == hashB)
        // A detached head; and no checkout at all.
        try "\(hashB)\n".write(to: repo.appendingPathComponent(".git/HEAD"), atomically: true, encoding: .utf8)
        #expect(BuildInfo.gitRevision(startingAt: repo) == hashB)
        #expect(BuildInfo.gitRevision(startingAt: URL(fileURLWithPath: "/proc")) == nil)
    }
}

struct PNGConverterTests {
    @Test func converterIsFoundOnThePathOrTurnedOff() throws {
        #expect(PNGConverter.find(environment: ["PATH": "/nonexistent"]) == nil)
        #expect(PNGConverter.find(environment: ["PATH": "/usr/bin:/bin", "SNNKIT_NO_PNG": "1"]) == nil)
    }

    /// Where rsvg-convert is installed (Debian: librsvg2-bin): a chart becomes a PNG file of its size.
    @Test func chartConvertsToPNGWhenTheToolIsInstalled() throws {
        guard let converter = PNGConverter.find() else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-png-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("loss.svg"), png = dir.appendingPathComponent("loss.png")
        try Data(sampleReport().figures[0].chart.svg.utf8).write(to: svg)
        try converter.convert(svg, to: png)
        let bytes = [UInt8](try Data(contentsOf: png))
        #expect(bytes.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width and height, big-endian, at bytes 16..<24.
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        #expect(width == 860 && height == 400)
        // A broken SVG is an error naming the tool and the file, and leaves no PNG behind.
        let bad = dir.appendingPathComponent("bad.svg")
        try Data("<svg".utf8).write(to: bad)
        #expect(throws: ReportFolder.Error.self) { try converter.convert(bad, to: dir.appendingPathComponent("bad.png")) }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad.png").path))
    }
}
