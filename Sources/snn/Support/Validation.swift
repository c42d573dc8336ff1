import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNTensor
#if canImport(Glibc)
import Glibc
#endif

/// A run that cannot go on (data and model disagree, training diverged...): the message says why and
/// names the option or file; the process exits with status 1 without printing the usage.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Checks of option values and output paths, made before any long work starts.
enum Check {
    /// The largest number of frames per sample accepted (memory is checked separately).
    static let maximumFrames = 1_000_000
    /// The largest mini-batch accepted.
    static let maximumBatch = 65_536

    /// The items of a comma-list option, whitespace around each trimmed; empty items are kept (so that
    /// `a,` or `` is refused by the check that follows).
    static func commaItems(_ value: String) -> [String] {
        value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `value` as a comma list of names, each one of `known`; otherwise an error naming `option`.
    @discardableResult
    static func names(_ value: String, _ option: String, from known: [String]) throws -> [String] {
        let items = commaItems(value)
        guard items.allSatisfy(known.contains) else {
            throw ValidationError("\(option) takes a comma list of \(known.joined(separator: ", ")), got '\(value)'")
        }
        return items
    }

    static func finite(_ v: Double, _ option: String, min lo: Double? = nil, max hi: Double? = nil,
                       above: Double? = nil, below: Double? = nil, hint: String = "") throws {
        var ok = v.isFinite
        if let lo { ok = ok && v >= lo }
        if let hi { ok = ok && v <= hi }
        if let above { ok = ok && v > above }
        if let below { ok = ok && v < below }
        guard ok else {
            var range: [String] = []
            if let lo { range.append(">= \(short(lo))") }
            if let above { range.append("> \(short(above))") }
            if let hi { range.append("<= \(short(hi))") }
            if let below { range.append("< \(short(below))") }
            throw ValidationError("\(option) must be a finite number\(range.isEmpty ? "" : " " + range.joined(separator: " and ")), got \(v)\(hint)")
        }
    }

    static func finite(_ v: Float, _ option: String, min lo: Double? = nil, max hi: Double? = nil,
                       above: Double? = nil, below: Double? = nil, hint: String = "") throws {
        try finite(Double(v), option, min: lo, max: hi, above: above, below: below, hint: hint)
    }

    static func integer(_ v: Int, _ option: String, min lo: Int, max hi: Int) throws {
        guard v >= lo, v <= hi else { throw ValidationError("\(option) must be from \(lo) to \(hi), got \(v)") }
    }

    static func threads(_ t: Int?) throws {
        guard let t else { return }
        guard t >= 1, t <= 4096 else {
            throw ValidationError("--threads must be at least 1 (leave it out to use all \(Parallelism.activeCores) cores), got \(t)")
        }
    }

    /// `path` can be written as a file: its folder exists or can be made and accepts a new file.
    static func writableFile(_ path: String, _ option: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(option) needs a file path") }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw ValidationError("\(option) \(path) is a folder; give a file path")
        }
        try writableFolder(URL(fileURLWithPath: path).deletingLastPathComponent().path, option, for: path)
    }

    /// `path` is a folder that exists (or is made now) and accepts new files.
    static func writableFolder(_ path: String, _ option: String, for target: String? = nil) throws {
        // An empty path would mean the current folder without the user having named it.
        guard !path.isEmpty else { throw ValidationError("\(option) needs a folder path") }
        let what = target ?? path
        let dir = URL(fileURLWithPath: path)
        do { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) } catch {
            throw ValidationError("\(option) \(what): the folder \(dir.path) cannot be created (\(error.localizedDescription))")
        }
        let probe = dir.appendingPathComponent(".snn-write-check-\(getpid())")
        guard FileManager.default.createFile(atPath: probe.path, contents: Data()) else {
            throw ValidationError("\(option) \(what): the folder \(dir.path) is not writable")
        }
        try? FileManager.default.removeItem(at: probe)
    }

    /// Refuses a run whose estimated memory exceeds 80% of this machine's.
    static func memory(_ bytes: Double, _ what: String, option: String) throws {
        let physical = Double(ProcessInfo.processInfo.physicalMemory)
        guard bytes.isFinite, bytes <= 0.8 * physical else {
            throw ValidationError("\(option): \(what) needs about \(gib(bytes)) GiB of memory, more than this machine's \(gib(physical)) GiB allows")
        }
    }

    /// Weights, per-sample activations (all layers) and input values per frame of `spec`, as doubles
    /// (no overflow, nothing allocated).
    static func sizes(of spec: NetworkSpec) throws -> (weights: Double, activations: Double, input: Double) {
        let shapes = try spec.shapes()
        let weights = spec.layers.compactMap(\.weightShape).reduce(0.0) { $0 + $1.reduce(1.0) { $0 * Double($1) } }
        let activations = shapes.dropFirst().reduce(0.0) { $0 + $1.reduce(1.0) { $0 * Double($1) } }
        return (weights, activations, spec.inputShape.reduce(1.0) { $0 * Double($1) })
    }

    /// Memory of training `spec` (weights, gradients and optimizer state; the tape of a batch; the
    /// batches decoded ahead).
    static func trainingMemory(_ spec: NetworkSpec, frames: Int, batch: Int) throws -> Double {
        let s = try sizes(of: spec)
        let perStep = Double(batch) * Double(frames)
        return 4 * (5 * s.weights + 3 * perStep * s.activations + 6 * perStep * s.input)
    }

    /// Memory of evaluating `spec` on batches of `batch` samples.
    static func evaluationMemory(_ spec: NetworkSpec, frames: Int, batch: Int) throws -> Double {
        let s = try sizes(of: spec)
        return 4 * (2 * s.weights + 3 * Double(batch) * s.activations + 6 * Double(batch) * Double(frames) * s.input)
    }

    /// The network built from `--arch` (or a model file, `source`) fits the dataset: same input size,
    /// one output per class, something to run.
    static func network(_ spec: NetworkSpec, fits data: any FrameDataset, source: String) throws {
        if let problem = spec.problem { throw ValidationError("\(source): \(problem)") }
        let input = spec.inputShape.reduce(1, *), frame = data.frameShape.reduce(1, *)
        guard input == frame else {
            throw ValidationError("\(source): the network takes \(input) inputs per frame \(spec.inputShape), but the dataset's frames are \(data.frameShape) (\(frame) values)")
        }
        let outputs = try spec.outputCount()
        guard outputs == data.classCount else {
            throw ValidationError("\(source): the network has \(outputs) outputs, but the dataset has \(data.classCount) classes (the last layer needs one neuron per class)")
        }
    }

    static func gib(_ bytes: Double) -> String { bytes.isFinite ? String(format: "%.1f", bytes / 1_073_741_824) : "inf" }
    static func short(_ v: Double) -> String { v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(v) }
}

extension DatasetOptions {
    /// Checks the values of the dataset options (not the files: `load()` does that).
    func checkValues() throws {
        if let frames { try Check.integer(frames, "--frames", min: 1, max: Check.maximumFrames) }
        if let dtMs { try Check.finite(dtMs, "--dt-ms", max: 1e7, above: 0) }
        try Check.finite(testFraction, "--test-fraction", above: 0, below: 1)
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or positive, got \(limit)") }
        guard ["poisson", "direct", "signed-poisson"].contains(encoding) else { throw ValidationError("--encoding must be poisson, direct or signed-poisson, not '\(encoding)'") }
    }
}

/// Which long options were given on the command line (`--name` or `--name=value`).
func givenOptions() -> Set<String> {
    Set(CommandLine.arguments.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=", maxSplits: 1)[0]) })
}
