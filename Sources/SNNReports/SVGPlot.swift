import Foundation

/// A minimal SVG chart writer for reports: line charts with several series, and bar charts.
///
/// Coordinates are data units; axes get ticks at "nice" values. Output is standalone SVG 1.1 text
/// that any browser shows.
public struct SVGPlot: Sendable {
    /// One named series of (x, y) points.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        /// Dashed line (reference values such as a threshold).
        public var dashed = false
        /// A dot at every point (off for long traces).
        public var markers = true
        public init(name: String, points: [(x: Double, y: Double)]) { self.name = name; self.points = points }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var width = 860.0
    public var height = 400.0
    /// Whether the y axis of a line chart starts at zero (off: the data's range, for curves whose
    /// differences matter more than their distance from zero).
    public var yIncludesZero = true
    /// Room on the right for the legend.
    public var legendWidth = 240.0
    /// Right edge of the plot area.
    var plotRight: Double { width - 20 - legendWidth }

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    /// Series with more points than this are drawn without markers (they would hide the line).
    public static let maximumMarkers = 40

    /// Widens the chart so that the longest legend entry fits (about 6.5 px a character at 11 px).
    public mutating func fitLegend(_ names: [String]) {
        let needed = Double(names.map(\.count).max() ?? 0) * 6.5 + 40
        if needed > legendWidth { width += needed - legendWidth; legendWidth = needed }
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]

    /// A line chart (markers at the points).
    public func lines(_ series: [Series]) -> String {
        let all = series.flatMap(\.points)
        let (x0, x1) = Self.range(all.map(\.x)), (y0, y1) = Self.range(all.map(\.y), includeZero: yIncludesZero)
        let integerX = !all.isEmpty && all.allSatisfy { $0.x == $0.x.rounded() }
        var body = ""
        for (k, s) in series.enumerated() {
            let color = Self.palette[k % Self.palette.count]
            let pts = s.points.map { "\(fmt(px($0.x, x0, x1))),\(fmt(py($0.y, y0, y1)))" }.joined(separator: " ")
            body += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(pts)\"/>\n"
            for p in s.points where s.markers && s.points.count <= Self.maximumMarkers {
                body += "<circle cx=\"\(fmt(px(p.x, x0, x1)))\" cy=\"\(fmt(py(p.y, y0, y1)))\" r=\"3\" fill=\"\(color)\"/>\n"
            }
        }
        return frame(body: body, x: (x0, x1), y: (y0, y1), legend: series.map(\.name), integerX: integerX, dashed: Set(series.indices.filter { series[$0].dashed }))
    }

    /// A grouped bar chart: `groups` along x, one bar per series in each group.
    public func bars(groups: [String], series: [(name: String, values: [Double])]) -> String {
        let (y0, y1) = Self.range(series.flatMap(\.values), includeZero: true)
        let plotW = plotRight - 70, left = 70.0
        let groupW = plotW / Double(max(groups.count, 1))
        let barW = groupW * 0.8 / Double(max(series.count, 1))
        var body = ""
        for (g, name) in groups.enumerated() {
            for (k, s) in series.enumerated() where g < s.values.count {
                let x = left + Double(g) * groupW + groupW * 0.1 + Double(k) * barW
                let yTop = py(s.values[g], y0, y1), yBase = py(max(y0, 0), y0, y1)
                body += "<rect x=\"\(fmt(x))\" y=\"\(fmt(min(yTop, yBase)))\" width=\"\(fmt(barW))\" height=\"\(fmt(abs(yBase - yTop)))\" fill=\"\(Self.palette[k % Self.palette.count])\"/>\n"
            }
            body += "<text x=\"\(fmt(left + (Double(g) + 0.5) * groupW))\" y=\"\(fmt(height - 38))\" font-size=\"11\" text-anchor=\"middle\">\(escape(name))</text>\n"
        }
        return frame(body: body, x: nil, y: (y0, y1), legend: series.map(\.name))
    }

    // MARK: Layout

    func px(_ x: Double, _ x0: Double, _ x1: Double) -> Double { 70 + (x - x0) / (x1 - x0) * (plotRight - 70) }
    func py(_ y: Double, _ y0: Double, _ y1: Double) -> Double { height - 50 - (y - y0) / (y1 - y0) * (height - 90) }

