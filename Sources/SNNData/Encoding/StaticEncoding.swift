import SNNTensor

/// How a static image (intensities in `[0, 1]`) becomes `T` input frames.
public enum StaticEncoding: Sendable, Equatable {
    /// The same analog frame at every time step (the first layer acts as the encoder).
    case direct
    /// Rate coding: at each step each pixel spikes (value 1) with probability equal to its
    /// intensity. The draw for `(seed, sample index, step, pixel)` comes from ``CounterRNG``
    /// (stream = sample index, counter = step * pixels + pixel), so it is reproducible and
    /// independent of batching and threads.
    case poisson

    /// Encodes one image (`pixels` values in `[0, 1]`) into `[timeSteps * pixels]` values.
    public func encode(_ pixels: UnsafeBufferPointer<Float>, timeSteps: Int, seed: UInt64, sample: Int) -> [Float] {
        let n = pixels.count
        var out = [Float](repeating: 0, count: timeSteps * n)
        switch self {
        case .direct:
            out.withUnsafeMutableBufferPointer { o in
                for t in 0..<timeSteps {
                    for p in 0..<n { o[t * n + p] = pixels[p] }
                }
            }
        case .poisson:
            let rng = CounterRNG(seed: seed)
            let stream = UInt64(bitPattern: Int64(sample))
            out.withUnsafeMutableBufferPointer { o in
                for t in 0..<timeSteps {
                    for p in 0..<n {
                        let u = rng.uniform(stream: stream, counter: UInt64(t * n + p))
                        o[t * n + p] = u < pixels[p] ? 1 : 0
                    }
                }
            }
        }
        return out
    }
}
