import Foundation
import SNNData
import SNNTensor
import Testing

/// Decode throughput per format and one epoch of N-MNIST loading with and without the frame
/// cache. Off by default (timings are not assertions); run with
/// `SNNDATA_BENCH=1 swift test -c release --filter ThroughputTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SNNDATA_BENCH"] != nil))
struct ThroughputTests {
    func time(_ body: () throws -> Void) rethrows -> Double {
        let t0 = Date()
        try body()
        return Date().timeIntervalSince(t0)
    }

    func report(_ name: String, samples: Int, seconds: Double, extra: String = "") {
        print(String(format: "THROUGHPUT %@: %d samples in %.3f s = %.0f samples/s %@", name, samples, seconds, Double(samples) / seconds, extra))
    }

    @Test func formats() throws {
        // gzip (pure Swift inflate + CRC-32) on the MNIST test images.
        let gz = try FileData.read(try #require(TestData.shipped("mnist-t10k/t10k-images-idx3-ubyte.gz")))
        var raw: [UInt8] = []
        let tg = try time { raw = try Gzip.decompress(gz) }
        print(String(format: "THROUGHPUT gunzip: %.1f MB out in %.3f s = %.0f MB/s", Double(raw.count) / 1e6, tg, Double(raw.count) / 1e6 / tg))
        // MNIST idx: load (gunzip + parse + scale) and direct frames.
        var mnist: StaticImageDataset!
        let tl = try time { mnist = try MNIST.load(folder: try #require(TestData.shipped("mnist-t10k")), split: "t10k", encoding: .poisson, timeSteps: 16) }
        report("MNIST idx.gz load", samples: mnist.count, seconds: tl)
        let tp = try time { for i in 0..<2000 { _ = try mnist.frames(i) } }
        report("MNIST Poisson frames (T=16, 784 px)", samples: 2000, seconds: tp)
        // CSV (digits, MNIST 5k).
        var digits: DigitsDataset!
        let td = try time { digits = try DigitsDataset(csvGz: try #require(TestData.shipped("digits/digits.csv.gz")), encoding: .poisson, timeSteps: 16, seed: 1) }
        report("digits csv.gz load", samples: digits.count, seconds: td)
        let t5 = try time { _ = try StaticImageDataset(csv: try #require(TestData.shipped("mnist-5k-train/mnist_5k.csv.gz")), imageShape: [784], maxValue: 255, classCount: 10, encoding: .direct, timeSteps: 1, seed: 0) }
        report("MNIST 5k csv.gz load", samples: 5000, seconds: t5)
        // CIFAR-10: 10,000 synthetic records (one batch file's size).
        let img = (0..<(10_000 * 3072)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let rec = CIFAR10.encode(images: img, labels: (0..<10_000).map { UInt8($0 % 10) })
        let tc = try time { _ = try CIFAR10.decode(rec) }
        report("CIFAR-10 batch decode", samples: 10_000, seconds: tc)
        // N-MNIST: every shipped sample, read + decode + frames.
        let nm = try NMNISTDataset(root: try #require(TestData.shipped("nmnist-small")))
        let tn = try time { for i in 0..<nm.count { _ = try nm.frames(i) } }
        report("N-MNIST read+frames (first saccade, 10x10 ms)", samples: nm.count, seconds: tn)
        // DVS Gesture: a synthetic user recording, 11 gestures of 6 s at 50k events/s.
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var ev: [Event] = []
        ev.reserveCapacity(11 * 300_000)
        var labels = "class,startTime_usec,endTime_usec\n"
        for g in 0..<11 {
            let start = UInt32(1_000_000 + g * 7_000_000)
            labels += "\(g + 1),\(start),\(start + 6_000_000)\n"
            for k in 0..<300_000 { ev.append(Event(x: UInt16(k % 128), y: UInt16(k / 128 % 128), polarity: UInt8(k & 1), timestamp: start + UInt32(k * 20))) }
        }
        TestData.write(AEDAT3.encode(events: ev, packetSize: 4096), to: dir.appendingPathComponent("user01_led.aedat"))
        TestData.write(Array(labels.utf8), to: dir.appendingPathComponent("user01_led_labels.csv"))
        let dvs = try DVSGestureDataset(root: dir, timeSteps: 300)
        let tv = try time { for i in 0..<dvs.count { _ = try dvs.frames(i) } }
        report("DVS Gesture AEDAT gesture->frames (300k events, 300x20 ms, 32x32)", samples: dvs.count, seconds: tv)
    }

    @Test func nmnistEpochWithAndWithoutCache() throws {
        let root = TestData.sharedData("nmnist-small") ?? TestData.shipped("nmnist-small")!
        let nm = try NMNISTDataset(root: root)
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        /// Mean seconds per epoch over 3 epochs.
        func epoch(_ d: any FrameDataset, workers: Int? = nil) throws -> Double {
            let loader = BatchLoader(dataset: d, batchSize: 32, shuffle: true, seed: 1, workers: workers)
            return try time { for e in 0..<3 { try loader.forEachBatch(epoch: e) { b in precondition(b.inputs.shape[1] > 0) } } } / 3
        }
        let serial = try epoch(nm, workers: 0)
        let plain = try epoch(nm)
        let file = dir.appendingPathComponent("nmnist.frames")
        var cached: CachedDataset!
        let build = try time { cached = try CachedDataset(nm, file: file, key: nm.cacheKey) }
        let reopen = try time { cached = try CachedDataset(nm, file: file, key: nm.cacheKey) }
        #expect(!cached.rebuilt)
        let withCache = try epoch(cached)
        let size = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
        print(String(format: "EPOCH N-MNIST %d samples, batch 32, [10,32,2,34,34], mean of 3 epochs: no cache %.3f s (on the caller's thread %.3f s); cache build %.3f s (%.1f MB), reopen %.3f s, cached epoch %.3f s",
                     nm.count, plain, serial, build, Double(size) / 1e6, reopen, withCache))
    }
}
