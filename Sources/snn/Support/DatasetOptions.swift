import ArgumentParser
import Foundation
import SNNData
import SNNTensor
#if HDF5
import SNNHDF5
#endif

/// The options that choose a dataset and how it becomes frames, shared by train, eval and demo.
struct DatasetOptions: ParsableArguments {
    @Option(help: "Dataset: nmnist (event files; shipped sample), digits (8x8 images, shipped), mnist (idx files; shipped 5k train + t10k), fashion-mnist, dvsgesture, poker-dvs, cifar10-dvs, cifar10, shd (needs the HDF5 trait).")
    var dataset: String = "nmnist"

    @Option(help: "The dataset's folder (default: the copy shipped in the project's Data/ folder).")
    var data: String?

    @Option(help: "Time steps (frames) per sample. Default: 10 for nmnist and cifar10-dvs, 16 for digits and poker-dvs, 20 for mnist and fashion-mnist.")
    var frames: Int?

    @Option(help: "Frame length in milliseconds (the neurons' time step). Default: 2 for poker-dvs, 100 for cifar10-dvs, 10 otherwise.")
    var dtMs: Double?

    /// The frame length in milliseconds: `--dt-ms`, or the dataset's default.
    var frameMs: Double {
        if let dtMs { return dtMs }
        switch dataset {
        case "poker-dvs": return 2
        case "cifar10-dvs": return 100
        default: return 10
        }
    }

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

    func load() throws -> Loaded { try namingOptions { try loadEncoded() } }

    /// Reads one named split (`--split`).
    func load(split name: String) throws -> Loaded { try namingOptions { try loadData(split: name) } }

    /// The readers check frame settings (frame length, time steps, sample size) and throw an
    /// `argument` error that does not know the command line: name the options it comes from.
    private func namingOptions(_ body: () throws -> Loaded) throws -> Loaded {
        do { return try body() } catch let e as DataError where e.kind == .argument && e.file == nil {
            throw ValidationError("--frames/--dt-ms: \(e.message)")
        }
    }

