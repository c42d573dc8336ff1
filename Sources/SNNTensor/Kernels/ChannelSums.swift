/// Per-channel reductions of `[batch, C, spatial]` maps in double precision, as batch normalisation
/// needs them (mean, variance, and the two sums of its backward pass), in an order fixed by the shape
/// alone (never by the thread count):
///
/// - `spatial < ChannelChains.laneThreshold` (dense layers, tiny maps): each channel's total is the
///   plain loop `for map in maps { for b in 0..<batch { var acc = 0.0; for k in 0..<spatial { acc += term }; total[c] += acc } }`,
///   eight channels' chains side by side (one SIMD lane a channel).
/// - `spatial >= ChannelChains.laneThreshold` (conv maps): each channel in 16 Double lanes, the order of
///   ``ChannelChains`` carried on map after map: lane `j` adds, map after map and sample after sample,
///   the terms at positions `k ≡ j (mod 16)` below the last full block of 16; a scalar chain adds the
///   rest in memory order; `total[c] += fold(lanes) + tail` (the fold of `ChannelChains.laneTotal`).
///   The per-sample chains of the plain loop gathered eight channels' values at a time (strided loads,
///   about a tenth of BNTT training); the lanes read each channel's memory contiguously.
///
/// Channels are split over the cores.
public enum ChannelSums {
    /// Channels summed side by side in one pass.
    @usableFromInline static let lanes = 8

    /// Adds to `total[c]` (Double, `channels` values) the sum over `maps`, then the batch, of
    /// `sum_k (Double(x) - center[c])^2` when `center` is given, else `sum_k Double(x)`.
    /// `maps` are `[batch, channels, spatial]` floats.
    ///
    /// `squares` (only without `center`): also adds `sum_k Double(x)^2` to `squares[c]` in the same pass, the
    /// bits of a second call with `center` all zeros (batch norm's moments while the maps are read once).
    public static func accumulate(_ maps: [UnsafePointer<Float>], batch: Int, channels: Int, spatial: Int,
                                  center: UnsafePointer<Double>? = nil, into total: UnsafeMutablePointer<Double>,
                                  squares: UnsafeMutablePointer<Double>? = nil) {
        precondition(center == nil || squares == nil, "ChannelSums.accumulate: squares are of uncentred values")
        guard channels > 0, batch > 0, spatial > 0 else { return }
        if spatial >= ChannelChains.laneThreshold {
            parallelFor(channels, minimumChunk: max(1, 16_384 / max(1, batch * spatial * maps.count))) { range in
                for c in range {
                    if let squares {
                        let (sum, square) = laneMoments(maps, batch: batch, channels: channels, spatial: spatial, channel: c)
                        total[c] += sum
                        squares[c] += square
                    } else {
                        total[c] += laneTotal(maps, batch: batch, channels: channels, spatial: spatial, channel: c, center: center?[c])
                    }
                }
            }
            return
        }
        if let squares {
            // Small maps (dense layers): the two sums one after the other; cheap next to the layer's products.
            accumulate(maps, batch: batch, channels: channels, spatial: spatial, into: total)
            let zeros = [Double](repeating: 0, count: channels)
            zeros.withUnsafeBufferPointer {
                accumulate(maps, batch: batch, channels: channels, spatial: spatial, center: $0.baseAddress!, into: squares)
            }
            return
        }
        let blocks = (channels + lanes - 1) / lanes
        parallelFor(blocks, minimumChunk: max(1, 16_384 / max(1, lanes * batch * spatial * maps.count))) { range in
            for block in range {
                let c0 = block * lanes
                if c0 + lanes <= channels {
                    sumBlock(maps, batch: batch, channels: channels, spatial: spatial, c0: c0, center: center, total: total)
                } else {
                    for ch in c0..<channels {
                        let m = center?[ch] ?? 0
                        for x in maps {
                            for b in 0..<batch {
                                let p = x + (b * channels + ch) * spatial
                                var acc: Double = 0
                                if center != nil {
                                    for k in 0..<spatial { let d = Double(p[k]) - m; acc += d * d }
                                } else {
                                    for k in 0..<spatial { acc += Double(p[k]) }
                                }
                                total[ch] += acc
                            }
                        }
                    }
                }
            }
        }
    }

