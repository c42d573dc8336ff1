/// Dense 2-D convolution computed straight from the (zero-padded) input maps, without unfolding
/// patches (im2col) or packing panels: the dense path of
/// ``conv2dForward(input:batch:weight:outChannels:geometry:output:)``.
///
/// Every output is summed exactly as ``gemmDense(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:microKernel:)``
/// sums it from the unfolded patches: over the patch index `k = (c * kh + ky) * kw + kx` in blocks of
/// ``gemmKC``, each block from zero in ascending `k` with separate multiply and add (padding positions
/// contribute `w * 0`), the first block stored and later ones added. So the result is bit for bit the
/// im2col-and-GEMM result, at about a third less memory traffic: the patch matrix was written, then
/// copied into panels, then read.
///
/// The register tile is 4 output channels by 16 (or 8) output columns of one output row; the inputs a
/// tap needs are one contiguous run of a ``PhasePlanes`` row (for stride `s` the padded map is split
/// into `s x s` phase planes, so that consecutive outputs read consecutive values).
///
/// - Parameters:
///   - input: `[batch, C, H, W]`.
///   - weight: `[O, C, kh, kw]`.
///   - output: `[batch, O, Ho, Wo]`, overwritten.
func conv2dForwardDirect(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                         geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>) {
    let o = outChannels, p = g.patchSize, ho = g.outHeight, wo = g.outWidth, positions = g.outPositions
    guard batch > 0, o > 0, p > 0, positions > 0 else { return }
    let planes = PhasePlanes(g)
    let wp = planes.rowLength
    // Weights as [P, O4] (O rounded up to 4 with zero rows): a tap's four broadcasts are adjacent.
    let o4 = (o + 3) / 4 * 4
    let wk = UnsafeMutablePointer<Float>.allocate(capacity: p * o4)
    wk.initialize(repeating: 0, count: p * o4)
    defer { wk.deallocate() }
    for oc in 0..<o { for k in 0..<p { wk[k * o4 + oc] = weight[oc * p + k] } }
    // Offset of tap k's input in the phase planes, relative to the output position's.
    let taps = UnsafeMutablePointer<Int>.allocate(capacity: p)
    defer { taps.deallocate() }
    for k in 0..<p { taps[k] = planes.tapOffset(k) }
    let wkc = UnsafePointer(wk), tapsc = UnsafePointer(taps)
    parallelFor(batch, minimumChunk: 1) { samples in
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: planes.count)
        padded.initialize(repeating: 0, count: planes.count)
        defer { padded.deallocate() }
        for s in samples {
            planes.fill(input + s * g.inSize, padded)
            let y = output + s * o * positions
            var k0 = 0
            while k0 < p {
                let kc = min(gemmKC, p - k0)
                let add = k0 != 0
                for oy in 0..<ho {
                    let row = UnsafePointer(padded) + oy * wp
                    var oc = 0
                    while oc < o {
                        let rows = min(4, o - oc)
                        let dst = y + oc * positions + oy * wo
                        let wb = wkc + k0 * o4 + oc
                        var ox = 0
                        while ox + 16 <= wo {
                            directTile16(row + ox, taps: tapsc + k0, kc: kc, weights: wb, o4: o4,
                                         out: dst + ox, ldo: positions, rows: rows, add: add)
                            ox += 16
                        }
                        if ox + 8 <= wo {
                            directTile8(row + ox, taps: tapsc + k0, kc: kc, weights: wb, o4: o4,
                                        out: dst + ox, ldo: positions, rows: rows, add: add)
                            ox += 8
                        }
                        while ox < wo {
                            // Columns left over: one at a time, same chain per output.
                            for r in 0..<rows {
                                var acc: Float = 0
                                for k in 0..<kc { acc += wb[k * o4 + r] * row[ox + tapsc[k0 + k]] }
                                let d = dst + r * positions + ox
                                if add { d.pointee += acc } else { d.pointee = acc }
                            }
                            ox += 1
                        }
                        oc += 4
                    }
                }
                k0 += kc
            }
        }
    }
}

