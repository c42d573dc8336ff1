import Foundation

/// MNIST and Fashion-MNIST from their usual idx files, as a ``StaticImageDataset`` of
/// `[1, 28, 28]` images with intensities in `[0, 1]` (byte / 255), 10 classes.
public enum MNIST {
    /// Class names of MNIST (the digits) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017).
    public static let digitClassNames = (0..<10).map { String($0) }
    public static let fashionClassNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    /// The names copies of the idx files go by, for `split` and `kind` (`images`/`labels`), in the
    /// order they are tried: `<split>-<kind>-idxN-ubyte` and `<split>-<kind>.idxN-ubyte`, plain or `.gz`.
    public static func candidateNames(split: String, kind: String) -> [String] {
        let n = kind == "images" ? 3 : 1
        let stems = ["\(split)-\(kind)-idx\(n)-ubyte", "\(split)-\(kind).idx\(n)-ubyte"]
        return stems.flatMap { [$0, $0 + ".gz"] }
    }

    /// The idx file of `split` and `kind` in `folder`, or nil if none of ``candidateNames(split:kind:)`` exists.
    public static func locate(folder: URL, split: String, kind: String) -> URL? {
        for name in candidateNames(split: split, kind: kind) {
            let u = folder.appendingPathComponent(name)
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir), !isDir.boolValue { return u }
        }
        return nil
    }

    /// Whether `folder` holds both idx files of `split`.
    public static func hasSplit(folder: URL, split: String) -> Bool {
        locate(folder: folder, split: split, kind: "images") != nil && locate(folder: folder, split: split, kind: "labels") != nil
    }

    /// Loads the images and labels of `split` from `folder`, accepting the names
    /// `<split>-images-idx3-ubyte` and `<split>-images.idx3-ubyte` (and the same for labels),
    /// plain or gzipped.
    /// - Parameter split: `"train"` or `"t10k"` (the names MNIST and Fashion-MNIST use).
    public static func load(folder: URL, split: String = "train", encoding: StaticEncoding = .poisson,
                            timeSteps: Int = 16, seed: UInt64 = 0) throws -> StaticImageDataset {
        func find(_ kind: String) throws -> URL {
            if let u = locate(folder: folder, split: split, kind: kind) { return u }
            let names = candidateNames(split: split, kind: kind)
            throw DataError(.layout, file: folder.appendingPathComponent(names[0]).path,
                            "MNIST: missing file (expected one of \(names.joined(separator: ", ")))")
        }
        return try load(images: try find("images"), labels: try find("labels"),
                        encoding: encoding, timeSteps: timeSteps, seed: seed)
    }

    /// Loads MNIST images from a CSV file (optionally gzipped) with one row per image: 784 pixel
    /// values 0...255 (row-major 28x28) then the label 0...9, as `Data/mnist-5k-train/mnist_5k.csv.gz`.
    public static func load(csv url: URL, encoding: StaticEncoding = .poisson, timeSteps: Int = 16,
                            seed: UInt64 = 0) throws -> StaticImageDataset {
        try StaticImageDataset(csv: url, imageShape: [1, 28, 28], maxValue: 255, classCount: 10,
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