    /// One channel's `fold(lanes) + tail` over `maps` (`spatial >= ChannelChains.laneThreshold`): the sum
    /// of `Double(x)`, or of `(Double(x) - center)^2` when `center` is given.
    static func laneTotal(_ maps: [UnsafePointer<Float>], batch: Int, channels: Int, spatial: Int, channel c: Int,
                          center: Double?) -> Double {
        let full = spatial & ~15
        var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
        var tail: Double = 0
        let m = center ?? 0, m4 = SIMD4<Double>(repeating: m)
        for x in maps {
            for b in 0..<batch {
                let xp = x + (b * channels + c) * spatial
                var q = 0
                if center != nil {
                    while q < full {
                        let v = ChannelChains.load8(xp + q), w = ChannelChains.load8(xp + q + 8)
                        let d0 = ChannelChains.widen(v.lowHalf) - m4, d1 = ChannelChains.widen(v.highHalf) - m4
                        let d2 = ChannelChains.widen(w.lowHalf) - m4, d3 = ChannelChains.widen(w.highHalf) - m4
                        a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3
                        q += 16
                    }
                    while q < spatial { let d = Double(xp[q]) - m; tail += d * d; q += 1 }
                } else {
                    while q < full {
                        let v = ChannelChains.load8(xp + q), w = ChannelChains.load8(xp + q + 8)
                        a0 += ChannelChains.widen(v.lowHalf); a1 += ChannelChains.widen(v.highHalf)
                        a2 += ChannelChains.widen(w.lowHalf); a3 += ChannelChains.widen(w.highHalf)
                        q += 16
                    }
                    while q < spatial { tail += Double(xp[q]); q += 1 }
                }
            }
        }
        return ChannelChains.laneTotal(a0, a1, a2, a3) + tail
    }

    /// One channel's `laneTotal` of `Double(x)` and of `Double(x)^2` (`center` 0), from one read of the maps.
    static func laneMoments(_ maps: [UnsafePointer<Float>], batch: Int, channels: Int, spatial: Int,
                            channel c: Int) -> (sum: Double, squares: Double) {
        let full = spatial & ~15
        var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
        var q0 = SIMD4<Double>(), q1 = SIMD4<Double>(), q2 = SIMD4<Double>(), q3 = SIMD4<Double>()
        var tail: Double = 0, squareTail: Double = 0
        for x in maps {
            for b in 0..<batch {
                let xp = x + (b * channels + c) * spatial
                var k = 0
                while k < full {
                    let v = ChannelChains.load8(xp + k), w = ChannelChains.load8(xp + k + 8)
                    let d0 = ChannelChains.widen(v.lowHalf), d1 = ChannelChains.widen(v.highHalf)
                    let d2 = ChannelChains.widen(w.lowHalf), d3 = ChannelChains.widen(w.highHalf)
                    a0 += d0; a1 += d1; a2 += d2; a3 += d3
                    q0 += d0 * d0; q1 += d1 * d1; q2 += d2 * d2; q3 += d3 * d3
                    k += 16
                }
                while k < spatial { let d = Double(xp[k]); tail += d; squareTail += d * d; k += 1 }
            }
        }
        return (ChannelChains.laneTotal(a0, a1, a2, a3) + tail, ChannelChains.laneTotal(q0, q1, q2, q3) + squareTail)
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ stride: Int, _ k: Int, from first: Int) -> SIMD4<Double> {
        SIMD4(Double(p[first * stride + k]), Double(p[(first + 1) * stride + k]),
              Double(p[(first + 2) * stride + k]), Double(p[(first + 3) * stride + k]))
    }

