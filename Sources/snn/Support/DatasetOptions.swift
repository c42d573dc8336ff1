import ArgumentParser
import Foundation
import SNNData
import SNNTensor
#if HDF5
import SNNHDF5
#endif

/// The options that choose a dataset and how it becomes frames, shared by train, eval and demo.
struct DatasetOptions: ParsableArguments {
    @Option(help: "Dataset: nmnist (event files; shipped sample), digits (8x8 images, shipped), mnist (idx files; shipped t10k), fashion-mnist (idx files), dvsgesture, cifar10, shd (needs the HDF5 trait).")
    var dataset: String = "nmnist"

    @Option(help: "The dataset's folder (default: the copy shipped in the project's Data/ folder).")
    var data: String?

    @Option(help: "Time steps (frames) per sample. Default: 10 for nmnist, 16 for digits, 20 for mnist.")
    var frames: Int?

    @Option(help: "Frame length in milliseconds for event datasets.")
    var dtMs: Double = 10

    @Option(help: "Encoding of static images: poisson (rate coding), direct (the analog image every step), or signed-poisson (BNTT's: per-channel normalised pixels p fire sign(p) with probability |p|/2, drawn afresh every step of every epoch, seeded).")
    var encoding: String = "poisson"

    @Flag(help: "Augment training images (signed-poisson only): random crop with padding 4 and horizontal flip (CIFAR-10).")
    var augment = false

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
        guard encoding == "signed-poisson" else {
            if augment { throw ValidationError("--augment needs --encoding signed-poisson") }
            return try loadFrames()
        }
        var loaded = try loadFrames(encodingOverride: .direct)
        guard let (trainImages, trainIndices) = SignedRateImages.unwrap(loaded.train),
              let (testImages, testIndices) = SignedRateImages.unwrap(loaded.test) else {
            throw ValidationError("--encoding signed-poisson applies to static images (digits, mnist, fashion-mnist, cifar10), not \(dataset)")
        }
        let (mean, std) = SignedRateImages.channelStatistics(trainImages, indices: trainIndices)
        let steps = loaded.train.timeSteps
        loaded.train = try SignedRateImages(images: trainImages, indices: trainIndices, mean: mean, std: std, augment: augment,
                                            timeSteps: steps, seed: seed)
        // Test draws: one fixed epoch (-1), so evaluations are repeatable.
        loaded.test = try SignedRateImages(images: testImages, indices: testIndices, mean: mean, std: std, augment: false,
                                           timeSteps: steps, seed: seed, epoch: -1)
        loaded.description = loaded.description.replacingOccurrences(of: "direct coding", with: "signed-poisson coding")
            + (augment ? ", crop+flip augmentation" : "")
        return loaded
    }

    private func loadFrames(encodingOverride: StaticEncoding? = nil) throws -> Loaded {
        var enc: StaticEncoding
        switch encoding {
        case "poisson": enc = .poisson
        case "direct": enc = .direct
        case "signed-poisson": enc = .direct
        default: throw ValidationError("--encoding must be poisson, direct or signed-poisson, not '\(encoding)'")
        }
        if let e = encodingOverride { enc = e }
        let encodingName = encodingOverride == .direct ? "direct" : encoding
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
            return split(all, name: "8x8 digits", detail: "\(steps) steps, \(encodingName) coding")
        case "mnist":
            // With --data: the usual idx folder (train and t10k); without: the shipped t10k set, split.
            let steps = frames ?? 20
            if let data {
                let dir = URL(fileURLWithPath: data)
                let train = try MNIST.load(folder: dir, split: "train", encoding: enc, timeSteps: steps, seed: seed)
                let test = try MNIST.load(folder: dir, split: "t10k", encoding: enc, timeSteps: steps, seed: seed)
                return Loaded(train: limited(train), test: limited(test),
                              description: "MNIST \(dir.path): \(train.count) train / \(test.count) test, \(steps) steps, \(encodingName) coding")
            }
            guard let dir = ProjectData.locate("mnist-t10k") else { throw ValidationError("the shipped MNIST (Data/mnist-t10k) was not found; pass --data DIR") }
            let all = try MNIST.load(folder: dir, split: "t10k", encoding: enc, timeSteps: steps, seed: seed)
            return split(all, name: "MNIST t10k (shipped)", detail: "\(steps) steps, \(encodingName) coding")
        case "fashion-mnist":
            guard let data else { throw ValidationError("--dataset fashion-mnist needs --data DIR (the idx files, e.g. ../shared/data/fashion-mnist)") }
            let steps = frames ?? 20
            let dir = URL(fileURLWithPath: data)
            let train = try MNIST.load(folder: dir, split: "train", encoding: enc, timeSteps: steps, seed: seed)
            let test = try MNIST.load(folder: dir, split: "t10k", encoding: enc, timeSteps: steps, seed: seed)
            return Loaded(train: limited(train), test: limited(test),
                          description: "Fashion-MNIST \(dir.path): \(train.count) train / \(test.count) test, \(steps) steps, \(encodingName) coding")
        case "cifar10":
            guard let data else { throw ValidationError("--dataset cifar10 needs --data DIR (the cifar-10-batches-bin folder)") }
            let steps = frames ?? 25
            let dir = URL(fileURLWithPath: data)
            let train = try CIFAR10.load(folder: dir, split: "train", encoding: enc, timeSteps: steps, seed: seed)
            let test = try CIFAR10.load(folder: dir, split: "test", encoding: enc, timeSteps: steps, seed: seed)
            return Loaded(train: limited(train), test: limited(test),
                          description: "CIFAR-10 \(dir.path): \(train.count) train / \(test.count) test, \(steps) steps, \(encodingName) coding")
        case "dvsgesture":
            guard let data else { throw ValidationError("--dataset dvsgesture needs --data DIR (the DvsGesture folder)") }
            let steps = frames ?? 60
            let dir = URL(fileURLWithPath: data)
            let train = try DVSGestureDataset(root: dir, split: "train", frameDuration: dtMs / 1000, timeSteps: steps)
            let test = try DVSGestureDataset(root: dir, split: "test", frameDuration: dtMs / 1000, timeSteps: steps)
            return Loaded(train: limited(train), test: limited(test),
                          description: "DVS128 Gesture \(dir.path): \(train.count) train / \(test.count) test, \(steps) frames of \(dtMs) ms, 32x32x2")
        case "shd":
            #if HDF5
            guard let data else { throw ValidationError("--dataset shd needs --data DIR (with shd_train.h5 and shd_test.h5)") }
            let steps = frames ?? 100
            let dir = URL(fileURLWithPath: data)
            let train = try SHDDataset(root: dir, split: "train", frameDuration: dtMs / 1000, timeSteps: steps)
            let test = try SHDDataset(root: dir, split: "test", frameDuration: dtMs / 1000, timeSteps: steps)
            return Loaded(train: limited(train), test: limited(test),
                          description: "SHD \(dir.path): \(train.count) train / \(test.count) test, \(steps) frames of \(dtMs) ms")
            #else
            throw ValidationError("SHD needs libhdf5: build with `swift build -c release --traits HDF5` (Debian: apt-get install libhdf5-dev)")
            #endif
        default:
            throw ValidationError("unknown --dataset '\(dataset)' (nmnist, digits, mnist, fashion-mnist, cifar10, dvsgesture, shd)")
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
        case "mnist", "fashion-mnist": return "784-128-10"
        case "cifar10": return "input=3x32x32,conv32k3s1p1,avg2,conv64k3s1p1,avg2,fc256,fc10"
        case "dvsgesture": return "input=2x32x32,conv16k3s2p1,conv32k3s2p1,fc128,fc11"
        case "shd": return "700-128-128-20"
        default: return "2312-64-64-64-10"
        }
    }
}
