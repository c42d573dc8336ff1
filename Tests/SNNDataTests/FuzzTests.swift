import Foundation
import SNNData
import SNNTensor
import Testing

/// Truncates and flips bytes of valid files at many offsets: the readers must always either throw
/// a `DataError` (with an offset inside the file, when they give one) or return a valid result.
@Suite struct FuzzTests {
    /// Runs `decode` on truncations and single-byte corruptions of `good`. `valid` checks results.
    func fuzz<T>(_ name: String, _ good: [UInt8], cases: Int = 400,
                 decode: ([UInt8]) throws -> T, valid: (T) -> Bool) -> (errors: Int, results: Int) {
        var errors = 0, results = 0
        var rng = CounterRNG(seed: 99).generator(stream: UInt64(name.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        for k in 0..<cases {
            var bad: [UInt8]
            if k % 3 == 0 {
                bad = Array(good.prefix(Int(rng.next() % UInt64(good.count + 1))))
            } else {
                bad = good
                let flips = 1 + k % 4
                for _ in 0..<flips {
                    let o = Int(rng.next() % UInt64(good.count))
                    bad[o] ^= UInt8(1 + rng.next() % 255)
                }
            }
            do {
                let r = try decode(bad)
                #expect(valid(r), "\(name): case \(k) returned an invalid result")
                results += 1
            } catch let e as DataError {
                if let off = e.offset { #expect(off >= 0 && off <= bad.count + 64, "\(name): offset \(off) outside \(bad.count) bytes: \(e)") }
                #expect(!e.message.isEmpty)
                errors += 1
            } catch {
                Issue.record("\(name): case \(k) threw a non-DataError \(error)")
            }
        }
        return (errors, results)
    }

    @Test func nmnistFiles() throws {
        let url = try #require(TestData.shipped("nmnist-small/Train/3/110.bin") ?? TestData.shipped("nmnist-small"))
        let file = url.pathExtension == "bin" ? url : try NMNISTDataset(root: url).files[135]
        let good = try FileData.read(file)
        let r = fuzz("nmnist", good, decode: { try NMNIST.decode($0) }, valid: { ev in
            ev.allSatisfy { $0.x < 34 && $0.y < 34 && $0.polarity <= 1 } && zip(ev, ev.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp }
        })
        #expect(r.errors > 100)
    }

    @Test func gzipIdx() throws {
        let good = try FileData.read(try #require(TestData.shipped("mnist-t10k/t10k-labels-idx1-ubyte.gz")))
        let r = fuzz("idx.gz", good, cases: 300, decode: { try IDX.decode(try Gzip.decompress($0)) }, valid: { a in
            a.dims.reduce(1, *) == a.bytes.count
        })
        #expect(r.errors > 250)
    }

    @Test func digitsCSV() throws {
        let csv = Array(try FileData.readDecompressing(try #require(TestData.shipped("digits/digits.csv.gz"))).prefix(20_000))
        let cut = Array(csv[...csv.lastIndex(of: UInt8(ascii: "\n"))!])
        let r = fuzz("csv", cut, decode: { try CSVImages.parse($0, pixelCount: 64, maxValue: 16, classCount: 10) }, valid: { p in
            p.pixels.count == 64 * p.labels.count && p.pixels.allSatisfy { $0 >= 0 && $0 <= 1 } && p.labels.allSatisfy { (0..<10).contains($0) }
        })
        #expect(r.errors > 100)
    }

    @Test func cifarRecords() throws {
        let img = (0..<(3 * 3072)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let good = CIFAR10.encode(images: img, labels: [1, 5, 9])
        let r = fuzz("cifar", good, decode: { try CIFAR10.decode($0) }, valid: { p in
            p.pixels.count == 3072 * p.labels.count && p.labels.allSatisfy { (0..<10).contains($0) }
        })
        #expect(r.errors > 100)
    }

    @Test func aedatRecordings() throws {
        var ev: [Event] = []
        for k in 0..<3000 { ev.append(Event(x: UInt16(k % 128), y: UInt16(k * 7 % 128), polarity: UInt8(k & 1), timestamp: UInt32(1000 + k * 3))) }
        let good = AEDAT3.encode(events: ev, packetSize: 256)
        func decode(_ bytes: [UInt8]) throws -> [Event] {
            try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> [Event] in
                let packets: [AEDAT3.Packet] = try AEDAT3.packets(raw, file: nil)
                return try AEDAT3.polarityEvents(raw, packets: packets, from: 1000, to: 20_000, file: nil)
            }
        }
        func valid(_ out: [Event]) -> Bool {
            let inside = out.allSatisfy { e in e.x < 128 && e.y < 128 && e.timestamp < 19_000 }
            let ordered = zip(out, out.dropFirst()).allSatisfy { pair in pair.0.timestamp <= pair.1.timestamp }
            return inside && ordered
        }
        let r = fuzz("aedat", good, decode: decode, valid: valid)
        #expect(r.errors > 50)
        // Flipping a data word's validity bit etc. can legitimately still decode: both outcomes occur.
        #expect(r.results > 0)
    }

    @Test func aedat2Recordings() throws {
        // A real POKER-DVS recording when the shared data is there, else one written here.
        let good: [UInt8]
        if let root = TestData.sharedData("poker-dvs") {
            good = try FileData.read(root.appendingPathComponent("xheart07.aedat"))
        } else {
            print("aedat2Recordings: ../shared/data/poker-dvs is absent; fuzzing a written recording instead")
            var ev: [Event] = []
            for k in 0..<2000 { ev.append(Event(x: UInt16(k % 32), y: UInt16(k * 7 % 32), polarity: UInt8(k & 1), timestamp: UInt32(k * 4))) }
            good = AEDAT2.encode(events: ev, startTime: 1_000_000)
        }
        let r = fuzz("aedat2", good, cases: 600, decode: { try AEDAT2.decode($0) }, valid: { rec in
            rec.events.allSatisfy { $0.x < 128 && $0.y < 128 && $0.polarity <= 1 }
                && zip(rec.events, rec.events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp }
        })
        // Cuts inside an event and flipped timestamp bytes are errors; flipped address bits decode.
        #expect(r.errors > 150)
        #expect(r.results > 0)
        // Every cut that is not on an event boundary is a truncation error.
        let (start, _) = try good.withUnsafeBufferPointer { try AEDAT2.dataOffset($0, file: nil) }
        for cut in stride(from: start + 1, to: good.count, by: 97) where (cut - start) % 8 != 0 {
            #expect(TestData.dataError { try AEDAT2.decode(Array(good.prefix(cut))) }?.kind == .truncated)
        }
    }

    @Test func gestureLabelFiles() {
        let good = Array("class,startTime_usec,endTime_usec\r\n1,100,200\r\n11,300,400\r\n".utf8)
        _ = fuzz("labels", good, decode: { try GestureLabels.parse($0) }, valid: { g in
            g.allSatisfy { (0..<11).contains($0.label) && $0.start < $0.end }
        })
    }
}
