import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct LoaderTests {
    @Test func splitsAreDisjointCompleteAndSeeded() {
        let s = DatasetSplit.seeded(count: 1797, testFraction: 0.2, seed: 42)
        #expect(s.test.count == 359 && s.train.count == 1438)
        #expect(Set(s.train).isDisjoint(with: s.test))
        #expect(Set(s.train + s.test) == Set(0..<1797))
        let again = DatasetSplit.seeded(count: 1797, testFraction: 0.2, seed: 42)
        #expect(again.test == s.test)
        #expect(DatasetSplit.seeded(count: 1797, testFraction: 0.2, seed: 43).test != s.test)
        let labels = (0..<100).map { $0 % 4 }
        let st = DatasetSplit.stratified(labels: labels, testFraction: 0.2, seed: 1)
        #expect(st.test.count == 20)
        for c in 0..<4 { #expect(st.test.filter { labels[$0] == c }.count == 5) }
    }

    @Test func batchesAreTimeMajorAndCoverTheEpoch() throws {
        let ds = CountingDataset(count: 10)
        let loader = BatchLoader(dataset: ds, batchSize: 4, shuffle: true, seed: 3)
        var seen: [Int] = []
        try loader.forEachBatch(epoch: 0) { b in
            let B = b.indices.count
            #expect(b.inputs.shape == [2, B, 3])
            for t in 0..<2 {
                for (j, i) in b.indices.enumerated() {
                    #expect(b.inputs.data[(t * B + j) * 3] == Float(i))
                }
            }
            #expect(b.labels == b.indices.map { $0 % 4 })
            seen += b.indices
        }
        #expect(seen.sorted() == Array(0..<10))
        #expect(loader.batchCount == 3)
        #expect(BatchLoader(dataset: ds, batchSize: 4, shuffle: false, seed: 0, dropLast: true).batchCount == 2)
        // Deterministic: same (seed, epoch) same order, whatever the worker count; other epochs differ.
        let serial = BatchLoader(dataset: ds, batchSize: 4, shuffle: true, seed: 3, workers: 0)
        var a: [[Int]] = [], b: [[Int]] = []
        try loader.forEachBatch(epoch: 1) { a.append($0.indices) }
        try serial.forEachBatch(epoch: 1) { b.append($0.indices) }
        #expect(a == b)
        #expect(a != loader.batchIndices(epoch: 0))
        // The Sequence interface.
        var total = 0
        for batch in loader { total += batch.labels.count }
        #expect(total == 10 && loader.lastError == nil)
    }

    @Test func errorsReachTheCaller() throws {
        let ds = CountingDataset(count: 50, failAt: 17)
        let loader = BatchLoader(dataset: ds, batchSize: 5, shuffle: false, seed: 0, workers: 2, prefetch: 2)
        var batches = 0
        let e = TestData.dataError { try loader.forEachBatch { _ in batches += 1 } }
        #expect(e?.sample == 17)
        #expect(batches == 3)
        var n = 0
        for _ in loader { n += 1 }
        #expect(n == 3)
        #expect((loader.lastError as? DataError)?.sample == 17)
        var it = loader.makeIterator()
        #expect(try it.nextBatch() != nil)
        let bad = CountingDataset(count: 8, badLabelAt: 5)
        let e2 = TestData.dataError { try BatchLoader(dataset: bad, batchSize: 8, shuffle: false, seed: 0).forEachBatch { _ in } }
        #expect(e2?.kind == .label && e2?.sample == 5)
        let skipping = try Batch.assembleSkippingBad(bad, indices: Array(0..<8))
        #expect(skipping.batch.indices == [0, 1, 2, 3, 4, 6, 7] && skipping.skipped.map(\.error.kind) == [.label])
        // Stopping early does not hang, and the workers stop (they would otherwise keep decoding).
        let slow = SlowDataset(count: 1000)
        for _ in BatchLoader(dataset: slow, batchSize: 2, shuffle: true, seed: 1, workers: 2, prefetch: 2) { break }
        Thread.sleep(forTimeInterval: 0.1)
        let decoded = slow.calls.get()
        Thread.sleep(forTimeInterval: 0.1)
        #expect(slow.calls.get() == decoded && decoded < 20)
    }

    @Test func subsetAndProjectData() throws {
        let ds = CountingDataset(count: 10)
        let sub = SubsetDataset(ds, indices: [7, 2])
        #expect(sub.count == 2 && sub.label(0) == 3)
        #expect(try sub.frames(1).data[0] == 2)
        #expect(ProjectData.locate("digits/digits.csv.gz") != nil)
        #expect(ProjectData.locate("no/such/file") == nil)
    }
}

/// Counts frames() calls, each taking a millisecond.
final class CallCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    func get() -> Int { lock.lock(); defer { lock.unlock() }; return n }
}

struct SlowDataset: FrameDataset {
    var count: Int
    let calls = CallCounter()
    var frameShape: [Int] { [1] }
    var timeSteps: Int { 1 }
    var classCount: Int { 2 }
    func label(_ index: Int) -> Int { index % 2 }
    func frames(_ index: Int) throws -> Tensor {
        calls.add()
        Thread.sleep(forTimeInterval: 0.001)
        return Tensor(shape: [1, 1])
    }
}
