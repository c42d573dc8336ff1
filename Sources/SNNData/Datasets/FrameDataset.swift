import SNNTensor

/// A labelled dataset whose samples are sequences of `timeSteps` input frames.
///
/// Every reader in SNNData exposes its data through this protocol, which is what ``BatchLoader``
/// and the training code consume. Implementations are value types that read lazily (from disk or
/// from memory) in ``frames(_:)``, so they can be called from several threads at once.
public protocol FrameDataset: Sendable {
    /// The number of samples.
    var count: Int { get }
    /// The shape of one time step's input, e.g. `[2, 34, 34]` (polarity, row, column) or `[64]`.
    var frameShape: [Int] { get }
    /// The number of time steps `T` per sample.
    var timeSteps: Int { get }
    /// The number of classes; labels are `0..<classCount`.
    var classCount: Int { get }
    /// The class of sample `index`.
    func label(_ index: Int) -> Int
    /// The input of sample `index`, shaped `[timeSteps] + frameShape`.
    func frames(_ index: Int) throws -> Tensor
}

extension FrameDataset {
    /// All labels, in index order.
    public var labels: [Int] { (0..<count).map { label($0) } }

    /// The number of samples in each class (`classCount` entries).
    public func classCounts() -> [Int] {
        var c = [Int](repeating: 0, count: classCount)
        for i in 0..<count {
            let l = label(i)
            if l >= 0 && l < classCount { c[l] += 1 }
        }
        return c
    }
}
