import Foundation

/// A report folder's content: the single source (`metrics.json`) from which `report.md`, the SVG
/// pictures (and PNG copies) and the HTML page are generated, deterministically.
///
/// A report is a title, where it came from (``Provenance``), and an ordered list of ``Block``s:
/// headings, Markdown paragraphs, tables and figures. A figure holds the data of its chart (series,
/// bars, raster events, matrix cells), never the drawing, so the pictures can be redrawn from it.
public struct Report: Codable, Sendable, Equatable {
    /// The file format tag written into `metrics.json`.
    public static let formatTag = "snnkit-report v1"
    public var format: String = Report.formatTag
    public var title: String
    public var provenance: Provenance
    public var blocks: [Block] = []

    public init(title: String, provenance: Provenance, blocks: [Block] = []) {
        self.title = title; self.provenance = provenance; self.blocks = blocks
    }

    /// Appends a heading (`level` 2 = a section).
    public mutating func heading(_ text: String, level: Int = 2) { blocks.append(.heading(text, level: level)) }
    /// Appends a Markdown paragraph (inline code, bold and italics are kept in the HTML page).
    public mutating func text(_ markdown: String) { blocks.append(.text(markdown)) }
    /// Appends a table.
    public mutating func table(_ table: MarkdownTable) { blocks.append(.table(table)) }
    /// Appends a figure: `file` is the picture's name without extension (`training-loss` gives
    /// `training-loss.svg`, and `training-loss.png` when a converter is installed).
    public mutating func figure(_ file: String, caption: String, _ chart: Chart) {
        blocks.append(.figure(Figure(file: file, caption: caption, chart: chart)))
    }

    /// The figures, in report order.
    public var figures: [Figure] { blocks.compactMap { if case .figure(let f) = $0 { f } else { nil } } }
}

/// Where a report came from: the exact command line, the seeds, the SNNKit version and the machine.
public struct Provenance: Codable, Sendable, Equatable {
    /// The command line, program name first (`snn`), one element per argument.
    public var command: [String]
    /// The seeds the run used (one for most commands; several for studies over seeds).
    public var seeds: [UInt64]
    /// SNNKit's version: `git <revision>` when run from a checkout, else `unknown` (see ``BuildInfo``).
    public var version: String
    /// Active processor cores of the machine, and the worker threads used.
    public var cores: Int
    public var threads: Int
    /// Wall time of the whole run, seconds.
    public var seconds: Double
    /// When the run finished (UTC, ISO 8601).
    public var finished: String

    public init(command: [String], seeds: [UInt64], version: String, cores: Int, threads: Int, seconds: Double, finished: String) {
        self.command = command; self.seeds = seeds; self.version = version
        self.cores = cores; self.threads = threads; self.seconds = seconds; self.finished = finished
    }

    /// This process: its arguments (the program named `snn`), the version from ``BuildInfo``, the
    /// machine's cores (default: the active processors) and the current time.
    public static func current(seeds: [UInt64], threads: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount,
                               startedAt start: Date) -> Provenance {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let now = Date()
        return Provenance(command: ["snn"] + CommandLine.arguments.dropFirst(), seeds: seeds, version: BuildInfo.version,
                          cores: cores, threads: threads,
                          seconds: (now.timeIntervalSince(start) * 10).rounded() / 10, finished: formatter.string(from: now))
    }

    /// The command as one shell line (arguments quoted where a shell would need it).
    public var commandLine: String { command.map(Self.shellQuoted).joined(separator: " ") }

