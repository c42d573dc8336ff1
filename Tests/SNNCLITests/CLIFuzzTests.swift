import Foundation
import SNNCore
import SNNTrace
import Testing

/// The `snn` binary built beside these tests (with `swift test -c release`: the release binary, the
/// build that users run): `SNN_BINARY` when set, else the `snn` in the test bundle's build folder.
enum SNNBinary {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let url: URL? = {
        let fm = FileManager.default
        if let p = ProcessInfo.processInfo.environment["SNN_BINARY"] { return URL(fileURLWithPath: p) }
        var candidates: [URL] = []
        for start in [URL(fileURLWithPath: CommandLine.arguments[0]), Bundle.main.bundleURL, Bundle.main.executableURL].compactMap({ $0 }) {
            var dir = start.resolvingSymlinksInPath()
            for _ in 0..<4 {
                dir = dir.deletingLastPathComponent()
                candidates.append(dir.appendingPathComponent("snn"))
            }
        }
        return candidates.first { fm.isExecutableFile(atPath: $0.path) && !$0.hasDirectoryPath }
    }()
}

/// One run of the binary.
struct CLIRun {
    var status: Int32
    var signalled: Bool
    var output: String

    init(_ args: [String]) throws {
        let binary = try #require(SNNBinary.url, "the snn binary was not found beside the test bundle; build it (swift build -c release) or set SNN_BINARY")
        let run = try ProcessRun(binary.path, args)
        status = run.status
        signalled = run.signalled
        output = run.output
    }
}

