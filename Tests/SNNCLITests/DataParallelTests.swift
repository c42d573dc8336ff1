import Foundation
import SNNCore
import SNNTraining
import Testing

/// A process run to its end (or killed after `limit` seconds: a hang fails the test instead of CI).
struct ProcessRun {
    var status: Int32
    var output: String
    var hung: Bool
    /// Ended by a signal (a trap or a kill) rather than by exiting.
    var signalled: Bool

    /// Runs `executable` with `args` in the package root. `whileRunning` is called every 0.2 s with
    /// the process id until it returns true (then no more) or the process ends.
    init(_ executable: String, _ args: [String], environment: [String: String] = [:], limit: Double = 600,
         whileRunning: ((Int32) -> Bool)? = nil) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-dp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.currentDirectoryURL = SNNBinary.packageRoot
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let start = Date()
        var watching = whileRunning != nil
        hung = false
        while p.isRunning {
            if watching, whileRunning!(p.processIdentifier) { watching = false }
            if Date().timeIntervalSince(start) > limit {
                hung = true
                kill(-p.processIdentifier, SIGKILL)
                p.terminate()
                break
            }
            usleep(200_000)
        }
        p.waitUntilExit()
        try handle.close()
        status = p.terminationStatus
        signalled = p.terminationReason == .uncaughtSignal
        output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
    }
}

/// `output` without mpirun's own notices (blocks between two lines of dashes). mpirun forwards a
/// rank's stderr in the chunks it reads, so its notice about the failed rank can land in the middle
/// of that rank's error message ("is not a mul" + notice + "tiple of ...", seen in CI).
func withoutMPIRunNotices(_ output: String) -> String {
    var rest = Substring(output), kept = ""
    let rule = String(repeating: "-", count: 20)
    while let open = rest.range(of: rule) {
        kept += rest[..<open.lowerBound]
        // The notice runs from this rule to the next line that is a rule, inclusive.
        var after = rest[open.upperBound...].drop(while: { $0 == "-" })
        guard let close = after.range(of: rule) else { rest = after; break }
        after = after[close.upperBound...].drop(while: { $0 == "-" })
        rest = after.first == "\n" ? after.dropFirst() : after
    }
    return kept + rest
}

/// The notice-stripping the MPI tests match through, on the output CI recorded.
@Test func mpirunNoticesAreRemovedFromARanksMessage() {
    let rule = String(repeating: "-", count: 74)
    let recorded = "network: flatten\n  Error: --batch-size 15 is not a mul\(rule)\nPrimary job  terminated normally, but 1 process returned\n"
        + "a non-zero exit code. Per user-direction, the job has been aborted.\n\(rule)\ntiple of the 2 MPI ranks: each rank\n"
        + "\(rule)\nmpirun detected that one or more processes exited with non-zero status\n\(rule)\n"
    #expect(withoutMPIRunNotices(recorded) == "network: flatten\n  Error: --batch-size 15 is not a multiple of the 2 MPI ranks: each rank\n")
    #expect(withoutMPIRunNotices("no notice here\n") == "no notice here\n")
    #expect(withoutMPIRunNotices("half \(rule)\nunclosed") == "half \nunclosed")
}

/// Largest |a - b| over the weights of two model files of the same architecture, relative to the
/// largest |a| (and the two files' shapes must agree).
func relativeModelDifference(_ a: String, _ b: String) throws -> Float {
    let x = try ModelFile.read(from: URL(fileURLWithPath: a)).network
    let y = try ModelFile.read(from: URL(fileURLWithPath: b)).network
    #expect(x.spec == y.spec)
    var diff: Float = 0, scale: Float = 0
    for (u, v) in zip(x.weights, y.weights) {
        #expect(u.shape == v.shape)
        for (p, q) in zip(u.data, v.data) { diff = max(diff, abs(p - q)); scale = max(scale, abs(p)) }
    }
    return diff / max(scale, 1e-30)
}