    static func shellQuoted(_ s: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%")
        if !s.isEmpty && s.unicodeScalars.allSatisfy(safe.contains) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// One piece of a report.
public enum Block: Codable, Sendable, Equatable {
    case heading(String, level: Int)
    case text(String)
    case table(MarkdownTable)
    case figure(Figure)

    enum Key: String, CodingKey { case type, text, level, header, rows, figure }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .heading(let t, let level): try c.encode("heading", forKey: .type); try c.encode(level, forKey: .level); try c.encode(t, forKey: .text)
        case .text(let t): try c.encode("text", forKey: .type); try c.encode(t, forKey: .text)
        case .table(let t): try c.encode("table", forKey: .type); try c.encode(t.header, forKey: .header); try c.encode(t.rows, forKey: .rows)
        case .figure(let f): try c.encode("figure", forKey: .type); try c.encode(f, forKey: .figure)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        switch try c.decode(String.self, forKey: .type) {
        case "heading": self = .heading(try c.decode(String.self, forKey: .text), level: try c.decode(Int.self, forKey: .level))
        case "text": self = .text(try c.decode(String.self, forKey: .text))
        case "table":
            var t = MarkdownTable(header: try c.decode([String].self, forKey: .header))
            for row in try c.decode([[String]].self, forKey: .rows) {
                guard row.count == t.header.count else {
                    throw DecodingError.dataCorruptedError(forKey: .rows, in: c, debugDescription: "a table row has \(row.count) cells for \(t.header.count) columns")
                }
                t.append(row)
            }
            self = .table(t)
        case "figure": self = .figure(try c.decode(Figure.self, forKey: .figure))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown block type '\(other)' (heading, text, table, figure)")
        }
    }
}

/// A picture of a report and the data it is drawn from.
public struct Figure: Codable, Sendable, Equatable {
    /// File name without extension (letters, digits, `-`, `_`, `.`).
    public var file: String
    /// The alternative text in Markdown and the caption in HTML.
    public var caption: String
    public var chart: Chart
    public init(file: String, caption: String, chart: Chart) { self.file = file; self.caption = caption; self.chart = chart }
}

/// The data of a chart. Every chart has a title and axis labels that name their units.
public enum Chart: Codable, Sendable, Equatable {
    case lines(LineChart)
    case bars(BarChart)
    case raster(RasterChart)
    case heatmap(HeatmapChart)

    enum Key: String, CodingKey { case lines, bars, raster, heatmap }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .lines(let v): try c.encode(v, forKey: .lines)
        case .bars(let v): try c.encode(v, forKey: .bars)
        case .raster(let v): try c.encode(v, forKey: .raster)
        case .heatmap(let v): try c.encode(v, forKey: .heatmap)
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let v = try c.decodeIfPresent(LineChart.self, forKey: .lines) { self = .lines(v) }
        else if let v = try c.decodeIfPresent(BarChart.self, forKey: .bars) { self = .bars(v) }
        else if let v = try c.decodeIfPresent(RasterChart.self, forKey: .raster) { self = .raster(v) }
        else if let v = try c.decodeIfPresent(HeatmapChart.self, forKey: .heatmap) { self = .heatmap(v) }
        else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a chart needs one of lines, bars, raster, heatmap")) }
    }

    /// The chart as SVG text.
    public var svg: String {
        switch self {
        case .lines(let c): c.svg
        case .bars(let c): c.svg
        case .raster(let c): c.svg
        case .heatmap(let c): c.svg
        }
    }
}

/// Lines through points, one per series (x and y in data units).
public struct LineChart: Codable, Sendable, Equatable {
    public struct Series: Codable, Sendable, Equatable {
        public var name: String
        public var x: [Double]
        public var y: [Double]
        /// Dashed line (reference values such as a threshold).
        public var dashed: Bool
        /// A dot at every point (off for long traces).
        public var markers: Bool
        public init(name: String, x: [Double], y: [Double], dashed: Bool = false, markers: Bool = true) {
            precondition(x.count == y.count, "LineChart.Series \(name): \(x.count) x values for \(y.count) y values")
            self.name = name; self.x = x; self.y = y; self.dashed = dashed; self.markers = markers
        }
        enum CodingKeys: String, CodingKey { case name, x, y, dashed, markers }
        /// `dashed` and `markers` may be left out (false and true).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            x = try c.decode([Double].self, forKey: .x)
            y = try c.decode([Double].self, forKey: .y)
            guard x.count == y.count else {
                throw DecodingError.dataCorruptedError(forKey: .y, in: c, debugDescription: "series '\(name)' has \(x.count) x values for \(y.count) y values")
            }
            dashed = try c.decodeIfPresent(Bool.self, forKey: .dashed) ?? false
            markers = try c.decodeIfPresent(Bool.self, forKey: .markers) ?? true
        }
    }
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Whether the y axis starts at zero (false: it spans the data).
    public var yFromZero: Bool
    public init(title: String, xLabel: String, yLabel: String, series: [Series], yFromZero: Bool = true) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.yFromZero = yFromZero
    }
    enum CodingKeys: String, CodingKey { case title, xLabel, yLabel, series, yFromZero }
    /// `yFromZero` may be left out (true).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        xLabel = try c.decode(String.self, forKey: .xLabel)
        yLabel = try c.decode(String.self, forKey: .yLabel)
        series = try c.decode([Series].self, forKey: .series)
        yFromZero = try c.decodeIfPresent(Bool.self, forKey: .yFromZero) ?? true
    }

    public var svg: String {
        var plot = SVGPlot(title: title, xLabel: xLabel, yLabel: yLabel)
        plot.yIncludesZero = yFromZero
        plot.fitLegend(series.map(\.name))
        return plot.lines(series.map {
            var s = SVGPlot.Series(name: $0.name, points: zip($0.x, $0.y).map { (x: $0, y: $1) })
            s.dashed = $0.dashed
            s.markers = $0.markers
            return s
        })
    }
}