/// A scratch folder `PREFIX-PID` in the temporary directory for one test process's fixtures. The
/// suites that share it have no common end to remove it, so making one first removes the folders of
/// the same prefix left by test processes that no longer run.
enum ProcessScratch {
    static func folder(_ prefix: String) -> URL {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory
        for name in (try? fm.contentsOfDirectory(atPath: tmp.path)) ?? [] where name.hasPrefix(prefix + "-") {
            guard let pid = Int32(name.dropFirst(prefix.count + 1)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(at: tmp.appendingPathComponent(name)) }
        }
        let d = tmp.appendingPathComponent("\(prefix)-\(getpid())")
        try? fm.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}

/// Files the cases need: models (good and bad) and a malformed spike trace.
enum CLIFixtures {
    static let dir = ProcessScratch.folder("snn-cli-fixtures")

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let made: Bool = {
        func model(_ name: String, _ spec: NetworkSpec, _ metadata: [String: String] = [:]) {
            try! ModelFile.write(try! Network(spec: spec, seed: 1), metadata: metadata, to: URL(fileURLWithPath: path(name)))
        }
        let lif = LIFParameters(beta: 0.5, threshold: 0.3)
        model("three-outputs.snnmodel", NetworkSpec(inputShape: [2, 34, 34], layers: [.flatten, .linear(inFeatures: 2312, outFeatures: 3), .lif(lif)]))
        model("nmnist.snnmodel", NetworkSpec(inputShape: [2, 34, 34], layers: [.flatten, .linear(inFeatures: 2312, outFeatures: 10), .lif(lif)]),
              ["dataset": "nmnist", "classes": "10", "inputShape": "2x34x34", "frames": "10", "encoding": "poisson", "dtMs": "10.0"])
        model("digits.snnmodel", NetworkSpec(inputShape: [64], layers: [.linear(inFeatures: 64, outFeatures: 10), .lif(lif)]),
              ["dataset": "digits", "classes": "10", "inputShape": "64", "frames": "16", "encoding": "poisson", "dtMs": "10.0"])
        let digitsMeta = ["dataset": "digits", "classes": "10", "inputShape": "64", "frames": "16", "encoding": "poisson", "dtMs": "10.0"]
        model("digits-bntt-readout.snnmodel", try! NetworkSpec.parse("input=64,fc10:bntt,fc10:readout", neuron: .bntt(), timeSteps: 16), digitsMeta)
        model("digits-bntt-4-steps.snnmodel", try! NetworkSpec.parse("input=64,fc10:bntt,fc10", neuron: .bntt(), timeSteps: 4), digitsMeta)
        model("no-layers.snnmodel", NetworkSpec(inputShape: [2, 34, 34], layers: []))
        let mlp = { (p: LIFParameters) in NetworkSpec(inputShape: [64], layers: [.linear(inFeatures: 64, outFeatures: 10), .lif(p)]) }
        model("threshold-zero.snnmodel", mlp(LIFParameters(beta: 0.5, threshold: 0)))
        model("beta-big.snnmodel", mlp(LIFParameters(beta: 1.5, threshold: 0.3)))
        model("surrogate-negative.snnmodel", mlp(LIFParameters(beta: 0.5, threshold: 0.3, surrogate: .triangle(height: 0.3, halfWidth: -1))))
        // EM-PF models (format version 3): snn eval runs them layered and asynchronously (channel attention layered only).
        let empf = try! EMPFModel(spec: EMPFSpec.parse("64-10", neuron: EMPFNeuronSpec(), binaryWeights: .perChannel), seed: 1)
        try! EMPFModelFile.write(empf, metadata: ["dataset": "digits"], to: URL(fileURLWithPath: path("empf.snnmodel")))
        let readout = try! EMPFModel(spec: EMPFSpec.parse("input=64,fc16:bn,fc10:readout", neuron: EMPFNeuronSpec(), binaryWeights: .perChannel), seed: 1)
        try! EMPFModelFile.write(readout, metadata: ["dataset": "digits"], to: URL(fileURLWithPath: path("empf-readout.snnmodel")))
        let eca = try! EMPFModel(spec: EMPFSpec.parse("input=1x8x8,conv4k3p1,fc10:readout", neuron: EMPFNeuronSpec(), attentionKernel: 3), seed: 1)
        try! EMPFModelFile.write(eca, metadata: ["dataset": "digits"], to: URL(fileURLWithPath: path("empf-eca.snnmodel")))
        try! "# snn-spike-trace v1 populations=\nsample,frame,step,population,neuron\n0,0,1,0,0\n".write(toFile: path("empty-populations.csv"), atomically: true, encoding: .utf8)
        try! "# snn-spike-trace v1 populations=4,2\nsample,frame,step,population,neuron\n0,0,1,3,0\n".write(toFile: path("outside.csv"), atomically: true, encoding: .utf8)
        return true
    }()
}

/// Every bad option or file of issue 9 run through the built binary: a non-zero exit, a message
/// naming the option or file, and never a signal (trap, segfault) or a "Fatal error".
@Suite(.serialized) struct CLIFuzzTests {
    static let cases: [(args: [String], mentions: String)] = [
        // Crashes before.
        (["train", "--arch", "100-10"], "--arch"),
        (["train", "--arch", "2312-64-5"], "--arch"),
        (["train", "--frames", "0"], "--frames"),
        (["train", "--dt-ms", "0"], "--dt-ms"),
        (["train", "--dt-ms", "nan"], "--dt-ms"),
        (["train", "--dt-ms", "inf"], "--dt-ms"),
        (["train", "--test-fraction", "nan"], "--test-fraction"),
        (["eval", "--model", "@nmnist.snnmodel", "--batch-size", "0"], "--batch-size"),
        (["train", "--frames", "100000000"], "--frames"),
        (["train", "--frames", "1000000", "--epochs", "1"], "--frames"),
        (["train", "--arch", "2312-1000000000-10"], "--arch"),
        (["raster", "@empty-populations.csv"], "empty-populations.csv"),
        (["raster", "@outside.csv"], "outside.csv"),
        (["experiment", "layer-sync", "--train-F", "0"], "--train-F"),
        (["bench", "--batch", "100000"], "--batch"),
        (["bench", "--seconds", "inf"], "--seconds"),
        // Garbage successes before.
        (["train", "--lr", "inf"], "--lr"),
        (["train", "--weight-decay", "nan"], "--weight-decay"),
        (["train", "--optimizer", "sgd", "--momentum", "nan"], "--momentum"),
        (["train", "--threshold", "nan"], "--threshold"),
        (["train", "--surrogate", "atan:nan"], "--surrogate"),
        (["train", "--surrogate", ""], "--surrogate"),
        (["train", "--mode", "async", "--F", ""], "--F"),
        (["train", "--mode", "async", "--F", ","], "--F"),
        (["eval", "--model", "@nmnist.snnmodel", "--mode", "async", "--F", ""], "--F"),
        (["eval", "--model", "@nmnist.snnmodel", "--mode", "async", "--F", ","], "--F"),
        (["train", "--test-fraction", "0"], "--test-fraction"),
        (["train", "--mode", "async", "--noise", "nan"], "--noise"),
        (["train", "--mode", "async", "--input-dropout", "7"], "--input-dropout"),
        (["train", "--mode", "async", "--refractory-dropout", "2"], "--refractory-dropout"),
        (["train", "--clip", "nan"], "--clip"),
        (["train", "--F", "2"], "--F"),
        (["train", "--scheduler", "random"], "--scheduler"),
        (["eval", "--model", "@nmnist.snnmodel", "--stop", "on-output:2"], "--stop"),
        (["eval", "--model", "@nmnist.snnmodel", "--trace", "@t.csv"], "--trace"),
        (["eval", "--model", "@three-outputs.snnmodel"], "three-outputs.snnmodel"),
        (["eval", "--model", "@no-layers.snnmodel"], "no-layers.snnmodel"),
        (["train", "--arch", "input=2x34x34"], "--arch"),
        (["train", "--arch", "2312--10"], "--arch"),
        (["train", "--arch", "-5"], "--arch"),
        (["train", "--arch", "input=2x0x34,fc10"], "--arch"),
        (["train", "--arch", "input=2x34x34,conv0"], "--arch"),
        (["train", "--arch", "input=2x34x34,avg99,fc10"], "--arch"),
        (["train", "--arch", "input=2x34x34,conv8k3s0,fc10"], "--arch"),
        (["train", "--arch", "input=2x34x34,conv8k3s1p9999999999999999999,fc10"], "--arch"),
        (["train", "--arch", "input=2x34x34,drop7,fc10"], "--arch"),
        (["train", "--arch", "input=2x34x34,fc10,fc3"], "--arch"),
        (["eval", "--model", "@digits.snnmodel", "--dataset", "nmnist"], "--dataset"),
        (["eval", "--model", "@nmnist.snnmodel", "--frames", "20"], "--frames"),
        (["eval", "--model", "@threshold-zero.snnmodel"], "threshold-zero.snnmodel"),
        (["eval", "--model", "@beta-big.snnmodel"], "beta-big.snnmodel"),
        (["info", "@surrogate-negative.snnmodel"], "surrogate-negative.snnmodel"),
        // Lost work before: outputs checked before the first batch.
        (["train", "--out", "/dev/null/model.snnmodel"], "--out"),
        (["train", "--metrics", "/dev/null/metrics.json"], "--metrics"),
        (["eval", "--model", "@nmnist.snnmodel", "--json", "/dev/null/eval.json"], "--json"),
        (["eval", "--model", "@nmnist.snnmodel", "--mode", "async", "--trace", "/dev/null/trace.csv"], "--trace"),
        (["experiment", "layer-sync", "--out", "/dev/null/report"], "--out"),
        (["train", "--out", "@"], "--out"),
        (["train", "--threads", "0"], "--threads"),
        (["eval", "--model", "@nmnist.snnmodel", "--threads", "0"], "--threads"),
        (["demo", "--threads", "0"], "--threads"),
        (["bench", "--threads", "0"], "--threads"),
        (["bench", "--parts", "layered,gpu"], "--parts"),
        (["bench", "--nets", "mlp,resnet"], "--nets"),
        (["bench", "--repeats", "0"], "--repeats"),
        (["bench", "--repeats", "101"], "--repeats"),
        (["bench", "--save-networks", "/dev/null/nets"], "--save-networks"),
        (["bench", "--save-networks", ""], "--save-networks"),
        (["train", "--report", ""], "--report"),
        (["experiment", "empf-bench", "--nets", "mlp,resnet"], "--nets"),
        // Datasets, splits and the layer-sync study's own options.
        (["eval", "--model", "@nmnist.snnmodel", "--split", "Bogus"], "Bogus"),
        (["train", "--dataset", "poker-dvs", "--data", "/nonexistent/poker"], "/nonexistent/poker"),
        (["train", "--dataset", "cifar10-dvs", "--data", "/nonexistent/cifar10dvs"], "/nonexistent/cifar10dvs"),
        (["train", "--dataset", "fashion-mnist", "--data", "/nonexistent/fashion"], "/nonexistent/fashion"),
        (["train", "--dataset", "no-such-set"], "no-such-set"),
        (["data", "inspect", "--frames", "0"], "--frames"),
        (["data", "inspect", "--dt-ms", "nan"], "--dt-ms"),
        (["experiment", "layer-sync", "--seeds", "1,x"], "--seeds"),
        (["experiment", "layer-sync", "--seeds", "2,2"], "--seeds"),
        (["experiment", "layer-sync", "--k-sweep", ""], "--k-sweep"),
        (["experiment", "layer-sync", "--F-sweep", "0"], "--F-sweep"),
        // BNTT (issue 10): early exit, presets, recipes.
        (["eval", "--model", "@nmnist.snnmodel", "--early-exit", "0"], "--early-exit"),
        (["eval", "--model", "@nmnist.snnmodel", "--early-exit", "nan"], "--early-exit"),
        (["eval", "--model", "@nmnist.snnmodel", "--early-exit", "inf"], "--early-exit"),
        (["eval", "--model", "@nmnist.snnmodel", "--early-exit", "0.5"], "BNTT"),
        (["eval", "--model", "@nmnist.snnmodel", "--exit-rule", "x"], "--exit-rule"),
        (["train", "--arch", "vgg99"], "vgg99"),
        (["eval", "--model", "@digits-bntt-readout.snnmodel", "--mode", "async", "--stop", "on-output:1"], "read-out"),
        (["eval", "--model", "@digits-bntt-4-steps.snnmodel"], "BNTT statistics for 4 time steps"),
        (["eval", "--model", "@digits-bntt-4-steps.snnmodel", "--mode", "async"], "BNTT statistics for 4 time steps"),
        (["train", "--dataset", "digits", "--mode", "async", "--arch", "input=64,fc10:bntt,fc10"], "unlayered training"),
        (["train", "--dataset", "digits", "--mode", "async", "--arch", "input=64,fc10,fc10:readout"], "read-out"),
        (["train", "--recipe", "fast"], "--recipe"),
        (["train", "--dataset", "digits", "--mode", "async", "--arch", "input=64,fc10:bias"], "bias current"),
        (["train", "--arch", "input=64,fc10:biased"], ":biased"),
        (["train", "--alpha", "1"], "--alpha"),
        (["train", "--alpha", "nan"], "--alpha"),
        (["train", "--dataset", "digits", "--mode", "async", "--alpha", "0.5"], "current-based synapse"),
        (["train", "--method", "empf-online", "--alpha", "0.5"], "--alpha"),
        // Report folders (issue 12).
        (["report", "/nonexistent/report-folder"], "/nonexistent/report-folder"),
        (["report", "@."], "metrics.json"),
        (["train", "--report", "/dev/null/report"], "--report"),
        (["train", "--report-neurons", "1:2"], "--report-neurons"),
        (["train", "--report", "/tmp/snn-unused-report", "--report-neurons", "0:1"], "--report-neurons"),
        // EM-PF and online training (issue 11).
        (["train", "--method", "nope"], "--method"),
        (["train", "--method", "empf-online", "--report", "/tmp/snn-unused-report", "--report-neurons", "1:1"], "--report-neurons"),
        (["train", "--method", "ottt", "--checkpoint-every", "-2"], "--checkpoint-every"),
        (["train", "--method", "ottt", "--resume", "/nonexistent/online.checkpoint"], "--resume"),
        (["train", "--method", ""], "--method"),
        (["train", "--method", "empf-online", "--frames", "0"], "--frames"),
        (["train", "--method", "ottt", "--spike", "excess"], "--spike"),
        (["train", "--method", "empf-online", "--spike", "spiky"], "--spike"),
        (["train", "--method", "empf-online", "--binary-weights", "half"], "--binary-weights"),
        (["train", "--method", "bptt", "--update-every-step"], "--update-every-step"),
        (["train", "--method", "empf-online", "--channel-attention", "--eca-kernel", "4"], "--eca-kernel"),
        (["train", "--random-feedback"], "--method"),
        (["train", "--method", "ottt", "--parallel-time"], "--parallel-time"),
        (["train", "--method", "empf-online", "--dataset", "digits", "--channel-attention"], "--channel-attention"),
        (["train", "--method", "empf-online", "--parallel-time", "--update-every-step"], "--parallel-time"),
        (["train", "--method", "empf-online", "--mode", "async"], "--method"),
        (["train", "--method", "empf-online", "--dataset", "digits", "--arch", "64-10:bntt"], "--arch"),
        (["train", "--method", "empf-online", "--dataset", "digits", "--arch", "input=64,fc10:tdbn"], "--arch"),
        (["eval", "--model", "@empf.snnmodel", "--early-exit", "0.5"], "EM-PF"),
        (["eval", "--model", "@empf.snnmodel", "--gamma-plot", "/tmp/snn-unused-gamma.svg"], "--gamma-plot"),
        (["eval", "--model", "@empf-eca.snnmodel", "--mode", "async"], "channel attention"),
        (["eval", "--model", "@empf-readout.snnmodel", "--mode", "async", "--stop", "on-output:1"], "read-out"),
        (["eval", "--model", "@empf.snnmodel", "--mode", "async", "--refractory-dropout", "0.5"], "--refractory-dropout"),
        (["eval", "--model", "@empf.snnmodel", "--mode", "async", "--exact-order"], "--exact-order"),
        (["eval", "--model", "@empf.snnmodel", "--mode", "async", "--drop-negative-pending"], "--drop-negative-pending"),
        (["eval", "--model", "@nmnist.snnmodel", "--exact-order"], "--exact-order"),
        (["eval", "--model", "@empf.snnmodel", "--F", "8"], "--F"),
        (["eval", "--model", "@empf.snnmodel", "--dataset", "nmnist"], "--dataset"),
        (["eval", "--model", "@empf.snnmodel", "--mode", "async", "--F", "0"], "--F"),
        (["experiment", "empf", "--async-limit", "-1"], "--async-limit"),
        (["experiment", "empf", "--stop", "on-output:1"], "--stop"),
        (["experiment", "empf", "--no-async", "--F", "8"], "--no-async"),
        (["experiment", "bntt", "--async-limit", "-1"], "--async-limit"),
        (["experiment", "empf", "--steps", "0"], "--steps"),
        (["experiment", "empf", "--steps", "2,x"], "--steps"),
        (["experiment", "empf", "--methods", "empf-online,foo"], "--methods"),
        (["experiment", "empf", "--dataset", "shd"], "--dataset"),
        (["experiment", "empf", "--frames", "4"], "--frames"),
        (["experiment", "empf", "--lr", "nan"], "--lr"),
    ]