enum MPITests {
    /// Whether the MPI suite runs (CI sets it for its build with the MPI trait).
    static let enabled = ProcessInfo.processInfo.environment["SNNKIT_MPI_TESTS"] == "1"
}

enum DataParallelFixtures {
    static let dir = ProcessScratch.folder("snn-dp-fixtures")
    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// A short layered run on the shipped N-MNIST: 64 samples in global batches of 16 (4 steps an epoch).
    static let layered = ["train", "--dataset", "nmnist", "--limit", "64", "--batch-size", "16", "--arch", "2312-32-10",
                          "--optimizer", "sgd", "--lr", "0.1", "--threads", "1"]
    /// An EM-PF/LIF network for the online methods (`--method`): 64 samples in batches of 16, with dropout.
    static let online = ["train", "--dataset", "nmnist", "--limit", "64", "--batch-size", "16", "--arch", "input=2312,fc32,drop0.3,fc10:readout",
                         "--optimizer", "sgd", "--lr", "0.1", "--threads", "1"]
    /// The same through the asynchronous engine (unlayered backprop).
    static let unlayered = ["train", "--dataset", "nmnist", "--limit", "32", "--batch-size", "16", "--arch", "2312-32-10",
                            "--optimizer", "sgd", "--lr", "0.1", "--mode", "async", "--F", "4", "--threads", "1"]
}

/// Checkpoints and resume of one process (default build, no MPI), and the refusals of bad input.
@Suite(.serialized) struct CheckpointCLITests {
    func snn(_ args: [String], environment: [String: String] = [:]) throws -> ProcessRun {
        let binary = try #require(SNNBinary.url, "the snn binary was not found beside the test bundle")
        return try ProcessRun(binary.path, args, environment: environment, limit: 900)
    }

