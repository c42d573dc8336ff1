import Foundation

extension RasterChart {
    /// The raster as SVG: one band per population (first at the bottom) labelled with its name and
    /// size, a dot per spike, dashed markers, x ticks at nice steps.
    public var svg: String {
        let width = 900.0, height = 140.0 + 110.0 * Double(max(1, min(bands.count, 6)))
        let left = 120.0, right = 24.0, top = 40.0, bottom = 52.0
        let plotW = width - left - right, plotH = height - top - bottom
        let count = max(1, bands.count)
        let gap = 8.0
        let bandH = (plotH - gap * Double(count - 1)) / Double(count)
        let lo = first, hi = max(last, first)
        let span = Double(hi - lo + 1)
        func x(_ step: Double) -> Double { left + (step - Double(lo) + 0.5) / span * plotW }
        func bandTop(_ b: Int) -> Double { top + Double(count - 1 - b) * (bandH + gap) }
        let dotW = max(1.5, min(8.0, plotW / span * 0.7))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(fmt(width / 2))\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">\(escape(title))</text>\n"
        for (b, band) in bands.enumerated() {
            let y0 = bandTop(b)
            s += "<rect x=\"\(fmt(left))\" y=\"\(fmt(y0))\" width=\"\(fmt(plotW))\" height=\"\(fmt(bandH))\" fill=\"\(b % 2 == 0 ? "#f3f5f8" : "#e9edf2")\"/>\n"
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(y0 + bandH / 2))\" font-size=\"12\" text-anchor=\"end\">\(escape(band.name))</text>\n"
            s += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(y0 + bandH / 2 + 14))\" font-size=\"10\" fill=\"#555\" text-anchor=\"end\">\(band.neurons) neurons</text>\n"
        }
        // Marker labels: as many as fit without overlapping (every k-th), each about 7 px a character.
        var lastLabelEnd = -Double.infinity
        for m in markers {
            let xm = x(m.x) - 0.5 * plotW / span
            s += "<line x1=\"\(fmt(xm))\" y1=\"\(fmt(top))\" x2=\"\(fmt(xm))\" y2=\"\(fmt(top + plotH))\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
            if xm + 3 > lastLabelEnd + 6 {
                s += "<text x=\"\(fmt(xm + 3))\" y=\"\(fmt(top - 4))\" font-size=\"10\" fill=\"#555\">\(escape(m.label))</text>\n"
                lastLabelEnd = xm + 3 + Double(m.label.count) * 6
            }
        }
        for b in bands.indices {
            let n = Double(max(1, bands[b].neurons))
            let dotH = max(1.5, min(6.0, bandH / n))
            var dots = ""
            for i in step.indices where band[i] == b && step[i] >= lo && step[i] <= hi {
                let y = bandTop(b) + bandH - (Double(neuron[i]) + 1) / n * bandH
                dots += "<rect x=\"\(fmt(x(Double(step[i])) - dotW / 2))\" y=\"\(fmt(y))\" width=\"\(fmt(dotW))\" height=\"\(fmt(dotH))\"/>\n"
            }
            s += "<g class=\"band\" data-band=\"\(escape(bands[b].name))\" fill=\"\(SVGPlot.palette[b % SVGPlot.palette.count])\">\n\(dots)</g>\n"
        }
        s += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top + plotH))\" x2=\"\(fmt(left + plotW))\" y2=\"\(fmt(top + plotH))\" stroke=\"black\"/>\n"
        for t in SVGPlot.ticks(Double(lo), Double(hi)) where t == t.rounded() {
            let xt = x(t)
            s += "<line x1=\"\(fmt(xt))\" y1=\"\(fmt(top + plotH))\" x2=\"\(fmt(xt))\" y2=\"\(fmt(top + plotH + 4))\" stroke=\"black\"/>\n"
            s += "<text x=\"\(fmt(xt))\" y=\"\(fmt(top + plotH + 17))\" font-size=\"11\" text-anchor=\"middle\">\(SVGPlot.label(t))</text>\n"
        }
        s += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(height - 10))\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(fmt(top + plotH / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">neuron index within its population</text>\n"
        return s + "</svg>\n"
    }
}