    @Test(arguments: cases.indices)
    func badInputIsAClearError(_ index: Int) throws {
        #expect(CLIFixtures.made)
        let c = Self.cases[index]
        let args = c.args.map { $0.hasPrefix("@") ? CLIFixtures.path(String($0.dropFirst())) : $0 }
        let run = try CLIRun(args)
        let shown = "snn \(args.joined(separator: " ")) -> status \(run.status): \(run.output.suffix(600))"
        #expect(!run.signalled, "killed by a signal: \(shown)")
        #expect(run.status != 0, "exited 0: \(shown)")
        #expect(run.output.contains(c.mentions), "does not name \(c.mentions): \(shown)")
        #expect(!run.output.contains("Fatal error"), "trapped: \(shown)")
    }

    /// Truncated and bit-flipped model files (read by the release build's model reader): a clean
    /// error naming the file, or a successful load; never a signal.
    @Test func corruptModelFilesNeverCrash() throws {
        #expect(CLIFixtures.made)
        let good = try Data(contentsOf: URL(fileURLWithPath: CLIFixtures.path("digits.snnmodel")))
        var rng = SystemRandomNumberGenerator()
        for k in 0..<24 {
            var bytes = [UInt8](good)
            if k % 2 == 0 { bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng))) }
            else { for _ in 0..<(1 + k % 3) { bytes[Int.random(in: 0..<min(bytes.count, 600), using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) } }
            let path = CLIFixtures.path("corrupt-\(k).snnmodel")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let run = try CLIRun(["info", path])
            #expect(!run.signalled && !run.output.contains("Fatal error"), "\(path): \(run.output.suffix(400))")
            if run.status != 0 { #expect(run.output.contains(path), "\(run.output.suffix(400))") }
        }
    }