    /// The frames, with signed Poisson coding (BNTT) wrapped around the static images when asked for.
    private func loadEncoded() throws -> Loaded {
        guard encoding == "signed-poisson" else {
            if augment { throw ValidationError("--augment needs --encoding signed-poisson") }
            return try loadData()
        }
        var loaded = try loadData(encodingOverride: .direct)
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

    private func loadData(encodingOverride: StaticEncoding? = nil) throws -> Loaded {
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
            let root = try nmnistRoot()
            let steps = frames ?? 10
            let hasTest = FileManager.default.fileExists(atPath: root.appendingPathComponent("Test").path)
            let hasTrain = FileManager.default.fileExists(atPath: root.appendingPathComponent("Train").path)
            if hasTest && !hasTrain {
                throw ValidationError("--data \(root.path) has Test/ but no Train/: evaluate it with `snn eval --split Test`")
            }
            let train = try NMNISTDataset(root: root, split: "Train", frameDuration: frameMs / 1000, timeSteps: steps)
            if hasTest {
                let test = try NMNISTDataset(root: root, split: "Test", frameDuration: frameMs / 1000, timeSteps: steps)
                return Loaded(train: limited(train), test: limited(test),
                              description: "N-MNIST \(root.path): \(train.count) train / \(test.count) test, \(steps) frames of \(frameMs) ms")
            }
            return split(train, name: "N-MNIST \(root.path)", detail: "\(steps) frames of \(frameMs) ms, first saccade")
        case "digits":
            let steps = frames ?? 16
            let all: DigitsDataset
            if let data { all = try DigitsDataset(csvGz: URL(fileURLWithPath: data), encoding: enc, timeSteps: steps, seed: seed) }
            else { all = try DigitsDataset.shipped(encoding: enc, timeSteps: steps, seed: seed) }
            return split(all, name: "8x8 digits", detail: "\(steps) steps, \(encodingName) coding")
        case "mnist", "fashion-mnist":
            // A folder with train and t10k idx files uses both; a folder with one of them (or with a
            // CSV file) is split. Without --data, mnist uses the shipped 5k training images (CSV) and
            // the shipped t10k set as test.
            let steps = frames ?? 20
            let name = dataset == "mnist" ? "MNIST" : "Fashion-MNIST"
            let detail = "\(steps) steps, \(encodingName) coding"
            guard let data else {
                guard dataset == "mnist" else {
                    throw ValidationError("--dataset fashion-mnist needs --data DIR (the folder of train-images-idx3-ubyte.gz etc.)")
                }
                guard let csv = ProjectData.locate("mnist-5k-train/mnist_5k.csv.gz"), let t10k = ProjectData.locate("mnist-t10k") else {
                    throw ValidationError("the shipped MNIST (Data/mnist-5k-train and Data/mnist-t10k) was not found; pass --data DIR or set SNNKIT_DATA")
                }
                let train = try MNIST.load(csv: csv, encoding: enc, timeSteps: steps, seed: seed)
                let test = try MNIST.load(folder: t10k, split: "t10k", encoding: enc, timeSteps: steps, seed: seed)
                return Loaded(train: limited(train), test: limited(test),
                              description: "MNIST (shipped 5k train CSV, t10k test): \(limited(train).count) train / \(limited(test).count) test, \(detail)")
            }
            let dir = URL(fileURLWithPath: data)
            let hasTrain = MNIST.hasSplit(folder: dir, split: "train"), hasTest = MNIST.hasSplit(folder: dir, split: "t10k")
            if hasTrain && hasTest {
                let train = try MNIST.load(folder: dir, split: "train", encoding: enc, timeSteps: steps, seed: seed)
                let test = try MNIST.load(folder: dir, split: "t10k", encoding: enc, timeSteps: steps, seed: seed)
                return Loaded(train: limited(train), test: limited(test),
                              description: "\(name) \(dir.path): \(limited(train).count) train / \(limited(test).count) test, \(detail)")
            }
            if hasTrain || hasTest {
                let only = hasTrain ? "train" : "t10k"
                let all = try MNIST.load(folder: dir, split: only, encoding: enc, timeSteps: steps, seed: seed)
                return split(all, name: "\(name) \(dir.path) (\(only) files only)", detail: detail)
            }
            if let csv = Self.csvFile(in: dir) {
                return split(try MNIST.load(csv: csv, encoding: enc, timeSteps: steps, seed: seed), name: "\(name) \(csv.path)", detail: detail)
            }
            throw ValidationError("--data \(dir.path): no \(name) files (expected train-images-idx3-ubyte[.gz] / t10k-images-idx3-ubyte[.gz] and the labels, or train-images.idx3-ubyte, or a .csv[.gz] of 784 pixels and a label per row)")
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
            let train = try DVSGestureDataset(root: dir, split: "train", frameDuration: frameMs / 1000, timeSteps: steps)
            let test = try DVSGestureDataset(root: dir, split: "test", frameDuration: frameMs / 1000, timeSteps: steps)
            return Loaded(train: limited(train), test: limited(test),
                          description: "DVS128 Gesture \(dir.path): \(train.count) train / \(test.count) test, \(steps) frames of \(frameMs) ms, 32x32x2")
        case "poker-dvs":
            guard let data else { throw ValidationError("--dataset poker-dvs needs --data DIR (the folder of x<suit><nn>.aedat recordings, e.g. ../shared/data/poker-dvs)") }
            let steps = frames ?? 16
            let all = try PokerDVSDataset(root: URL(fileURLWithPath: data), frameDuration: frameMs / 1000, timeSteps: steps)
            return split(all, name: "POKER-DVS \(data)", detail: "\(steps) frames of \(frameMs) ms, 32x32 crop")
        case "cifar10-dvs":
            guard let data else { throw ValidationError("--dataset cifar10-dvs needs --data DIR (with one folder per class: airplane/cifar10_airplane_<n>.aedat ...)") }
            let steps = frames ?? 10
            let all = try CIFAR10DVSDataset(root: URL(fileURLWithPath: data), frameDuration: frameMs / 1000, timeSteps: steps)
            return split(all, name: "CIFAR10-DVS \(data)", detail: "\(steps) frames of \(frameMs) ms, 128x128")
        case "shd":
            #if HDF5
            guard let data else { throw ValidationError("--dataset shd needs --data DIR (with shd_train.h5 and shd_test.h5, or fsdd_shd_train.h5 and fsdd_shd_test.h5)") }
            let steps = frames ?? 100
            let dir = URL(fileURLWithPath: data)
            var train = try SHDDataset(root: dir, split: "train", frameDuration: frameMs / 1000, timeSteps: steps)
            var test = try SHDDataset(root: dir, split: "test", frameDuration: frameMs / 1000, timeSteps: steps)
            // The class count comes from the labels; both splits get the larger one.
            let classes = max(train.classCount, test.classCount)
            if train.classCount != classes { train = try SHDDataset(url: train.url, frameDuration: frameMs / 1000, timeSteps: steps, classCount: classes) }
            if test.classCount != classes { test = try SHDDataset(url: test.url, frameDuration: frameMs / 1000, timeSteps: steps, classCount: classes) }
            return Loaded(train: limited(train), test: limited(test),
                          description: "SHD \(dir.path): \(train.count) train / \(test.count) test, \(steps) frames of \(frameMs) ms")
            #else
            throw ValidationError("SHD needs libhdf5: build with `swift build -c release --traits HDF5` (Debian: apt-get install libhdf5-dev)")
            #endif
        default:
            throw ValidationError("unknown --dataset '\(dataset)' (\(Self.datasetNames))")
        }
    }

