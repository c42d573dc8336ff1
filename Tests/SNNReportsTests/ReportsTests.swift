import Testing
import SNNReports

struct ReportsTests {
    @Test func markdownTablePadsColumnsAndKeepsCells() {
        var t = MarkdownTable(header: ["model", "accuracy %"])
        t.append(["layered", "88.9"])
        t.append(["unlayered-momentum", "82.4"])
        let lines = t.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "| model              | accuracy % |")
        #expect(lines[1] == "|--------------------|------------|")
        #expect(lines[3] == "| unlayered-momentum | 82.4       |")
    }

    @Test func lineChartHasOnePolylinePerSeriesAndEscapesText() {
        let svg = SVGPlot(title: "a < b & c", xLabel: "x", yLabel: "y").lines([
            .init(name: "one", points: [(0, 1), (1, 2), (2, 3)]),
            .init(name: "two", points: [(0, 3), (2, 1)]),
        ])
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 5)
        #expect(svg.contains("a &lt; b &amp; c"))
        #expect(!svg.contains("nan") && !svg.contains("inf"))
    }

    @Test func barChartDrawsEveryBar() {
        let svg = SVGPlot(title: "t", xLabel: "x", yLabel: "y").bars(groups: ["l1", "l2", "l3"], series: [("a", [1, 2, 3]), ("b", [0.5, 0, 4])])
        // One background rectangle, six bars, two legend swatches.
        #expect(svg.components(separatedBy: "<rect").count - 1 == 1 + 6 + 2)
    }
}
