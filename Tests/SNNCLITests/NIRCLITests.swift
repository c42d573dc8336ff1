import Foundation
import SNNCore
import Testing

/// `snn export --nir` and `snn import --nir` on bad options and files (issue 12): a non-zero exit
/// naming the file, node or option, no output file left behind, never a signal. Without the HDF5
/// trait both commands must say that the build lacks it.
@Suite(.serialized) struct NIRCLITests {
    static let bad = SNNBinary.packageRoot.appendingPathComponent("Tests/NIR/fixtures/bad")
    static func fixture(_ name: String) -> String { bad.appendingPathComponent(name).path }

    static let dir: URL = {
        let d = ProcessScratch.folder("snn-nir-cli")
        let lif = LIFParameters(beta: 0.5, threshold: 0.3)
        func model(_ name: String, _ spec: NetworkSpec) {
            try! ModelFile.write(try! Network(spec: spec, seed: 1), to: d.appendingPathComponent(name))
        }
        model("mlp.snnmodel", NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .lif(lif)]))
        var sub = lif
        sub.reset = .subtract
        model("subtract.snnmodel", NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .lif(sub)]))
        model("maxpool.snnmodel", NetworkSpec(inputShape: [1, 4, 4], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .lif(lif), .maxPool2d(kernel: 2, stride: 2),
            .flatten, .linear(inFeatures: 8, outFeatures: 2), .lif(lif),
        ]))
        return d
    }()

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let hasTrait: Bool = {
        let r = try? CLIRun(["import", "--nir", fixture("good.nir"), "--out", path("probe.snnmodel")])
        return !(r?.output.contains("--traits HDF5") ?? true)
    }()

    func expectError(_ args: [String], _ mentions: [String], noFile out: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        if let out { try? FileManager.default.removeItem(atPath: out) }
        let run = try CLIRun(args)
        let shown = "snn \(args.joined(separator: " ")) -> status \(run.status): \(run.output.suffix(600))"
        #expect(!run.signalled && run.status != 0, "\(shown)", sourceLocation: sourceLocation)
        for m in mentions { #expect(run.output.contains(m), "does not name '\(m)': \(shown)", sourceLocation: sourceLocation) }
        #expect(!run.output.contains("Fatal error"), "trapped: \(shown)", sourceLocation: sourceLocation)
        if let out { #expect(!FileManager.default.fileExists(atPath: out), "left \(out) behind: \(shown)", sourceLocation: sourceLocation) }
    }

    @Test func withoutTheTraitBothCommandsSaySo() throws {
        guard !Self.hasTrait else { return }
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), Self.path("x.nir")], ["--traits HDF5"], noFile: Self.path("x.nir"))
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", Self.path("x.snnmodel")], ["--traits HDF5"], noFile: Self.path("x.snnmodel"))
    }

    @Test func exportBadInput() throws {
        guard Self.hasTrait else { return }
        let out = Self.path("out.nir")
        try expectError(["export", Self.path("mlp.snnmodel"), out], ["--nir"], noFile: out)
        try expectError(["export", "--nir", Self.path("absent.snnmodel"), out], ["absent.snnmodel"], noFile: out)
        try expectError(["export", "--nir", Self.path("subtract.snnmodel"), out], ["reset by subtraction", "layer 1"], noFile: out)
        try expectError(["export", "--nir", Self.path("maxpool.snnmodel"), out], ["max pooling", "layer 2"], noFile: out)
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), out, "--dt", "0"], ["--dt"], noFile: out)
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), out, "--dt", "nan"], ["--dt"], noFile: out)
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), out, "--discretization", "rk4"], ["--discretization"], noFile: out)
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), "/dev/null/x.nir"], ["/dev/null/x.nir"])
        try expectError(["export", "--nir", Self.path("mlp.snnmodel"), out, "--from", "norse"], ["--from"], noFile: out)
    }

    @Test func importBadInput() throws {
        guard Self.hasTrait else { return }
        let out = Self.path("imported.snnmodel")
        try expectError(["import", "--nir", Self.fixture("not_hdf5.nir"), "--out", out], ["not_hdf5.nir", "not an HDF5 file"], noFile: out)
        try expectError(["import", "--nir", Self.path("absent.nir"), "--out", out], ["absent.nir", "no such file"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("unknown_type.nir"), "--out", out], ["node 'lif'", "unknown node type 'Banana'"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("missing_tau.nir"), "--out", out], ["node 'lif'", "'tau'", "missing parameter"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("mismatched_weight.nir"), "--out", out], ["node 'fc'", "mismatched shapes"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("cycle.nir"), "--out", out], ["node 'fc'", "cycle"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("huge_weight.nir"), "--out", out], ["node 'fc'", "weight", "elements"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", out, "--dt", "-1"], ["--dt"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", out, "--discretization", "x"], ["--discretization"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", out, "--from", "brian"], ["--from"], noFile: out)
        // tau = 1 ms with --dt 2 ms under Euler: beta = -1, an error naming the node and --dt.
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", out, "--dt", "0.002"], ["node 'lif'", "--dt"], noFile: out)
        try expectError(["import", "--nir", Self.fixture("good.nir"), "--out", "/dev/null/m.snnmodel"], ["--out"])
        // A failed import leaves an existing model file as it was (nothing half-imported).
        try ModelFile.write(try Network(spec: NetworkSpec(inputShape: [2], layers: [.linear(inFeatures: 2, outFeatures: 2)]), seed: 2), to: URL(fileURLWithPath: out))
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        let run = try CLIRun(["import", "--nir", Self.fixture("cycle.nir"), "--out", out])
        #expect(run.status != 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
    }

    @Test func goodRoundTripThroughTheBinary() throws {
        guard Self.hasTrait else { return }
        let nir = Self.path("rt.nir"), model = Self.path("rt.snnmodel")
        let e = try CLIRun(["export", "--nir", Self.path("mlp.snnmodel"), nir])
        #expect(e.status == 0, "\(e.output)")
        let i = try CLIRun(["import", "--nir", nir, "--out", model])
        #expect(i.status == 0, "\(i.output)")
        let (a, b) = (try ModelFile.read(from: URL(fileURLWithPath: Self.path("mlp.snnmodel"))).network, try ModelFile.read(from: URL(fileURLWithPath: model)).network)
        #expect(a.weights == b.weights)
        #expect(a.spec.inputShape == b.spec.inputShape && a.spec.layers.count == b.spec.layers.count)
    }
}
