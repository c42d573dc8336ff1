import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct GestureTests {
    /// Writes user01 (train) and user24 (test) recordings with two gestures each.
    func makeFolder() -> URL {
        let dir = TestData.tempDir()
        var ev: [Event] = []
        // Gesture A: 1_000_000 ..< 1_100_000 us; gesture B: 2_000_000 ..< 2_050_000 us.
        ev.append(Event(x: 5, y: 6, polarity: 1, timestamp: 999_999))          // before A: ignored
        ev.append(Event(x: 5, y: 6, polarity: 1, timestamp: 1_000_000))        // A, frame 0, ON, (1, 1)
        ev.append(Event(x: 7, y: 4, polarity: 1, timestamp: 1_019_999))        // A, frame 0, ON, (1, 1)
        ev.append(Event(x: 127, y: 0, polarity: 0, timestamp: 1_020_000))      // A, frame 1, OFF, (31, 0)
        ev.append(Event(x: 0, y: 127, polarity: 0, timestamp: 1_099_999))      // A, frame 4, OFF, (0, 31)
        ev.append(Event(x: 3, y: 3, polarity: 1, timestamp: 1_100_000))        // after A: ignored
        for k in 0..<1000 { ev.append(Event(x: 64, y: 64, polarity: 1, timestamp: UInt32(2_000_000 + k * 40))) } // B, 2 frames
        let rec = AEDAT3.encode(events: ev, packetSize: 300)
        let labels = "class,startTime_usec,endTime_usec\r\n3,1000000,1100000\r\n11,2000000,2050000\r\n"
        for user in ["user01_led", "user24_natural"] {
            TestData.write(rec, to: dir.appendingPathComponent("\(user).aedat"))
            TestData.write(Array(labels.utf8), to: dir.appendingPathComponent("\(user)_labels.csv"))
        }
        return dir
    }

    @Test func framesAndSplit() throws {
        let dir = makeFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let train = try DVSGestureDataset(root: dir, split: "train", frameDuration: 0.020, timeSteps: 6)
        let test = try DVSGestureDataset(root: dir, split: "test")
        #expect(train.count == 2 && test.count == 2)
        #expect(train.samples.allSatisfy { $0.file.lastPathComponent == "user01_led.aedat" })
        #expect(train.label(0) == 2 && train.label(1) == 10)
        #expect(train.frameShape == [2, 32, 32])
        let f = try train.frames(0)
        #expect(f.shape == [6, 2, 32, 32])
        func at(_ t: Int, _ c: Int, _ y: Int, _ x: Int) -> Float { f.data[((t * 2 + c) * 32 + y) * 32 + x] }
        #expect(at(0, 1, 1, 1) == 2 && at(1, 0, 0, 31) == 1 && at(4, 0, 31, 0) == 1)
        #expect(f.sum() == 4) // gesture shorter than 6 frames: frame 5 is padding
        let g = try train.frames(1)
        #expect(g.sum() == 1000 && FrameTransforms.binTime(g, factor: 6).data[1 * 32 * 32 + 16 * 32 + 16] == 1000)
        #expect(try train.events(0).map(\.timestamp) == [0, 19_999, 20_000, 99_999])
        // Official split files take precedence over the user-number rule.
        TestData.write(Array("user24_natural.aedat\n".utf8), to: dir.appendingPathComponent("trials_to_train.txt"))
        #expect(try DVSGestureDataset(root: dir).samples[0].file.lastPathComponent == "user24_natural.aedat")
    }

    @Test func badRecordingsAndLabels() throws {
        let dir = makeFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rec = dir.appendingPathComponent("user01_led.aedat")
        let good = try FileData.read(rec)
        // Truncated inside a packet.
        TestData.write(Array(good.dropLast(3)), to: rec)
        let e1 = TestData.dataError { try DVSGestureDataset(root: dir).frames(0) }
        #expect(e1?.kind == .truncated && e1?.sample == 0 && e1?.file == rec.path)
        // Timestamps going backwards.
        let back = AEDAT3.encode(events: [Event(x: 1, y: 1, polarity: 1, timestamp: 1_050_000), Event(x: 1, y: 1, polarity: 1, timestamp: 1_040_000)])
        TestData.write(back, to: rec)
        #expect(TestData.dataError { try DVSGestureDataset(root: dir).frames(0) }?.kind == .timestamps)
        // Not an AEDAT 3 file.
        TestData.write(Array("#!AER-DAT2.0\r\n".utf8), to: rec)
        #expect(TestData.dataError { try DVSGestureDataset(root: dir).frames(0) }?.kind == .corrupt)
        TestData.write([], to: rec)
        #expect(TestData.dataError { try DVSGestureDataset(root: dir).frames(0) }?.kind == .truncated)
        // Class outside 1...11.
        let labels = dir.appendingPathComponent("user01_led_labels.csv")
        TestData.write(Array("class,startTime_usec,endTime_usec\n12,1,2\n".utf8), to: labels)
        let e2 = TestData.dataError { try DVSGestureDataset(root: dir) }
        #expect(e2?.kind == .label && e2?.sample == 1 && e2?.file == labels.path)
        // Missing labels file, empty folder.
        try FileManager.default.removeItem(at: labels)
        #expect(TestData.dataError { try DVSGestureDataset(root: dir) }?.kind == .layout)
        #expect(TestData.dataError { try DVSGestureDataset(root: dir.appendingPathComponent("nothing")) }?.kind == .layout)
    }
}
