import Foundation
import SNNTensor

/// Shuffled mini-batches of a ``FrameDataset``, decoded ahead of time on background threads.
///
/// Order: with `shuffle`, epoch `e` visits the samples in the permutation
/// `DatasetSplit.permutation(count:seed:stream: e)`, so a `(seed, epoch)` pair always gives the
/// same batches; without `shuffle` samples come in index order. The last, smaller batch is kept
/// unless `dropLast`.
///
/// Two ways to iterate, both decoding up to `prefetch` batches ahead on `workers` threads:
/// ```swift
/// try loader.forEachBatch(epoch: e) { batch in ... }      // errors are thrown (recommended)
///
/// loader.epoch = e
/// var it = loader.makeIterator()
/// while let batch = try it.nextBatch() { ... }           // throwing iterator
///
/// for batch in loader { ... }                            // plain Sequence: stops at the first
/// if let error = loader.lastError { throw error }        // error, which lastError then holds
/// ```
public struct BatchLoader: Sequence, Sendable {
    public let dataset: any FrameDataset
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    public let dropLast: Bool
    /// The epoch that `makeIterator()` (and `for ... in`) produces.
    public var epoch: Int = 0
    /// Background decoding threads (0: decode on the calling thread).
    public var workers: Int
    /// How many batches may be decoded ahead of the consumer.
    public var prefetch: Int
    /// Leave out samples whose decoding throws a ``DataError`` (batches get smaller) instead of
    /// stopping at the first; they are listed in ``skippedSamples``.
    public var skipBadSamples = false
    private let errorBox = ErrorBox()
    private let skippedLog = SkippedLog()

    /// The samples left out so far because they could not be decoded (with `skipBadSamples`),
    /// each once, by index in `dataset`.
    public var skippedSamples: [SkippedSample] { skippedLog.all() }

    public init(dataset: any FrameDataset, batchSize: Int, shuffle: Bool, seed: UInt64, dropLast: Bool = false,
                workers: Int? = nil, prefetch: Int = 4) {
        precondition(batchSize > 0, "BatchLoader: batchSize must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
        self.workers = Swift.max(0, workers ?? Swift.max(1, Swift.min(4, Parallelism.threadCount - 1)))
        self.prefetch = Swift.max(1, prefetch)
    }

    /// The number of batches per epoch.
    public var batchCount: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The dataset indices of each batch of `epoch`.
    public func batchIndices(epoch: Int) -> [[Int]] {
        let order = shuffle ? DatasetSplit.permutation(count: dataset.count, seed: seed, stream: UInt64(bitPattern: Int64(epoch)))
                            : Array(0..<dataset.count)
        return (0..<batchCount).map { k in Array(order[(k * batchSize)..<Swift.min(order.count, (k + 1) * batchSize)]) }
    }

    /// Calls `body` with every batch of `epoch` (default: ``epoch``) in order; rethrows the first
    /// decoding error or the first error `body` throws, after stopping the workers.
    public func forEachBatch(epoch: Int? = nil, _ body: (Batch) throws -> Void) throws {
        let source = BatchSource(dataset: dataset, batches: batchIndices(epoch: epoch ?? self.epoch),
                                 workers: workers, prefetch: prefetch, skipped: skipBadSamples ? skippedLog : nil)
        defer { source.cancel() }
        while let r = source.take() {
            try body(try r.get())
        }
    }

    /// The error that stopped the last `for ... in` loop early, if any.
    public var lastError: (any Error)? { errorBox.get() }

    public func makeIterator() -> BatchIterator {
        errorBox.set(nil)
        return BatchIterator(handle: SourceHandle(BatchSource(dataset: dataset, batches: batchIndices(epoch: epoch),
                                                              workers: workers, prefetch: prefetch,
                                                              skipped: skipBadSamples ? skippedLog : nil)), errorBox: errorBox)
    }
}
