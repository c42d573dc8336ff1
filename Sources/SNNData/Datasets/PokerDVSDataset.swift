import Foundation
import SNNTensor

/// POKER-DVS (Serrano-Gotarredona & Linares-Barranco 2015): card pips flashed in front of a DVS,
/// tracked and cropped, as frames of `[timeSteps, 2, crop, crop]` event counts.
///
/// `root` holds the AEDAT 2.0 recordings `x<suit><nn>[i].aedat` (suit `club`, `diamond` or
/// `diam`, `heart`, `spade`); the class is the suit. Classes: 0 club, 1 diamond, 2 heart,
/// 3 spade. Samples are ordered by class, then file name. There is no official split.
///
/// Timestamps are relative to each recording's first event (recordings last 5-32 ms).
/// Coordinates are the address fields as stored (DVS128 layout, no mirroring): in the 131 public
/// recordings x is 0...32 and y 0...34; 40 of their 332,710 events lie outside the 32x32 crop
/// and do not reach the frames (``outsideCrop(_:)`` counts them per sample).
public struct PokerDVSDataset: FrameDataset {
    public static let classNames = ["club", "diamond", "heart", "spade"]
    /// File-name stems after the leading `x`, for each class.
    static let suitNames: [(String, Int)] = [("club", 0), ("diamond", 1), ("diam", 1), ("heart", 2), ("spade", 3)]

    /// The recordings, in dataset order.
    public let files: [URL]
    public let sampleLabels: [Int]
    /// Window length in seconds.
    public let frameDuration: Double
    public let timeSteps: Int
    /// Side of the square crop that becomes the frames (32 for POKER-DVS).
    public let crop: Int

    public var count: Int { files.count }
    public var frameShape: [Int] { [2, crop, crop] }
    public var classCount: Int { Self.classNames.count }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// The class of a POKER-DVS file name, or nil if the name does not follow `x<suit>...aedat`.
    public static func classOf(fileName name: String) -> Int? {
        guard name.hasSuffix(".aedat"), name.hasPrefix("x") else { return nil }
        let rest = name.dropFirst()
        // Longest suit name first, so that "diamond" wins over "diam".
        for (suit, cls) in suitNames.sorted(by: { $0.0.count > $1.0.count }) where rest.hasPrefix(suit) {
            let tail = rest.dropFirst(suit.count).dropLast(6)
            guard let d = tail.first, d.isNumber else { return nil }
            return cls
        }
        return nil
    }

    /// Lists `root/*.aedat`.
    /// - Throws: ``DataError`` (`layout`) if the folder cannot be listed, an `.aedat` file's name
    ///   does not name a suit, or there is no recording.
    public init(root: URL, frameDuration: Double = 0.002, timeSteps: Int = 16, crop: Int = 32) throws {
        guard crop > 0 && crop <= 128 else { throw DataError(.argument, "POKER-DVS: crop \(crop) (expected 1...128)") }
        try FrameParameters.check(frameDuration: frameDuration, timeSteps: timeSteps, frameSize: 2 * crop * crop, dataset: "POKER-DVS")
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: root.path) } catch {
            throw DataError(.layout, file: root.path, "POKER-DVS: cannot list folder (expected the folder of x<suit><nn>.aedat recordings)")
        }
        var items: [(Int, String)] = []
        for name in names where !name.hasPrefix(".") && name.hasSuffix(".aedat") {
            guard let cls = Self.classOf(fileName: name) else {
                throw DataError(.layout, file: root.appendingPathComponent(name).path,
                                "POKER-DVS: file name does not name a suit (expected x<club|diamond|heart|spade><nn>[i].aedat)")
            }
            items.append((cls, name))
        }
        guard !items.isEmpty else {
            throw DataError(.layout, file: root.path, "POKER-DVS: no .aedat files (expected x<suit><nn>[i].aedat recordings)")
        }
        items.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        files = items.map { root.appendingPathComponent($0.1) }
        sampleLabels = items.map { $0.0 }
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.crop = crop
    }

    /// The recording of sample `index` (all its events, timestamps relative to the first).
    public func recording(_ index: Int) throws -> AEDAT2.Recording {
        guard index >= 0 && index < files.count else {
            throw DataError(.argument, sample: index, "POKER-DVS sample index \(index) (expected 0..<\(files.count))")
        }
        do { return try AEDAT2.read(files[index]) } catch let e as DataError { throw e.atSample(index) }
    }

    /// The number of events of `events` outside the `crop x crop` square.
    public func outsideCrop(_ events: [Event]) -> Int {
        events.reduce(0) { $0 + (Int($1.x) >= crop || Int($1.y) >= crop ? 1 : 0) }
    }

    /// Identifies these samples and parameters for a ``CachedDataset`` (changes when a file changes).
    public var cacheKey: String {
        "poker-dvs|dt=\(frameDuration)|T=\(timeSteps)|crop=\(crop)|n=\(files.count)|\(SourceFingerprint.of(files))"
    }

    public func frames(_ index: Int) throws -> Tensor {
        EventFrames.accumulate(events: try recording(index).events, width: crop, height: crop,
                               frameDuration: frameDuration, timeSteps: timeSteps)
    }
}
