#if HDF5
import Foundation
import SNNData
import SNNTensor

/// The Spiking Heidelberg Digits (Cramer et al. 2020): spoken digits 0-9 in English and German
/// (20 classes) as spikes of 700 cochlea channels, read from `shd_train.h5` / `shd_test.h5`
/// (or their `.gz` downloads, decompressed once to a temporary file). Files in the same layout
/// under other names are found too: `fsdd_shd_train.h5` / `fsdd_shd_test.h5` (spoken digits of
/// the Free Spoken Digit Dataset through SHD's cochlea model, 10 classes).
///
/// File layout: `spikes/times` (variable-length, seconds; float16 or float32) and `spikes/units`
/// (variable-length, channel 0...699; any integer type) per sample, `labels` (0...classCount-1).
/// Without an explicit class count it is taken from the labels (largest label + 1). Frames are `[timeSteps, ceil(700 / channelBin)]`
/// spike counts per `frameDuration` window and channel group (see ``SpikeTrains``); spikes after
/// `timeSteps * frameDuration` are dropped (SHD samples last up to about 1.4 s).
public struct SHDDataset: FrameDataset {
    public static let channels = 700
    public let file: HDF5File
    /// The file this dataset was opened from (`.h5` or `.h5.gz`).
    public let url: URL
    public let sampleLabels: [Int]
    public let frameDuration: Double
    public let timeSteps: Int
    /// Channels summed into one input feature.
    public let channelBin: Int
    public let classCount: Int

    public var count: Int { sampleLabels.count }
    public var frameShape: [Int] { [(Self.channels + channelBin - 1) / channelBin] }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// The file names tried for `split`, in order: `shd_<split>.h5[.gz]`, then `fsdd_shd_<split>.h5[.gz]`.
    public static func candidateNames(split: String) -> [String] {
        ["shd_\(split).h5", "shd_\(split).h5.gz", "fsdd_shd_\(split).h5", "fsdd_shd_\(split).h5.gz"]
    }

    /// Opens the file of `split` in `root` (see ``candidateNames(split:)``). Throws if none exists,
    /// a dataset is missing, the three datasets differ in length, or a label is outside
    /// `0..<classCount` (when given).
    public init(root: URL, split: String = "train", frameDuration: Double = 0.010, timeSteps: Int = 100,
                channelBin: Int = 1, classCount: Int? = nil) throws {
        let names = Self.candidateNames(split: split)
        guard let name = names.first(where: { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path) }) else {
            throw DataError(.layout, file: root.appendingPathComponent(names[0]).path,
                            "SHD: no such file (expected one of \(names.joined(separator: ", ")))")
        }
        try self.init(url: root.appendingPathComponent(name), frameDuration: frameDuration, timeSteps: timeSteps,
                      channelBin: channelBin, classCount: classCount)
    }

    /// Opens one SHD file (`.h5`, or `.h5.gz`).
    public init(url: URL, frameDuration: Double = 0.010, timeSteps: Int = 100, channelBin: Int = 1, classCount: Int? = nil) throws {
        guard channelBin >= 1 else { throw DataError(.argument, file: url.path, "SHD: channel bin \(channelBin) (expected 1 or more)") }
        try FrameParameters.check(frameDuration: frameDuration, timeSteps: timeSteps, frameSize: (Self.channels + channelBin - 1) / channelBin, dataset: "SHD")
        var h5 = url
        if url.pathExtension == "gz" { h5 = try Self.gunzipToTemporary(url) }
        let f = try HDF5File(url: h5)
        for d in ["spikes/times", "spikes/units", "labels"] where !f.exists(d) {
            throw DataError(.missing, file: h5.path, "SHD: no dataset '\(d)' (expected spikes/times, spikes/units and labels)")
        }
        let labels = try f.readIntegers("labels")
        let nt = try f.count("spikes/times"), nu = try f.count("spikes/units")
        guard nt == labels.count, nu == labels.count else {
            throw DataError(.corrupt, file: h5.path, "SHD: \(nt) time lists, \(nu) unit lists and \(labels.count) labels (expected equal counts)")
        }
        guard !labels.isEmpty else { throw DataError(.truncated, file: h5.path, "SHD: no samples") }
        if let bad = labels.firstIndex(where: { $0 < 0 }) {
            throw DataError(.label, file: h5.path, sample: bad, "SHD: label \(labels[bad]) (expected 0 or more)")
        }
        let classes = classCount ?? (labels.max()! + 1)
        if let bad = labels.firstIndex(where: { $0 >= classes }) {
            throw DataError(.label, file: h5.path, sample: bad, "SHD: label \(labels[bad]) (expected 0...\(classes - 1))")
        }
        file = f
        self.url = url
        sampleLabels = labels
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.channelBin = channelBin
        self.classCount = classes
    }

    /// Spike times (seconds) and channels of sample `index`.
    public func spikes(_ index: Int) throws -> (times: [Float], units: [Int]) {
        guard index >= 0 && index < count else {
            throw DataError(.argument, file: file.path, sample: index, "SHD sample index \(index) (expected 0..<\(count))")
        }
        do {
            return (try file.readVariableLengthFloats("spikes/times", index: index),
                    try file.readVariableLengthIntegers("spikes/units", index: index))
        } catch let e as DataError { throw e.atSample(index) }
    }

    public func frames(_ index: Int) throws -> Tensor {
        let s = try spikes(index)
        return try SpikeTrains.frames(times: s.times, units: s.units, channels: Self.channels, channelBin: channelBin,
                                      frameDuration: frameDuration, timeSteps: timeSteps, file: file.path, sample: index)
    }

    static func gunzipToTemporary(_ url: URL) throws -> URL {
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        let size = (attrs?[.size] as? Int) ?? 0
        let stamp = Int((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("snnkit-\(url.deletingPathExtension().lastPathComponent)-\(size)-\(stamp).h5")
        if FileManager.default.fileExists(atPath: out.path) { return out }
        let bytes = try FileData.readDecompressing(url)
        let partial = out.appendingPathExtension("partial-\(getpid())")
        do {
            try Data(bytes).write(to: partial)
            try? FileManager.default.removeItem(at: out)
            try FileManager.default.moveItem(at: partial, to: out)
        } catch {
            throw DataError(.io, file: out.path, "cannot write the decompressed copy: \(error.localizedDescription)")
        }
        return out
    }
}
#endif
