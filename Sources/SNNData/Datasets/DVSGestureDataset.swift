import Foundation
import SNNTensor

/// DVS128 Gesture (Amir et al. 2017): 11 hand gestures recorded with a 128x128 DVS, as frames of
/// `[timeSteps, 2, 128 / downsample, 128 / downsample]` event counts (default 32x32, 20 ms windows).
///
/// `root` is the dataset's `DvsGesture` folder: `user<NN>_<lighting>.aedat` recordings, each with a
/// `user<NN>_<lighting>_labels.csv`. The official split is read from `trials_to_train.txt` /
/// `trials_to_test.txt` when present, else users 1-23 train and 24-29 test. Each labelled gesture
/// is one sample; its frames start at the gesture's start time. Gestures shorter than
/// `timeSteps * frameDuration` end with empty (zero) frames; longer ones are cut.
public struct DVSGestureDataset: FrameDataset {
    /// One sample: a time window of a recording.
    public struct Sample: Sendable, Equatable {
        public var file: URL
        public var label: Int
        /// Start and end in microseconds of the recording's clock.
        public var start: UInt64
        public var end: UInt64
    }

    public static let sensorSize = 128
    public static let classNames = ["hand clap", "right hand wave", "left hand wave", "right arm clockwise",
                                    "right arm counter-clockwise", "left arm clockwise", "left arm counter-clockwise",
                                    "arm roll", "air drums", "air guitar", "other gestures"]

    public let samples: [Sample]
    public let frameDuration: Double
    public let timeSteps: Int
    /// Spatial pooling factor (events at `(x, y)` go to `(x / downsample, y / downsample)`).
    public let downsample: Int
    private let index = PacketIndexCache()

    public var count: Int { samples.count }
    public var frameShape: [Int] { [2, Self.sensorSize / downsample, Self.sensorSize / downsample] }
    public var classCount: Int { 11 }
    public func label(_ i: Int) -> Int { samples[i].label }

    /// Lists the recordings of `split` (`"train"` or `"test"`) and reads their label files.
    public init(root: URL, split: String = "train", frameDuration: Double = 0.020, timeSteps: Int = 60, downsample: Int = 4) throws {
        guard downsample >= 1 && Self.sensorSize % downsample == 0 else {
            throw DataError(.argument, "DVS Gesture: downsample \(downsample) (expected a divisor of 128)")
        }
        try FrameParameters.check(frameDuration: frameDuration, timeSteps: timeSteps,
                                  frameSize: 2 * (Self.sensorSize / downsample) * (Self.sensorSize / downsample), dataset: "DVS Gesture")
        guard split == "train" || split == "test" else {
            throw DataError(.argument, file: root.path, "DVS Gesture split '\(split)' (expected train or test)")
        }
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw DataError(.layout, file: root.path, "DVS Gesture: cannot list folder (expected the DvsGesture folder with user*.aedat files)")
        }
        var recordings = names.filter { $0.hasPrefix("user") && $0.hasSuffix(".aedat") }.sorted()
        guard !recordings.isEmpty else {
            throw DataError(.layout, file: root.path, "DVS Gesture: no user*.aedat files (expected the DvsGesture folder)")
        }
        let listFile = root.appendingPathComponent(split == "train" ? "trials_to_train.txt" : "trials_to_test.txt")
        if fm.fileExists(atPath: listFile.path) {
            let listed = Set(String(decoding: try FileData.read(listFile), as: UTF8.self)
                .split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map { String($0).trimmingCharactersInSet() }
                .filter { !$0.isEmpty })
            recordings = recordings.filter { listed.contains($0) }
        } else {
            recordings = recordings.filter { name in
                let digits = name.dropFirst(4).prefix { $0.isNumber }
                guard let user = Int(digits) else { return false }
                return split == "train" ? user <= 23 : user >= 24
            }
        }
        var samples: [Sample] = []
        for r in recordings {
            let labelsURL = root.appendingPathComponent(String(r.dropLast(6)) + "_labels.csv")
            guard fm.fileExists(atPath: labelsURL.path) else {
                throw DataError(.layout, file: labelsURL.path, "DVS Gesture: missing labels file for \(r)")
            }
            for g in try GestureLabels.parse(try FileData.read(labelsURL), file: labelsURL.path) {
                samples.append(Sample(file: root.appendingPathComponent(r), label: g.label, start: g.start, end: g.end))
            }
        }
        guard !samples.isEmpty else {
            throw DataError(.layout, file: root.path, "DVS Gesture: no labelled gestures in the \(split) split")
        }
        self.samples = samples
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.downsample = downsample
    }

    /// The events of sample `i` at full resolution, timestamps relative to the gesture's start.
    public func events(_ i: Int) throws -> [Event] {
        guard i >= 0 && i < samples.count else {
            throw DataError(.argument, sample: i, "DVS Gesture sample index \(i) (expected 0..<\(samples.count))")
        }
        let s = samples[i]
        do {
            let data: Data
            do { data = try Data(contentsOf: s.file, options: .alwaysMapped) } catch {
                throw DataError(.io, file: s.file.path, "cannot read: \(error.localizedDescription)")
            }
            return try data.withUnsafeBytes { raw in
                let packets = try index.packets(for: s.file.path) { try AEDAT3.packets(raw, file: s.file.path) }
                return try AEDAT3.polarityEvents(raw, packets: packets, from: s.start, to: s.end, file: s.file.path)
            }
        } catch let e as DataError {
            throw e.atSample(i)
        }
    }

    /// Identifies these samples and parameters for a ``CachedDataset`` (changes when a file changes).
    public var cacheKey: String {
        let windows = samples.map { "\($0.file.lastPathComponent):\($0.start)-\($0.end):\($0.label)" }.joined(separator: ",")
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in windows.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        let files = Array(Set(samples.map(\.file))).sorted { $0.path < $1.path }
        return "dvsgesture|dt=\(frameDuration)|T=\(timeSteps)|ds=\(downsample)|n=\(samples.count)|\(String(h, radix: 16))|\(SourceFingerprint.of(files))"
    }

    public func frames(_ i: Int) throws -> Tensor {
        var ev = try events(i)
        if downsample > 1 {
            let k = UInt16(downsample)
            for j in ev.indices { ev[j].x /= k; ev[j].y /= k }
        }
        let side = Self.sensorSize / downsample
        return EventFrames.accumulate(events: ev, width: side, height: side, frameDuration: frameDuration, timeSteps: timeSteps)
    }
}
