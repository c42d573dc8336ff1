#if HDF5
import Foundation
import SNNData
import SNNTensor

/// The Spiking Heidelberg Digits (Cramer et al. 2020): spoken digits 0-9 in English and German
/// (20 classes) as spikes of 700 cochlea channels, read from `shd_train.h5` / `shd_test.h5`
/// (or their `.gz` downloads, decompressed once to a temporary file).
///
/// File layout: `spikes/times` (variable-length, seconds) and `spikes/units` (variable-length,
/// channel 0...699) per sample, `labels` (0...19). Frames are `[timeSteps, ceil(700 / channelBin)]`
/// spike counts per `frameDuration` window and channel group (see ``SpikeTrains``); spikes after
/// `timeSteps * frameDuration` are dropped (SHD samples last up to about 1.4 s).
public struct SHDDataset: FrameDataset {
    public static let channels = 700
    public let file: HDF5File
    public let sampleLabels: [Int]
    public let frameDuration: Double
    public let timeSteps: Int
    /// Channels summed into one input feature.
    public let channelBin: Int
    public let classCount: Int

    public var count: Int { sampleLabels.count }
    public var frameShape: [Int] { [(Self.channels + channelBin - 1) / channelBin] }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// Opens `root/shd_<split>.h5` (or `.h5.gz`). Throws if a dataset is missing, the three
    /// datasets differ in length, or a label is outside `0..<classCount`.
    public init(root: URL, split: String = "train", frameDuration: Double = 0.010, timeSteps: Int = 100,
                channelBin: Int = 1, classCount: Int = 20) throws {
        let plain = root.appendingPathComponent("shd_\(split).h5")
        let gz = root.appendingPathComponent("shd_\(split).h5.gz")
        if FileManager.default.fileExists(atPath: plain.path) {
            try self.init(url: plain, frameDuration: frameDuration, timeSteps: timeSteps, channelBin: channelBin, classCount: classCount)
        } else if FileManager.default.fileExists(atPath: gz.path) {
            try self.init(url: gz, frameDuration: frameDuration, timeSteps: timeSteps, channelBin: channelBin, classCount: classCount)
        } else {
            throw DataError(.layout, file: plain.path, "SHD: no such file (expected shd_\(split).h5 or shd_\(split).h5.gz)")
        }
    }

    /// Opens one SHD file (`.h5`, or `.h5.gz`).
    public init(url: URL, frameDuration: Double = 0.010, timeSteps: Int = 100, channelBin: Int = 1, classCount: Int = 20) throws {
        precondition(frameDuration > 0 && timeSteps > 0 && channelBin >= 1)
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
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DataError(.label, file: h5.path, sample: bad, "SHD: label \(labels[bad]) (expected 0...\(classCount - 1))")
        }
        guard !labels.isEmpty else { throw DataError(.truncated, file: h5.path, "SHD: no samples") }
        file = f
        sampleLabels = labels
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.channelBin = channelBin
        self.classCount = classCount
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