    /// Stopping after step 3 of 8 and resuming gives the same model file, byte for byte.
    @Test func resumedRunEqualsUninterruptedRun() throws {
        let base = DataParallelFixtures.layered + ["--epochs", "2"]
        let full = try snn(base + ["--out", DataParallelFixtures.path("full.snnmodel")])
        #expect(full.status == 0, "\(full.output)")
        let part = DataParallelFixtures.path("part.snnmodel")
        let stop = try snn(base + ["--out", part, "--stop-after", "3"])
        #expect(stop.status == 0 && stop.output.contains("stopped after step 3"), "\(stop.output)")
        #expect(!FileManager.default.fileExists(atPath: part), "--stop-after writes no model")
        let resumed = try snn(base + ["--out", part, "--resume", part + ".checkpoint", "--checkpoint-every", "2"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let a = try Data(contentsOf: URL(fileURLWithPath: DataParallelFixtures.path("full.snnmodel")))
        let b = try Data(contentsOf: URL(fileURLWithPath: part))
        #expect(a == b, "the resumed model differs from the uninterrupted one")
        // The epoch-end checkpoint of a finished run refuses to continue past --epochs.
        let again = try snn(base + ["--out", part, "--resume", part + ".checkpoint"])
        #expect(again.status != 0 && again.output.contains("already finished 2 epochs"), "\(again.output)")
    }

    /// Online training (`--method`, with dropout and Adam): stopping after step 3 of 8 and resuming
    /// gives the same EM-PF model file, byte for byte; each kind of checkpoint is refused by the other
    /// kind of training, and a checkpoint of another method is refused.
    @Test func resumedOnlineRunEqualsUninterruptedRun() throws {
        var base = DataParallelFixtures.online + ["--epochs", "2", "--method", "empf-online"]
        base[base.firstIndex(of: "--optimizer")! + 1] = "adam"
        base[base.firstIndex(of: "--lr")! + 1] = "0.01"
        let full = DataParallelFixtures.path("online-full.snnmodel"), part = DataParallelFixtures.path("online-part.snnmodel")
        let a = try snn(base + ["--out", full])
        #expect(a.status == 0, "\(a.output)")
        let stop = try snn(base + ["--out", part, "--stop-after", "3"])
        #expect(stop.status == 0 && stop.output.contains("stopped after step 3"), "\(stop.output)")
        #expect(!FileManager.default.fileExists(atPath: part), "--stop-after writes no model")
        let resumed = try snn(base + ["--out", part, "--resume", part + ".checkpoint", "--checkpoint-every", "2"])
        #expect(resumed.status == 0 && resumed.output.contains("resuming from"), "\(resumed.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: full)) == Data(contentsOf: URL(fileURLWithPath: part)),
                "the resumed EM-PF model differs from the uninterrupted one")
        // The epoch lines after resuming are those of the uninterrupted run (the seconds aside).
        let lines = { (r: ProcessRun) in r.output.split(separator: "\n").filter { $0.contains("epoch 2/2:") }.map { $0.split(separator: ", peak")[0] } }
        #expect(!lines(a).isEmpty && lines(a) == lines(resumed), "\(a.output)\n\(resumed.output)")
        // Checkpoint kinds and methods do not mix.
        let plain = try snn(DataParallelFixtures.layered + ["--epochs", "1", "--resume", part + ".checkpoint"])
        #expect(plain.status != 0 && plain.output.contains("--method"), "\(plain.output)")
        var ottt = base
        ottt[ottt.firstIndex(of: "empf-online")!] = "sltt"
        let other = try snn(ottt + ["--out", part, "--resume", part + ".checkpoint"])
        #expect(other.status != 0 && other.output.contains("--method empf-online"), "\(other.output)")
        let layeredCheckpoint = DataParallelFixtures.path("online-vs-layered.snnmodel")
        #expect(try snn(DataParallelFixtures.layered + ["--epochs", "1", "--out", layeredCheckpoint, "--stop-after", "1"]).status == 0)
        let wrongKind = try snn(base + ["--out", part, "--resume", layeredCheckpoint + ".checkpoint"])
        #expect(wrongKind.status != 0 && wrongKind.output.contains("without --method"), "\(wrongKind.output)")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: part + ".checkpoint"))
        bytes[bytes.count / 3] ^= 0x21
        try bytes.write(to: URL(fileURLWithPath: part + ".bad"))
        let corrupt = try snn(base + ["--out", part, "--resume", part + ".bad"])
        #expect(corrupt.status != 0 && corrupt.output.contains("corrupt"), "\(corrupt.output)")
    }

    @Test func resumeRefusesBadCheckpoints() throws {
        let ckpt = DataParallelFixtures.path("bad-base.snnmodel.checkpoint")
        let made = try snn(DataParallelFixtures.layered + ["--epochs", "1", "--out", DataParallelFixtures.path("bad-base.snnmodel"), "--stop-after", "1"])
        #expect(made.status == 0, "\(made.output)")
        // Another architecture.
        let arch = try snn(["train", "--dataset", "nmnist", "--limit", "64", "--batch-size", "16", "--arch", "2312-16-10", "--resume", ckpt])
        #expect(arch.status != 0 && arch.output.contains("another architecture"), "\(arch.output)")
        // Another global batch size or seed.
        var args = DataParallelFixtures.layered
        args[args.firstIndex(of: "--batch-size")! + 1] = "32"
        let batch = try snn(args + ["--resume", ckpt])
        #expect(batch.status != 0 && batch.output.contains("--batch-size 16"), "\(batch.output)")
        let seed = try snn(DataParallelFixtures.layered + ["--seed", "7", "--resume", ckpt])
        #expect(seed.status != 0 && seed.output.contains("--seed"), "\(seed.output)")
        // A damaged file: one byte flipped in the middle, then cut short.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: ckpt))
        bytes[bytes.count / 2] ^= 0x5A
        let flipped = DataParallelFixtures.path("flipped.checkpoint")
        try bytes.write(to: URL(fileURLWithPath: flipped))
        let corrupt = try snn(DataParallelFixtures.layered + ["--resume", flipped])
        #expect(corrupt.status != 0 && corrupt.output.contains("corrupt") && corrupt.output.contains("flipped.checkpoint"), "\(corrupt.output)")
        let cut = DataParallelFixtures.path("cut.checkpoint")
        try bytes.prefix(100).write(to: URL(fileURLWithPath: cut))
        let short = try snn(DataParallelFixtures.layered + ["--resume", cut])
        #expect(short.status != 0 && short.output.contains("cut.checkpoint"), "\(short.output)")
        // A model file is not a checkpoint; a missing file is named.
        try ModelFile.write(try Network(spec: NetworkSpec(inputShape: [2, 34, 34], layers: [.flatten, .linear(inFeatures: 2312, outFeatures: 10), .lif(LIFParameters(beta: 0.5, threshold: 0.3))]), seed: 1),
                            to: URL(fileURLWithPath: DataParallelFixtures.path("model.snnmodel")))
        let model = try snn(DataParallelFixtures.layered + ["--resume", DataParallelFixtures.path("model.snnmodel")])
        #expect(model.status != 0 && model.output.contains("is a model file"), "\(model.output)")
        let early = try snn(DataParallelFixtures.layered + ["--resume", ckpt, "--stop-after", "1"])
        #expect(early.status != 0 && early.output.contains("--stop-after 1 is not after"), "\(early.output)")
        let missing = try snn(DataParallelFixtures.layered + ["--resume", DataParallelFixtures.path("nowhere.checkpoint")])
        #expect(missing.status != 0 && missing.output.contains("--resume"), "\(missing.output)")
        for (args, option) in [(["--checkpoint-every", "-1"], "--checkpoint-every"), (["--stop-after", "0"], "--stop-after")] {
            let r = try snn(DataParallelFixtures.layered + args)
            #expect(r.status != 0 && r.output.contains(option), "\(r.output)")
        }
    }

    /// Started as 2 MPI ranks by a build without the MPI trait: each rank stops at once with an error.
    @Test(.disabled(if: MPITests.enabled, "this build has the MPI trait"))
    func mpiLaunchOfABuildWithoutMPI() throws {
        let r = try snn(DataParallelFixtures.layered + ["--epochs", "1"], environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"])
        #expect(r.status != 0 && r.output.contains("built without the MPI trait"), "\(r.output)")
    }
}

/// Data-parallel training under `mpirun -np 2` (needs a build with the MPI trait and Open MPI's
/// mpirun: CI sets SNNKIT_MPI_TESTS=1 for its `--traits HDF5,MPI` build).
@Suite(.serialized, .enabled(if: MPITests.enabled, "set SNNKIT_MPI_TESTS=1 with a --traits MPI build"))
struct DataParallelTests {
    static let mpirun: String = {
        for p in ["/usr/bin/mpirun", "/usr/local/bin/mpirun"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        return "mpirun"
    }()

    func mpirun(_ ranks: Int, _ args: [String], limit: Double = 900, whileRunning: ((Int32) -> Bool)? = nil) throws -> ProcessRun {
        let binary = try #require(SNNBinary.url, "the snn binary was not found beside the test bundle")
        return try ProcessRun(Self.mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), binary.path] + args,
                              limit: limit, whileRunning: whileRunning)
    }

    func single(_ args: [String]) throws -> ProcessRun {
        let binary = try #require(SNNBinary.url)
        return try ProcessRun(binary.path, args, limit: 900)
    }

    /// After 4 steps, 2 ranks with 8 samples each give the model of 1 process with batches of 16;
    /// also with random draws that depend on a sample's place in the batch (dropout masks, input
    /// dropout, the random scheduler): each rank draws what the whole batch would.
    @Test(arguments: ["layered", "unlayered", "layered-dropout", "unlayered-random"])
    func twoRanksEqualOneProcessWithTheCombinedBatch(mode: String) throws {
        var base = (mode.hasPrefix("layered") ? DataParallelFixtures.layered : DataParallelFixtures.unlayered) + ["--epochs", mode.hasPrefix("layered") ? "1" : "2"]
        if mode == "layered-dropout" { base[base.firstIndex(of: "--arch")! + 1] = "input=2x34x34,fc32,drop0.3,fc10" }
        if mode == "unlayered-random" { base += ["--scheduler", "random", "--input-dropout", "0.2"] }
        let one = DataParallelFixtures.path("\(mode)-1.snnmodel"), two = DataParallelFixtures.path("\(mode)-2.snnmodel")
        let a = try single(base + ["--out", one])
        #expect(a.status == 0, "\(a.output)")
        let b = try mpirun(2, base + ["--out", two])
        #expect(b.status == 0 && !b.hung, "\(b.output)")
        #expect(b.output.contains("data parallel: 2 ranks, 4 all-reduces"), "\(b.output)")
        let d = try relativeModelDifference(one, two)
        #expect(d < 1e-4, "2-rank and 1-process models differ by \(d) (relative)")
    }

    /// The online methods (issue 11's `--method`) data-parallel: after 4 updates (8 with one update
    /// per time step) the 2-rank EM-PF model equals the 1-process model trained with the combined
    /// batch. Dropout draws the whole batch's masks on each rank (step by step and over all steps at once).
    @Test(arguments: ["empf-online", "empf-online-parallel-time", "ottt-every-step", "sltt"])
    func onlineMethodsTwoRanksEqualOneProcess(method: String) throws {
        var base = DataParallelFixtures.online + ["--epochs", "1"]
        switch method {
        case "empf-online": base += ["--method", "empf-online"]
        case "empf-online-parallel-time": base += ["--method", "empf-online", "--parallel-time"]
        case "ottt-every-step": base += ["--method", "ottt", "--update-every-step"]
        default: base += ["--method", "sltt"]
        }
        let one = DataParallelFixtures.path("\(method)-1.snnmodel"), two = DataParallelFixtures.path("\(method)-2.snnmodel")
        let a = try single(base + ["--out", one])
        #expect(a.status == 0, "\(a.output)")
        let b = try mpirun(2, base + ["--out", two])
        #expect(b.status == 0 && !b.hung, "\(b.output)")
        let updates = method == "ottt-every-step" ? 4 * 10 : 4  // --update-every-step: one update per frame (N-MNIST: 10 frames)
        #expect(b.output.contains("data parallel: 2 ranks, \(updates) all-reduces"), "\(b.output)")
        let x = try EMPFModelFile.read(from: URL(fileURLWithPath: one)).model, y = try EMPFModelFile.read(from: URL(fileURLWithPath: two)).model
        #expect(x.spec == y.spec)
        var diff: Float = 0, scale: Float = 0
        for (u, v) in zip(x.parameters.flatMap { $0 }, y.parameters.flatMap { $0 }) {
            #expect(u.shape == v.shape)
            for (p, q) in zip(u.data, v.data) { diff = max(diff, abs(p - q)); scale = max(scale, abs(p)) }
        }
        #expect(diff / max(scale, 1e-30) < 1e-4, "2-rank and 1-process EM-PF models differ by \(diff / max(scale, 1e-30)) (relative)")
        // The training lines (global loss and accuracy) agree too.
        let line = { (r: ProcessRun) in r.output.split(separator: "\n").first { $0.contains("epoch 1/1:") }.map { $0.split(separator: ", peak")[0] } }
        #expect(line(a) != nil && line(a) == line(b), "\(a.output)\n\(b.output)")
    }

    /// Membrane batch norm data-parallel: the ranks' batch statistics are averaged into the running
    /// statistics, every rank ends with the same model (rank 0 writes it) and a batch whose last share
    /// is empty on one rank (33 samples, batches of 16: the last has 1) does not hang.
    @Test func onlineTrainingWithMembraneNormAndAnEmptyShare() throws {
        let out = DataParallelFixtures.path("empf-bn.snnmodel")
        var args = DataParallelFixtures.online + ["--epochs", "1", "--method", "empf-online", "--out", out]
        args[args.firstIndex(of: "--arch")! + 1] = "input=2312,fc32:bn,fc10:readout"
        args[args.firstIndex(of: "--limit")! + 1] = "33"
        let r = try mpirun(2, args, limit: 300)
        #expect(r.status == 0 && !r.hung, "\(r.output)")
        #expect(r.output.contains("data parallel: 2 ranks, 3 all-reduces"), "\(r.output)")
        let m = try EMPFModelFile.read(from: URL(fileURLWithPath: out)).model
        let stats = m.statistics.flatMap { $0 }
        #expect(!stats.isEmpty && stats.allSatisfy { $0.data.allSatisfy(\.isFinite) })
        #expect(stats[0].data.contains { $0 != 0 }, "the running means never moved")
    }

    /// `snn eval` on 2 ranks (each on half the test set) prints what one process prints.
    @Test(arguments: [["--mode", "layered"], ["--mode", "async", "--scheduler", "random", "--F", "4"]])
    func evaluationOverTwoRanks(mode: [String]) throws {
        let model = DataParallelFixtures.path("eval-\(mode.count).snnmodel")
        try ModelFile.write(try Network(spec: NetworkSpec(inputShape: [2, 34, 34], layers: [.flatten, .linear(inFeatures: 2312, outFeatures: 10), .lif(LIFParameters(beta: 0.5, threshold: 0.3))]), seed: 1),
                            metadata: ["dataset": "nmnist", "classes": "10", "inputShape": "2x34x34", "frames": "10", "encoding": "poisson", "dtMs": "10.0"],
                            to: URL(fileURLWithPath: model))
        let args = ["eval", "--model", model, "--limit", "50", "--threads", "1"] + mode
        let one = try single(args), two = try mpirun(2, args, limit: 300)
        #expect(one.status == 0 && two.status == 0, "\(one.output)\n\(two.output)")
        let line = { (r: ProcessRun) in r.output.split(separator: "\n").first { $0.contains("accuracy") }.map { $0.split(separator: " spikes/sample")[0] } }
        #expect(line(one) != nil && line(one) == line(two), "\(one.output)\n\(two.output)")
    }

    /// `snn eval` of an EM-PF model (format version 3) on 2 ranks gives one process's accuracy, step by
    /// step and asynchronously.
    @Test(arguments: [["--mode", "layered"], ["--mode", "async", "--scheduler", "random", "--F", "4"]])
    func empfEvaluationOverTwoRanks(mode: [String]) throws {
        let model = DataParallelFixtures.path("empf-eval-\(mode.count).snnmodel")
        var empf = try EMPFModel(spec: try EMPFSpec.parse("input=2312,fc32:bn,fc10:readout", neuron: EMPFNeuronSpec(threshold: 0.05), binaryWeights: .perChannel), seed: 3)
        for i in empf.statistics.indices where !empf.statistics[i].isEmpty { for j in empf.statistics[i][0].data.indices { empf.statistics[i][0].data[j] = 0.1 } }
        try EMPFModelFile.write(empf, metadata: ["dataset": "nmnist", "classes": "10", "inputShape": "2x34x34", "frames": "10", "encoding": "poisson", "dtMs": "10.0"],
                                to: URL(fileURLWithPath: model))
        let args = ["eval", "--model", model, "--limit", "50", "--threads", "1"] + mode
        let one = try single(args), two = try mpirun(2, args, limit: 300)
        #expect(one.status == 0 && two.status == 0 && !two.hung, "\(one.output)\n\(two.output)")
        let accuracy = { (r: ProcessRun) -> String? in
            guard let line = r.output.split(separator: "\n").first(where: { $0.contains("accuracy ") }),
                  let start = line.range(of: "accuracy "), let end = line[start.upperBound...].firstIndex(of: "%") else { return nil }
            return String(line[start.lowerBound...end])
        }
        #expect(accuracy(one) != nil && accuracy(one) == accuracy(two), "\(one.output)\n\(two.output)")
    }

    /// Stopped on 2 ranks after 2 steps and resumed on 1: the model of an uninterrupted run.
    @Test func resumeOnAnotherNumberOfRanks() throws {
        let base = DataParallelFixtures.layered + ["--epochs", "1"]
        let full = DataParallelFixtures.path("resume-full.snnmodel"), part = DataParallelFixtures.path("resume-part.snnmodel")
        #expect(try single(base + ["--out", full]).status == 0)
        let stop = try mpirun(2, base + ["--out", part, "--stop-after", "2"])
        #expect(stop.status == 0 && stop.output.contains("stopped after step 2"), "\(stop.output)")
        let resumed = try single(base + ["--out", part, "--resume", part + ".checkpoint"])
        #expect(resumed.status == 0, "\(resumed.output)")
        let d = try relativeModelDifference(full, part)
        #expect(d < 1e-4, "resumed model differs by \(d) (relative)")
    }

    /// Ranks given different options stop at start-up with an error naming the rank, none hangs.
    @Test func ranksWithDifferentOptionsAreRefused() throws {
        let binary = try #require(SNNBinary.url)
        let base = DataParallelFixtures.layered + ["--epochs", "1", "--out", DataParallelFixtures.path("mismatch.snnmodel")]
        let r = try ProcessRun(Self.mpirun, ["--allow-run-as-root", "--oversubscribe", "-np", "1", binary.path] + base + ["--seed", "1", ":",
                                             "-np", "1", binary.path] + base + ["--seed", "2"], limit: 300)
        let refused = withoutMPIRunNotices(r.output)
        #expect(!r.hung && r.status != 0 && refused.contains("different options") && refused.contains("rank 1"), "\(r.output)")
        let odd = try mpirun(2, DataParallelFixtures.layered + ["--epochs", "1", "--batch-size", "15", "--out", DataParallelFixtures.path("odd.snnmodel")], limit: 300)
        #expect(!odd.hung && odd.status != 0 && withoutMPIRunNotices(odd.output).contains("not a multiple of the 2 MPI ranks"), "\(odd.output)")
    }

    /// A rank killed during training stops the job with an error (no hang); the checkpoint on disk
    /// is whole and resumes.
    @Test func aKilledRankStopsTheJob() throws {
        let out = DataParallelFixtures.path("killed.snnmodel"), ckpt = out + ".checkpoint"
        try? FileManager.default.removeItem(atPath: ckpt)
        let args = ["train", "--dataset", "nmnist", "--limit", "512", "--batch-size", "8", "--arch", "2312-32-10", "--epochs", "50",
                    "--threads", "1", "--checkpoint-every", "1", "--out", out]
        var killed: Int32 = 0
        let r = try mpirun(2, args, limit: 120) { mpirunPID in
            guard FileManager.default.fileExists(atPath: ckpt) else { return false }
            // The ranks are mpirun's children; kill the last one.
            guard let rank = Self.children(of: mpirunPID).max() else { return false }
            kill(rank, SIGKILL)
            killed = rank
            return true
        }
        #expect(killed != 0, "no rank was found to kill")
        #expect(!r.hung, "the job did not stop within 120 s after a rank was killed")
        #expect(r.status != 0, "\(r.output)")
        #expect(r.output.lowercased().contains("signal 9") || r.output.contains("killed") || r.output.contains("exited"), "\(r.output)")
        // The checkpoint on disk is whole (checksum, sizes) and holds the network being trained.
        let c = try TrainingCheckpoint.read(from: URL(fileURLWithPath: ckpt))
        #expect(c.position.step >= 1 && c.batchSize == 8)
        #expect(c.network.parameterCount == 2312 * 32 + 32 * 10 + 32 + 10 || c.network.parameterCount == 2312 * 32 + 32 * 10)
    }

    static func children(of parent: Int32) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent && stat.contains("(snn)")
        }
    }
}
