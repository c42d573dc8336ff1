import Foundation
import SNNData
import SNNHDF5
import Testing

#if HDF5
@Suite struct SHDTests {
    func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("snnhdf5-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    let samples: [(times: [Float], units: [Int])] = [
        ([0, 0.004, 0.005, 0.0125, 2.0], [0, 699, 3, 3, 10]),
        ([], []),
        ([0.001], [350]),
    ]

    @Test func readsFramesWithChannelBinning() throws {
        #expect(SNNHDF5Build.hdf5Available)
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SHDWriter.write(url: dir.appendingPathComponent("shd_train.h5"), samples: samples, labels: [19, 0, 7])
        let ds = try SHDDataset(root: dir, frameDuration: 0.005, timeSteps: 4, channelBin: 2)
        #expect(ds.count == 3 && ds.frameShape == [350] && ds.labels == [19, 0, 7])
        let s = try ds.spikes(0)
        #expect(s.times == samples[0].times && s.units == samples[0].units)
        let f = try ds.frames(0)
        #expect(f.shape == [4, 350])
        #expect(f.data[0] == 1 && f.data[349] == 1 && f.data[350 + 1] == 1 && f.data[2 * 350 + 1] == 1 && f.sum() == 4)
        #expect(try ds.frames(1).sum() == 0)
        #expect(try ds.frames(2).data[175] == 1)
        // Through the loader, on worker threads (HDF5 calls are serialised).
        var n = 0
        try BatchLoader(dataset: ds, batchSize: 2, shuffle: true, seed: 1, workers: 2).forEachBatch { n += $0.labels.count }
        #expect(n == 3)
    }

