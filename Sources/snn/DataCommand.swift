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
        abstract: "Inspect datasets (N-MNIST, DVS128 Gesture, MNIST, CIFAR-10, 8x8 digits, SHD).",
        subcommands: [Inspect.self]
    )

    /// `snn data inspect`: counts per class, events per sample, duration, and a picture of one sample.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print counts per class, events per sample and durations; optionally draw one sample's frames.",
            discussion: """
            --data is the dataset's usual folder: N-MNIST (with Train/ and Test/), DvsGesture (user*.aedat and \
            *_labels.csv), MNIST or Fashion-MNIST (*-idx3-ubyte[.gz]), cifar-10-batches-bin, SHD (shd_train.h5[.gz]; \
            needs a build with --traits HDF5), or for digits the CSV file. Without --data, nmnist, digits and mnist \
            use the data shipped in Data/.
            """
        )

        @Option(help: "nmnist, dvsgesture, mnist, cifar10, digits or shd.") var dataset: String = "nmnist"
        @Option(help: "The dataset's folder (or, for digits, its .csv[.gz] file).") var data: String?
        @Option(help: "Split: Train/Test for nmnist, train/test for dvsgesture, cifar10 and shd, train/t10k for mnist.") var split: String?
        @Option(help: "Frame length in milliseconds (event datasets).") var dtMs: Double?
        @Option(help: "Frames (time steps) per sample.") var frames: Int?
        @Option(help: "Look at the first N samples only (0: all).") var limit: Int = 0
        @Option(help: "Sample whose frames --picture draws.") var sample: Int = 0
        @Option(help: "Write the sample's frames as a picture: a .pgm or .svg path.") var picture: String?
        @Flag(help: "Skip samples that fail to decode (they are counted and listed) instead of stopping.") var skipBad = false

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
            print("samples per class: " + counts.enumerated().map { "\($0.offset): \($0.element)" }.joined(separator: ", "))
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
                let ds = try NMNISTDataset(root: root, split: split ?? "Train", frameDuration: (dtMs ?? 10) / 1000,
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
            case "mnist":
                let dir = try data.map { URL(fileURLWithPath: $0) } ?? shipped("mnist-t10k")
                return (try MNIST.load(folder: dir, split: split ?? (data == nil ? "t10k" : "train"), encoding: .direct,
                                       timeSteps: frames ?? 1), nil)
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
                throw ValidationError("unknown --dataset '\(dataset)' (nmnist, dvsgesture, mnist, cifar10, digits, shd)")
            }
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
