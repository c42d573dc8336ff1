import Foundation
import Testing
import SNNCore
import SNNTensor

/// Model files with normalised populations (format version 2) and version-1 files.
struct NormalizationModelFileTests {
    static func bnttNetwork() throws -> Network {
        let neuron = LIFParameters(beta: 0.95, threshold: 1, reset: .subtract, surrogate: .triangle(height: 0.3, halfWidth: 1), detachReset: true)
        let spec = try NetworkSpec.parse("input=2x6x6,conv3k3p1:bntt,avg2,fc5:tdbn,fc4:bn,fc3:readout", neuron: neuron, timeSteps: 4)
        var net = try Network(spec: spec, seed: 3)
        // Non-trivial parameters and statistics.
        for i in net.normalizationIndices {
            for j in net.weights[i].data.indices { net.weights[i].data[j] = 0.5 + Float(j % 7) * 0.1 }
            let norm = spec.layers[i].normalization!
            for s in 0..<norm.statisticSets { for c in 0..<norm.channels {
                net.runningStatistics[i].data[(s * 2) * norm.channels + c] = Float(c) * 0.1 - Float(s) * 0.05
                net.runningStatistics[i].data[(s * 2 + 1) * norm.channels + c] = 0.2 + Float(c + s) * 0.3
            } }
        }
        return net
    }

    @Test func specStringsBuildTheNormalisedPopulations() throws {
        let net = try Self.bnttNetwork()
        let kinds = net.spec.layers.compactMap { $0.normalization?.kind }
        #expect(kinds == [.bntt, .tdbn, .bn])
        #expect(net.spec.layers.last.map { if case .linear = $0 { true } else { false } } == true)
        let first = net.spec.layers[1].normalization!
        #expect(first.channels == 3 && first.steps == 4 && first.parameterShape == [4, 3] && first.statisticsShape == [4, 2, 3])
        #expect(net.weights[1].shape == [4, 3] && net.weights[1].data.allSatisfy { $0 > 0 })
        // JSON round trip of the spec.
        let json = try JSONEncoder().encode(net.spec)
        #expect(try JSONDecoder().decode(NetworkSpec.self, from: json) == net.spec)
        // Bad strings.
        let n = LIFParameters()
        #expect(throws: ShapeError.self) { try NetworkSpec.parse("input=1x4x4,conv2k3:bntt,fc2", neuron: n) }  // no T
        #expect(throws: ShapeError.self) { try NetworkSpec.parse("input=1x4x4,conv2k3:batch,fc2", neuron: n) }
        #expect(throws: ShapeError.self) { try NetworkSpec.parse("input=1x4x4,avg2:bn,fc2", neuron: n) }
        #expect(throws: ShapeError.self) { try NetworkSpec.parse("input=1x4x4,fc2:bn:readout", neuron: n) }
    }

    @Test func roundTripKeepsParametersAndStatistics() throws {
        let dir = ModelFileTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bntt.snnmodel")
        let net = try Self.bnttNetwork()
        try ModelFile.write(net, metadata: ["k": "v"], to: url)
        let (back, _) = try ModelFile.read(from: url)
        #expect(back == net)
        #expect(back.runningStatistics.map { $0.data.map(\.bitPattern) } == net.runningStatistics.map { $0.data.map(\.bitPattern) })
    }

    @Test func versionOneFilesStillLoad() throws {
        let dir = ModelFileTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("v1.snnmodel")
        let net = try ModelFileTests.sampleNetwork()
        try ModelFile.write(net, to: url)
        var (h, w) = try ModelFileTests.header(of: url)
        h.statisticsShapes = nil  // a version-1 header has no such key
        let v1 = try ModelFileTests.craft(header: h, weights: w, version: 1)
        #expect(String(decoding: v1, as: UTF8.self).contains("statisticsShapes") == false)
        try Data(v1).write(to: url)
        let (back, _) = try ModelFile.read(from: url)
        #expect(back == net)
        // A version-1 file cannot hold normalised populations.
        let bntt = try Self.bnttNetwork()
        try ModelFile.write(bntt, to: url)
        let (hb, wb) = try ModelFileTests.header(of: url)
        try Data(try ModelFileTests.craft(header: hb, weights: wb, version: 1)).write(to: url)
        #expect(ModelFileTests.expectError(url, "v1 with BNTT")?.problem.contains("version 1") == true)
    }

    @Test func badStatisticsAreErrorsNamingTheFile() throws {
        let dir = ModelFileTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("stats.snnmodel")
        let net = try Self.bnttNetwork()
        try ModelFile.write(net, to: url)
        let (h, w) = try ModelFileTests.header(of: url)
        let statCount = net.normalizationIndices.reduce(0) { $0 + net.runningStatistics[$1].count }
        let paramCount = w.count - statCount
        // Statistics of the wrong length (declared and stored).
        var short = h
        short.statisticsShapes![0] = [3, 2, 3]
        try Data(try ModelFileTests.craft(header: short, weights: Array(w.dropLast(6)))).write(to: url)
        let e1 = ModelFileTests.expectError(url, "short statistics")
        #expect(e1?.description.contains(url.path) == true)
        var missing = h
        missing.statisticsShapes!.removeLast()
        try Data(try ModelFileTests.craft(header: missing, weights: w)).write(to: url)
        #expect(ModelFileTests.expectError(url, "missing statistics")?.problem.contains("running statistics") == true)
        try Data(try ModelFileTests.craft(header: h, weights: Array(w.dropLast()))).write(to: url)
        _ = ModelFileTests.expectError(url, "one value short")
        // A negative and a NaN variance (first BNTT layer: step 1, channel 2), and a NaN mean.
        let variance = paramCount + (1 * 2 + 1) * 3 + 2, mean = paramCount + 1
        for (index, value, word) in [(variance, Float(-0.5), "variance"), (variance, Float.nan, "variance"), (mean, Float.nan, "mean")] {
            var bad = w
            bad[index] = value
            try Data(try ModelFileTests.craft(header: h, weights: bad)).write(to: url)
            let e = ModelFileTests.expectError(url, "\(word) \(value)")
            #expect(e?.problem.contains(word) == true, "\(String(describing: e))")
            #expect(e?.description.contains(url.path) == true)
        }
        // Networks built in code are checked too.
        var stats = net.runningStatistics
        stats[1].data[3] = -1
        #expect(throws: ShapeError.self) { try Network(spec: net.spec, weights: net.weights, runningStatistics: stats) }
    }
}