    @Test func halfPrecisionTimesAsPublished() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try SHDWriter.write(url: dir.appendingPathComponent("shd_train.h5"), samples: samples, labels: [19, 0, 7], halfPrecisionTimes: true)
        let ds = try SHDDataset(root: dir)
        let s = try ds.spikes(0)
        // Half floats keep about 3 significant digits.
        #expect(s.times.count == 5 && zip(s.times, samples[0].times).allSatisfy { abs($0 - $1) <= 0.001 * max(1, $1) })
        #expect(s.times != samples[0].times) // really stored as 16-bit floats (float32 would round-trip exactly)
        #expect(s.units == samples[0].units)
    }

    @Test func gzippedDownload() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let h5 = dir.appendingPathComponent("plain.h5")
        try SHDWriter.write(url: h5, samples: samples, labels: [1, 2, 3])
        // A gzip file made of one stored block (our decoder reads any gzip; the writer is minimal).
        let raw = try FileData.read(h5)
        var gz: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        var p = 0
        while p < raw.count || p == 0 {
            let n = min(65_535, raw.count - p)
            gz.append(p + n >= raw.count ? 1 : 0)
            gz += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            gz += raw[p..<(p + n)]
            p += n
            if p >= raw.count { break }
        }
        let crc = gzipCRC(raw)
        gz += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
        let size = UInt32(raw.count)
        gz += [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24)]
        try Data(gz).write(to: dir.appendingPathComponent("shd_test.h5.gz"))
        let ds = try SHDDataset(root: dir, split: "test")
        #expect(ds.labels == [1, 2, 3])
    }

    func gzipCRC(_ b: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in b {
            c ^= UInt32(x)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    func dataError<T>(_ body: () throws -> T) -> DataError? {
        do { _ = try body(); return nil } catch let e as DataError { return e } catch { return nil }
    }

    /// The real spoken digits in SHD's layout (../shared/data/fsdd-shd): float16 times, uint16 units.
    @Test func realFSDDInSHDLayout() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/fsdd-shd")
        guard FileManager.default.fileExists(atPath: root.path) else {
            print("skipped realFSDDInSHDLayout: ../shared/data/fsdd-shd is absent (the shared data folder exists on developer machines and CI only)")
            return
        }
        let train = try SHDDataset(root: root, split: "train", frameDuration: 0.010, timeSteps: 100)
        let test = try SHDDataset(root: root, split: "test", frameDuration: 0.010, timeSteps: 100)
        #expect(train.url.lastPathComponent == "fsdd_shd_train.h5" && test.url.lastPathComponent == "fsdd_shd_test.h5")
        #expect(train.count == 240 && test.count == 60 && train.classCount == 10 && test.classCount == 10)
        #expect(train.classCounts() == [Int](repeating: 24, count: 10) && test.classCounts() == [Int](repeating: 6, count: 10))
        var spikes = 0, inFrames = 0
        var perFile: [Int] = []
        for (ds, n) in [(train, 240), (test, 60)] {
            let before = spikes
            defer { perFile.append(spikes - before) }
            for i in 0..<n {
                let s = try ds.spikes(i)
                #expect(s.times.count == s.units.count && !s.times.isEmpty)
                #expect(s.units.allSatisfy { (0..<700).contains($0) })
                #expect(zip(s.times, s.times.dropFirst()).allSatisfy { $0 <= $1 })
                spikes += s.times.count
                let shown = s.times.filter { $0 < 1.0 }.count
                inFrames += shown
                if i % 20 == 0 {
                    // The float16 times agree with the file's float32 copy to half precision.
                    let t32 = try ds.file.readVariableLengthFloats("extra/times_float32", index: i)
                    #expect(t32.count == s.times.count)
                    #expect(zip(s.times, t32).allSatisfy { abs($0 - $1) <= 0.001 * max(1, $1) })
                    #expect(Int(try ds.frames(i).sum()) == shown)
                }
            }
        }
        print("fsdd-shd: \(spikes) spikes in 300 samples, \(inFrames) within the first second")
        // Counted independently with h5dump (elements of spikes/units in each file).
        #expect(perFile == [975_116, 245_755])
    }

    @Test func badFiles() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("shd_train.h5")
        // Missing dataset.
        try SHDWriter.write(url: url, samples: samples, labels: [1, 2, 3], omit: ["spikes/units"])
        let e1 = dataError { try SHDDataset(url: url) }
        #expect(e1?.kind == .missing && e1?.message.contains("spikes/units") == true && e1?.file == url.path)
        // Label out of range of a given class count; without one, the count comes from the labels.
        try SHDWriter.write(url: url, samples: samples, labels: [1, 20, 3])
        let e2 = dataError { try SHDDataset(url: url, classCount: 20) }
        #expect(e2?.kind == .label && e2?.sample == 1)
        #expect(try SHDDataset(url: url).classCount == 21)
        // Labels and spikes of different lengths.
        try SHDWriter.write(url: url, samples: samples, labels: [1, 2])
        #expect(dataError { try SHDDataset(url: url) }?.kind == .corrupt)
        // Times going backwards, channel out of range: reported at frame time with the sample.
        try SHDWriter.write(url: url, samples: [([0.2, 0.1], [1, 1]), ([0.1], [700])], labels: [0, 1])
        let ds = try SHDDataset(url: url)
        #expect(dataError { try ds.frames(0) }?.kind == .timestamps)
        let e3 = dataError { try ds.frames(1) }
        #expect(e3?.kind == .corrupt && e3?.sample == 1)
        // Not HDF5, empty, truncated at many lengths: an error, never a crash.
        // (A new name: `ds` above still holds the first file open.)
        let other = dir.appendingPathComponent("other.h5")
        try SHDWriter.write(url: other, samples: samples, labels: [1, 2, 3])
        let good = try FileData.read(other)
        for n in stride(from: 0, to: good.count, by: max(1, good.count / 40)) {
            try Data(good.prefix(n)).write(to: other)
            #expect(dataError { try SHDDataset(url: other).frames(0) } != nil, "prefix \(n) of \(good.count) bytes")
        }
        try Data("not hdf5".utf8).write(to: other)
        #expect(dataError { try SHDDataset(url: other) }?.kind == .corrupt)
        #expect(dataError { try SHDDataset(root: dir.appendingPathComponent("none")) }?.kind == .layout)
    }
}
/// SHD decode throughput; opt-in: `SNNDATA_BENCH=1 swift test --traits HDF5 --filter SHDThroughput`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SNNDATA_BENCH"] != nil))
struct SHDThroughput {
    @Test func decodeRate() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snnhdf5-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // 1,000 samples of 8,000 spikes over 1 s (SHD's order of magnitude), half-precision times.
        let samples: [(times: [Float], units: [Int])] = (0..<1000).map { s in
            ((0..<8000).map { Float($0) / 8000 }, (0..<8000).map { ($0 * 7 + s) % 700 })
        }
        try SHDWriter.write(url: dir.appendingPathComponent("shd_train.h5"), samples: samples, labels: (0..<1000).map { $0 % 20 },
                            halfPrecisionTimes: true)
        let ds = try SHDDataset(root: dir, frameDuration: 0.010, timeSteps: 100, channelBin: 5)
        let t0 = Date()
        for i in 0..<ds.count { _ = try ds.frames(i) }
        let dt = Date().timeIntervalSince(t0)
        print(String(format: "THROUGHPUT SHD (HDF5 vlen, 8000 spikes/sample, [100, 140] frames): %d samples in %.3f s = %.0f samples/s", ds.count, dt, Double(ds.count) / dt))
    }
}
#else
@Test func hdf5TraitIsOff() {
    #expect(!SNNHDF5Build.hdf5Available)
}
#endif