    static func sumBlock(_ maps: [UnsafePointer<Float>], batch: Int, channels: Int, spatial: Int, c0: Int,
                         center: UnsafePointer<Double>?, total: UnsafeMutablePointer<Double>) {
        var t0 = SIMD4<Double>(), t1 = SIMD4<Double>()
        for l in 0..<4 { t0[l] = total[c0 + l]; t1[l] = total[c0 + 4 + l] }
        var m0 = SIMD4<Double>(), m1 = SIMD4<Double>()
        if let center { for l in 0..<4 { m0[l] = center[c0 + l]; m1[l] = center[c0 + 4 + l] } }
        for x in maps {
            for b in 0..<batch {
                let p = x + (b * channels + c0) * spatial
                var a0 = SIMD4<Double>(), a1 = SIMD4<Double>()
                if center != nil {
                    for k in 0..<spatial {
                        let d0 = load(p, spatial, k, from: 0) - m0, d1 = load(p, spatial, k, from: 4) - m1
                        a0 += d0 * d0; a1 += d1 * d1
                    }
                } else {
                    for k in 0..<spatial { a0 += load(p, spatial, k, from: 0); a1 += load(p, spatial, k, from: 4) }
                }
                t0 += a0; t1 += a1
            }
        }
        for l in 0..<4 { total[c0 + l] = t0[l]; total[c0 + 4 + l] = t1[l] }
    }

    /// The sums of batch normalisation's backward pass for one map pair. Below `ChannelChains.laneThreshold`
    /// positions, for every channel `c` and sample `b` (in that order), with `sg = sum_k Double(g)` and
    /// `sgh = sum_k Double(g) * Double(h)` over the sample's positions: `sumG[c] += sg`, `sumGH[c] += sgh`,
    /// `scaledG[c] += sg * Double(scale[c])`, `scaledGH[c] += sgh * Double(scale[c])`. From it on, `sg` and
    /// `sgh` are the channel's totals over the whole batch in the 16-lane order of the type's description,
    /// each added once. `g` and `h` are `[batch, channels, spatial]`.
    public static func accumulateGradient(g: UnsafePointer<Float>, h: UnsafePointer<Float>, batch: Int, channels: Int,
                                          spatial: Int, scale: UnsafePointer<Float>,
                                          sumG: UnsafeMutablePointer<Double>, sumGH: UnsafeMutablePointer<Double>,
                                          scaledG: UnsafeMutablePointer<Double>, scaledGH: UnsafeMutablePointer<Double>) {
        guard channels > 0, batch > 0, spatial > 0 else { return }
        if spatial >= ChannelChains.laneThreshold {
            parallelFor(channels, minimumChunk: max(1, 16_384 / max(1, 2 * batch * spatial))) { range in
                for ch in range {
                    let (sg, sgh) = gradientLaneTotals(g: g, h: h, batch: batch, channels: channels, spatial: spatial, channel: ch)
                    let s = Double(scale[ch])
                    sumG[ch] += sg; sumGH[ch] += sgh; scaledG[ch] += sg * s; scaledGH[ch] += sgh * s
                }
            }
            return
        }
        let blocks = (channels + 3) / 4
        parallelFor(blocks, minimumChunk: max(1, 16_384 / max(1, 4 * batch * spatial))) { range in
            for block in range {
                let c0 = block * 4
                if c0 + 4 <= channels {
                    var s = SIMD4<Double>(), sg4 = SIMD4<Double>(), sgh4 = SIMD4<Double>(), d4 = SIMD4<Double>(), dx4 = SIMD4<Double>()
                    for l in 0..<4 {
                        s[l] = Double(scale[c0 + l]); sg4[l] = sumG[c0 + l]; sgh4[l] = sumGH[c0 + l]
                        d4[l] = scaledG[c0 + l]; dx4[l] = scaledGH[c0 + l]
                    }
                    for b in 0..<batch {
                        let off = (b * channels + c0) * spatial
                        let gp = g + off, hp = h + off
                        var a = SIMD4<Double>(), ah = SIMD4<Double>()
                        for k in 0..<spatial {
                            let gv = load(gp, spatial, k, from: 0)
                            a += gv; ah += gv * load(hp, spatial, k, from: 0)
                        }
                        sg4 += a; sgh4 += ah; d4 += a * s; dx4 += ah * s
                    }
                    for l in 0..<4 {
                        sumG[c0 + l] = sg4[l]; sumGH[c0 + l] = sgh4[l]; scaledG[c0 + l] = d4[l]; scaledGH[c0 + l] = dx4[l]
                    }
                } else {
                    for ch in c0..<channels {
                        let s = Double(scale[ch])
                        for b in 0..<batch {
                            let off = (b * channels + ch) * spatial
                            var a: Double = 0, ah: Double = 0
                            for k in 0..<spatial { a += Double(g[off + k]); ah += Double(g[off + k]) * Double(h[off + k]) }
                            sumG[ch] += a; sumGH[ch] += ah; scaledG[ch] += a * s; scaledGH[ch] += ah * s
                        }
                    }
                }
            }
        }
    }

