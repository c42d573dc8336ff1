import SNNTensor

/// A view of some samples of another dataset, in the order given by `indices`
/// (e.g. the train or test part of a ``DatasetSplit``).
public struct SubsetDataset: FrameDataset {
    /// The dataset the samples come from.
    public let base: any FrameDataset
    /// For each sample of the subset, its index in `base`.
    public let indices: [Int]

    /// A subset of `base`; every index must be in `0..<base.count`.
    public init(_ base: any FrameDataset, indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count },
                     "SubsetDataset: index outside 0..<\(base.count)")
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }
    public var frameShape: [Int] { base.frameShape }
    public var timeSteps: Int { base.timeSteps }
    public var classCount: Int { base.classCount }
    public func label(_ index: Int) -> Int { base.label(indices[index]) }
    public func frames(_ index: Int) throws -> Tensor {
        guard index >= 0 && index < indices.count else {
            throw DataError(.argument, sample: index, "subset sample index \(index) (expected 0..<\(indices.count))")
        }
        return try base.frames(indices[index])
    }
}
