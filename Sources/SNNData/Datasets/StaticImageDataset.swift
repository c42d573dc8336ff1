import Foundation
import SNNTensor

/// Static images held in memory (intensities scaled to `[0, 1]`), fed over `timeSteps` steps by
/// a ``StaticEncoding``. MNIST, Fashion-MNIST, CIFAR-10 and the UCI digits all end up as one.
public struct StaticImageDataset: FrameDataset {
    /// All images, one after another, each `imageShape` values in `[0, 1]`.
    public let pixels: [Float]
    /// The class of each image.
    public let sampleLabels: [Int]
    /// The shape of one image, e.g. `[64]`, `[1, 28, 28]` or `[3, 32, 32]`.
    public let imageShape: [Int]
    public let classCount: Int
    public let encoding: StaticEncoding
    public let timeSteps: Int
    /// Seed of the Poisson draws.
    public let seed: UInt64

    /// Images from memory. Throws if sizes do not match or a label is outside `0..<classCount`.
    public init(pixels: [Float], labels: [Int], imageShape: [Int], classCount: Int,
                encoding: StaticEncoding, timeSteps: Int, seed: UInt64, source: String? = nil) throws {
        let size = imageShape.reduce(1, *)
        guard size > 0, pixels.count == labels.count * size else {
            throw DataError(.argument, file: source, "\(pixels.count) pixel values for \(labels.count) images of shape \(imageShape)")
        }
        guard timeSteps > 0 else { throw DataError(.argument, file: source, "timeSteps \(timeSteps) (expected > 0)") }
        try FrameParameters.check(frameDuration: nil, timeSteps: timeSteps, frameSize: size, dataset: source ?? "images")
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            throw DataError(.label, file: source, sample: bad, "label \(labels[bad]) (expected 0...\(classCount - 1))")
        }
        self.pixels = pixels
        self.sampleLabels = labels
        self.imageShape = imageShape
        self.classCount = classCount
        self.encoding = encoding
        self.timeSteps = timeSteps
        self.seed = seed
    }

    public var count: Int { sampleLabels.count }
    public var frameShape: [Int] { imageShape }
    public func label(_ index: Int) -> Int { sampleLabels[index] }

    /// The image of sample `index`, shaped `imageShape`, values in `[0, 1]`.
    public func image(_ index: Int) -> Tensor {
        let n = imageShape.reduce(1, *)
        return Tensor(shape: imageShape, data: Array(pixels[(index * n)..<((index + 1) * n)]))
    }

    public func frames(_ index: Int) throws -> Tensor {
        guard index >= 0 && index < count else {
            throw DataError(.argument, sample: index, "sample index \(index) (expected 0..<\(count))")
        }
        let n = imageShape.reduce(1, *)
        let data = pixels.withUnsafeBufferPointer { p in
            encoding.encode(UnsafeBufferPointer(rebasing: p[(index * n)..<((index + 1) * n)]),
                            timeSteps: timeSteps, seed: seed, sample: index)
        }
        return Tensor(shape: [timeSteps] + imageShape, data: data)
    }

    /// The same images with another encoding, number of steps or seed.
    public func with(encoding: StaticEncoding? = nil, timeSteps: Int? = nil, seed: UInt64? = nil) -> StaticImageDataset {
        try! StaticImageDataset(pixels: pixels, labels: sampleLabels, imageShape: imageShape, classCount: classCount,
                                encoding: encoding ?? self.encoding, timeSteps: timeSteps ?? self.timeSteps,
                                seed: seed ?? self.seed)
    }

    /// Images from a CSV file (optionally gzipped): one row per image, `pixelCount` integer pixel
    /// values then the integer label; pixels are divided by `maxValue`.
    public init(csv url: URL, imageShape: [Int], maxValue: Float, classCount: Int,
                encoding: StaticEncoding, timeSteps: Int, seed: UInt64) throws {
        let bytes = try FileData.readDecompressing(url)
        let (pix, labels) = try CSVImages.parse(bytes, pixelCount: imageShape.reduce(1, *), maxValue: maxValue,
                                                classCount: classCount, file: url.path)
        try self.init(pixels: pix, labels: labels, imageShape: imageShape, classCount: classCount,
                      encoding: encoding, timeSteps: timeSteps, seed: seed, source: url.path)
    }
}