    /// One channel's `(sum Double(g), sum Double(g) * Double(h))` over the batch in 16 Double lanes each
    /// (`spatial >= ChannelChains.laneThreshold`).
    static func gradientLaneTotals(g: UnsafePointer<Float>, h: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                   channel c: Int) -> (Double, Double) {
        let full = spatial & ~15
        var s0 = SIMD4<Double>(), s1 = SIMD4<Double>(), s2 = SIMD4<Double>(), s3 = SIMD4<Double>()
        var p0 = SIMD4<Double>(), p1 = SIMD4<Double>(), p2 = SIMD4<Double>(), p3 = SIMD4<Double>()
        var sTail: Double = 0, pTail: Double = 0
        for b in 0..<batch {
            let off = (b * channels + c) * spatial
            let gp = g + off, hp = h + off
            var q = 0
            while q < full {
                // Four-float loads widened one by one (vcvtps2pd from memory): loading eight and splitting the
                // halves made the compiler shuffle lanes through scalar moves (half this loop's time).
                let g0 = ChannelChains.loadWide(gp + q), g1 = ChannelChains.loadWide(gp + q + 4)
                let g2 = ChannelChains.loadWide(gp + q + 8), g3 = ChannelChains.loadWide(gp + q + 12)
                s0 += g0; s1 += g1; s2 += g2; s3 += g3
                p0 += g0 * ChannelChains.loadWide(hp + q); p1 += g1 * ChannelChains.loadWide(hp + q + 4)
                p2 += g2 * ChannelChains.loadWide(hp + q + 8); p3 += g3 * ChannelChains.loadWide(hp + q + 12)
                q += 16
            }
            while q < spatial { let gv = Double(gp[q]); sTail += gv; pTail += gv * Double(hp[q]); q += 1 }
        }
        return (ChannelChains.laneTotal(s0, s1, s2, s3) + sTail, ChannelChains.laneTotal(p0, p1, p2, p3) + pTail)
    }
}