extension HeatmapChart {
    /// The matrix as SVG: cells shaded by their share of the row (white 0 to dark blue 1), the value
    /// printed in each, row labels on the left, column labels below, a shade key on the right.
    public var svg: String {
        let n = max(1, rows.count), m = max(1, columns.count)
        let cell = min(56.0, max(18.0, 560.0 / Double(max(n, m))))
        let left = 110.0, top = 44.0
        let plotW = cell * Double(m), plotH = cell * Double(n)
        let width = left + plotW + 190, height = top + plotH + 64
        let fontSize = max(8.0, min(13.0, cell * 0.32))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(fmt(width / 2))\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">\(escape(title))</text>\n"
        for (r, row) in values.enumerated() where r < n {
            let sum = row.reduce(0, +)
            for (c, v) in row.enumerated() where c < m {
                let share = sum > 0 ? v / sum : 0
                let x = left + Double(c) * cell, y = top + Double(r) * cell
                s += "<rect x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(cell))\" height=\"\(fmt(cell))\" fill=\"\(Self.shade(share))\" stroke=\"#ccc\"/>\n"
                if v != 0 {
                    s += "<text x=\"\(fmt(x + cell / 2))\" y=\"\(fmt(y + cell / 2 + fontSize * 0.35))\" font-size=\"\(fmt(fontSize))\" text-anchor=\"middle\" fill=\"\(share > 0.5 ? "white" : "black")\">\(SVGPlot.label(v))</text>\n"
                }
            }
        }
        for (r, name) in rows.enumerated() {
            s += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(top + (Double(r) + 0.5) * cell + 4))\" font-size=\"11\" text-anchor=\"end\">\(escape(name))</text>\n"
        }
        for (c, name) in columns.enumerated() {
            s += "<text x=\"\(fmt(left + (Double(c) + 0.5) * cell))\" y=\"\(fmt(top + plotH + 15))\" font-size=\"11\" text-anchor=\"middle\">\(escape(name))</text>\n"
        }
        s += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(top + plotH + 40))\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(\(fmt(max(16, left - 20 - Double(rows.map(\.count).max() ?? 1) * 6.5))) \(fmt(top + plotH / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        // Shade key.
        let kx = left + plotW + 24, kh = min(plotH, 200.0)
        for i in 0..<10 {
            let share = 1 - (Double(i) + 0.5) / 10
            s += "<rect x=\"\(fmt(kx))\" y=\"\(fmt(top + Double(i) * kh / 10))\" width=\"16\" height=\"\(fmt(kh / 10 + 0.5))\" fill=\"\(Self.shade(share))\"/>\n"
        }
        s += "<rect x=\"\(fmt(kx))\" y=\"\(fmt(top))\" width=\"16\" height=\"\(fmt(kh))\" fill=\"none\" stroke=\"#999\"/>\n"
        s += "<text x=\"\(fmt(kx + 22))\" y=\"\(fmt(top + 10))\" font-size=\"11\">1</text>\n"
        s += "<text x=\"\(fmt(kx + 22))\" y=\"\(fmt(top + kh))\" font-size=\"11\">0</text>\n"
        s += "<text transform=\"translate(\(fmt(kx + 48)) \(fmt(top + kh / 2))) rotate(-90)\" font-size=\"11\" text-anchor=\"middle\">\(escape(shadeLabel))</text>\n"
        return s + "</svg>\n"
    }

    /// White (0) to dark blue (1).
    static func shade(_ share: Double) -> String {
        let t = min(1, max(0, share))
        let (r, g, b) = (255 - t * (255 - 8), 255 - t * (255 - 48), 255 - t * (255 - 107))
        return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
    }
}