    /// EM-PF models evaluate step by step and asynchronously; in exact event order the step-by-step accuracy
    /// is the asynchronous engine's at F = infinity, and `snn info` describes them.
    @Test func empfModelsEvaluateLayeredAndAsync() throws {
        #expect(CLIFixtures.made)
        func accuracy(_ output: String, _ prefix: String) -> String? {
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
            return line.components(separatedBy: "accuracy ").last?.components(separatedBy: " ").first
        }
        for model in ["empf.snnmodel", "empf-readout.snnmodel"] {
            let layered = try CLIRun(["eval", "--model", CLIFixtures.path(model), "--exact-order"])
            #expect(layered.status == 0, "\(layered.output.suffix(600))")
            #expect(layered.output.contains("synaptic ops/sample:") && layered.output.contains("latency: 16 steps"), "\(layered.output.suffix(600))")
            let async = try CLIRun(["eval", "--model", CLIFixtures.path(model), "--mode", "async", "--F", "inf,4", "--scheduler", "random"])
            #expect(async.status == 0, "\(async.output.suffix(600))")
            #expect(async.output.contains("F=4"), "\(async.output.suffix(600))")
            let a = accuracy(layered.output, "layered"), b = accuracy(async.output, "async random, F=inf")
            #expect(a != nil && a == b, "layered \(a ?? "-") vs async F=inf \(b ?? "-")")
        }
        let info = try CLIRun(["info", CLIFixtures.path("empf-eca.snnmodel")])
        #expect(info.status == 0, "\(info.output.suffix(600))")
        #expect(info.output.contains("format version 3: EM-PF") && info.output.contains("refused: layer 2 (eca k3)"), "\(info.output)")
    }

