import Foundation

/// Decodes the batches of one epoch on background threads, in any order, and hands them out in
/// order. Workers stop when the epoch is done, when it is cancelled, or when the consumer (the
/// iterator) goes away.
final class BatchSource: @unchecked Sendable {
    private let cond = NSCondition()
    private let dataset: any FrameDataset
    private let batches: [[Int]]
    private let depth: Int
    private let threaded: Bool
    private var results: [Int: Result<Batch, any Error>] = [:]
    private var nextToClaim = 0
    private var nextToTake = 0
    private var cancelled = false
    private let skipped: SkippedLog?

    /// - Parameter skipped: where to record samples that fail to decode; nil: such a sample's
    ///   error ends the epoch.
    init(dataset: any FrameDataset, batches: [[Int]], workers: Int, prefetch: Int, skipped: SkippedLog? = nil) {
        self.skipped = skipped
        self.dataset = dataset
        self.batches = batches
        self.depth = prefetch
        self.threaded = workers > 0
        for _ in 0..<min(workers, batches.count) {
            let t = Thread { [self] in self.work() }
            t.name = "SNNData.BatchLoader"
            t.start()
        }
    }

    private func work() {
        while true {
            cond.lock()
            while !cancelled && nextToClaim < batches.count && nextToClaim >= nextToTake + depth { cond.wait() }
            if cancelled || nextToClaim >= batches.count { cond.unlock(); return }
            let k = nextToClaim
            nextToClaim += 1
            cond.unlock()
            let r = Result<Batch, any Error> { try assemble(batches[k]) }
            cond.lock()
            results[k] = r
            cond.broadcast()
            cond.unlock()
        }
    }

    private func assemble(_ indices: [Int]) throws -> Batch {
        guard let skipped else { return try Batch.assemble(dataset, indices: indices) }
        let (batch, bad) = try Batch.assembleSkippingBad(dataset, indices: indices)
        skipped.add(bad)
        return batch
    }

    /// The next non-empty batch in order (waiting for it), or nil at the end.
    func take() -> Result<Batch, any Error>? {
        while let r = takeOne() {
            if case .success(let b) = r, b.indices.isEmpty { continue } // every sample was skipped
            return r
        }
        return nil
    }

    private func takeOne() -> Result<Batch, any Error>? {
        if !threaded {
            guard nextToTake < batches.count, !cancelled else { return nil }
            defer { nextToTake += 1 }
            return Result { try assemble(batches[nextToTake]) }
        }
        cond.lock()
        defer { cond.unlock() }
        guard nextToTake < batches.count, !cancelled else { return nil }
        while results[nextToTake] == nil { cond.wait() }
        let r = results.removeValue(forKey: nextToTake)!
        nextToTake += 1
        cond.broadcast()
        return r
    }

    func cancel() {
        cond.lock()
        cancelled = true
        results.removeAll()
        cond.broadcast()
        cond.unlock()
    }
}
