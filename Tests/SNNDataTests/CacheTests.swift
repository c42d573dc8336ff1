import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct CacheTests {
    @Test func cacheRoundTripStalenessAndDamage() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = try #require(TestData.shipped("nmnist-small"))
        let all = try NMNISTDataset(root: root)
        let base = SubsetDataset(all, indices: Array(stride(from: 0, to: 1000, by: 34))) // 30 samples
        let file = dir.appendingPathComponent("cache/nmnist.frames")
        let c1 = try CachedDataset(base, file: file, key: all.cacheKey)
        #expect(c1.rebuilt)
        for i in [0, 7, 29] { #expect(try c1.frames(i) == base.frames(i)) }
        let c2 = try base.cached(in: file, key: all.cacheKey)
        #expect(!c2.rebuilt)
        #expect(try c2.frames(3) == base.frames(3))
        // Another key (other parameters or changed source files): rebuilt.
        let other = try NMNISTDataset(root: root, timeSteps: 5)
        #expect(other.cacheKey != all.cacheKey)
        #expect(try CachedDataset(base, file: file, key: other.cacheKey).rebuilt)
        let c3 = try CachedDataset(base, file: file, key: all.cacheKey)
        #expect(c3.rebuilt)
        // A damaged payload byte: that sample is decoded again from the source, and counted.
        var bytes = try FileData.read(file)
        bytes[bytes.count - 3] ^= 0x55
        try Data(bytes).write(to: file)
        let c4 = try CachedDataset(base, file: file, key: all.cacheKey)
        #expect(!c4.rebuilt)
        #expect(try c4.frames(29) == base.frames(29))
        #expect(c4.damagedReads == 1)
        // Truncated or damaged header: rebuilt.
        try Data(bytes.prefix(100)).write(to: file)
        #expect(try CachedDataset(base, file: file, key: all.cacheKey).rebuilt)
        bytes = try FileData.read(file)
        bytes[9] ^= 1
        try Data(bytes).write(to: file)
        #expect(try CachedDataset(base, file: file, key: all.cacheKey).rebuilt)
        // Byte flips anywhere in the file: a rebuild or a fallback, never wrong frames, never a crash.
        _ = try CachedDataset(base, file: file, key: all.cacheKey)
        let pristine = try FileData.read(file)
        var rng = CounterRNG(seed: 5).generator(stream: 1)
        for _ in 0..<40 {
            var b = pristine
            for _ in 0..<3 { b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 + rng.next() % 255) }
            try Data(b).write(to: file)
            let c = try CachedDataset(base, file: file, key: all.cacheKey)
            for i in 0..<base.count { #expect(try c.frames(i) == base.frames(i)) }
        }
        // A source that fails: the error reaches the caller, no cache file is left behind.
        let bad = CountingDataset(count: 40, failAt: 33)
        let badFile = dir.appendingPathComponent("bad.frames")
        #expect(TestData.dataError { try CachedDataset(bad, file: badFile, key: "x") }?.sample == 33)
        #expect(!FileManager.default.fileExists(atPath: badFile.path))
    }
}