    /// `snn experiment empf` runs its trained models asynchronously: one row per F, and at F = inf the
    /// step-by-step accuracy on the same samples.
    @Test func empfExperimentHasAsyncRows() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-empf-async-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try CLIRun(["experiment", "empf", "--dataset", "digits", "--limit", "200", "--epochs", "1", "--steps", "2",
                              "--methods", "empf-online,sltt", "--F", "inf,2", "--async-limit", "40", "--out", dir.path])
        try #require(run.status == 0, "\(run.output.suffix(800))")
        let data = try Data(contentsOf: dir.appendingPathComponent("results.json"))
        let rows = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["asynchronous"] as? [[String: Any]])
        #expect(rows.count == 4, "\(rows)")
        for row in rows where row["forwardGroupSize"] == nil {
            let metrics = try #require(row["metrics"] as? [String: Any])
            #expect(metrics["samples"] as? Int == 40)
            #expect(metrics["accuracy"] as? Double == row["layeredAccuracy"] as? Double, "\(row)")
        }
        let md = try String(contentsOf: dir.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(md.contains("## The trained models run asynchronously") && md.contains("| empf-online | 2   | 2   |"), "\(md)")
    }

    /// A model with current-based synapses (`--alpha`) evaluates layered; the asynchronous engine refuses it by name.
    @Test func synapticCurrentModelsEvaluateLayeredOnly() throws {
        var p = LIFParameters(beta: 0.9, threshold: 0.3)
        p.synapticDecay = 0.6
        let path = CLIFixtures.path("digits-alpha.snnmodel")
        try ModelFile.write(try Network(spec: NetworkSpec(inputShape: [64], layers: [.linear(inFeatures: 64, outFeatures: 10), .lif(p)]), seed: 1),
                            metadata: ["dataset": "digits", "classes": "10", "inputShape": "64", "frames": "16", "encoding": "poisson", "dtMs": "10.0"],
                            to: URL(fileURLWithPath: path))
        let layered = try CLIRun(["eval", "--model", path, "--mode", "layered"])
        #expect(layered.status == 0 && layered.output.contains("layered: accuracy"), "\(layered.output.suffix(600))")
        let async = try CLIRun(["eval", "--model", path, "--mode", "async"])
        #expect(async.status != 0 && async.output.contains("current-based synapse") && !async.signalled, "\(async.output.suffix(600))")
    }

    /// A valid model evaluates with the dataset settings it records.
    @Test func evalUsesTheModelsDataset() throws {
        #expect(CLIFixtures.made)
        let run = try CLIRun(["eval", "--model", CLIFixtures.path("digits.snnmodel")])
        #expect(run.status == 0, "\(run.output.suffix(600))")
        #expect(run.output.contains("from the model: --dataset digits --frames 16"), "\(run.output.suffix(600))")
        #expect(run.output.contains("8x8 digits"))
    }
}
