import Foundation
import SNNTensor

/// A dataset whose decoded frames are kept in one file on disk, so later epochs (and later runs)
/// skip reading and decoding the original files.
///
/// File layout (little-endian): magic `SNNFRAME`, format version (UInt32), key length and key
/// (UTF-8), sample count, time steps, frame rank and frame shape, class count (all UInt32), the
/// CRC-32 of everything before it; then one index entry per sample (offset UInt64, byte length
/// UInt32, CRC-32 of the payload UInt32, label Int32, encoding UInt32: 0 dense Float32,
/// 1 sparse (UInt32 index, Float32 value) pairs); then the payloads.
///
/// The cache is rebuilt (all samples decoded on `Parallelism.threadCount` threads, written to a
/// temporary file and renamed into place) when the file is missing, has another version, another
/// key, another shape or labels, or a damaged header or index. `key` should identify the source and
/// its parameters; ``NMNISTDataset/cacheKey`` and ``DVSGestureDataset/cacheKey`` include the files'
/// sizes and modification times, so edited source files make the cache stale. A sample whose
/// payload fails its CRC-32 is decoded again from the base dataset (and counted in
/// ``damagedReads``).
public struct CachedDataset: FrameDataset {
    /// The file format version; bump it when the layout changes.
    public static let formatVersion: UInt32 = 1
    public let base: any FrameDataset
    public let file: URL
    public let key: String
    /// Whether opening had to (re)build the file.
    public let rebuilt: Bool
    private let storage: CacheStorage

    /// Opens `file` as the cache of `base`, building or rebuilding it if needed.
    public init(_ base: any FrameDataset, file: URL, key: String) throws {
        self.base = base
        self.file = file
        self.key = key
        if let s = try? CacheStorage(file: file, expecting: base, key: key) {
            storage = s
            rebuilt = false
        } else {
            try CacheStorage.build(base, file: file, key: key)
            storage = try CacheStorage(file: file, expecting: base, key: key)
            rebuilt = true
        }
    }

    public var count: Int { base.count }
    public var frameShape: [Int] { base.frameShape }
    public var timeSteps: Int { base.timeSteps }
    public var classCount: Int { base.classCount }
    public func label(_ index: Int) -> Int { base.label(index) }

    /// Samples whose cached payload failed its checksum and were decoded from the base instead.
    public var damagedReads: Int { storage.damaged.get() }

    public func frames(_ index: Int) throws -> Tensor {
        guard index >= 0 && index < count else {
            throw DataError(.argument, file: file.path, sample: index, "sample index \(index) (expected 0..<\(count))")
        }
        if let t = storage.read(index, shape: [timeSteps] + frameShape) { return t }
        storage.damaged.increment()
        return try base.frames(index)
    }
}

extension FrameDataset {
    /// This dataset with its frames cached in `file` (see ``CachedDataset``).
    public func cached(in file: URL, key: String) throws -> CachedDataset {
        try CachedDataset(self, file: file, key: key)
    }
}