/// The per-element passes of batch normalisation over `[batch, C, spatial]` maps, split over the cores
/// by sample. Per element the same operations, in the same order, as the plain formulas given.
public enum ChannelAffine {
    /// `h = (x - mean[c]) * inverseStd[c]`, `normalized = h`, `y = scale[c] * h + shift[c]`.
    public static func normalize(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                 mean: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
                                 scale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                 normalized: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>) {
        forEachRun(batch: batch, channels: channels, spatial: spatial) { base, ch in
            let m = mean[ch], iv = inverseStd[ch], s = scale[ch], o = shift[ch]
            let m8 = SIMD8(repeating: m), iv8 = SIMD8(repeating: iv), s8 = SIMD8(repeating: s), o8 = SIMD8(repeating: o)
            var k = 0
            while k + 8 <= spatial {
                let h = (UnsafeRawPointer(x + base + k).loadUnaligned(as: SIMD8<Float>.self) - m8) * iv8
                UnsafeMutableRawPointer(normalized + base + k).storeBytes(of: h, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(y + base + k).storeBytes(of: s8 * h + o8, as: SIMD8<Float>.self)
                k += 8
            }
            while k < spatial {
                let h = (x[base + k] - m) * iv
                normalized[base + k] = h
                y[base + k] = s * h + o
                k += 1
            }
        }
    }

    /// Calls `body(first, channel)` for every sample's run of `spatial` values of each channel (`first`:
    /// the run's first index), samples split over the cores.
    @inline(__always)
    static func forEachRun(batch: Int, channels: Int, spatial: Int, _ body: (_ first: Int, _ channel: Int) -> Void) {
        parallelFor(batch, minimumChunk: max(1, 16_384 / max(1, channels * spatial))) { samples in
            for b in samples { for ch in 0..<channels { body((b * channels + ch) * spatial, ch) } }
        }
    }

    /// The input gradient of batch normalisation in training:
    /// `dx = inverseStd[c] * (g * scale[c] - meanG[c] - normalized * meanGH[c])`.
    public static func inputGradient(_ g: UnsafePointer<Float>, normalized h: UnsafePointer<Float>, batch: Int, channels: Int,
                                     spatial: Int, scale: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
                                     meanG: UnsafePointer<Float>, meanGH: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>) {
        forEachRun(batch: batch, channels: channels, spatial: spatial) { base, ch in
            inputGradientRun(g + base, h + base, spatial, scale[ch], inverseStd[ch], meanG[ch], meanGH[ch], dx + base)
        }
    }

    /// ``inputGradient(_:normalized:batch:channels:spatial:scale:inverseStd:meanG:meanGH:dx:)`` in either
    /// layout or both (the same values): `dx` as `[batch, C, spatial]`, `transposedDx` as `[batch, spatial, C]`
    /// (what a convolution's weight gradient reads). Each sample is transposed while it is in cache.
    public static func inputGradient(_ g: UnsafePointer<Float>, normalized h: UnsafePointer<Float>, batch: Int, channels: Int,
                                     spatial: Int, scale: UnsafePointer<Float>, inverseStd: UnsafePointer<Float>,
                                     meanG: UnsafePointer<Float>, meanGH: UnsafePointer<Float>,
                                     dx: UnsafeMutablePointer<Float>?, transposedDx: UnsafeMutablePointer<Float>) {
        let size = channels * spatial
        parallelFor(batch, minimumChunk: max(1, 16_384 / max(1, size))) { samples in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: dx == nil ? size : 0)
            defer { scratch.deallocate() }
            for b in samples {
                let target = dx.map { $0 + b * size } ?? scratch
                for ch in 0..<channels {
                    let base = b * size + ch * spatial
                    inputGradientRun(g + base, h + base, spatial, scale[ch], inverseStd[ch], meanG[ch], meanGH[ch],
                                     target + ch * spatial)
                }
                transposeInto(src: target, srcRows: channels, srcCols: spatial, srcStride: spatial,
                              dst: transposedDx + b * size, dstStride: channels)
            }
        }
    }

    /// One run of `n` values of one channel: `dx = iv * (g * s - md - h * mdx)`.
    @inline(__always)
    static func inputGradientRun(_ g: UnsafePointer<Float>, _ h: UnsafePointer<Float>, _ n: Int, _ s: Float, _ iv: Float,
                                 _ md: Float, _ mdx: Float, _ dx: UnsafeMutablePointer<Float>) {
        let md8 = SIMD8(repeating: md), mdx8 = SIMD8(repeating: mdx), s8 = SIMD8(repeating: s), iv8 = SIMD8(repeating: iv)
        var k = 0
        while k + 8 <= n {
            let gv = UnsafeRawPointer(g + k).loadUnaligned(as: SIMD8<Float>.self)
            let hv = UnsafeRawPointer(h + k).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(dx + k).storeBytes(of: iv8 * (gv * s8 - md8 - hv * mdx8), as: SIMD8<Float>.self)
            k += 8
        }
        while k < n {
            dx[k] = iv * (g[k] * s - md - h[k] * mdx)
            k += 1
        }
    }
}

