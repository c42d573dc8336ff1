import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct AEDAT2Tests {
    /// One event by hand: address 0x0000030B = y 3 (bits 8-14), x 5 (bits 1-7), polarity 1 (bit 0).
    @Test func handDecodedEvent() throws {
        var bytes = Array("#!AER-DAT2.0\r\n# comment\r\n".utf8)
        bytes += [0x00, 0x00, 0x03, 0x0B, 0x00, 0x00, 0x01, 0x00] // (5, 3) ON at 256 us
        bytes += [0x00, 0x00, 0x7F, 0xFE, 0x00, 0x00, 0x01, 0x10] // (127, 127) OFF at 272 us
        bytes += [0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x01, 0x20] // bit 15: a special event, skipped
        let r = try AEDAT2.decode(bytes)
        #expect(r.headerLines == 2 && r.firstTimestamp == 256 && r.specialEvents == 1)
        #expect(r.events == [Event(x: 5, y: 3, polarity: 1, timestamp: 0), Event(x: 127, y: 127, polarity: 0, timestamp: 16)])
    }

    @Test func encodeDecodeRoundTrip() throws {
        var ev: [Event] = []
        for k in 0..<500 { ev.append(Event(x: UInt16(k * 13 % 128), y: UInt16(k * 7 % 128), polarity: UInt8(k % 2), timestamp: UInt32(k * 5))) }
        let bytes = AEDAT2.encode(events: ev, startTime: 1_000_000)
        let r = try AEDAT2.decode(bytes)
        #expect(r.events == ev && r.firstTimestamp == 1_000_000 && r.specialEvents == 0)
        // An empty recording (header only) is valid and has no events.
        #expect(try AEDAT2.decode(AEDAT2.encode(events: [])).events.isEmpty)
    }

    @Test func badFilesAreNamedErrors() {
        let good = AEDAT2.encode(events: [Event(x: 1, y: 2, polarity: 1, timestamp: 10), Event(x: 3, y: 4, polarity: 0, timestamp: 20)])
        // A cut inside the last event.
        let cut = TestData.dataError { try AEDAT2.decode(Array(good.dropLast(3)), file: "a.aedat") }
        #expect(cut?.kind == .truncated && cut?.file == "a.aedat" && cut?.offset == good.count - 8)
        // Timestamps going backwards.
        var back = good
        back[back.count - 1] = 0
        back[back.count - 2] = 0
        let b = TestData.dataError { try AEDAT2.decode(back) }
        #expect(b?.kind == .timestamps && b?.offset == good.count - 4)
        // Not AEDAT, another version, a header line without its end.
        #expect(TestData.dataError { try AEDAT2.decode(Array("hello world, not events".utf8)) }?.kind == .corrupt)
        #expect(TestData.dataError { try AEDAT2.decode(Array("#!AER-DAT3.1\r\n#!END-HEADER\r\n".utf8)) }?.kind == .unsupported)
        #expect(TestData.dataError { try AEDAT2.decode(Array("#!AER-DAT2.0\r\n# no end".utf8)) }?.kind == .truncated)
        #expect(TestData.dataError { try AEDAT2.decode([]) }?.kind == .truncated)
    }

    @Test func pokerFileNames() {
        #expect(PokerDVSDataset.classOf(fileName: "xclub01.aedat") == 0)
        #expect(PokerDVSDataset.classOf(fileName: "xdiamond12i.aedat") == 1)
        #expect(PokerDVSDataset.classOf(fileName: "xdiam3.aedat") == 1)
        #expect(PokerDVSDataset.classOf(fileName: "xheart20i.aedat") == 2)
        #expect(PokerDVSDataset.classOf(fileName: "xspade35.aedat") == 3)
        #expect(PokerDVSDataset.classOf(fileName: "xjoker01.aedat") == nil)
        #expect(PokerDVSDataset.classOf(fileName: "xclub.aedat") == nil)
        #expect(PokerDVSDataset.classOf(fileName: "xclub01.bin") == nil)
    }

    @Test func pokerFolderOfWrittenFiles() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ev = [Event(x: 0, y: 0, polarity: 1, timestamp: 0), Event(x: 31, y: 2, polarity: 0, timestamp: 2_500),
                  Event(x: 33, y: 1, polarity: 1, timestamp: 2_600)] // the last one is outside the 32x32 crop
        for name in ["xspade02.aedat", "xclub01.aedat", "xdiamond01i.aedat", "xheart07.aedat", "xclub10.aedat"] {
            TestData.write(AEDAT2.encode(events: ev, startTime: 900_000), to: dir.appendingPathComponent(name))
        }
        TestData.write(Array("notes".utf8), to: dir.appendingPathComponent("README.txt"))
        let ds = try PokerDVSDataset(root: dir, frameDuration: 0.002, timeSteps: 4)
        #expect(ds.files.map(\.lastPathComponent) == ["xclub01.aedat", "xclub10.aedat", "xdiamond01i.aedat", "xheart07.aedat", "xspade02.aedat"])
        #expect(ds.labels == [0, 0, 1, 2, 3] && ds.frameShape == [2, 32, 32] && ds.classCount == 4)
        let f = try ds.frames(0)
        #expect(f.shape == [4, 2, 32, 32])
        // (0, 0) ON in window 0; (31, 2) OFF in window 1 (2.5 ms); the out-of-crop event is dropped.
        #expect(f.data[1 * 1024 + 0] == 1 && f.data[(1 * 2 + 0) * 1024 + 2 * 32 + 31] == 1 && f.sum() == 2)
        #expect(ds.outsideCrop(try ds.recording(0).events) == 1)
        // Frame parameters that would trap or exhaust memory later are argument errors now.
        for (dt, t) in [(0.0, 4), (Double.nan, 4), (Double.infinity, 4), (-1, 4), (0.002, 0), (0.002, 100_000_000)] {
            #expect(TestData.dataError { try PokerDVSDataset(root: dir, frameDuration: dt, timeSteps: t) }?.kind == .argument, "dt \(dt), T \(t)")
            #expect(TestData.dataError { try CIFAR10DVSDataset(root: dir, frameDuration: dt, timeSteps: t) }?.kind == .argument, "dt \(dt), T \(t)")
            if let nm = TestData.shipped("nmnist-small") {
                #expect(TestData.dataError { try NMNISTDataset(root: nm, frameDuration: dt, timeSteps: t) }?.kind == .argument, "dt \(dt), T \(t)")
            }
        }
        // A recording whose name names no suit is refused, naming the file.
        TestData.write(AEDAT2.encode(events: ev), to: dir.appendingPathComponent("xjoker01.aedat"))
        let e = TestData.dataError { try PokerDVSDataset(root: dir) }
        #expect(e?.kind == .layout && e?.file?.hasSuffix("xjoker01.aedat") == true)
        #expect(TestData.dataError { try PokerDVSDataset(root: dir.appendingPathComponent("missing")) }?.kind == .layout)
    }

    /// The real POKER-DVS recordings in ../shared/data/poker-dvs (131 files).
    @Test func realPokerDVS() throws {
        guard let root = TestData.sharedData("poker-dvs") else {
            print("skipped realPokerDVS: ../shared/data/poker-dvs is absent (the shared data folder exists on developer machines and CI only)")
            return
        }
        let ds = try PokerDVSDataset(root: root, frameDuration: 0.002, timeSteps: 16)
        #expect(ds.count == 131 && ds.classCounts() == [30, 43, 23, 35])
        var total = 0, outside = 0, maxX = 0, maxY = 0, inFrames = 0
        for i in 0..<ds.count {
            let r = try ds.recording(i)
            #expect(r.headerLines >= 1 && r.specialEvents == 0)
            #expect(zip(r.events, r.events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
            total += r.events.count
            outside += ds.outsideCrop(r.events)
            maxX = max(maxX, Int(r.events.map(\.x).max() ?? 0))
            maxY = max(maxY, Int(r.events.map(\.y).max() ?? 0))
            inFrames += r.events.filter { $0.timestamp < 32_000 && $0.x < 32 && $0.y < 32 }.count
            if i % 10 == 0 { #expect(Int(try ds.frames(i).sum()) == r.events.filter { $0.timestamp < 32_000 && $0.x < 32 && $0.y < 32 }.count) }
        }
        // Counted independently (a Python reading of the same files): 332,710 events, x <= 32, y <= 34,
        // 40 outside the 32x32 crop; all recordings last under 32 ms.
        #expect(total == 332_710 && maxX == 32 && maxY == 34 && outside == 40)
        #expect(inFrames == total - outside)
        let first = try ds.recording(0)
        #expect(ds.files[0].lastPathComponent == "xclub01.aedat" && first.events.count == 3136 && first.firstTimestamp == 1_120_869)
        #expect(Int(first.events.last?.timestamp ?? 0) == 1_143_422 - 1_120_869)
    }

    @Test func cifar10DVSPublishedLayout() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Address fields (x 5, y 3, ON) are seen upright at x = 127 - 3, y = 127 - 5, OFF.
        let ev = [Event(x: 5, y: 3, polarity: 1, timestamp: 0), Event(x: 0, y: 0, polarity: 0, timestamp: 150_000)]
        for name in CIFAR10DVSDataset.classNames {
            for n in [10, 2] {
                TestData.write(AEDAT2.encode(events: ev, startTime: 77), to: dir.appendingPathComponent(name).appendingPathComponent("cifar10_\(name)_\(n).aedat"))
            }
        }
        let ds = try CIFAR10DVSDataset(root: dir, frameDuration: 0.1, timeSteps: 2)
        #expect(ds.count == 20 && ds.classCount == 10 && ds.frameShape == [2, 128, 128])
        #expect(ds.labels == (0..<10).flatMap { [$0, $0] })
        #expect(ds.files[0].lastPathComponent == "cifar10_airplane_2.aedat" && ds.files[1].lastPathComponent == "cifar10_airplane_10.aedat")
        #expect(try ds.recording(3).events == [Event(x: 124, y: 122, polarity: 0, timestamp: 0), Event(x: 127, y: 127, polarity: 1, timestamp: 150_000)])
        let f = try ds.frames(3)
        let plane = 128 * 128
        #expect(f.shape == [2, 2, 128, 128] && f.sum() == 2)
        #expect(f.data[0 * plane + 122 * 128 + 124] == 1 && f.data[(1 * 2 + 1) * plane + 127 * 128 + 127] == 1)
        // Downsampled by 4: 32x32.
        let small = try CIFAR10DVSDataset(root: dir, frameDuration: 0.1, timeSteps: 2, downsample: 4)
        #expect(try small.frames(0).shape == [2, 2, 32, 32] && small.frames(0).data[30 * 32 + 31] == 1)
        // A file with another name in a class folder, and a missing class folder, are named errors.
        TestData.write(ev.isEmpty ? [] : AEDAT2.encode(events: ev), to: dir.appendingPathComponent("cat").appendingPathComponent("dog_1.aedat"))
        let bad = TestData.dataError { try CIFAR10DVSDataset(root: dir) }
        #expect(bad?.kind == .layout && bad?.file?.hasSuffix("dog_1.aedat") == true)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("cat").appendingPathComponent("dog_1.aedat"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("truck"))
        let missing = TestData.dataError { try CIFAR10DVSDataset(root: dir) }
        #expect(missing?.kind == .layout && missing?.file?.hasSuffix("truck") == true)
    }
}
