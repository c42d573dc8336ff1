import Foundation
import Testing

/// `snn bench --parts` accepts every part its help names (it refused `bntt`, which the help offers).
@Suite struct BenchCLITests {
    @Test func benchRunsTheBNTTPartItsHelpNames() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("snn-bench-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let run = try CLIRun(["bench", "--skip-gemm", "--parts", "bntt", "--seconds", "0.01", "--threads", "2", "--json", json])
        #expect(run.status == 0, "\(run.output.suffix(800))")
        #expect(run.output.contains("BNTT vgg5"), "\(run.output.suffix(800))")
        // Only the part asked for ran, and its measurement is in the JSON.
        #expect(!run.output.contains("layered inference"), "\(run.output.suffix(800))")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        let bntt = try #require(object?["bntt"] as? [String: Any], "no bntt entry in \(json)")
        #expect((bntt["trainingSamplesPerSecond"] as? Double ?? 0) > 0)
    }

    /// `--nets cnn` measures the CNN alone; `--repeats` is recorded with the rates it chose between.
    @Test func benchMeasuresTheNetworksAskedForWithRepeats() throws {
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("snn-bench-cnn-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let run = try CLIRun(["bench", "--skip-gemm", "--parts", "layered", "--nets", "cnn", "--batch", "2", "--seconds", "0.01",
                              "--repeats", "2", "--json", json])
        #expect(run.status == 0, "\(run.output.suffix(800))")
        #expect(run.output.contains("best of 2 runs"), "\(run.output.suffix(800))")
        #expect(run.output.contains("CNN conv8k3s2"), "\(run.output.suffix(800))")
        #expect(!run.output.contains("MLP 2312"), "\(run.output.suffix(800))")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        #expect(object?["repeats"] as? Int == 2)
        let layered = try #require(object?["layered"] as? [[String: Any]], "no layered entries in \(json)")
        #expect(layered.count == 1 && (layered[0]["network"] as? String ?? "").hasPrefix("CNN"))
        #expect((layered[0]["trainingSamplesPerSecond"] as? Double ?? 0) > 0)
    }

    /// `--save-networks` writes the networks the measurements ran, as model files that load.
    @Test func benchSavesTheNetworksItMeasures() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-bench-nets-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLIRun(["bench", "--skip-gemm", "--parts", "unlayered", "--batch", "2", "--seconds", "0.01",
                              "--save-networks", dir])
        #expect(run.status == 0, "\(run.output.suffix(800))")
        for (file, layers) in [("mlp.snnmodel", "2312"), ("cnn.snnmodel", "conv")] {
            let path = dir + "/" + file
            #expect(run.output.contains("written \(path)"), "\(run.output.suffix(800))")
            let info = try CLIRun(["info", path])
            #expect(info.status == 0, "\(info.output.suffix(800))")
            #expect(info.output.contains(layers), "\(info.output.suffix(800))")
        }
    }
}