    /// The names --dataset accepts.
    static let datasetNames = "nmnist, digits, mnist, fashion-mnist, cifar10, dvsgesture, poker-dvs, cifar10-dvs, shd"

    /// The only `.csv` or `.csv.gz` file in `dir`, if there is exactly one.
    static func csvFile(in dir: URL) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let csv = names.filter { !$0.hasPrefix(".") && ($0.hasSuffix(".csv") || $0.hasSuffix(".csv.gz")) }
        return csv.count == 1 ? dir.appendingPathComponent(csv[0]) : nil
    }

    /// One named split of the dataset, whole (for `snn eval --split`): `Train`/`Test` for nmnist,
    /// `train`/`t10k` (or `test`) for mnist and fashion-mnist, `train`/`test` for dvsgesture, cifar10
    /// and shd. Datasets without a split of their own (digits, poker-dvs, cifar10-dvs, a folder with
    /// only one MNIST split) take `train` or `test` as the parts of the seeded split, or `all`.
    /// The N-MNIST folder: `--data`, or the shipped samples.
    private func nmnistRoot() throws -> URL {
        if let data { return URL(fileURLWithPath: data) }
        guard let shipped = ProjectData.locate("nmnist-small") else {
            throw ValidationError("the shipped N-MNIST samples (Data/nmnist-small) were not found; pass --data DIR or set SNNKIT_DATA")
        }
        return shipped
    }

    private func loadData(split name: String) throws -> Loaded {
        // The signed coding needs the training split's channel statistics (see loadEncoded()).
        guard encoding != "signed-poisson" else {
            throw ValidationError("--split does not combine with --encoding signed-poisson (its normalisation comes from the training split); leave --split out")
        }
        func whole(_ d: any FrameDataset, _ what: String) -> Loaded {
            let l = limited(d)
            return Loaded(train: l, test: l, description: "\(what), split \(name): \(l.count) samples")
        }
        let enc: StaticEncoding = encoding == "direct" ? .direct : .poisson
        switch dataset {
        case "nmnist":
            let root = try nmnistRoot()
            guard name == "Train" || name == "Test" else { throw ValidationError("--split for nmnist must be Train or Test, not '\(name)'") }
            let steps = frames ?? 10
            return whole(try NMNISTDataset(root: root, split: name, frameDuration: frameMs / 1000, timeSteps: steps),
                         "N-MNIST \(root.path), \(steps) frames of \(frameMs) ms")
        case "mnist", "fashion-mnist":
            if let data, name == "train" || name == "t10k" || name == "test" {
                let dir = URL(fileURLWithPath: data)
                let file = name == "test" ? "t10k" : name
                if MNIST.hasSplit(folder: dir, split: file) || (MNIST.hasSplit(folder: dir, split: "train") && MNIST.hasSplit(folder: dir, split: "t10k")) {
                    let steps = frames ?? 20
                    return whole(try MNIST.load(folder: dir, split: file, encoding: enc, timeSteps: steps, seed: seed),
                                 "\(dataset) \(dir.path) (\(file)), \(steps) steps, \(encoding) coding")
                }
            }
        case "cifar10", "dvsgesture", "shd":
            guard name == "train" || name == "test" else { throw ValidationError("--split for \(dataset) must be train or test, not '\(name)'") }
            let l = try load()
            let d = name == "train" ? l.train : l.test
            return Loaded(train: d, test: d, description: "\(l.description); split \(name): \(d.count) samples")
        default:
            break
        }
        let l = try load()
        switch name {
        case "train": return Loaded(train: l.train, test: l.train, description: "\(l.description); split train: \(l.train.count) samples")
        case "test": return Loaded(train: l.test, test: l.test, description: "\(l.description); split test: \(l.test.count) samples")
        case "all":
            var o = self
            o.testFraction = 0
            let a = try o.load()
            return Loaded(train: a.train, test: a.train, description: "\(a.description); split all: \(a.train.count) samples")
        default:
            throw ValidationError("--split for \(dataset) must be train, test or all (the parts of the seeded split), not '\(name)'")
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

    /// The default architecture for the dataset (its class count from `loaded` where it varies).
    func defaultArchitecture(for loaded: Loaded? = nil) -> String {
        switch dataset {
        case "digits": return "64-128-10"
        case "mnist", "fashion-mnist": return "784-128-10"
        case "cifar10": return "input=3x32x32,conv32k3s1p1,avg2,conv64k3s1p1,avg2,fc256,fc10"
        case "dvsgesture": return "input=2x32x32,conv16k3s2p1,conv32k3s2p1,fc128,fc11"
        case "poker-dvs": return "2048-128-4"
        case "cifar10-dvs": return "input=2x128x128,avg4,conv16k3s1p1,avg2,conv32k3s1p1,avg2,fc128,fc10"
        case "shd": return "700-128-128-\(loaded?.train.classCount ?? 20)"
        default: return "2312-64-64-64-10"
        }
    }
}
