import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct NMNISTTests {
    @Test func encodeDecodeRoundTrip() throws {
        let ev = [Event(x: 33, y: 0, polarity: 1, timestamp: 0x7F_FFFF), Event(x: 0, y: 33, polarity: 0, timestamp: 0x7F_FFFF)]
        let bytes = NMNIST.encode(ev)
        #expect(bytes == [33, 0, 0xFF, 0xFF, 0xFF, 0, 33, 0x7F, 0xFF, 0xFF])
        #expect(try NMNIST.decode(bytes) == ev)
    }

    @Test func shippedSamplesAreTheFirstSaccadesOfTheThousand() throws {
        let root = try #require(TestData.shipped("nmnist-small"))
        let ds = try NMNISTDataset(root: root)
        #expect(ds.count == 1000)
        #expect(ds.classCounts() == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100])
        #expect(ds.frameShape == [2, 34, 34])
        let all = try NMNIST.readEvents(url: ds.files[0])
        let size = try FileManager.default.attributesOfItem(atPath: ds.files[0].path)[.size] as! Int
        #expect(all.count * 5 == size)
        let first = all.filter { $0.timestamp < 100_000 }
        let frames = try ds.frames(0)
        #expect(frames.shape == [10, 2, 34, 34])
        #expect(Int(frames.sum()) == first.count)
        #expect(first.count > 300)
        #expect(first.count == all.count, "the shipped files hold the first saccade only")
    }

    @Test func sharedCopyWithCarriageReturnFolderNames() throws {
        // ../shared/data's class folders are named "0\r" ... "9\r"; they must still be read.
        guard let root = TestData.sharedData("nmnist-small") else { return }
        let ds = try NMNISTDataset(root: root)
        #expect(ds.count == 1000)
        #expect(ds.classCounts().allSatisfy { $0 >= 87 && $0 <= 117 })
    }

    @Test func badFilesAndLayouts() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = NMNIST.encode([Event(x: 1, y: 2, polarity: 1, timestamp: 5), Event(x: 3, y: 4, polarity: 0, timestamp: 7)])
        // Truncated file.
        let f = dir.appendingPathComponent("t.bin")
        TestData.write(Array(good.prefix(7)), to: f)
        let e1 = TestData.dataError { try NMNIST.readEvents(url: f) }
        #expect(e1?.kind == .truncated && e1?.offset == 5 && e1?.file == f.path)
        // Timestamps going backwards.
        TestData.write(NMNIST.encode([Event(x: 1, y: 2, polarity: 1, timestamp: 9), Event(x: 3, y: 4, polarity: 0, timestamp: 7)]), to: f)
        let e2 = TestData.dataError { try NMNIST.readEvents(url: f) }
        #expect(e2?.kind == .timestamps && e2?.offset == 5)
        // Coordinates outside the sensor.
        TestData.write(NMNIST.encode([Event(x: 40, y: 2, polarity: 1, timestamp: 9)]), to: f)
        #expect(TestData.dataError { try NMNIST.readEvents(url: f) }?.kind == .corrupt)
        // Empty file: a valid sample with no events.
        TestData.write([], to: f)
        #expect(try NMNIST.readEvents(url: f).isEmpty)
        // Missing file and wrong layouts.
        #expect(TestData.dataError { try NMNIST.readEvents(url: dir.appendingPathComponent("none.bin")) }?.kind == .io)
        #expect(TestData.dataError { try NMNISTDataset(root: dir) }?.kind == .layout) // no Train/
        TestData.write(good, to: dir.appendingPathComponent("Train/cat/1.bin"))
        let e3 = TestData.dataError { try NMNISTDataset(root: dir) }
        #expect(e3?.kind == .layout && e3?.file?.hasSuffix("cat") == true)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("Train/cat"))
        TestData.write(good, to: dir.appendingPathComponent("Train/12/1.bin"))
        #expect(TestData.dataError { try NMNISTDataset(root: dir) }?.kind == .label) // label out of range
        try FileManager.default.removeItem(at: dir.appendingPathComponent("Train/12"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("Train/3"), withIntermediateDirectories: true)
        #expect(TestData.dataError { try NMNISTDataset(root: dir) }?.kind == .layout) // no files
        TestData.write(good, to: dir.appendingPathComponent("Train/3/10.bin"))
        TestData.write(Array(good.prefix(4)), to: dir.appendingPathComponent("Train/3/2.bin"))
        let ds = try NMNISTDataset(root: dir)
        #expect(ds.count == 2 && ds.files[0].lastPathComponent == "2.bin") // numeric order
        let e5 = TestData.dataError { try NMNISTDataset(root: dir.appendingPathComponent("Train")) } // one level too deep
        #expect(e5?.kind == .layout && e5?.message.contains("pass its parent") == true)
        let e4 = TestData.dataError { try ds.frames(0) }
        #expect(e4?.sample == 0 && e4?.kind == .truncated)
        #expect(try ds.frames(1).sum() == 2)
    }
}
