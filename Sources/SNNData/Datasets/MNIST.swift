import Foundation

/// MNIST and Fashion-MNIST from their usual idx files, as a ``StaticImageDataset`` of
/// `[1, 28, 28]` images with intensities in `[0, 1]` (byte / 255), 10 classes.
public enum MNIST {
    /// Loads `<folder>/<split>-images-idx3-ubyte[.gz]` and `<folder>/<split>-labels-idx1-ubyte[.gz]`.
    /// - Parameter split: `"train"` or `"t10k"` (the names MNIST and Fashion-MNIST use).
    public static func load(folder: URL, split: String = "train", encoding: StaticEncoding = .poisson,
                            timeSteps: Int = 16, seed: UInt64 = 0) throws -> StaticImageDataset {
        func find(_ stem: String) throws -> URL {
            for name in [stem, stem + ".gz"] {
                let u = folder.appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: u.path) { return u }
            }
            throw DataError(.layout, file: folder.appendingPathComponent(stem).path, "MNIST: missing file (expected \(stem) or \(stem).gz)")
        }
        return try load(images: try find("\(split)-images-idx3-ubyte"), labels: try find("\(split)-labels-idx1-ubyte"),
                        encoding: encoding, timeSteps: timeSteps, seed: seed)
    }

    /// Loads an images file (`[N, H, W]`) and a labels file (`[N]`).
    public static func load(images: URL, labels: URL, encoding: StaticEncoding = .poisson, timeSteps: Int = 16,
                            seed: UInt64 = 0) throws -> StaticImageDataset {
        let img = try IDX.read(images)
        let lab = try IDX.read(labels)
        guard img.dims.count == 3 else {
            throw DataError(.corrupt, file: images.path, offset: 3, "MNIST images: dimensions \(img.dims) (expected [count, height, width])")
        }
        guard lab.dims.count == 1 else {
            throw DataError(.corrupt, file: labels.path, offset: 3, "MNIST labels: dimensions \(lab.dims) (expected [count])")
        }
        guard lab.dims[0] == img.dims[0] else {
            throw DataError(.corrupt, file: labels.path, offset: 4, "MNIST: \(lab.dims[0]) labels for \(img.dims[0]) images (expected equal counts)")
        }
        if let bad = lab.bytes.firstIndex(where: { $0 > 9 }) {
            throw DataError(.label, file: labels.path, offset: 8 + bad, sample: bad, "MNIST: label \(lab.bytes[bad]) (expected 0...9)")
        }
        let pixels = img.bytes.map { Float($0) * (1 / 255) }
        return try StaticImageDataset(pixels: pixels, labels: lab.bytes.map { Int($0) }, imageShape: [1, img.dims[1], img.dims[2]],
                                      classCount: 10, encoding: encoding, timeSteps: timeSteps, seed: seed, source: images.path)
    }
}
