import ArgumentParser
import Foundation
import SNNEngines

/// `snn raster`: draws a spike trace of the asynchronous engine as an SVG raster plot.
///
/// x is the forward step of the sample (counted across frames, frame boundaries dashed); y is the
/// neuron, grouped by population in horizontal bands (input side at the bottom, output on top), so
/// the wave of activity is seen climbing through the layers, one band per layer per forward step at
/// `F = infinity`, spread out over many steps at small `F`.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raster",
        abstract: "Draw an asynchronous spike trace (CSV from --trace) as an SVG raster plot.",
        discussion: """
        The trace is the CSV the asynchronous engine writes when asked to record every emitted spike \
        (columns sample,frame,step,population,neuron). One sample is drawn: x is its forward step \
        (counted across frames; dashed lines mark frame starts), y its neurons, one band per \
        population with the output population on top.
        Example: snn raster runs/trace.csv --sample 3 --output runs/raster.svg
        """
    )

    @Argument(help: "The trace file (CSV).")
    var trace: String

    @Option(help: "Where to write the SVG (default: the trace path with .svg).")
    var output: String?

    @Option(help: "The sample to draw (default: the first sample in the trace).")
    var sample: Int?

    @Option(help: "Draw only the first frames of the sample (default: all).")
    var frames: Int?

    @Option(help: "Plot width in pixels.")
    var width: Int = 1200

    @Option(help: "Plot height in pixels.")
    var height: Int = 700

    var outputPath: String { output ?? (trace.hasSuffix(".csv") ? String(trace.dropLast(4)) + ".svg" : trace + ".svg") }

    func validate() throws {
        try Check.integer(width, "--width", min: 200, max: 100_000)
        try Check.integer(height, "--height", min: 100, max: 100_000)
        if let sample { try Check.integer(sample, "--sample", min: 0, max: Int(Int32.max)) }
        if let frames { try Check.integer(frames, "--frames", min: 1, max: Int(Int32.max)) }
        try Check.writableFile(outputPath, "--output")
    }

    func run() throws {
        let t = try SpikeTrace.read(from: URL(fileURLWithPath: trace))
        guard let first = t.events.first else { throw ValidationError("\(trace): the trace holds no spikes") }
        let chosen = Int32(sample ?? Int(first.sample))
        var events = t.events.filter { $0.sample == chosen }
        if let frames { events = events.filter { Int($0.frame) < frames } }
        guard !events.isEmpty else { throw ValidationError("\(trace): no spikes for sample \(chosen)") }
        let svg = RasterPlot(populationSizes: t.populationSizes, events: events, width: width, height: height,
                             title: "sample \(chosen): \(events.count) spikes").svg()
        let path = outputPath
        try svg.write(toFile: path, atomically: true, encoding: .utf8)
        print("written \(path) (\(events.count) spikes, \(t.populationSizes.count) populations)")
    }
}

/// The SVG drawing of one sample's spikes.
struct RasterPlot {
    var populationSizes: [Int]
    var events: [SpikeTrace.Event]
    var width: Int
    var height: Int
    var title: String

    static let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    func svg() -> String {
        let left = 110.0, right = 20.0, top = 36.0, bottom = 44.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let maxStep = Int(events.map(\.step).max() ?? 1)
        let minStep = 1
        let pops = max(1, populationSizes.count)
        let bandGap = 6.0
        let bandH = (plotH - bandGap * Double(pops - 1)) / Double(pops)
        func x(_ step: Int32) -> Double { left + (Double(Int(step) - minStep) + 0.5) / Double(max(1, maxStep - minStep + 1)) * plotW }
        // Population 0 at the bottom.
        func bandTop(_ p: Int) -> Double { top + Double(pops - 1 - p) * (bandH + bandGap) }
        let dotW = max(1.0, min(6.0, plotW / Double(max(1, maxStep)) * 0.8))
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="14">\(escape(title))</text>

        """
        for p in 0..<pops {
            let y0 = bandTop(p)
            let fill = p % 2 == 0 ? "#f4f6f8" : "#eceff3"
            s += "<rect x=\"\(f(left))\" y=\"\(f(y0))\" width=\"\(f(plotW))\" height=\"\(f(bandH))\" fill=\"\(fill)\"/>\n"
            let name = p == pops - 1 ? "output" : "layer \(p + 1)"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(y0 + bandH / 2))\" text-anchor=\"end\" dominant-baseline=\"middle\">\(name)</text>\n"
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(y0 + bandH / 2 + 14))\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"#666\" font-size=\"10\">\(p < populationSizes.count ? populationSizes[p] : 0) neurons</text>\n"
        }
        // Frame starts.
        var frameStart: [Int32: Int32] = [:]
        for e in events { frameStart[e.frame] = min(frameStart[e.frame] ?? .max, e.step) }
        for (frame, step) in frameStart.sorted(by: { $0.key < $1.key }) where frame > 0 {
            let xs = x(step) - 0.5 * plotW / Double(max(1, maxStep))
            s += "<line x1=\"\(f(xs))\" y1=\"\(f(top))\" x2=\"\(f(xs))\" y2=\"\(f(top + plotH))\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n"
            s += "<text x=\"\(f(xs + 3))\" y=\"\(f(top + plotH + 30))\" fill=\"#666\" font-size=\"10\">frame \(frame)</text>\n"
        }
        // Spikes.
        for p in 0..<pops {
            let n = Double(max(1, p < populationSizes.count ? populationSizes[p] : 1))
            let dotH = max(1.0, min(6.0, bandH / n))
            s += "<g fill=\"\(RasterPlot.colors[p % RasterPlot.colors.count])\">\n"
            for e in events where Int(e.population) == p {
                let y = bandTop(p) + bandH - (Double(e.neuron) + 1) / n * bandH
                s += "<rect x=\"\(f(x(e.step) - dotW / 2))\" y=\"\(f(y))\" width=\"\(f(dotW))\" height=\"\(f(dotH))\"/>\n"
            }
            s += "</g>\n"
        }
        // x axis.
        let ticks = niceTicks(maxStep)
        s += "<line x1=\"\(f(left))\" y1=\"\(f(top + plotH))\" x2=\"\(f(left + plotW))\" y2=\"\(f(top + plotH))\" stroke=\"#333\"/>\n"
        for t in ticks {
            let xt = x(Int32(t))
            s += "<line x1=\"\(f(xt))\" y1=\"\(f(top + plotH))\" x2=\"\(f(xt))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#333\"/>\n"
            s += "<text x=\"\(f(xt))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(t)</text>\n"
        }
        s += "<text x=\"\(f(left + plotW / 2))\" y=\"\(height - 4)\" text-anchor=\"middle\">forward step</text>\n"
        s += "</svg>\n"
        return s
    }

    func niceTicks(_ maxStep: Int) -> [Int] {
        let raw = Double(max(1, maxStep)) / 10
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let s = max(1, Int(step))
        return Array(stride(from: s, through: maxStep, by: s))
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    func escape(_ t: String) -> String { t.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
}
