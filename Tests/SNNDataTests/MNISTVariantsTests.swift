import Foundation
import SNNData
import SNNTensor
import Testing

/// MNIST and Fashion-MNIST copies as they are found in the wild, and idx.gz files that expand
/// past what their header announces.
@Suite struct MNISTVariantsTests {
    /// A gzip file of one or more stored blocks (valid for any reader; no compression).
    static func gzipStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        var p = 0
        repeat {
            let n = min(65_535, data.count - p)
            let final: UInt8 = p + n == data.count ? 1 : 0
            out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[p..<(p + n)]
            p += n
        } while p < data.count
        let crc = CRC32.checksum(data)
        let size = UInt32(truncatingIfNeeded: data.count)
        for v in [crc, size] { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        return out
    }

    /// A gzip member whose DEFLATE stream (one fixed-Huffman block) is `literals` then `repeats`
    /// back-references of 258 bytes at distance 1: about 13 bits of input per 258 bytes of output.
    static func gzipBomb(literals: [UInt8], repeats: Int) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        var acc: UInt64 = 0, n = 0
        func put(_ value: Int, _ bits: Int) { // LSB-first
            acc |= UInt64(value) << UInt64(n); n += bits
            while n >= 8 { out.append(UInt8(acc & 0xFF)); acc >>= 8; n -= 8 }
        }
        func code(_ c: Int, _ bits: Int) { // Huffman codes go MSB-first
            var r = 0
            for i in 0..<bits { r |= (c >> i & 1) << (bits - 1 - i) }
            put(r, bits)
        }
        put(1, 1); put(1, 2) // final block, fixed Huffman
        for b in literals { b < 144 ? code(0x30 + Int(b), 8) : code(0x190 + Int(b) - 144, 9) }
        for _ in 0..<repeats { code(0xC0 + 5, 8); code(0, 5) } // length 258 (symbol 285), distance 1
        code(0, 7) // end of block
        if n > 0 { out.append(UInt8(acc & 0xFF)) }
        out += [0, 0, 0, 0, 0, 0, 0, 0] // CRC and size: never reached by a reader that stops early
        return out
    }

    @Test func allFourFileNameVariants() throws {
        let images = IDX.encode(dims: [3, 2, 2], bytes: [255, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0])
        let labels = IDX.encode(dims: [3], bytes: [4, 1, 7])
        let variants: [(String, String, Bool)] = [
            ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", false),
            ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", false),
            ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", true),
            ("train-images.idx3-ubyte.gz", "train-labels.idx1-ubyte.gz", true),
        ]
        for (img, lab, gz) in variants {
            let dir = TestData.tempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            TestData.write(gz ? Self.gzipStored(images) : images, to: dir.appendingPathComponent(img))
            TestData.write(gz ? Self.gzipStored(labels) : labels, to: dir.appendingPathComponent(lab))
            #expect(MNIST.hasSplit(folder: dir, split: "train") && !MNIST.hasSplit(folder: dir, split: "t10k"))
            let ds = try MNIST.load(folder: dir, split: "train", encoding: .direct, timeSteps: 1)
            #expect(ds.count == 3 && ds.labels == [4, 1, 7] && ds.frameShape == [1, 2, 2], "\(img)")
            #expect(try ds.frames(1).data == [0, 255.0 / 255, 0, 0], "\(img)")
        }
        // None of them: the error lists the names it tried.
        let empty = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: empty) }
        let e = TestData.dataError { try MNIST.load(folder: empty, split: "t10k") }
        #expect(e?.kind == .layout && e?.message.contains("t10k-images.idx3-ubyte.gz") == true)
    }

    @Test func shippedMNISTFolders() throws {
        // The t10k folder read by name, and the 5k CSV read as MNIST training images.
        let t10k = try MNIST.load(folder: try #require(TestData.shipped("mnist-t10k")), split: "t10k", encoding: .direct, timeSteps: 1)
        #expect(t10k.count == 10_000)
        let csv = try MNIST.load(csv: try #require(TestData.shipped("mnist-5k-train/mnist_5k.csv.gz")), encoding: .direct, timeSteps: 1)
        #expect(csv.count == 5_000 && csv.frameShape == [1, 28, 28] && csv.classCounts() == [Int](repeating: 500, count: 10))
        #expect(csv.pixels.max() == 1 && csv.pixels.min() == 0)
    }

    @Test func realFashionMNIST() throws {
        guard let dir = TestData.sharedData("fashion-mnist") else {
            print("skipped realFashionMNIST: ../shared/data/fashion-mnist is absent (the shared data folder exists on developer machines and CI only)")
            return
        }
        let test = try MNIST.load(folder: dir, split: "t10k", encoding: .direct, timeSteps: 1)
        #expect(test.count == 10_000 && test.classCounts() == [Int](repeating: 1000, count: 10))
        let train = try MNIST.load(folder: dir, split: "train", encoding: .direct, timeSteps: 1)
        #expect(train.count == 60_000 && train.classCounts() == [Int](repeating: 6000, count: 10))
        #expect(MNIST.fashionClassNames.count == 10 && MNIST.fashionClassNames[9] == "Ankle boot")
        // The first test image is an ankle boot (class 9), as in the published set.
        #expect(test.label(0) == 9)
    }

    @Test func gzipBombStopsAtTheAnnouncedSize() throws {
        // The header announces 1 x 28 x 28 (800 bytes); the stream would expand to 64 MiB.
        let header = IDX.encode(dims: [1, 28, 28], bytes: [])
        let repeats = (64 << 20) / 258
        let bomb = Self.gzipBomb(literals: header + [0], repeats: repeats)
        #expect(bomb.count < 500_000)
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("train-images-idx3-ubyte.gz")
        TestData.write(bomb, to: url)
        let e = TestData.dataError { try IDX.read(url) }
        #expect(e?.kind == .corrupt && e?.file == url.path)
        #expect(e?.message.contains("announces") == true, "\(String(describing: e))")
        // It stopped a few bytes past 800 of output: within the first few hundred bytes of input.
        #expect((e?.offset ?? Int.max) < 1_000, "\(String(describing: e))")
        // The same header with exactly the announced data reads (prefix + limit do not cut valid files).
        let exact = Self.gzipBomb(literals: header + [0], repeats: 3) // 16 + 1 + 774 = 791 bytes: too short
        TestData.write(exact, to: url)
        #expect(TestData.dataError { try IDX.read(url) } != nil)
        let full = IDX.encode(dims: [1, 28, 28], bytes: (0..<784).map { UInt8($0 % 251) })
        TestData.write(Self.gzipStored(full), to: url)
        #expect(try IDX.read(url).bytes == Array(full[16...]))
    }

    @Test func prefixOfAGzipStream() throws {
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let gz = Self.gzipStored(data)
        let p = try Gzip.prefix(gz, count: 20)
        #expect(p.count >= 20 && p.count < 200_000 && Array(p) == Array(data.prefix(p.count)))
        #expect(try Gzip.prefix(Self.gzipStored([1, 2, 3]), count: 20) == [1, 2, 3])
    }
}