/// Four output channels by 16 output columns: `acc[r][j] = sum_k weights[k * o4 + r] * row[j + taps[k]]`
/// from zero in ascending `k` (separate multiply and add), stored or added into `out[r * ldo + j]` for
/// the first `rows` channels.
@inline(__always)
private func directTile16(_ row: UnsafePointer<Float>, taps: UnsafePointer<Int>, kc: Int, weights: UnsafePointer<Float>,
                          o4: Int, out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, add: Bool) {
    var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
    var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
    var wp = weights
    for k in 0..<kc {
        let src = row + taps[k]
        let b0 = ld8(src), b1 = ld8(src + 8)
        var s = SIMD8<Float>(repeating: wp[0]); c00 += s * b0; c01 += s * b1
        s = SIMD8<Float>(repeating: wp[1]); c10 += s * b0; c11 += s * b1
        s = SIMD8<Float>(repeating: wp[2]); c20 += s * b0; c21 += s * b1
        s = SIMD8<Float>(repeating: wp[3]); c30 += s * b0; c31 += s * b1
        wp += o4
    }
    let mode = add ? 1 : 0
    writeBack8(out, c00, mode, 0); writeBack8(out + 8, c01, mode, 0)
    if rows > 1 { writeBack8(out + ldo, c10, mode, 0); writeBack8(out + ldo + 8, c11, mode, 0) }
    if rows > 2 { writeBack8(out + 2 * ldo, c20, mode, 0); writeBack8(out + 2 * ldo + 8, c21, mode, 0) }
    if rows > 3 { writeBack8(out + 3 * ldo, c30, mode, 0); writeBack8(out + 3 * ldo + 8, c31, mode, 0) }
}

/// ``directTile16`` for 8 output columns (rows 8 to 15 wide, and the rest of wider rows).
@inline(__always)
private func directTile8(_ row: UnsafePointer<Float>, taps: UnsafePointer<Int>, kc: Int, weights: UnsafePointer<Float>,
                         o4: Int, out: UnsafeMutablePointer<Float>, ldo: Int, rows: Int, add: Bool) {
    var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
    var wp = weights
    for k in 0..<kc {
        let b = ld8(row + taps[k])
        c0 += SIMD8<Float>(repeating: wp[0]) * b
        c1 += SIMD8<Float>(repeating: wp[1]) * b
        c2 += SIMD8<Float>(repeating: wp[2]) * b
        c3 += SIMD8<Float>(repeating: wp[3]) * b
        wp += o4
    }
    let mode = add ? 1 : 0
    writeBack8(out, c0, mode, 0)
    if rows > 1 { writeBack8(out + ldo, c1, mode, 0) }
    if rows > 2 { writeBack8(out + 2 * ldo, c2, mode, 0) }
    if rows > 3 { writeBack8(out + 3 * ldo, c3, mode, 0) }
}

/// The input gradient of a stride-1 convolution as a direct convolution: `dx` (`[batch, C, H, W]`,
/// overwritten) is the full correlation of `dy` (`[batch, O, Ho, Wo]`) with the kernel flipped in
/// both axes and its channel axes swapped, at padding `k - 1 - p` (``conv2dForwardDirect`` on those
/// weights). Each input's gradient is summed over `(o, ky', kx')` of the flipped kernel in ascending
/// order, in blocks of ``gemmKC``. Needs `padding <= kernel - 1`. A 3x3 kernel with padding 1 on maps
/// `Winograd3x3` fits (even height, width a multiple of 16, at least 8 output channels) takes Winograd's
/// F(2x2, 3x3) instead: other sums, the same at any thread count.
func convInputGradientDirect(outputGradient dy: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>,
                             outChannels o: Int, geometry g: Conv2DGeometry, inputGradient dx: UnsafeMutablePointer<Float>) {
    let k = g.kernelHeight, c = g.inChannels, kk = k * k
    precondition(g.stride == 1 && g.kernelWidth == k && g.padding <= k - 1,
                 "convInputGradientDirect: stride 1, a square kernel and padding below it")
    let flipped = UnsafeMutablePointer<Float>.allocate(capacity: max(1, c * o * kk))
    defer { flipped.deallocate() }
    for oc in 0..<o {
        for ci in 0..<c {
            for ky in 0..<k {
                for kx in 0..<k {
                    flipped[(ci * o + oc) * kk + (k - 1 - ky) * k + (k - 1 - kx)] = weight[(oc * c + ci) * kk + ky * k + kx]
                }
            }
        }
    }
    let transposed = Conv2DGeometry(inChannels: o, inHeight: g.outHeight, inWidth: g.outWidth, kernel: k, stride: 1,
                                    padding: k - 1 - g.padding)
    if Winograd3x3.applies(transposed) {
        Winograd3x3.forward(input: dy, batch: batch, weight: flipped, outChannels: c, geometry: transposed, output: dx)
        return
    }
    conv2dForwardDirect(input: dy, batch: batch, weight: flipped, outChannels: c, geometry: transposed, output: dx)
}

