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
}
