import SNNTensor

/// Transforms of frame tensors shaped `[T, ...]` (time first), as ``FrameDataset/frames(_:)`` returns.
public enum FrameTransforms {
    /// Sum-pools the last two dimensions (height, width) by `factor`: `[T, C, H, W]` becomes
    /// `[T, C, H / factor, W / factor]` (a partial last row or column of blocks is dropped).
    /// Event counts are preserved except for the dropped border.
    public static func downsample(_ x: Tensor, factor: Int) -> Tensor {
        precondition(factor >= 1 && x.rank >= 2, "downsample: factor \(factor), shape \(x.shape)")
        if factor == 1 { return x }
        let h = x.shape[x.rank - 2], w = x.shape[x.rank - 1]
        let oh = h / factor, ow = w / factor
        let planes = x.count / max(1, h * w)
        var out = Tensor(shape: Array(x.shape.dropLast(2)) + [oh, ow])
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for p in 0..<planes {
                    for y in 0..<(oh * factor) {
                        for xx in 0..<(ow * factor) {
                            dst[p * oh * ow + (y / factor) * ow + xx / factor] += src[p * h * w + y * w + xx]
                        }
                    }
                }
            }
        }
        return out
    }

    /// Exactly `timeSteps` frames: later frames are cut, missing ones are zeros appended at the end.
    public static func fixedLength(_ x: Tensor, timeSteps: Int) -> Tensor {
        precondition(x.rank >= 1 && timeSteps >= 0)
        let inner = Array(x.shape.dropFirst())
        let f = inner.reduce(1, *)
        var data = Array(x.data.prefix(min(x.shape[0], timeSteps) * f))
        data += [Float](repeating: 0, count: timeSteps * f - data.count)
        return Tensor(shape: [timeSteps] + inner, data: data)
    }

    /// Sums groups of `factor` consecutive frames: `[T, ...]` becomes `[ceil(T / factor), ...]`.
    public static func binTime(_ x: Tensor, factor: Int) -> Tensor {
        precondition(factor >= 1 && x.rank >= 1)
        let inner = Array(x.shape.dropFirst())
        let f = inner.reduce(1, *)
        let t = (x.shape[0] + factor - 1) / factor
        var out = Tensor(shape: [t] + inner)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for s in 0..<x.shape[0] {
                    for k in 0..<f { dst[(s / factor) * f + k] += src[s * f + k] }
                }
            }
        }
        return out
    }

    /// Clips every value to at most `limit` (e.g. 1 to turn counts into binary spikes).
    public static func clip(_ x: Tensor, to limit: Float) -> Tensor {
        Tensor(shape: x.shape, data: x.data.map { min($0, limit) })
    }
}