    func frame(body: String, x: (Double, Double)?, y: (Double, Double), legend: [String], integerX: Bool = false, dashed: Set<Int> = []) -> String {
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(fmt(width / 2))\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">\(escape(title))</text>\n"
        let left = 70.0, right = plotRight, top = 40.0, bottom = height - 50
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(bottom))\" x2=\"\(fmt(right))\" y2=\"\(fmt(bottom))\" stroke=\"black\"/>\n"
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top))\" x2=\"\(fmt(left))\" y2=\"\(fmt(bottom))\" stroke=\"black\"/>\n"
        let yTicks = Self.ticks(y.0, y.1)
        for t in yTicks {
            let yy = py(t, y.0, y.1)
            s += "<line x1=\"\(fmt(left - 4))\" y1=\"\(fmt(yy))\" x2=\"\(fmt(right))\" y2=\"\(fmt(yy))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(yy + 4))\" font-size=\"11\" text-anchor=\"end\">\(Self.label(t, step: Self.step(yTicks)))</text>\n"
        }
        if let x {
            var xTicks = Self.ticks(x.0, x.1)
            if integerX {
                // Whole numbers only (epochs, steps); every one of them when there are few.
                xTicks = x.1 - x.0 <= 12 ? (Int(x.0.rounded(.up))...max(Int(x.0.rounded(.up)), Int(x.1.rounded(.down)))).map(Double.init)
                                         : xTicks.filter { $0 == $0.rounded() }
            }
            for t in xTicks {
                let xx = px(t, x.0, x.1)
                s += "<line x1=\"\(fmt(xx))\" y1=\"\(fmt(bottom))\" x2=\"\(fmt(xx))\" y2=\"\(fmt(bottom + 4))\" stroke=\"black\"/>\n"
                s += "<text x=\"\(fmt(xx))\" y=\"\(fmt(bottom + 17))\" font-size=\"11\" text-anchor=\"middle\">\(Self.label(t, step: integerX ? 1 : Self.step(xTicks)))</text>\n"
            }
        }
        s += "<text x=\"\(fmt((left + right) / 2))\" y=\"\(fmt(height - 8))\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(fmt((top + bottom) / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        s += body
        for (k, name) in legend.enumerated() {
            let ly = top + 6 + Double(k) * 16
            if dashed.contains(k) {
                s += "<line x1=\"\(fmt(right + 12))\" y1=\"\(fmt(ly - 4))\" x2=\"\(fmt(right + 26))\" y2=\"\(fmt(ly - 4))\" stroke=\"\(Self.palette[k % Self.palette.count])\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>\n"
            } else {
                s += "<rect x=\"\(fmt(right + 15))\" y=\"\(fmt(ly - 9))\" width=\"10\" height=\"10\" fill=\"\(Self.palette[k % Self.palette.count])\"/>\n"
            }
            s += "<text x=\"\(fmt(right + 30))\" y=\"\(fmt(ly))\" font-size=\"11\">\(escape(name))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func range(_ v: [Double], includeZero: Bool = false) -> (Double, Double) {
        var lo = v.filter(\.isFinite).min() ?? 0, hi = v.filter(\.isFinite).max() ?? 1
        if includeZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo < 1e-12 { hi = lo + 1 }
        let pad = (hi - lo) * 0.05
        return (lo == 0 ? 0 : lo - pad, hi + pad)
    }

    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var t = ceil(lo / step) * step, out: [Double] = []
        while t <= hi + 1e-9 { out.append(t); t += step }
        return out
    }

    /// The spacing of evenly spaced ticks (1 when there are fewer than two).
    static func step(_ ticks: [Double]) -> Double { ticks.count > 1 ? ticks[1] - ticks[0] : 1 }

    /// A tick label with as many decimals as the tick spacing `step` needs (0.9985, 0.999 with step
    /// 0.0005 gives 0.9985, 0.9990), integers plain.
    public static func label(_ v: Double, step: Double) -> String {
        guard step > 0, step.isFinite, step != step.rounded() || v != v.rounded() else { return label(v) }
        var decimals = 0
        while decimals < 12 && abs(step * pow(10, Double(decimals)) - (step * pow(10, Double(decimals))).rounded()) > 1e-6 { decimals += 1 }
        return String(format: "%.\(decimals)f", abs(v) < step * 1e-6 ? 0 : v)
    }

    /// A tick label: integers plain, others with three significant digits.
    public static func label(_ v: Double) -> String {
        if abs(v) >= 1000 || v == v.rounded() { return String(Int(v.rounded())) }
        return String(format: "%.3g", v)
    }
}

@inline(__always) func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

func escape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
}
