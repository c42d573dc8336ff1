import Foundation
import SNNTensor

/// CIFAR10-DVS (Li et al. 2017): 10,000 CIFAR-10 images moved on a screen in front of a DVS128,
/// one AEDAT 2.0 recording each, as frames of `[timeSteps, 2, 128 / downsample, 128 / downsample]`
/// event counts.
///
/// `root` is the published layout: one folder per class name (`airplane` ... `truck`), holding
/// `cifar10_<class>_<n>.aedat`. Samples are ordered by class, then `n`. There is no official split.
///
/// Orientation: the address fields are mapped as the public readers of this dataset do so that
/// images appear upright: `x = 127 - y_address`, `y = 127 - x_address`, and the polarity bit is
/// inverted (``upright(_:)``). Timestamps are relative to each recording's first event.
public struct CIFAR10DVSDataset: FrameDataset {
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    public static let sensorSize = 128

    public let files: [URL]
    public let sampleLabels: [Int]
    /// Window length in seconds.
    public let frameDuration: Double
    public let timeSteps: Int
    /// Spatial pooling factor (events at `(x, y)` go to `(x / downsample, y / downsample)`).
    public let downsample: Int

    public var count: Int { files.count }
    public var frameShape: [Int] { [2, Self.sensorSize / downsample, Self.sensorSize / downsample] }
    public var classCount: Int { Self.classNames.count }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// The event as the image is seen: address fields transposed and mirrored, polarity inverted.
    @inline(__always) public static func upright(_ e: Event) -> Event {
        Event(x: UInt16(127 - Int(e.y & 0x7F)), y: UInt16(127 - Int(e.x & 0x7F)), polarity: 1 - (e.polarity & 1), timestamp: e.timestamp)
    }

    /// Lists `root/<class>/cifar10_<class>_<n>.aedat` for the ten class folders.
    /// - Throws: ``DataError`` (`layout`) if a class folder is missing or empty, or holds an
    ///   `.aedat` file whose name is not `cifar10_<class>_<n>.aedat`.
    public init(root: URL, frameDuration: Double = 0.1, timeSteps: Int = 10, downsample: Int = 1) throws {
        guard downsample >= 1 && Self.sensorSize % downsample == 0 else {
            throw DataError(.argument, "CIFAR10-DVS: downsample \(downsample) (expected a divisor of 128)")
        }
        try FrameParameters.check(frameDuration: frameDuration, timeSteps: timeSteps,
                                  frameSize: 2 * (Self.sensorSize / downsample) * (Self.sensorSize / downsample), dataset: "CIFAR10-DVS")
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(.layout, file: root.path, "CIFAR10-DVS: no such folder (expected <root>/<class>/cifar10_<class>_<n>.aedat)")
        }
        var files: [URL] = [], labels: [Int] = []
        for (cls, name) in Self.classNames.enumerated() {
            let dir = root.appendingPathComponent(name)
            let entries: [String]
            do { entries = try fm.contentsOfDirectory(atPath: dir.path) } catch {
                throw DataError(.layout, file: dir.path, "CIFAR10-DVS: missing class folder '\(name)' (expected one folder per class: \(Self.classNames.joined(separator: ", ")))")
            }
            var items: [(Int, String)] = []
            let prefix = "cifar10_\(name)_"
            for f in entries where !f.hasPrefix(".") && f.hasSuffix(".aedat") {
                guard f.hasPrefix(prefix), let n = Int(f.dropFirst(prefix.count).dropLast(6)) else {
                    throw DataError(.layout, file: dir.appendingPathComponent(f).path,
                                    "CIFAR10-DVS: file name is not \(prefix)<n>.aedat")
                }
                items.append((n, f))
            }
            guard !items.isEmpty else {
                throw DataError(.layout, file: dir.path, "CIFAR10-DVS: no \(prefix)<n>.aedat files in class folder '\(name)'")
            }
            items.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            files += items.map { dir.appendingPathComponent($0.1) }
            labels += Array(repeating: cls, count: items.count)
        }
        self.files = files
        self.sampleLabels = labels
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.downsample = downsample
    }

    /// The recording of sample `index` with upright coordinates (see ``upright(_:)``).
    public func recording(_ index: Int) throws -> AEDAT2.Recording {
        guard index >= 0 && index < files.count else {
            throw DataError(.argument, sample: index, "CIFAR10-DVS sample index \(index) (expected 0..<\(files.count))")
        }
        do {
            var r = try AEDAT2.read(files[index])
            for j in r.events.indices { r.events[j] = Self.upright(r.events[j]) }
            return r
        } catch let e as DataError { throw e.atSample(index) }
    }

    /// Identifies these samples and parameters for a ``CachedDataset`` (changes when a file changes).
    public var cacheKey: String {
        "cifar10-dvs|dt=\(frameDuration)|T=\(timeSteps)|ds=\(downsample)|n=\(files.count)|\(SourceFingerprint.of(files))"
    }

    public func frames(_ index: Int) throws -> Tensor {
        var ev = try recording(index).events
        if downsample > 1 {
            let k = UInt16(downsample)
            for j in ev.indices { ev[j].x /= k; ev[j].y /= k }
        }
        let side = Self.sensorSize / downsample
        return EventFrames.accumulate(events: ev, width: side, height: side, frameDuration: frameDuration, timeSteps: timeSteps)
    }
}