/// Adds one sample's weight gradient of a convolution into `dWt` (`[P, O]`, P = C*kh*kw),
/// straight from the padded input maps: `dWt[k, o] += sum_pos x(k, pos) * dyT[pos, o]`, where
/// `x(k, pos)` is the input tap `k` reaches from output position `pos` (0 in the padding).
///
/// Every element is summed exactly as ``gemmDense(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:microKernel:)``
/// with `beta = 1` sums the product of the unfolded patches (`cols`, `[P, Ho*Wo]`) and `dyT`: over the
/// positions in blocks of ``gemmKC``, each block from zero in ascending position with separate multiply
/// and add, then added into `dWt`. So it is bit for bit `im2col` followed by that GEMM, without writing
/// the patch matrix or packing it.
///
/// - Parameters:
///   - padded: the sample's input as ``PhasePlanes`` (zero padding and zero plane included).
///   - dyT: the sample's output gradient as `[Ho*Wo, O]`.
///   - dWt: `[P, O]`, added to.
func convWeightGradientDirect(padded: UnsafePointer<Float>, geometry g: Conv2DGeometry, outChannels o: Int,
                              dyT: UnsafePointer<Float>, dWt: UnsafeMutablePointer<Float>) {
    let p = g.patchSize, wo = g.outWidth, positions = g.outPositions
    guard p > 0, o > 0, positions > 0 else { return }
    let planes = PhasePlanes(g)
    let wp = planes.rowLength
    func tap(_ k: Int) -> Int { k < p ? planes.tapOffset(k) : planes.zeroOffset }
    var k0 = 0
    while k0 < p {
        let rows = min(4, p - k0)
        let t0 = tap(k0), t1 = tap(k0 + 1), t2 = tap(k0 + 2), t3 = tap(k0 + 3)
        var o0 = 0
        while o0 + 16 <= o {
            var pos = 0
            while pos < positions {
                let end = min(positions, pos + gemmKC)
                var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
                var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
                forEachRowRun(from: pos, to: end, width: wo) { q, oy, ox, run in
                    let xb = padded + oy * wp + ox
                    var dyp = dyT + q * o + o0
                    for j in 0..<run {
                        let b0 = ld8(dyp), b1 = ld8(dyp + 8)
                        var s = SIMD8<Float>(repeating: xb[t0 + j]); c00 += s * b0; c01 += s * b1
                        s = SIMD8<Float>(repeating: xb[t1 + j]); c10 += s * b0; c11 += s * b1
                        s = SIMD8<Float>(repeating: xb[t2 + j]); c20 += s * b0; c21 += s * b1
                        s = SIMD8<Float>(repeating: xb[t3 + j]); c30 += s * b0; c31 += s * b1
                        dyp += o
                    }
                }
                let d = dWt + k0 * o + o0
                writeBack8(d, c00, 1, 1); writeBack8(d + 8, c01, 1, 1)
                if rows > 1 { writeBack8(d + o, c10, 1, 1); writeBack8(d + o + 8, c11, 1, 1) }
                if rows > 2 { writeBack8(d + 2 * o, c20, 1, 1); writeBack8(d + 2 * o + 8, c21, 1, 1) }
                if rows > 3 { writeBack8(d + 3 * o, c30, 1, 1); writeBack8(d + 3 * o + 8, c31, 1, 1) }
                pos = end
            }
            o0 += 16
        }
        if o0 + 8 <= o {
            // Eight output channels: one SIMD8 per tap row.
            var pos = 0
            while pos < positions {
                let end = min(positions, pos + gemmKC)
                var c0 = SIMD8<Float>(), c1 = SIMD8<Float>(), c2 = SIMD8<Float>(), c3 = SIMD8<Float>()
                forEachRowRun(from: pos, to: end, width: wo) { q, oy, ox, run in
                    let xb = padded + oy * wp + ox
                    var dyp = dyT + q * o + o0
                    for j in 0..<run {
                        let b = ld8(dyp)
                        c0 += SIMD8<Float>(repeating: xb[t0 + j]) * b
                        c1 += SIMD8<Float>(repeating: xb[t1 + j]) * b
                        c2 += SIMD8<Float>(repeating: xb[t2 + j]) * b
                        c3 += SIMD8<Float>(repeating: xb[t3 + j]) * b
                        dyp += o
                    }
                }
                let d = dWt + k0 * o + o0
                writeBack8(d, c0, 1, 1)
                if rows > 1 { writeBack8(d + o, c1, 1, 1) }
                if rows > 2 { writeBack8(d + 2 * o, c2, 1, 1) }
                if rows > 3 { writeBack8(d + 3 * o, c3, 1, 1) }
                pos = end
            }
            o0 += 8
        }
        // Output channels left over (fewer than 8): one element at a time, the same chain.
        if o0 < o {
            for r in 0..<rows {
                let t = tap(k0 + r)
                for oc in o0..<o {
                    var pos = 0
                    while pos < positions {
                        let end = min(positions, pos + gemmKC)
                        var acc: Float = 0
                        forEachRowRun(from: pos, to: end, width: wo) { q, oy, ox, run in
                            let xb = padded + oy * wp + ox + t
                            for j in 0..<run { acc += xb[j] * dyT[(q + j) * o + oc] }
                        }
                        dWt[(k0 + r) * o + oc] += acc
                        pos = end
                    }
                }
            }
        }
        k0 += 4
    }
}

