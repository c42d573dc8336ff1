import SNNTensor

/// A dataset whose frames are those of `base` passed through a function (downsampling, time
/// binning, fixed length...). The function must return `[timeSteps] + frameShape`.
public struct TransformedDataset: FrameDataset {
    public let base: any FrameDataset
    public let frameShape: [Int]
    public let timeSteps: Int
    public let transform: @Sendable (Tensor) throws -> Tensor

    public init(_ base: any FrameDataset, frameShape: [Int], timeSteps: Int, transform: @escaping @Sendable (Tensor) throws -> Tensor) {
        self.base = base
        self.frameShape = frameShape
        self.timeSteps = timeSteps
        self.transform = transform
    }

    public var count: Int { base.count }
    public var classCount: Int { base.classCount }
    public func label(_ index: Int) -> Int { base.label(index) }
    public func frames(_ index: Int) throws -> Tensor {
        let y = try transform(try base.frames(index))
        guard y.shape == [timeSteps] + frameShape else {
            throw DataError(.argument, sample: index, "transform gave \(y.shape) (expected \([timeSteps] + frameShape))")
        }
        return y
    }
}

extension FrameDataset {
    /// Sum-pools the frames' last two dimensions by `factor` (see ``FrameTransforms/downsample(_:factor:)``).
    public func downsampled(by factor: Int) -> TransformedDataset {
        var shape = frameShape
        precondition(shape.count >= 2, "downsampled(by:) needs frames with height and width")
        shape[shape.count - 2] /= factor
        shape[shape.count - 1] /= factor
        return TransformedDataset(self, frameShape: shape, timeSteps: timeSteps) { FrameTransforms.downsample($0, factor: factor) }
    }

    /// Cuts or zero-pads to exactly `steps` frames.
    public func fixedLength(_ steps: Int) -> TransformedDataset {
        TransformedDataset(self, frameShape: frameShape, timeSteps: steps) { FrameTransforms.fixedLength($0, timeSteps: steps) }
    }

    /// Sums groups of `factor` consecutive frames.
    public func timeBinned(by factor: Int) -> TransformedDataset {
        TransformedDataset(self, frameShape: frameShape, timeSteps: (timeSteps + factor - 1) / factor) {
            FrameTransforms.binTime($0, factor: factor)
        }
    }
}
