import ArgumentParser
import Foundation
import SNNData
import SNNTensor
#if HDF5
import SNNHDF5
#endif

/// `snn data`: look at datasets before training on them.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect datasets (N-MNIST, DVS128 Gesture, POKER-DVS, CIFAR10-DVS, MNIST, Fashion-MNIST, CIFAR-10, 8x8 digits, SHD).",
        subcommands: [Inspect.self]
    )

    /// `snn data inspect`: counts per class, events per sample, duration, and a picture of one sample.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print counts per class, events per sample and durations; optionally draw one sample's frames.",
            discussion: """
            --data is the dataset's usual folder: N-MNIST (with Train/ and/or Test/), DvsGesture (user*.aedat and \
            *_labels.csv), POKER-DVS (x<suit><nn>.aedat), CIFAR10-DVS (<class>/cifar10_<class>_<n>.aedat), MNIST or \
            Fashion-MNIST (*-idx3-ubyte[.gz] or *.idx3-ubyte[.gz]), cifar-10-batches-bin, SHD (shd_train.h5[.gz] or \
            fsdd_shd_train.h5; needs a build with --traits HDF5), or for digits the CSV file. Without --data, nmnist, \
            digits and mnist use the data shipped in Data/.
            """
        )

        @Option(help: "nmnist, dvsgesture, poker-dvs, cifar10-dvs, mnist, fashion-mnist, cifar10, digits or shd.") var dataset: String = "nmnist"
        @Option(help: "The dataset's folder (or, for digits, its .csv[.gz] file).") var data: String?
        @Option(help: "Split: Train/Test for nmnist (default: the one that exists, Train first), train/test for dvsgesture, cifar10 and shd, train/t10k for mnist and fashion-mnist (default: train if present).") var split: String?
        @Option(help: "Frame length in milliseconds (event datasets).") var dtMs: Double?
        @Option(help: "Frames (time steps) per sample.") var frames: Int?
        @Option(help: "Look at the first N samples only (0: all).") var limit: Int = 0
        @Option(help: "Sample whose frames --picture draws.") var sample: Int = 0
        @Option(help: "Write the sample's frames as a picture: a .pgm or .svg path.") var picture: String?
        @Flag(help: "Skip samples that fail to decode (they are counted and listed) instead of stopping.") var skipBad = false

        func validate() throws {
            if let frames { try Check.integer(frames, "--frames", min: 1, max: Check.maximumFrames) }
            if let dtMs { try Check.finite(dtMs, "--dt-ms", max: 1e7, above: 0) }
            guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or positive, got \(limit)") }
            guard sample >= 0 else { throw ValidationError("--sample must be 0 or positive, got \(sample)") }
        }

        mutating func run() throws {
            let started = Date()
            let (ds, eventStats) = try open()
            var d: any FrameDataset = ds
            if limit > 0 && limit < d.count { d = SubsetDataset(d, indices: Array(0..<limit)) }
            if skipBad {
                let (clean, skipped) = try d.skippingBadSamples()
                print("skipped \(skipped.count) bad sample(s)")
                for s in skipped.prefix(20) { print("  \(s)") }
                d = clean
            }
            print("dataset: \(dataset)\(data.map { " (\($0))" } ?? " (shipped)"), \(d.count) samples, \(d.classCount) classes")
            print("frames per sample: \(d.timeSteps) x \(d.frameShape)")
            let counts = d.classCounts()
            let names = classNames(d.classCount)
            print("samples per class: " + counts.enumerated().map { c in
                names.map { "\(c.offset) (\($0[c.offset])): \(c.element)" } ?? "\(c.offset): \(c.element)"
            }.joined(separator: ", "))
            if let eventStats {
                let stats = try eventStats(d)
                for (name, s) in stats {
                    print("\(name): mean \(fmt(s.mean)), p5 \(fmt(s.p5)), median \(fmt(s.median)), p95 \(fmt(s.p95)), min \(fmt(s.min)), max \(fmt(s.max))")
                }
            }
            // Activity in the frames the model sees.
            var active: [Double] = []
            for i in 0..<min(d.count, 2000) { active.append(Double(try d.frames(i).sum())) }
            let a = SampleStatistics(active)
            print("sum of frame values per sample (first \(active.count)): mean \(fmt(a.mean)), p5 \(fmt(a.p5)), median \(fmt(a.median)), p95 \(fmt(a.p95))")
            if let picture {
                guard sample >= 0 && sample < d.count else { throw ValidationError("--sample \(sample) is outside 0..<\(d.count)") }
                let x = try d.frames(sample)
                let url = URL(fileURLWithPath: picture)
                if picture.lowercased().hasSuffix(".svg") {
                    try FramePicture.svg(x, title: "\(dataset) sample \(sample), label \(d.label(sample))").write(to: url, atomically: true, encoding: .utf8)
                } else if picture.lowercased().hasSuffix(".pgm") {
                    try Data(FramePicture.pgm(x)).write(to: url)
                } else {
                    throw ValidationError("--picture must end in .pgm or .svg")
                }
                print("wrote \(picture): sample \(sample), label \(d.label(sample)), \(x.shape[0]) frames side by side")
            }
            print("time: \(fmt(Date().timeIntervalSince(started))) s")
        }

        typealias EventStats = (any FrameDataset) throws -> [(String, SampleStatistics)]

        /// Opens the dataset; for event datasets also returns how to compute raw event statistics.
        func open() throws -> (any FrameDataset, EventStats?) {
            func shipped(_ rel: String) throws -> URL {
                guard let u = ProjectData.locate(rel) else {
                    throw ValidationError("the shipped data Data/\(rel) was not found; pass --data or set SNNKIT_DATA")
                }
                return u
            }
            func folder() throws -> URL {
                guard let data else { throw ValidationError("--data DIR is required for --dataset \(dataset)") }
                return URL(fileURLWithPath: data)
            }
            switch dataset {
            case "nmnist":
                let root = try data.map { URL(fileURLWithPath: $0) } ?? shipped("nmnist-small")
                // The split that exists: Train, else Test (e.g. the official test set downloaded alone).
                let hasTrain = FileManager.default.fileExists(atPath: root.appendingPathComponent("Train").path)
                let hasTest = FileManager.default.fileExists(atPath: root.appendingPathComponent("Test").path)
                let chosen = split ?? (!hasTrain && hasTest ? "Test" : "Train")
                if split == nil { print("split: \(chosen)") }
                let ds = try NMNISTDataset(root: root, split: chosen, frameDuration: (dtMs ?? 10) / 1000,
                                           timeSteps: frames ?? 10, firstSaccadeOnly: true)
                return (ds, { d in
                    try eventStatistics(d) { i in
                        let base = try NMNIST.readEvents(url: ds.files[baseIndex(d, i)])
                        return (base.count, base.filter { $0.timestamp < NMNIST.firstSaccadeEnd }.count,
                                Double((base.last?.timestamp ?? 0) - (base.first?.timestamp ?? 0)) / 1000)
                    }
                })
            case "dvsgesture":
                let ds = try DVSGestureDataset(root: try folder(), split: split ?? "train", frameDuration: (dtMs ?? 20) / 1000,
                                               timeSteps: frames ?? 60)
                return (ds, { d in
                    try eventStatistics(d) { i in
                        let j = baseIndex(d, i)
                        let ev = try ds.events(j)
                        let s = ds.samples[j]
                        let shown = ev.filter { Double($0.timestamp) < Double(ds.timeSteps) * ds.frameDuration * 1e6 }.count
                        return (ev.count, shown, Double(s.end - s.start) / 1000)
                    }
                })
            case "mnist", "fashion-mnist":
                if data == nil && split == nil && dataset == "mnist" {
                    // The shipped training images (CSV); --split t10k for the shipped test set.
                    print("split: train (Data/mnist-5k-train/mnist_5k.csv.gz)")
                    return (try MNIST.load(csv: try shipped("mnist-5k-train/mnist_5k.csv.gz"), encoding: .direct, timeSteps: frames ?? 1), nil)
                }
                let dir = try data.map { URL(fileURLWithPath: $0) } ?? (dataset == "mnist" ? shipped("mnist-t10k") : folder())
                if split == nil, !MNIST.hasSplit(folder: dir, split: "train"), !MNIST.hasSplit(folder: dir, split: "t10k"),
                   let csv = DatasetOptions.csvFile(in: dir) {
                    return (try MNIST.load(csv: csv, encoding: .direct, timeSteps: frames ?? 1), nil)
                }
                let chosen = split.map { $0 == "test" ? "t10k" : $0 } ?? (MNIST.hasSplit(folder: dir, split: "train") ? "train" : "t10k")
                if split == nil { print("split: \(chosen)") }
                return (try MNIST.load(folder: dir, split: chosen, encoding: .direct, timeSteps: frames ?? 1), nil)
            case "poker-dvs", "cifar10-dvs":
                let root = try folder()
                let poker = dataset == "poker-dvs"
                let dt = (dtMs ?? (poker ? 2 : 100)) / 1000, steps = frames ?? (poker ? 16 : 10)
                if let split { throw ValidationError("--split \(split): \(dataset) has no split of its own (train and eval split it with --seed and --test-fraction)") }
                let crop = poker ? 32 : CIFAR10DVSDataset.sensorSize
                let read: (Int) throws -> AEDAT2.Recording
                let ds: any FrameDataset
                if poker {
                    let p = try PokerDVSDataset(root: root, frameDuration: dt, timeSteps: steps)
                    ds = p; read = { try p.recording($0) }
                } else {
                    let c = try CIFAR10DVSDataset(root: root, frameDuration: dt, timeSteps: steps)
                    ds = c; read = { try c.recording($0) }
                }
                return (ds, { d in
                    var outside = 0, special = 0, total = 0
                    let stats = try eventStatistics(d) { i in
                        let r = try read(baseIndex(d, i))
                        let ev = r.events
                        total += ev.count
                        special += r.specialEvents
                        outside += ev.reduce(0) { $0 + (Int($1.x) >= crop || Int($1.y) >= crop ? 1 : 0) }
                        let shown = ev.filter { Double($0.timestamp) < Double(steps) * dt * 1e6 && Int($0.x) < crop && Int($0.y) < crop }.count
                        return (ev.count, shown, Double(ev.last?.timestamp ?? 0) / 1000)
                    }
                    print("events outside the \(crop)x\(crop) frame: \(outside) of \(total); special (non-DVS) events skipped: \(special)")
                    return stats
                })
            case "cifar10":
                return (try CIFAR10.load(folder: try folder(), split: split ?? "train", encoding: .direct, timeSteps: frames ?? 1), nil)
            case "digits":
                let url = try data.map { URL(fileURLWithPath: $0) } ?? shipped("digits/digits.csv.gz")
                return (try DigitsDataset(csvGz: url, encoding: .direct, timeSteps: frames ?? 1, seed: 0), nil)
            case "shd":
                #if HDF5
                let ds = try SHDDataset(root: try folder(), split: split ?? "train", frameDuration: (dtMs ?? 10) / 1000,
                                        timeSteps: frames ?? 100)
                return (ds, { d in
                    try eventStatistics(d) { i in
                        let s = try ds.spikes(baseIndex(d, i))
                        let shown = s.times.filter { Double($0) < Double(ds.timeSteps) * ds.frameDuration }.count
                        return (s.times.count, shown, Double(s.times.last ?? 0) * 1000)
                    }
                })
                #else
                throw ValidationError("SHD needs libhdf5: rebuild with `swift build --traits HDF5` (Debian: apt-get install libhdf5-dev)")
                #endif
            default:
                throw ValidationError("unknown --dataset '\(dataset)' (nmnist, dvsgesture, poker-dvs, cifar10-dvs, mnist, fashion-mnist, cifar10, digits, shd)")
            }
        }

        /// Class names for the dataset, when it has them and they match `count`.
        func classNames(_ count: Int) -> [String]? {
            let names: [String]?
            switch dataset {
            case "fashion-mnist": names = MNIST.fashionClassNames
            case "cifar10", "cifar10-dvs": names = CIFAR10DVSDataset.classNames
            case "dvsgesture": names = DVSGestureDataset.classNames
            case "poker-dvs": names = PokerDVSDataset.classNames
            default: names = nil
            }
            return names?.count == count ? names : nil
        }

        /// The index in the opened dataset of sample `i` of `d` (which may be a subset of it).
        func baseIndex(_ d: any FrameDataset, _ i: Int) -> Int {
            if let s = d as? SubsetDataset { return baseIndex(s.base, s.indices[i]) }
            return i
        }

        func eventStatistics(_ d: any FrameDataset, _ one: (Int) throws -> (all: Int, shown: Int, ms: Double)) throws -> [(String, SampleStatistics)] {
            var all: [Double] = [], shown: [Double] = [], ms: [Double] = []
            for i in 0..<d.count {
                let r = try one(i)
                all.append(Double(r.all)); shown.append(Double(r.shown)); ms.append(r.ms)
            }
            return [("events per sample", SampleStatistics(all)),
                    ("events per sample within the frames", SampleStatistics(shown)),
                    ("duration (ms)", SampleStatistics(ms))]
        }

        func fmt(_ x: Double) -> String { String(format: x.magnitude >= 100 ? "%.0f" : "%.3g", x) }
    }
}
