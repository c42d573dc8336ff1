/// Geometry of a 2-D convolution or pooling window over `[channels, height, width]` maps.
public struct Conv2DGeometry: Sendable, Hashable, Codable {
    public var inChannels: Int, inHeight: Int, inWidth: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int, padding: Int

    public init(inChannels: Int, inHeight: Int, inWidth: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.kernelHeight = kernel; self.kernelWidth = kernel; self.stride = stride; self.padding = padding
    }

    /// Output height: `(H + 2 p - k) / s + 1`.
    public var outHeight: Int { (inHeight + 2 * padding - kernelHeight) / stride + 1 }
    /// Output width: `(W + 2 p - k) / s + 1`.
    public var outWidth: Int { (inWidth + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the unfolded (im2col) matrix: `C * kh * kw`.
    public var patchSize: Int { inChannels * kernelHeight * kernelWidth }
    /// Input elements per sample.
    public var inSize: Int { inChannels * inHeight * inWidth }
    /// Output positions per channel.
    public var outPositions: Int { outHeight * outWidth }
}

/// Unfolds one `[C, H, W]` map into the `[C*kh*kw, Ho*Wo]` patch matrix (zero padding).
public func im2col(_ x: UnsafePointer<Float>, _ g: Conv2DGeometry, _ cols: UnsafeMutablePointer<Float>) {
    let ho = g.outHeight, wo = g.outWidth
    var row = 0
    for c in 0..<g.inChannels {
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                let dst = cols + row * ho * wo
                for oy in 0..<ho {
                    let iy = oy * g.stride - g.padding + ky
                    let d = dst + oy * wo
                    if iy < 0 || iy >= g.inHeight { d.update(repeating: 0, count: wo); continue }
                    let src = x + (c * g.inHeight + iy) * g.inWidth
                    for ox in 0..<wo {
                        let ix = ox * g.stride - g.padding + kx
                        d[ox] = (ix >= 0 && ix < g.inWidth) ? src[ix] : 0
                    }
                }
                row += 1
            }
        }
    }
}

/// Folds a `[C*kh*kw, Ho*Wo]` patch matrix back, adding into one `[C, H, W]` map (the adjoint of ``im2col(_:_:_:)``).
public func col2imAdd(_ cols: UnsafePointer<Float>, _ g: Conv2DGeometry, _ x: UnsafeMutablePointer<Float>) {
    let ho = g.outHeight, wo = g.outWidth
    var row = 0
    for c in 0..<g.inChannels {
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                let src = cols + row * ho * wo
                for oy in 0..<ho {
                    let iy = oy * g.stride - g.padding + ky
                    if iy < 0 || iy >= g.inHeight { continue }
                    let dst = x + (c * g.inHeight + iy) * g.inWidth
                    for ox in 0..<wo {
                        let ix = ox * g.stride - g.padding + kx
                        if ix >= 0 && ix < g.inWidth { dst[ix] += src[oy * wo + ox] }
                    }
                }
                row += 1
            }
        }
    }
}

/// 2-D convolution (cross-correlation, no bias) of a batch.
///
/// - Parameters:
///   - input: `[batch, C, H, W]` values.
///   - weight: `[O, C, kh, kw]` values.
///   - output: `[batch, O, Ho, Wo]`, overwritten.
/// Samples are split over the cores.
public func conv2dForward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                          geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>) {
    let inSize = g.inSize, outSize = outChannels * g.outPositions
    parallelFor(batch) { samples in
        var cols = [Float](repeating: 0, count: g.patchSize * g.outPositions)
        cols.withUnsafeMutableBufferPointer { cb in
            for s in samples {
                im2col(input + s * inSize, g, cb.baseAddress!)
                gemm(m: outChannels, n: g.outPositions, k: g.patchSize, a: weight, lda: g.patchSize,
                     b: cb.baseAddress!, ldb: g.outPositions, c: output + s * outSize, ldc: g.outPositions, parallel: false)
            }
        }
    }
}

/// Gradients of ``conv2dForward(input:batch:weight:outChannels:geometry:output:)``.
///
/// - `weightGradient` (`[O, C, kh, kw]`) is *accumulated* (added to).
/// - `inputGradient` (`[batch, C, H, W]`), when given, is overwritten.
public func conv2dBackward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                           geometry g: Conv2DGeometry, outputGradient: UnsafePointer<Float>,
                           weightGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?) {
    let inSize = g.inSize, outSize = outChannels * g.outPositions
    let wCount = outChannels * g.patchSize
    let chunks = max(1, min(Parallelism.threadCount, batch))
    var partial = [Float](repeating: 0, count: chunks * wCount)
    partial.withUnsafeMutableBufferPointer { pp in
        let partialBase = pp.baseAddress!
        concurrentPerform(chunks) { chunk in
            let lo = batch * chunk / chunks, hi = batch * (chunk + 1) / chunks
            let dW = partialBase + chunk * wCount
            var cols = [Float](repeating: 0, count: g.patchSize * g.outPositions)
            cols.withUnsafeMutableBufferPointer { cb in
                let colsP = cb.baseAddress!
                for s in lo..<hi {
                    let dy = outputGradient + s * outSize
                    im2col(input + s * inSize, g, colsP)
                    // dW[O, P] += dY[O, HW] * cols[P, HW]^T
                    gemm(m: outChannels, n: g.patchSize, k: g.outPositions, a: dy, lda: g.outPositions,
                         b: colsP, ldb: g.outPositions, transB: true, c: dW, ldc: g.patchSize, beta: 1, parallel: false)
                    if let dx = inputGradient {
                        // dCols[P, HW] = W[O, P]^T * dY[O, HW]
                        gemm(m: g.patchSize, n: g.outPositions, k: outChannels, a: weight, lda: g.patchSize, transA: true,
                             b: dy, ldb: g.outPositions, c: colsP, ldc: g.outPositions, parallel: false)
                        let dxs = dx + s * inSize
                        dxs.update(repeating: 0, count: inSize)
                        col2imAdd(colsP, g, dxs)
                    }
                }
            }
        }
        for chunk in 0..<chunks {
            let src = partialBase + chunk * wCount
            for i in 0..<wCount { weightGradient[i] += src[i] }
        }
    }
}

