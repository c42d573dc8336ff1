import SNNTensor

/// A mini-batch in time-major layout, ready for a layered network.
public struct Batch: Sendable {
    /// Inputs shaped `[T, B] + frameShape`: time step first, then sample in the batch.
    public var inputs: Tensor
    /// The class of each sample in the batch (`B` entries).
    public var labels: [Int]
    /// The index in the dataset of each sample in the batch.
    public var indices: [Int]

    public init(inputs: Tensor, labels: [Int], indices: [Int]) {
        self.inputs = inputs
        self.labels = labels
        self.indices = indices
    }

    /// Decodes `indices` of `dataset` and lays them out time-major. Throws the dataset's error,
    /// or a ``DataError`` if a sample has the wrong shape or a label outside the class range.
    public static func assemble(_ dataset: any FrameDataset, indices: [Int]) throws -> Batch {
        try assemble(dataset, indices: indices, skipBad: false).batch
    }

    /// The same, but samples whose decoding throws a ``DataError`` are left out of the batch and
    /// returned in `skipped` (the batch may then be smaller, or empty).
    public static func assembleSkippingBad(_ dataset: any FrameDataset, indices: [Int]) throws -> (batch: Batch, skipped: [SkippedSample]) {
        try assemble(dataset, indices: indices, skipBad: true)
    }

    static func assemble(_ dataset: any FrameDataset, indices wanted: [Int], skipBad: Bool) throws -> (batch: Batch, skipped: [SkippedSample]) {
        var skipped: [SkippedSample] = []
        var decoded: [(Int, Tensor)] = []
        if skipBad {
            for i in wanted {
                let l = i >= 0 && i < dataset.count ? dataset.label(i) : -1
                if i >= 0 && i < dataset.count && (l < 0 || l >= dataset.classCount) {
                    skipped.append(SkippedSample(index: i, error: DataError(.label, sample: i, "label \(l) (expected 0...\(dataset.classCount - 1))")))
                    continue
                }
                do { decoded.append((i, try dataset.frames(i))) } catch let e as DataError {
                    skipped.append(SkippedSample(index: i, error: e.atSample(i)))
                }
            }
        }
        let indices = skipBad ? decoded.map { $0.0 } : wanted
        let T = dataset.timeSteps
        let shape = dataset.frameShape
        let f = shape.reduce(1, *)
        let B = indices.count
        var out = [Float](repeating: 0, count: T * B * f)
        var labels = [Int]()
        labels.reserveCapacity(B)
        for (b, i) in indices.enumerated() {
            guard i >= 0 && i < dataset.count else {
                throw DataError(.argument, sample: i, "sample index \(i) (expected 0..<\(dataset.count))")
            }
            let l = dataset.label(i)
            guard l >= 0 && l < dataset.classCount else {
                throw DataError(.label, sample: i, "label \(l) (expected 0...\(dataset.classCount - 1))")
            }
            labels.append(l)
            let x = skipBad ? decoded[b].1 : try dataset.frames(i)
            guard x.shape == [T] + shape else {
                throw DataError(.argument, sample: i, "frames shaped \(x.shape) (expected \([T] + shape))")
            }
            x.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for t in 0..<T {
                        let d = (t * B + b) * f
                        for k in 0..<f { dst[d + k] = src[t * f + k] }
                    }
                }
            }
        }
        return (Batch(inputs: Tensor(shape: [T, B] + shape, data: out), labels: labels, indices: indices), skipped)
    }
}