/// Per-channel sums over `[batch, C, spatial]` maps, as the EM-PF neuron's batch norm and decay
/// gradient need them, in an order fixed by the shape alone (never by the thread count):
///
/// - `spatial < 16` (dense layers, tiny maps): each channel's total is one chain of additions in memory
///   order (`for b { for q { total[c] += term } }`), four channels' chains side by side (one lane each).
/// - `spatial >= 16` (conv maps): each channel is summed in 16 lanes. Lane `j` adds, sample after sample,
///   the terms at positions `q ≡ j (mod 16)` below the last full block of 16; a scalar chain adds the
///   remaining positions in memory order. The lanes are then folded in a fixed tree (`laneTotal`) and the
///   tail added: `total[c] = start + (fold(lanes) + tail)`. Serial chains of 25,000 additions were
///   bound by the add latency; the lanes are independent and read memory contiguously.
///
/// Channels are split over the cores; each channel's order is the same at any thread count.
public enum ChannelChains {
    /// Spatial sizes from this on are summed in lanes within a channel.
    public static let laneThreshold = 16

    /// The fixed fold of 16 Float lanes: `(l[0..<8] + l[8..<16])`, then halves, then the last pair.
    @inline(__always)
    public static func laneTotal(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> Float {
        let h = a + b
        let q = h.lowHalf + h.highHalf
        let r = q.lowHalf + q.highHalf
        return r[0] + r[1]
    }

    /// The fixed fold of 16 Double lanes held as four `SIMD4<Double>` (lanes 0-3, 4-7, 8-11, 12-15).
    @inline(__always)
    public static func laneTotal(_ a: SIMD4<Double>, _ b: SIMD4<Double>, _ c: SIMD4<Double>, _ d: SIMD4<Double>) -> Double {
        let q = (a + c) + (b + d)            // the Float fold's steps: lanes j + (j + 8), then halves
        let r = q.lowHalf + q.highHalf
        return r[0] + r[1]
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Four floats from `p` (unaligned) as Doubles.
    @inlinable @inline(__always)
    public static func loadWide(_ p: UnsafePointer<Float>) -> SIMD4<Double> {
        widen(UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self))
    }

    /// Four floats as Doubles (exact), the lanes' widening.
    @inlinable @inline(__always)
    public static func widen(_ v: SIMD4<Float>) -> SIMD4<Double> {
        SIMD4<Double>(Double(v[0]), Double(v[1]), Double(v[2]), Double(v[3]))
    }

    @inline(__always)
    static func gather4(_ p: UnsafePointer<Float>, _ stride: Int, _ k: Int) -> SIMD4<Float> {
        SIMD4(p[k], p[stride + k], p[2 * stride + k], p[3 * stride + k])
    }

    /// `sums[c] += x` and, when given, `products[c] += x * y` over every element of channel `c`, in memory
    /// order (Float chains starting from the values the buffers hold).
    public static func accumulate(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, batch: Int, channels: Int, spatial: Int,
                                  sums: UnsafeMutablePointer<Float>?, products: UnsafeMutablePointer<Float>?) {
        if spatial >= laneThreshold {
            parallelFor(channels, minimumChunk: max(1, 16_384 / max(1, batch * spatial))) { range in
                for c in range { accumulateLanes(x, y, batch: batch, channels: channels, spatial: spatial, channel: c,
                                                 sums: sums, products: products) }
            }
            return
        }
        var c0 = 0
        while c0 + 4 <= channels {
            var s = SIMD4<Float>(), p = SIMD4<Float>()
            for l in 0..<4 { s[l] = sums?[c0 + l] ?? 0; p[l] = products?[c0 + l] ?? 0 }
            for b in 0..<batch {
                let off = (b * channels + c0) * spatial
                let xp = x + off
                if let y {
                    let yp = y + off
                    if sums != nil {
                        for q in 0..<spatial { let xv = gather4(xp, spatial, q); s += xv; p += xv * gather4(yp, spatial, q) }
                    } else {
                        for q in 0..<spatial { p += gather4(xp, spatial, q) * gather4(yp, spatial, q) }
                    }
                } else {
                    for q in 0..<spatial { s += gather4(xp, spatial, q) }
                }
            }
            for l in 0..<4 { sums?[c0 + l] = s[l]; products?[c0 + l] = p[l] }
            c0 += 4
        }
        for c in c0..<channels {
            var s = sums?[c] ?? 0, p = products?[c] ?? 0
            for b in 0..<batch {
                let r = (b * channels + c) * spatial
                for q in 0..<spatial {
                    if sums != nil { s += x[r + q] }
                    if let y { p += x[r + q] * y[r + q] }
                }
            }
            sums?[c] = s; products?[c] = p
        }
    }

    /// One channel of `accumulate` in 16 lanes (`spatial >= laneThreshold`).
    static func accumulateLanes(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, batch: Int, channels: Int, spatial: Int,
                                channel c: Int, sums: UnsafeMutablePointer<Float>?, products: UnsafeMutablePointer<Float>?) {
        let full = spatial & ~15
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), p0 = SIMD8<Float>(), p1 = SIMD8<Float>()
        var sTail: Float = 0, pTail: Float = 0
        for b in 0..<batch {
            let off = (b * channels + c) * spatial
            let xp = x + off
            if let y {
                let yp = y + off
                var q = 0
                if sums != nil {
                    while q < full {
                        let a = load8(xp + q), a2 = load8(xp + q + 8)
                        s0 += a; s1 += a2
                        p0 += a * load8(yp + q); p1 += a2 * load8(yp + q + 8)
                        q += 16
                    }
                    while q < spatial { sTail += xp[q]; pTail += xp[q] * yp[q]; q += 1 }
                } else {
                    while q < full {
                        p0 += load8(xp + q) * load8(yp + q); p1 += load8(xp + q + 8) * load8(yp + q + 8)
                        q += 16
                    }
                    while q < spatial { pTail += xp[q] * yp[q]; q += 1 }
                }
            } else {
                var q = 0
                while q < full { s0 += load8(xp + q); s1 += load8(xp + q + 8); q += 16 }
                while q < spatial { sTail += xp[q]; q += 1 }
            }
        }
        if let sums { sums[c] += laneTotal(s0, s1) + sTail }
        if let products, y != nil { products[c] += laneTotal(p0, p1) + pTail }
    }

