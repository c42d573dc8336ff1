import Foundation
import SNNTensor

/// The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak 1998; 1,797
/// images of 8x8 pixels, 10 classes) as shipped in `Data/digits/digits.csv.gz`.
///
/// Frames are `[64]` intensities (the 0...16 pixel values divided by 16), encoded over `timeSteps`
/// steps by `encoding`.
public struct DigitsDataset: FrameDataset {
    /// The images and labels.
    public let images: StaticImageDataset

    /// Reads the CSV (gzipped or not): 64 pixel values 0...16 then the label 0...9 per row.
    public init(csvGz: URL, encoding: StaticEncoding, timeSteps: Int, seed: UInt64) throws {
        images = try StaticImageDataset(csv: csvGz, imageShape: [64], maxValue: 16, classCount: 10,
                                        encoding: encoding, timeSteps: timeSteps, seed: seed)
    }

    /// The shipped copy, found with ``ProjectData/locate(_:)``.
    public static func shipped(encoding: StaticEncoding = .poisson, timeSteps: Int = 16, seed: UInt64 = 1) throws -> DigitsDataset {
        guard let url = ProjectData.locate("digits/digits.csv.gz") else {
            throw DataError(.io, file: "Data/digits/digits.csv.gz", "shipped data not found (set SNNKIT_DATA to the Data folder)")
        }
        return try DigitsDataset(csvGz: url, encoding: encoding, timeSteps: timeSteps, seed: seed)
    }

    public var count: Int { images.count }
    public var frameShape: [Int] { images.frameShape }
    public var timeSteps: Int { images.timeSteps }
    public var classCount: Int { images.classCount }
    public func label(_ index: Int) -> Int { images.label(index) }
    public func frames(_ index: Int) throws -> Tensor { try images.frames(index) }
}
