import SNNTensor

/// Static images as BNTT's reference code feeds them (Kim & Panda 2020): each image is normalised per
/// channel, `p = (x - mean_c) / std_c`; at every time step each pixel fires with probability
/// `min(1, |p| / 2)` and the spike carries `sign(p)` (signed, ternary input). Training images may be
/// augmented first by a random crop (zero padding 4, same size) and a horizontal flip (CIFAR-10).
///
/// The draws depend on `(seed, epoch, sample, step, pixel)` through ``CounterRNG``: fresh every epoch,
/// reproducible, independent of batching and threads. ``forEpoch(_:)`` gives the next epoch's draws.
public struct SignedRateImages: FrameDataset {
    /// The images (intensities in `[0, 1]`).
    public let images: StaticImageDataset
    /// For each sample, its index in `images`.
    public let indices: [Int]
    /// Per-channel mean and standard deviation used for the normalisation.
    public let mean: [Float], std: [Float]
    /// Random crop (pad 4) and horizontal flip; only for `[C, H, W]` images.
    public let augment: Bool
    /// Selects the random draws (use ``forEpoch(_:)``).
    public let epoch: Int
    public let seed: UInt64
    public let timeSteps: Int

    public init(images: StaticImageDataset, indices: [Int]? = nil, mean: [Float], std: [Float], augment: Bool,
                timeSteps: Int, seed: UInt64, epoch: Int = 0) throws {
        let channels = images.imageShape.count == 3 ? images.imageShape[0] : 1
        guard mean.count == channels, std.count == channels, std.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw DataError(.argument, "signed rate coding needs \(channels) means and positive standard deviations")
        }
        guard timeSteps > 0 else { throw DataError(.argument, "timeSteps \(timeSteps) (expected > 0)") }
        let idx = indices ?? Array(0..<images.count)
        guard idx.allSatisfy({ $0 >= 0 && $0 < images.count }) else { throw DataError(.argument, "sample index outside the images") }
        self.images = images; self.indices = idx; self.mean = mean; self.std = std
        self.augment = augment && images.imageShape.count == 3
        self.timeSteps = timeSteps; self.seed = seed; self.epoch = epoch
    }

    /// Per-channel mean and standard deviation of `images` over the samples `indices`.
    public static func channelStatistics(_ images: StaticImageDataset, indices: [Int]) -> (mean: [Float], std: [Float]) {
        let shape = images.imageShape
        let channels = shape.count == 3 ? shape[0] : 1
        let n = shape.reduce(1, *), perChannel = n / channels
        var sum = [Double](repeating: 0, count: channels), sq = sum
        images.pixels.withUnsafeBufferPointer { p in
            for i in indices {
                for c in 0..<channels {
                    var s: Double = 0, q: Double = 0
                    for k in 0..<perChannel { let v = Double(p[i * n + c * perChannel + k]); s += v; q += v * v }
                    sum[c] += s; sq[c] += q
                }
            }
        }
        let count = Double(max(indices.count * perChannel, 1))
        let mean = sum.map { $0 / count }
        let std = zip(sq, mean).map { max(($0 / count - $1 * $1).squareRoot(), 1e-6) }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// The same samples with the draws of epoch `e`.
    public func forEpoch(_ e: Int) -> SignedRateImages {
        try! SignedRateImages(images: images, indices: indices, mean: mean, std: std, augment: augment,
                              timeSteps: timeSteps, seed: seed, epoch: e)
    }

    public var count: Int { indices.count }
    public var frameShape: [Int] { images.imageShape }
    public var classCount: Int { images.classCount }
    public func label(_ index: Int) -> Int { images.label(indices[index]) }

    public func frames(_ index: Int) throws -> Tensor {
        guard index >= 0 && index < count else {
            throw DataError(.argument, sample: index, "sample index \(index) (expected 0..<\(count))")
        }
        let sample = indices[index]
        let shape = images.imageShape
        let n = shape.reduce(1, *)
        let channels = shape.count == 3 ? shape[0] : 1
        let perChannel = n / channels
        let rng = CounterRNG(seed: seed &+ UInt64(bitPattern: Int64(epoch)) &* 0x9E37_79B9_7F4A_7C15)
        let stream = UInt64(sample)
        // Normalised (and augmented) image.
        var p = [Float](repeating: 0, count: n)
        images.pixels.withUnsafeBufferPointer { px in
            let base = sample * n
            if augment {
                let h = shape[1], w = shape[2]
                let dy = Int(rng.uniform(stream: stream | (1 << 62), counter: 0) * 9) - 4
                let dx = Int(rng.uniform(stream: stream | (1 << 62), counter: 1) * 9) - 4
                let flip = rng.uniform(stream: stream | (1 << 62), counter: 2) < 0.5
                for c in 0..<channels {
                    for y in 0..<h {
                        for x in 0..<w {
                            let sy = y + dy, sxRaw = x + dx
                            let sx = flip ? (w - 1 - sxRaw) : sxRaw
                            // Zero padding in pixel space (then normalised like any black pixel).
                            let v: Float = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? px[base + c * perChannel + sy * w + sx] : 0
                            p[c * perChannel + y * w + x] = (v - mean[c]) / std[c]
                        }
                    }
                }
            } else {
                for c in 0..<channels {
                    for k in 0..<perChannel { p[c * perChannel + k] = (px[base + c * perChannel + k] - mean[c]) / std[c] }
                }
            }
        }
        var out = [Float](repeating: 0, count: timeSteps * n)
        for t in 0..<timeSteps {
            for j in 0..<n {
                let u = rng.uniform(stream: stream, counter: UInt64(t * n + j))
                if u < min(1, abs(p[j]) / 2) { out[t * n + j] = p[j] > 0 ? 1 : -1 }
            }
        }
        return Tensor(shape: [timeSteps] + shape, data: out)
    }
}

extension SignedRateImages {
    /// The images and sample indices behind `dataset` when it is a ``StaticImageDataset`` or a subset of one.
    public static func unwrap(_ dataset: any FrameDataset) -> (StaticImageDataset, [Int])? {
        if let s = dataset as? StaticImageDataset { return (s, Array(0..<s.count)) }
        if let d = dataset as? DigitsDataset { return (d.images, Array(0..<d.count)) }
        if let sub = dataset as? SubsetDataset, let (images, idx) = unwrap(sub.base) { return (images, sub.indices.map { idx[$0] }) }
        return nil
    }
}
