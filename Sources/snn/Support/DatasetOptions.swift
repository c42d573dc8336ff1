import ArgumentParser
import Foundation
import SNNData
import SNNTensor

/// The options that choose a dataset and how it becomes frames, shared by train, eval and demo.
struct DatasetOptions: ParsableArguments {
    @Option(help: "Dataset: nmnist (event files), digits (8x8 images, shipped), mnist (idx files).")
    var dataset: String = "nmnist"

    @Option(help: "The dataset's folder (default: the copy shipped in the project's Data/ folder).")
    var data: String?

    @Option(help: "Time steps (frames) per sample. Default: 10 for nmnist, 16 for digits, 20 for mnist.")
    var frames: Int?

    @Option(help: "Frame length in milliseconds for event datasets.")
    var dtMs: Double = 10

    @Option(help: "Encoding of static images: poisson (rate coding) or direct (the analog image every step).")
    var encoding: String = "poisson"

    @Option(help: "Fraction of the samples held back for testing when the dataset has no test split.")
    var testFraction: Double = 0.2

    @Option(help: "Use at most this many samples of each split (0: all).")
    var limit: Int = 0

    @Option(help: "Seed of the split, the shuffling and the stochastic encodings.")
    var seed: UInt64 = 1

    /// The loaded train and test sets.
    struct Loaded {
        var train: any FrameDataset
        var test: any FrameDataset
        var description: String
    }

    func load() throws -> Loaded {
        let enc: StaticEncoding
        switch encoding {
        case "poisson": enc = .poisson
        case "direct": enc = .direct
        default: throw ValidationError("--encoding must be poisson or direct, not '\(encoding)'")
        }
        switch dataset {
        case "nmnist":
            let root: URL
            if let data { root = URL(fileURLWithPath: data) } else {
                guard let shipped = ProjectData.locate("nmnist-small") else {
                    throw ValidationError("the shipped N-MNIST samples (Data/nmnist-small) were not found; pass --data DIR or set SNNKIT_DATA")
                }
                root = shipped
            }
            let steps = frames ?? 10
            let hasTest = FileManager.default.fileExists(atPath: root.appendingPathComponent("Test").path)
            let train = try NMNISTDataset(root: root, split: "Train", frameDuration: dtMs / 1000, timeSteps: steps)
            if hasTest {
                let test = try NMNISTDataset(root: root, split: "Test", frameDuration: dtMs / 1000, timeSteps: steps)
                return Loaded(train: limited(train), test: limited(test),
                              description: "N-MNIST \(root.path): \(train.count) train / \(test.count) test, \(steps) frames of \(dtMs) ms")
            }
            return split(train, name: "N-MNIST \(root.path)", detail: "\(steps) frames of \(dtMs) ms, first saccade")
        case "digits":
            let steps = frames ?? 16
            let all: DigitsDataset
            if let data { all = try DigitsDataset(csvGz: URL(fileURLWithPath: data), encoding: enc, timeSteps: steps, seed: seed) }
            else { all = try DigitsDataset.shipped(encoding: enc, timeSteps: steps, seed: seed) }
            return split(all, name: "8x8 digits", detail: "\(steps) steps, \(encoding) coding")
        default:
            throw ValidationError("unknown --dataset '\(dataset)' (nmnist, digits)")
        }
    }

    private func limited(_ d: any FrameDataset) -> any FrameDataset {
        guard limit > 0, limit < d.count else { return d }
        let order = DatasetSplit.permutation(count: d.count, seed: seed, stream: 99)
        return SubsetDataset(d, indices: Array(order.prefix(limit)).sorted())
    }

    private func split(_ all: any FrameDataset, name: String, detail: String) -> Loaded {
        let labels = (0..<all.count).map { all.label($0) }
        let (trainIdx, testIdx) = DatasetSplit.stratified(labels: labels, testFraction: testFraction, seed: seed)
        let train = limited(SubsetDataset(all, indices: trainIdx))
        let test = limited(SubsetDataset(all, indices: testIdx))
        return Loaded(train: train, test: test,
                      description: "\(name): \(train.count) train / \(test.count) test (seeded split, seed \(seed)), \(detail)")
    }

    /// The default architecture for the dataset.
    func defaultArchitecture() -> String {
        switch dataset {
        case "digits": return "64-128-10"
        default: return "2312-64-64-64-10"
        }
    }
}