/// Calls `body(q, oy, ox, run)` for the runs of output positions `q ..< q + run` in `start ..< end` that lie
/// in one output row (`q = oy * width + ox`), in ascending order.
@inline(__always)
func forEachRowRun(from start: Int, to end: Int, width: Int, _ body: (_ q: Int, _ oy: Int, _ ox: Int, _ run: Int) -> Void) {
    var q = start
    while q < end {
        let oy = q / width, ox = q - oy * width
        let run = min(end - q, width - ox)
        body(q, oy, ox, run)
        q += run
    }
}

/// A `[C, H, W]` map zero-padded and split into phase planes for the direct convolution kernels.
///
/// Padded position `(Y, X)` (`Y = iy + pad`, `X = ix + pad`) of channel `c` lies in phase plane
/// `(Y mod s, X mod s)` at `(Y / s, X / s)`; planes are `rows x rowLength` (the padded size divided by
/// the stride, rounded up), stored `[C, s, s, rows, rowLength]`, followed by one zero plane. Output
/// `(oy, ox)` reads tap `(c, ky, kx)` at `tapOffset(k) + oy * rowLength + ox`: consecutive outputs of a
/// row read consecutive values. With stride 1 this is the padded map itself.
struct PhasePlanes {
    let g: Conv2DGeometry
    let rows: Int, rowLength: Int, plane: Int
    /// Floats the planes take (the zero plane included).
    let count: Int

    init(_ g: Conv2DGeometry) {
        self.g = g
        let s = g.stride
        rows = (g.inHeight + 2 * g.padding + s - 1) / s
        rowLength = (g.inWidth + 2 * g.padding + s - 1) / s
        plane = rows * rowLength
        count = (g.inChannels * s * s + 1) * plane
    }

    /// The offset tap `k = (c * kh + ky) * kw + kx` reads from, for output `(0, 0)`.
    func tapOffset(_ k: Int) -> Int {
        let kh = g.kernelHeight, kw = g.kernelWidth, s = g.stride
        let c = k / (kh * kw), ky = (k / kw) % kh, kx = k % kw
        return ((c * s + ky % s) * s + kx % s) * plane + (ky / s) * rowLength + kx / s
    }

    /// The zero plane (what the missing taps of a partial tile read).
    var zeroOffset: Int { g.inChannels * g.stride * g.stride * plane }

    /// Writes one `[C, H, W]` map into planes whose padding (and zero plane) already hold zeros.
    func fill(_ x: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        let h = g.inHeight, w = g.inWidth, pad = g.padding, s = g.stride
        for c in 0..<g.inChannels {
            for iy in 0..<h {
                let src = x + (c * h + iy) * w
                let y = iy + pad
                if s == 1 {
                    (dst + c * plane + y * rowLength + pad).update(from: src, count: w)
                    continue
                }
                let rowBase = dst + (c * s + y % s) * s * plane + (y / s) * rowLength
                for ix in 0..<w {
                    let xx = ix + pad
                    rowBase[(xx % s) * plane + xx / s] = src[ix]
                }
            }
        }
    }
}
