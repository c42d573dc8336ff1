import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

/// The texts of an SVG file, read with Foundation's XML parser (a picture that is not well-formed XML fails).
final class SVGTexts: NSObject, XMLParserDelegate {
    var texts: [String] = []
    var root: String?
    private var current = ""

    init(_ url: URL) throws {
        super.init()
        let parser = XMLParser(data: try Data(contentsOf: url))
        parser.delegate = self
        guard parser.parse() else { throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path]) }
    }
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        if root == nil { root = name }
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current) }
        current = ""
    }
    func has(_ prefix: String) -> Bool { texts.contains { $0.hasPrefix(prefix) } }
}

/// `snn train --report DIR` and `snn report DIR` on the shipped digits.
struct ReportCLITests {
    /// Every picture of the training report: file, then texts it must show (title, axis labels, series).
    static let pictures: [(String, [String])] = [
        ("training-loss", ["Training loss", "epoch", "loss (rate-ce, mean over batches)", "train loss"]),
        ("training-accuracy", ["Accuracy per epoch", "epoch", "accuracy (%)", "train accuracy", "test accuracy"]),
        ("training-spikes", ["Spikes per sample per epoch", "epoch", "spikes / sample", "spikes per sample"]),
        ("confusion-matrix", ["Confusion matrix", "predicted class", "true class", "share of the true class"]),
        ("spikes-per-neuron", ["Spikes per neuron per sample", "population (neurons)", "spikes / neuron / sample", "layered", "async momentum F=8", "layer 1 (128)", "output (10)"]),
        ("raster-time-steps", ["Spikes of test sample 0", "time step (dt = 10 ms)", "neuron index within its population", "layer 1", "output"]),
        ("membrane", ["Membrane potential before reset", "time step (dt = 10 ms)", "membrane potential U before reset", "output neuron", "threshold 0.3"]),
        ("raster-forward-steps", ["Spikes of test sample 0", "forward step (up to 8 spikes per step", "neuron index within its population", "layer 1", "output", "frame 2"]),
        ("accuracy-vs-k", ["Accuracy vs forward steps after the first output spike", "K: forward steps run after the first output spike", "test accuracy (%)", "on-output:K", "until spiking is done"]),
        ("currents-before-spike", ["Currents integrated before a spike", "input currents a neuron received", "fraction of spikes", "async momentum F=8"]),
    ]

    @Test func trainReportPicturesAndByteIdenticalRebuild() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-train-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try CLIRun(["train", "--dataset", "digits", "--limit", "200", "--epochs", "2", "--threads", "2",
                                "--out", dir.appendingPathComponent("m.snnmodel").path, "--report", dir.path])
        try #require(train.status == 0, "\(train.output.suffix(800))")
        // Not a terminal: no progress bar redrawn in place, one line per epoch.
        #expect(!train.output.contains("\r") && !train.output.contains("[#"), "\(train.output.suffix(800))")
        #expect(train.output.components(separatedBy: "\nepoch ").count - 1 == 2, "\(train.output)")

        let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(md.hasPrefix("# Training on digits (layered BPTT)\n\nMade by `snn train --dataset digits --limit 200"))
        #expect(md.contains(" seed 1, 2 threads on "))
        let json = try String(contentsOf: dir.appendingPathComponent("metrics.json"), encoding: .utf8)
        #expect(json.contains("\"seeds\" : [\n      1\n    ]"))
        for (file, labels) in Self.pictures {
            let url = dir.appendingPathComponent(file + ".svg")
            let svg = try SVGTexts(url)
            #expect(svg.root == "svg", "\(file)")
            for label in labels { #expect(svg.has(label), "\(file).svg lacks '\(label)': \(svg.texts)") }
            #expect(md.contains("](\(file).svg)"), "report.md does not show \(file)")
        }

        // Rebuild from metrics.json alone: the same bytes.
        let names = ["report.md"] + Self.pictures.map { $0.0 + ".svg" }
        let before = try names.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        for n in names { try FileManager.default.removeItem(at: dir.appendingPathComponent(n)) }
        let rebuild = try CLIRun(["report", "--html", dir.path])
        try #require(rebuild.status == 0, "\(rebuild.output.suffix(800))")
        let after = try names.map { try Data(contentsOf: dir.appendingPathComponent($0)) }
        for (k, n) in names.enumerated() { #expect(before[k] == after[k], "\(n) differs after snn report") }
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.components(separatedBy: "<svg ").count - 1 == Self.pictures.count)
        #expect(!html.contains("src=") && !html.contains("<script"))
    }

    /// `snn train --method empf-online --report DIR`: the EM-PF report (curves, memory, confusion matrix)
    /// with parseable pictures, rebuilt byte for byte by `snn report`.
    @Test func onlineTrainingReport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-empf-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try CLIRun(["train", "--dataset", "digits", "--limit", "200", "--epochs", "2", "--threads", "2", "--method", "empf-online",
                                "--out", dir.appendingPathComponent("m.snnmodel").path, "--report", dir.path])
        try #require(train.status == 0, "\(train.output.suffix(800))")
        let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(md.hasPrefix("# Training on 8x8 digits with empf-online (excess spikes)"), "\(md.prefix(200))")
        #expect(md.contains("accumulates / sample"))
        let pictures: [(String, [String])] = [
            ("training-loss", ["Training loss", "epoch", "train loss"]),
            ("training-accuracy", ["Accuracy per epoch", "accuracy (%)", "train accuracy", "test accuracy"]),
            ("training-memory", ["Peak training memory (empf-online, T = 16)", "peak training memory (MiB)"]),
            ("confusion-matrix", ["Confusion matrix (", "predicted class", "true class"]),
        ]
        for (file, labels) in pictures {
            let svg = try SVGTexts(dir.appendingPathComponent(file + ".svg"))
            for label in labels { #expect(svg.has(label), "\(file).svg lacks '\(label)': \(svg.texts)") }
            #expect(md.contains("](\(file).svg)"), "report.md does not show \(file)")
        }
        let before = try Data(contentsOf: dir.appendingPathComponent("report.md"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("report.md"))
        let rebuild = try CLIRun(["report", dir.path])
        try #require(rebuild.status == 0, "\(rebuild.output.suffix(800))")
        #expect(try Data(contentsOf: dir.appendingPathComponent("report.md")) == before)
    }
}
