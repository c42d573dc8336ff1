import Foundation

/// CIFAR-10 "binary version" batches (`cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin`):
/// records of 1 label byte (0...9) then 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each
/// row-major 32x32). Loaded as a ``StaticImageDataset`` of `[3, 32, 32]` images in `[0, 1]`.
public enum CIFAR10 {
    /// Bytes per record.
    public static let recordSize = 3073
    /// Class names in label order.
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// Decodes one batch file's bytes into pixels in `[0, 1]` and labels.
    public static func decode(_ b: [UInt8], file: String? = nil, firstSample: Int = 0) throws -> (pixels: [Float], labels: [Int]) {
        guard !b.isEmpty else { throw DataError(.truncated, file: file, offset: 0, "CIFAR-10: empty file (expected 3073-byte records)") }
        guard b.count % recordSize == 0 else {
            throw DataError(.truncated, file: file, offset: b.count - b.count % recordSize, sample: firstSample + b.count / recordSize,
                            "CIFAR-10: \(b.count) bytes is not a whole number of 3073-byte records")
        }
        let n = b.count / recordSize
        var labels = [Int]()
        labels.reserveCapacity(n)
        var pixels = [Float](repeating: 0, count: n * 3072)
        for r in 0..<n {
            let o = r * recordSize
            guard b[o] <= 9 else {
                throw DataError(.label, file: file, offset: o, sample: firstSample + r, "CIFAR-10: label \(b[o]) (expected 0...9)")
            }
            labels.append(Int(b[o]))
            for k in 0..<3072 { pixels[r * 3072 + k] = Float(b[o + 1 + k]) * (1 / 255) }
        }
        return (pixels, labels)
    }

    /// Loads the training batches (`split: "train"`, `data_batch_1.bin`...`data_batch_5.bin`, the ones
    /// present, at least one) or the test batch (`"test"`, `test_batch.bin`) from `folder`.
    public static func load(folder: URL, split: String = "train", encoding: StaticEncoding = .poisson,
                            timeSteps: Int = 16, seed: UInt64 = 0) throws -> StaticImageDataset {
        let names = split == "test" ? ["test_batch.bin"] : (1...5).map { "data_batch_\($0).bin" }
        // Plain or gzip-compressed (`data_batch_1.bin.gz`) batches.
        let files = names.compactMap { name -> URL? in
            [name, name + ".gz"].map { folder.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0.path) }
        }
        guard !files.isEmpty else {
            throw DataError(.layout, file: folder.path, "CIFAR-10: no \(names.joined(separator: ", ")) (expected the cifar-10-batches-bin folder)")
        }
        var pixels: [Float] = [], labels: [Int] = []
        for f in files {
            let (p, l) = try decode(try FileData.readDecompressing(f), file: f.path, firstSample: labels.count)
            pixels += p
            labels += l
        }
        return try StaticImageDataset(pixels: pixels, labels: labels, imageShape: [3, 32, 32], classCount: 10,
                                      encoding: encoding, timeSteps: timeSteps, seed: seed, source: folder.path)
    }

    /// Encodes records (for tests): `images` holds 3072 bytes per label.
    public static func encode(images: [UInt8], labels: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, l) in labels.enumerated() { out.append(l); out += images[(i * 3072)..<((i + 1) * 3072)] }
        return out
    }
}