/// Grouped bars: one group per label along x, one bar per series in each group.
public struct BarChart: Codable, Sendable, Equatable {
    public struct Series: Codable, Sendable, Equatable {
        public var name: String
        public var values: [Double]
        public init(name: String, values: [Double]) { self.name = name; self.values = values }
    }
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var groups: [String]
    public var series: [Series]
    public init(title: String, xLabel: String, yLabel: String, groups: [String], series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.groups = groups; self.series = series
    }

    public var svg: String {
        var plot = SVGPlot(title: title, xLabel: xLabel, yLabel: yLabel)
        plot.fitLegend(series.map(\.name))
        return plot.bars(groups: groups, series: series.map { ($0.name, $0.values) })
    }
}

/// Spikes of one sample: x is the step (time step or forward step), y the neuron, one horizontal band
/// per population (the first band at the bottom).
public struct RasterChart: Codable, Sendable, Equatable {
    public struct Band: Codable, Sendable, Equatable {
        public var name: String
        public var neurons: Int
        public init(name: String, neurons: Int) { self.name = name; self.neurons = neurons }
    }
    /// A labelled vertical dashed line (e.g. the start of a frame).
    public struct Marker: Codable, Sendable, Equatable {
        public var x: Double
        public var label: String
        public init(x: Double, label: String) { self.x = x; self.label = label }
    }
    public var title: String
    public var xLabel: String
    public var bands: [Band]
    /// The x range drawn: steps `first...last`.
    public var first: Int
    public var last: Int
    /// The spikes: step, band and neuron of each (three arrays of one length).
    public var step: [Int]
    public var band: [Int]
    public var neuron: [Int]
    public var markers: [Marker]

    public init(title: String, xLabel: String, bands: [Band], first: Int, last: Int, step: [Int], band: [Int], neuron: [Int], markers: [Marker] = []) {
        precondition(step.count == band.count && band.count == neuron.count, "RasterChart: step, band and neuron differ in length")
        self.title = title; self.xLabel = xLabel; self.bands = bands; self.first = first; self.last = last
        self.step = step; self.band = band; self.neuron = neuron; self.markers = markers
    }
    enum CodingKeys: String, CodingKey { case title, xLabel, bands, first, last, step, band, neuron, markers }
    /// Checks that the spikes' three arrays have one length.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decode(String.self, forKey: .title)
        xLabel = try c.decode(String.self, forKey: .xLabel)
        bands = try c.decode([Band].self, forKey: .bands)
        first = try c.decode(Int.self, forKey: .first)
        last = try c.decode(Int.self, forKey: .last)
        step = try c.decode([Int].self, forKey: .step)
        band = try c.decode([Int].self, forKey: .band)
        neuron = try c.decode([Int].self, forKey: .neuron)
        markers = try c.decodeIfPresent([Marker].self, forKey: .markers) ?? []
        guard step.count == band.count && band.count == neuron.count else {
            throw DecodingError.dataCorruptedError(forKey: .neuron, in: c, debugDescription: "raster: step, band and neuron hold \(step.count), \(band.count) and \(neuron.count) values")
        }
    }
}

/// A matrix of numbers drawn as shaded cells with the number in each (a confusion matrix).
public struct HeatmapChart: Codable, Sendable, Equatable {
    public var title: String
    /// Label of the columns' axis (top to bottom: rows; left to right: columns).
    public var xLabel: String
    public var yLabel: String
    public var columns: [String]
    public var rows: [String]
    /// `values[row][column]`, printed in the cells.
    public var values: [[Double]]
    /// What the shade shows (legend text); the shade is each value over its row's sum.
    public var shadeLabel: String
    public init(title: String, xLabel: String, yLabel: String, columns: [String], rows: [String], values: [[Double]], shadeLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.columns = columns; self.rows = rows
        self.values = values; self.shadeLabel = shadeLabel
    }
}