    /// `total[c] = sum over channel c's elements of Double(x)` (or of `(Double(x) - center[c])^2`): below
    /// `laneThreshold` positions a Double chain from 0 in memory order, from it on 16 Double lanes (see the
    /// type's description).
    public static func doubleTotals(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                    center: UnsafePointer<Double>?, into total: UnsafeMutablePointer<Double>) {
        if spatial >= laneThreshold {
            parallelFor(channels, minimumChunk: max(1, 16_384 / max(1, batch * spatial))) { range in
                for c in range { total[c] = doubleLanes(x, batch: batch, channels: channels, spatial: spatial, channel: c,
                                                        center: center?[c]) }
            }
            return
        }
        var c0 = 0
        while c0 + 4 <= channels {
            var t = SIMD4<Double>(), m = SIMD4<Double>()
            if let center { for l in 0..<4 { m[l] = center[c0 + l] } }
            for b in 0..<batch {
                let xp = x + (b * channels + c0) * spatial
                if center != nil {
                    for q in 0..<spatial { let d = ChannelSums.load(xp, spatial, q, from: 0) - m; t += d * d }
                } else {
                    for q in 0..<spatial { t += ChannelSums.load(xp, spatial, q, from: 0) }
                }
            }
            for l in 0..<4 { total[c0 + l] = t[l] }
            c0 += 4
        }
        for c in c0..<channels {
            var t: Double = 0
            let m = center?[c] ?? 0
            for b in 0..<batch {
                let r = (b * channels + c) * spatial
                if center != nil {
                    for q in 0..<spatial { let d = Double(x[r + q]) - m; t += d * d }
                } else {
                    for q in 0..<spatial { t += Double(x[r + q]) }
                }
            }
            total[c] = t
        }
    }

    /// One channel of `doubleTotals` in 16 Double lanes (`spatial >= laneThreshold`): batch normalisation's
    /// lane order (``ChannelSums``) on one map.
    static func doubleLanes(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int, channel c: Int,
                            center: Double?) -> Double {
        ChannelSums.laneTotal([x], batch: batch, channels: channels, spatial: spatial, channel: c, center: center)
    }
}
