import Foundation
import SNNTensor

/// N-MNIST (Orchard et al. 2015) as frames: `[timeSteps, 2, 34, 34]` event counts per window.
///
/// `root` is the dataset's usual folder, holding `Train/<digit>/<id>.bin` and/or
/// `Test/<digit>/<id>.bin`. Class folders are `0`...`9` (surrounding whitespace in a folder name,
/// e.g. a stray carriage return, is ignored). Samples are ordered by class, then by numeric id.
/// Files are read when a sample is asked for, so opening the dataset only lists the folders.
public struct NMNISTDataset: FrameDataset {
    /// The sample files, in dataset order.
    public let files: [URL]
    /// The class of each sample.
    public let sampleLabels: [Int]
    /// Window length in seconds.
    public let frameDuration: Double
    public let timeSteps: Int
    /// Whether only events of the first saccade (t < 100 ms) are used.
    public let firstSaccadeOnly: Bool

    public var count: Int { files.count }
    public var frameShape: [Int] { [2, NMNIST.height, NMNIST.width] }
    public var classCount: Int { NMNIST.classCount }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// Lists `root/split/<digit>/*.bin`.
    /// - Throws: ``DataError`` (`layout`) if the split folder is missing, has a folder that is not
    ///   a digit class, or holds no `.bin` file.
    public init(root: URL, split: String = "Train", frameDuration: Double = 0.010, timeSteps: Int = 10,
                firstSaccadeOnly: Bool = true) throws {
        try FrameParameters.check(frameDuration: frameDuration, timeSteps: timeSteps, frameSize: 2 * NMNIST.width * NMNIST.height, dataset: "N-MNIST")
        let (files, labels) = try ClassFolders.list(root: root.appendingPathComponent(split), classCount: NMNIST.classCount,
                                                    extension: "bin", datasetName: "N-MNIST")
        self.files = files
        self.sampleLabels = labels
        self.frameDuration = frameDuration
        self.timeSteps = timeSteps
        self.firstSaccadeOnly = firstSaccadeOnly
    }

    /// The events of sample `index` (all of them, or the first saccade's if `firstSaccadeOnly`).
    public func events(_ index: Int) throws -> [Event] {
        guard index >= 0 && index < files.count else {
            throw DataError(.argument, sample: index, "N-MNIST sample index \(index) (expected 0..<\(files.count))")
        }
        do {
            let all = try NMNIST.readEvents(url: files[index])
            return firstSaccadeOnly ? all.filter { $0.timestamp < NMNIST.firstSaccadeEnd } : all
        } catch let e as DataError {
            throw e.atSample(index)
        }
    }

    /// Identifies these samples and parameters for a ``CachedDataset`` (changes when a file changes).
    public var cacheKey: String {
        "nmnist|dt=\(frameDuration)|T=\(timeSteps)|first=\(firstSaccadeOnly)|n=\(files.count)|\(SourceFingerprint.of(files))"
    }

    public func frames(_ index: Int) throws -> Tensor {
        EventFrames.accumulate(events: try events(index), width: NMNIST.width, height: NMNIST.height,
                               frameDuration: frameDuration, timeSteps: timeSteps)
    }
}
