/// 3x3 convolutions with stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray,
/// "Fast algorithms for convolutional neural networks", 2016): each 2x2 block of outputs of an
/// (input channel, output channel) pair takes 16 multiplications instead of 36.
///
/// With `B^T = [[1,0,-1,0], [0,1,1,0], [0,-1,1,0], [0,1,0,-1]]`, `G = [[1,0,0], [1/2,1/2,1/2], [1/2,-1/2,1/2], [0,0,1]]`
/// and `A^T = [[1,1,1,0], [0,1,-1,-1]]`, the 2x2 outputs of a tile are `A^T [sum_c (G g_oc G^T) . (B^T d_c B)] A`,
/// where `d_c` is the tile's 4x4 input window of channel `c` and `.` multiplies element by element. The sums
/// over `c` are 16 small matrix products, one per element of the 4x4 transformed tile.
///
/// The sums are not those of the direct convolution (other products, other order; the difference is rounding,
/// a few units in the last place of the largest terms), so the layered engine uses this only where no bit-exact
/// order is promised: the dense forward pass of training runs that asked for speed over event order, and
/// the input gradient of training. Each sample's outputs are computed on one thread in a fixed order:
/// the same bits at any thread count.
enum Winograd3x3 {
    /// Whether `g` (a forward geometry) can take this path: a 3x3 kernel, stride 1, padding 1, an even
    /// number of rows, a row width that is a multiple of 16 (eight 2-wide tiles per vector) and at least
    /// ``minimumInputChannels`` input channels.
    static func applies(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
            && g.inHeight > 0 && g.inHeight % 2 == 0 && g.inWidth > 0 && g.inWidth % 16 == 0 && g.inChannels >= minimumInputChannels
    }

    /// Fewer input channels leave the transforms (which do not shrink with them) costlier than the
    /// multiplications saved: BNTT's vgg5 trained about 8% slower with its first conv (3 input channels)
    /// on this path than with that conv direct, and about 10% faster with its second (16) on it.
    static let minimumInputChannels = 8

    /// The convolution of `input` (`[batch, C, H, W]`) with `weight` (`[O, C, 3, 3]`) into `output`
    /// (`[batch, O, H, W]`, overwritten). `g` must satisfy ``applies(_:)``.
    static func forward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels o: Int,
                        geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>) {
        precondition(applies(g), "Winograd3x3: 3x3 kernel, stride 1, padding 1, even height, width a multiple of 16")
        let c = g.inChannels, h = g.inHeight, w = g.inWidth
        guard batch > 0, o > 0 else { return }
        let tiles = (h / 2) * (w / 2)
        let paddedSize = (h + 2) * (w + 4)
        // U[xi, o, c] = (G g G^T)[xi] for every (o, c).
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * c)
        defer { u.deallocate() }
        transformWeights(weight, outChannels: o, inChannels: c, into: u)
        let uc = UnsafePointer(u)
        parallelFor(batch, minimumChunk: 1) { samples in
            // Per thread: the zero-padded input with its columns split (see splitColumns; the tile windows then load
            // contiguous lanes), V[xi, c, tile] and M[o, tile / 8, xi, tile % 8].
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: c * paddedSize)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * vPlane(c, tiles))
            let m = UnsafeMutablePointer<Float>.allocate(capacity: 16 * o * tiles)
            padded.initialize(repeating: 0, count: c * paddedSize)
            defer { padded.deallocate(); v.deallocate(); m.deallocate() }
            for s in samples {
                splitColumns(input + s * c * h * w, channels: c, height: h, width: w, into: padded)
                transformInput(padded, channels: c, height: h, width: w, into: v)
                multiply(uc, v, outChannels: o, inChannels: c, tiles: tiles, into: m)
                transformOutput(m, outChannels: o, height: h, width: w, into: output + s * o * h * w)
            }
        }
    }

    /// Copies the map `x` (`[C, H, W]`) into `padded` (`[C, H + 2, W + 4]`, zero margins written once by the caller):
    /// row `y` at row `y + 1`, its even columns `2k` at `k + 1` and its odd columns `2k + 1` at `(W + 4) / 2 + k + 1`.
    @inline(__always)
    static func splitColumns(_ x: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                             into padded: UnsafeMutablePointer<Float>) {
        let paddedWidth = w + 4, paddedSize = (h + 2) * paddedWidth, half = paddedWidth / 2
        for ch in 0..<c {
            for y in 0..<h {
                let src = x + (ch * h + y) * w, even = padded + ch * paddedSize + (y + 1) * paddedWidth + 1
                let odd = even + half
                var k = 0
                while k < w / 2 {
                    let (e, o) = deinterleave(ld8(src + 2 * k), ld8(src + 2 * k + 8))
                    st8(even + k, e); st8(odd + k, o)
                    k += 8
                }
            }
        }
    }

    /// `U = G g G^T` per (o, c), stored as `[16, O, C]`.
    static func transformWeights(_ weight: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        // G applied to three taps: (g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2).
        @inline(__always) func filter(_ g0: Float, _ g1: Float, _ g2: Float) -> SIMD4<Float> {
            SIMD4(g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
        }
        for oc in 0..<o {
            for ic in 0..<c {
                let k = weight + (oc * c + ic) * 9
                // G g, one column of the kernel at a time: gg.col[a] is (G g)[a, col].
                let gg = (filter(k[0], k[3], k[6]), filter(k[1], k[4], k[7]), filter(k[2], k[5], k[8]))
                for a in 0..<4 {
                    let row = filter(gg.0[a], gg.1[a], gg.2[a])  // (G g G^T)[a, 0..<4]
                    for b in 0..<4 { u[((4 * a + b) * o + oc) * c + ic] = row[b] }
                }
            }
        }
    }

    /// Floats between the 16 elements of V: `C * tiles`, plus 16 so that the sixteen stores of a tile block do not
    /// fall on addresses a multiple of 4 KiB apart (they would alias in the load/store unit; 8 KiB apart on vgg5).
    @inline(__always) static func vPlane(_ c: Int, _ tiles: Int) -> Int { c * tiles + 16 }

    /// `V = B^T d B` for every tile of every channel, as `[16, C, tiles]` (element planes ``vPlane(_:_:)``
    /// apart; tile `ty * W/2 + tx`), eight tiles of a tile row per vector. `padded` is `[C, H + 2, W + 4]`,
    /// the map's row `y` at row `y + 1` with its even and odd columns apart (see
    /// ``forward(input:batch:weight:outChannels:geometry:output:)``).
    @inline(__always)
    static func transformInput(_ padded: UnsafePointer<Float>, channels c: Int, height h: Int, width w: Int,
                               into v: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        let paddedWidth = w + 4, paddedSize = (h + 2) * paddedWidth, half = paddedWidth / 2
        let tileColumns = w / 2, tiles = (h / 2) * tileColumns
        let plane = vPlane(c, tiles)  // stride between the 16 elements xi
        // Row r of the tile window, transformed along the columns: (d0 - d2, d1 + d2, d2 - d1, d1 - d3). For the
        // eight tiles tx = 8j + lane, column 2tx - 1 + col is odd padded column 8j + lane (col 0), even 8j + 1 + lane
        // (col 1), odd 8j + 1 + lane (col 2) and even 8j + 2 + lane (col 3).
        @inline(__always) func row(_ even: UnsafePointer<Float>) -> (V8, V8, V8, V8) {
            let odd = even + half
            let d0 = ld8(odd), d1 = ld8(even + 1), d2 = ld8(odd + 1), d3 = ld8(even + 2)
            return (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
        }
        for ch in 0..<c {
            let map = padded + ch * paddedSize
            for ty in 0..<(h / 2) {
                var j = 0
                while 16 * j < w {
                    // Input rows 2ty - 1 ... 2ty + 2 are padded rows 2ty ... 2ty + 3. Then along the rows:
                    // V = (r0 - r2, r1 + r2, r2 - r1, r1 - r3), in an order that keeps at most three rows live.
                    let p0 = map + (2 * ty) * paddedWidth + 8 * j
                    let base = v + ch * tiles + ty * tileColumns + 8 * j
                    let r1 = row(p0 + paddedWidth), r2 = row(p0 + 2 * paddedWidth)
                    st8(base + 4 * plane, r1.0 + r2.0); st8(base + 5 * plane, r1.1 + r2.1)
                    st8(base + 6 * plane, r1.2 + r2.2); st8(base + 7 * plane, r1.3 + r2.3)
                    st8(base + 8 * plane, r2.0 - r1.0); st8(base + 9 * plane, r2.1 - r1.1)
                    st8(base + 10 * plane, r2.2 - r1.2); st8(base + 11 * plane, r2.3 - r1.3)
                    let r0 = row(p0)
                    st8(base + 0 * plane, r0.0 - r2.0); st8(base + 1 * plane, r0.1 - r2.1)
                    st8(base + 2 * plane, r0.2 - r2.2); st8(base + 3 * plane, r0.3 - r2.3)
                    let r3 = row(p0 + 3 * paddedWidth)
                    st8(base + 12 * plane, r1.0 - r3.0); st8(base + 13 * plane, r1.1 - r3.1)
                    st8(base + 14 * plane, r1.2 - r3.2); st8(base + 15 * plane, r1.3 - r3.3)
                    j += 1
                }
            }
        }
    }

    /// `M[xi, o, t] = sum_c U[xi, o, c] V[xi, c, t]` (fused multiply-adds, c ascending): 4 output channels
    /// by 16 tiles per register block. M is stored as `[O, tiles / 8, 16, 8]`: the 16 elements of eight
    /// tiles side by side, as the output transform reads them.
    @inline(__always)
    static func multiply(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int,
                         tiles: Int, into m: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        for xi in 0..<16 {
            let ux = u + xi * o * c, vx = UnsafePointer(v + xi * vPlane(c, tiles)), mx = m + xi * 8
            // M's offset of (output channel, first tile of an 8-tile block), relative to mx.
            @inline(__always) func at(_ oc: Int, _ t: Int) -> Int { (oc * tiles + t) * 16 }
            var oc = 0
            while oc + 4 <= o {
                let u0 = ux + oc * c, u1 = u0 + c, u2 = u1 + c, u3 = u2 + c
                var t = 0
                while t + 16 <= tiles {
                    var a0 = V8(), b0 = V8(), a1 = V8(), b1 = V8(), a2 = V8(), b2 = V8(), a3 = V8(), b3 = V8()
                    for ic in 0..<c {
                        let p = vx + ic * tiles + t
                        let x0 = ld8(p), x1 = ld8(p + 8)
                        let w0 = V8(repeating: u0[ic]), w1 = V8(repeating: u1[ic])
                        let w2 = V8(repeating: u2[ic]), w3 = V8(repeating: u3[ic])
                        a0.addProduct(w0, x0); b0.addProduct(w0, x1)
                        a1.addProduct(w1, x0); b1.addProduct(w1, x1)
                        a2.addProduct(w2, x0); b2.addProduct(w2, x1)
                        a3.addProduct(w3, x0); b3.addProduct(w3, x1)
                    }
                    st8(mx + at(oc, t), a0); st8(mx + at(oc, t + 8), b0)
                    st8(mx + at(oc + 1, t), a1); st8(mx + at(oc + 1, t + 8), b1)
                    st8(mx + at(oc + 2, t), a2); st8(mx + at(oc + 2, t + 8), b2)
                    st8(mx + at(oc + 3, t), a3); st8(mx + at(oc + 3, t + 8), b3)
                    t += 16
                }
                if t < tiles {  // tiles is a multiple of 8
                    var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
                    for ic in 0..<c {
                        let x0 = ld8(vx + ic * tiles + t)
                        a0.addProduct(V8(repeating: u0[ic]), x0); a1.addProduct(V8(repeating: u1[ic]), x0)
                        a2.addProduct(V8(repeating: u2[ic]), x0); a3.addProduct(V8(repeating: u3[ic]), x0)
                    }
                    st8(mx + at(oc, t), a0); st8(mx + at(oc + 1, t), a1); st8(mx + at(oc + 2, t), a2); st8(mx + at(oc + 3, t), a3)
                }
                oc += 4
            }
            while oc < o {
                let u0 = ux + oc * c
                var t = 0
                while t < tiles {
                    var a0 = V8()
                    for ic in 0..<c { a0.addProduct(V8(repeating: u0[ic]), ld8(vx + ic * tiles + t)) }
                    st8(mx + at(oc, t), a0)
                    t += 8
                }
                oc += 1
            }
        }
    }

    /// `Y = A^T M A` per tile and output channel, written as `[O, H, W]` (two output rows per tile row,
    /// the two columns of each tile interleaved).
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, outChannels o: Int, height h: Int, width w: Int,
                                into y: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        let tileColumns = w / 2, tiles = (h / 2) * tileColumns
        let plane = 8  // the 16 elements of eight tiles are adjacent
        for oc in 0..<o {
            let out = y + oc * h * w
            for ty in 0..<(h / 2) {
                var j = 0
                while 16 * j < w {
                    let b = UnsafePointer(m + (oc * tiles + ty * tileColumns + 8 * j) * 16)
                    // Along the rows: s0 = M0 + M1 + M2, s1 = M1 - M2 - M3 (M_a the a-th row of the 4x4 tile);
                    // then along the columns: y_i0 = s_i0 + s_i1 + s_i2, y_i1 = s_i1 - s_i2 - s_i3.
                    let m4 = ld8(b + 4 * plane), m8 = ld8(b + 8 * plane)
                    let s00 = ld8(b) + m4 + m8, s10 = m4 - m8 - ld8(b + 12 * plane)
                    let m5 = ld8(b + 5 * plane), m9 = ld8(b + 9 * plane)
                    let s01 = ld8(b + plane) + m5 + m9, s11 = m5 - m9 - ld8(b + 13 * plane)
                    let m6 = ld8(b + 6 * plane), m10 = ld8(b + 10 * plane)
                    let s02 = ld8(b + 2 * plane) + m6 + m10, s12 = m6 - m10 - ld8(b + 14 * plane)
                    let m7 = ld8(b + 7 * plane), m11 = ld8(b + 11 * plane)
                    let s03 = ld8(b + 3 * plane) + m7 + m11, s13 = m7 - m11 - ld8(b + 15 * plane)
                    let row0 = out + (2 * ty) * w + 16 * j
                    storeInterleaved(s00 + s01 + s02, s01 - s02 - s03, into: row0)
                    storeInterleaved(s10 + s11 + s12, s11 - s12 - s13, into: row0 + w)
                    j += 1
                }
            }
        }
    }
}

// MARK: - The weight gradient, F(3x3, 2x2)

extension Winograd3x3 {
    /// Samples whose weight-gradient terms are summed together before the groups' partial sums are added in
    /// group order: the grouping, and so the bits, do not depend on the thread count.
    static let weightGradientGroup = 8

    /// The weight gradient of ``forward(input:batch:weight:outChannels:geometry:output:)``, added to `dWt`
    /// (`[C * 9, O]`: row `c * 9 + 3 * ky + kx`).
    ///
    /// The forward pass's output block of a tile is `A^T (U . V) A` with `U = G g G^T`, so a loss's gradient with
    /// respect to `U` is `(A dY A^T) . V` and with respect to the kernel `g` it is `G^T [sum over tiles and samples of
    /// (A dY A^T) . V] G`: 16 products of `[O, tiles]` by `[tiles, C]` (one per element of the 4x4 transformed tile)
    /// and one small transform per (O, C) pair at the end, against 36 multiplications per tile and pair for the
    /// direct sums (Lavin & Gray's F(3x3, 2x2) for the weight gradient).
    ///
    /// - `input`: `[batch, C, H, W]`; `g` must satisfy ``applies(_:)``.
    /// - The output gradient position-major (`transposedOutputGradient`, `[batch, H * W, O]`) or, when that is nil,
    ///   channel-major (`outputGradient`, `[batch, O, H * W]`, transposed here one sample at a time).
    static func weightGradient(input: UnsafePointer<Float>, batch: Int, outChannels o: Int, geometry g: Conv2DGeometry,
                               outputGradient: UnsafePointer<Float>?, transposedOutputGradient: UnsafePointer<Float>?,
                               into dWt: UnsafeMutablePointer<Float>) {
        precondition(applies(g), "Winograd3x3: 3x3 kernel, stride 1, padding 1, even height, width a multiple of 16")
        precondition(outputGradient != nil || transposedOutputGradient != nil, "Winograd3x3: no output gradient")
        let c = g.inChannels, h = g.inHeight, w = g.inWidth
        guard batch > 0, o > 0 else { return }
        let tiles = (h / 2) * (w / 2), positions = h * w, outSize = o * positions
        let paddedSize = (h + 2) * (w + 4), zSize = 16 * c * o, p = 9 * c
        let groups = (batch + weightGradientGroup - 1) / weightGradientGroup
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: groups * p * o)
        defer { partial.deallocate() }
        parallelFor(groups) { gs in
            // Per thread: the split padded input, V[xi, c, tile], Y[xi, tile, o] = (A dY A^T)[xi], the group's
            // sums Z[xi, c, o], a row of zeros (the missing rows of a channel block) and, for a channel-major dY,
            // one sample's transpose.
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: c * paddedSize)
            let v = UnsafeMutablePointer<Float>.allocate(capacity: 16 * vPlane(c, tiles))
            let y = UnsafeMutablePointer<Float>.allocate(capacity: 16 * yPlane(o, tiles))
            let z = UnsafeMutablePointer<Float>.allocate(capacity: zSize)
            let zeros = UnsafeMutablePointer<Float>.allocate(capacity: tiles)
            let sampleDyT = UnsafeMutablePointer<Float>.allocate(capacity: transposedOutputGradient == nil ? outSize : 0)
            padded.initialize(repeating: 0, count: c * paddedSize)
            zeros.initialize(repeating: 0, count: tiles)
            defer { padded.deallocate(); v.deallocate(); y.deallocate(); z.deallocate(); zeros.deallocate(); sampleDyT.deallocate() }
            for gi in gs {
                z.initialize(repeating: 0, count: zSize)
                for s in (gi * weightGradientGroup)..<min(batch, (gi + 1) * weightGradientGroup) {
                    let dys: UnsafePointer<Float>
                    if let transposedOutputGradient {
                        dys = transposedOutputGradient + s * outSize
                    } else {
                        transposeInto(src: outputGradient! + s * outSize, srcRows: o, srcCols: positions, srcStride: positions,
                                      dst: sampleDyT, dstStride: o)
                        dys = UnsafePointer(sampleDyT)
                    }
                    splitColumns(input + s * c * positions, channels: c, height: h, width: w, into: padded)
                    transformInput(padded, channels: c, height: h, width: w, into: v)
                    transformOutputGradient(dys, outChannels: o, height: h, width: w, into: y)
                    accumulateProducts(y, v, outChannels: o, inChannels: c, tiles: tiles, zeros: zeros, into: z)
                }
                transformWeightGradient(z, outChannels: o, inChannels: c, into: partial + gi * p * o)
            }
        }
        for gi in 0..<groups { axpyRow(p * o, 1, partial + gi * p * o, dWt) }
    }

    /// Floats between the 16 elements of Y: `tiles * O`, plus 16 against 4 KiB aliasing (see ``vPlane(_:_:)``).
    @inline(__always) static func yPlane(_ o: Int, _ tiles: Int) -> Int { tiles * o + 16 }

    /// `Y = A dY A^T` for every 2x2 block of one sample's output gradient (`dyT`, `[H * W, O]`), as
    /// `[16, tiles, O]` (element planes ``yPlane(_:_:)`` apart), eight output channels per vector.
    /// With `A = [[1, 0], [1, 1], [1, -1], [0, -1]]`, a pair `(d0, d1)` becomes `(d0, d0 + d1, d0 - d1, -d1)`.
    @inline(__always)
    static func transformOutputGradient(_ dyT: UnsafePointer<Float>, outChannels o: Int, height h: Int, width w: Int,
                                        into y: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        let tileColumns = w / 2, tiles = (h / 2) * tileColumns, plane = yPlane(o, tiles)
        for ty in 0..<(h / 2) {
            for tx in 0..<tileColumns {
                let t = ty * tileColumns + tx
                let p00 = dyT + (2 * ty * w + 2 * tx) * o, p01 = p00 + o, p10 = p00 + w * o, p11 = p10 + o
                let base = y + t * o
                var oc = 0
                while oc + 8 <= o {
                    let d00 = ld8(p00 + oc), d01 = ld8(p01 + oc), d10 = ld8(p10 + oc), d11 = ld8(p11 + oc)
                    // Along the columns (b), then along the rows (a): element 4a + b.
                    let r0 = (d00, d00 + d01, d00 - d01, -d01), r1 = (d10, d10 + d11, d10 - d11, -d11)
                    let q = base + oc
                    st8(q, r0.0); st8(q + plane, r0.1); st8(q + 2 * plane, r0.2); st8(q + 3 * plane, r0.3)
                    st8(q + 4 * plane, r0.0 + r1.0); st8(q + 5 * plane, r0.1 + r1.1)
                    st8(q + 6 * plane, r0.2 + r1.2); st8(q + 7 * plane, r0.3 + r1.3)
                    st8(q + 8 * plane, r0.0 - r1.0); st8(q + 9 * plane, r0.1 - r1.1)
                    st8(q + 10 * plane, r0.2 - r1.2); st8(q + 11 * plane, r0.3 - r1.3)
                    st8(q + 12 * plane, -r1.0); st8(q + 13 * plane, -r1.1); st8(q + 14 * plane, -r1.2); st8(q + 15 * plane, -r1.3)
                    oc += 8
                }
                while oc < o {
                    let d00 = p00[oc], d01 = p01[oc], d10 = p10[oc], d11 = p11[oc]
                    let r0 = (d00, d00 + d01, d00 - d01, -d01), r1 = (d10, d10 + d11, d10 - d11, -d11)
                    let q = base + oc
                    q[0] = r0.0; q[plane] = r0.1; q[2 * plane] = r0.2; q[3 * plane] = r0.3
                    q[4 * plane] = r0.0 + r1.0; q[5 * plane] = r0.1 + r1.1; q[6 * plane] = r0.2 + r1.2; q[7 * plane] = r0.3 + r1.3
                    q[8 * plane] = r0.0 - r1.0; q[9 * plane] = r0.1 - r1.1; q[10 * plane] = r0.2 - r1.2; q[11 * plane] = r0.3 - r1.3
                    q[12 * plane] = -r1.0; q[13 * plane] = -r1.1; q[14 * plane] = -r1.2; q[15 * plane] = -r1.3
                    oc += 1
                }
            }
        }
    }

    /// `Z[xi, c, o] += sum_t V[xi, c, t] Y[xi, t, o]` (fused multiply-adds, tiles ascending): four input channels by
    /// sixteen output channels per register block. `zeros` (`tiles` zeros) stands in for the missing rows of a last
    /// block of fewer than four input channels.
    @inline(__always)
    static func accumulateProducts(_ y: UnsafePointer<Float>, _ v: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int,
                                   tiles: Int, zeros: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafeMutablePointer<Float>, _ live: Bool) -> V8 { live ? ld8(p) : V8() }
        for xi in 0..<16 {
            let yx = y + xi * yPlane(o, tiles), vx = v + xi * vPlane(c, tiles), zx = z + xi * c * o
            var ic = 0
            while ic < c {
                let rows = min(4, c - ic)
                let v0 = vx + ic * tiles, v1 = rows > 1 ? v0 + tiles : zeros
                let v2 = rows > 2 ? v0 + 2 * tiles : zeros, v3 = rows > 3 ? v0 + 3 * tiles : zeros
                let z0 = zx + ic * o, z1 = z0 + o, z2 = z1 + o, z3 = z2 + o
                var oc = 0
                while oc + 16 <= o {
                    var a0 = ld8(z0 + oc), b0 = ld8(z0 + oc + 8)
                    var a1 = load(z1 + oc, rows > 1), b1 = load(z1 + oc + 8, rows > 1)
                    var a2 = load(z2 + oc, rows > 2), b2 = load(z2 + oc + 8, rows > 2)
                    var a3 = load(z3 + oc, rows > 3), b3 = load(z3 + oc + 8, rows > 3)
                    var yp = yx + oc
                    for t in 0..<tiles {
                        let x0 = ld8(yp), x1 = ld8(yp + 8)
                        var s = V8(repeating: v0[t]); a0.addProduct(s, x0); b0.addProduct(s, x1)
                        s = V8(repeating: v1[t]); a1.addProduct(s, x0); b1.addProduct(s, x1)
                        s = V8(repeating: v2[t]); a2.addProduct(s, x0); b2.addProduct(s, x1)
                        s = V8(repeating: v3[t]); a3.addProduct(s, x0); b3.addProduct(s, x1)
                        yp += o
                    }
                    st8(z0 + oc, a0); st8(z0 + oc + 8, b0)
                    if rows > 1 { st8(z1 + oc, a1); st8(z1 + oc + 8, b1) }
                    if rows > 2 { st8(z2 + oc, a2); st8(z2 + oc + 8, b2) }
                    if rows > 3 { st8(z3 + oc, a3); st8(z3 + oc + 8, b3) }
                    oc += 16
                }
                if oc + 8 <= o {
                    var a0 = ld8(z0 + oc), a1 = load(z1 + oc, rows > 1), a2 = load(z2 + oc, rows > 2), a3 = load(z3 + oc, rows > 3)
                    var yp = yx + oc
                    for t in 0..<tiles {
                        let x0 = ld8(yp)
                        a0.addProduct(V8(repeating: v0[t]), x0); a1.addProduct(V8(repeating: v1[t]), x0)
                        a2.addProduct(V8(repeating: v2[t]), x0); a3.addProduct(V8(repeating: v3[t]), x0)
                        yp += o
                    }
                    st8(z0 + oc, a0)
                    if rows > 1 { st8(z1 + oc, a1) }
                    if rows > 2 { st8(z2 + oc, a2) }
                    if rows > 3 { st8(z3 + oc, a3) }
                    oc += 8
                }
                while oc < o {
                    for r in 0..<rows {
                        let vr = v0 + r * tiles
                        var sum = z0[r * o + oc]
                        for t in 0..<tiles { sum = sum.addingProduct(vr[t], yx[t * o + oc]) }
                        z0[r * o + oc] = sum
                    }
                    oc += 1
                }
                ic += 4
            }
        }
    }

    /// `dW = G^T Z G` per (c, o), written to `dWt` (`[C * 9, O]`, overwritten). `G^T` takes four values to three:
    /// `(z0 + (z1 + z2) / 2, (z1 - z2) / 2, (z1 + z2) / 2 + z3)`.
    @inline(__always)
    static func transformWeightGradient(_ z: UnsafePointer<Float>, outChannels o: Int, inChannels c: Int,
                                        into dWt: UnsafeMutablePointer<Float>) {
        typealias V8 = SIMD8<Float>
        @inline(__always) func reduce(_ z0: V8, _ z1: V8, _ z2: V8, _ z3: V8) -> (V8, V8, V8) {
            let sum = 0.5 * (z1 + z2)
            return (z0 + sum, 0.5 * (z1 - z2), sum + z3)
        }
        @inline(__always) func reduce(_ z0: Float, _ z1: Float, _ z2: Float, _ z3: Float) -> (Float, Float, Float) {
            let sum = 0.5 * (z1 + z2)
            return (z0 + sum, 0.5 * (z1 - z2), sum + z3)
        }
        let plane = c * o
        for ic in 0..<c {
            let src = z + ic * o, dst = dWt + ic * 9 * o
            var oc = 0
            while oc + 8 <= o {
                @inline(__always) func at(_ a: Int, _ b: Int) -> V8 { ld8(src + (4 * a + b) * plane + oc) }
                // Along the columns (b to kx) for each row a, then along the rows (a to ky).
                let r0 = reduce(at(0, 0), at(0, 1), at(0, 2), at(0, 3)), r1 = reduce(at(1, 0), at(1, 1), at(1, 2), at(1, 3))
                let r2 = reduce(at(2, 0), at(2, 1), at(2, 2), at(2, 3)), r3 = reduce(at(3, 0), at(3, 1), at(3, 2), at(3, 3))
                let k0 = reduce(r0.0, r1.0, r2.0, r3.0), k1 = reduce(r0.1, r1.1, r2.1, r3.1), k2 = reduce(r0.2, r1.2, r2.2, r3.2)
                let d = dst + oc
                st8(d, k0.0); st8(d + o, k1.0); st8(d + 2 * o, k2.0)
                st8(d + 3 * o, k0.1); st8(d + 4 * o, k1.1); st8(d + 5 * o, k2.1)
                st8(d + 6 * o, k0.2); st8(d + 7 * o, k1.2); st8(d + 8 * o, k2.2)
                oc += 8
            }
            while oc < o {
                @inline(__always) func at(_ a: Int, _ b: Int) -> Float { src[(4 * a + b) * plane + oc] }
                let r0 = reduce(at(0, 0), at(0, 1), at(0, 2), at(0, 3)), r1 = reduce(at(1, 0), at(1, 1), at(1, 2), at(1, 3))
                let r2 = reduce(at(2, 0), at(2, 1), at(2, 2), at(2, 3)), r3 = reduce(at(3, 0), at(3, 1), at(3, 2), at(3, 3))
                let k0 = reduce(r0.0, r1.0, r2.0, r3.0), k1 = reduce(r0.1, r1.1, r2.1, r3.1), k2 = reduce(r0.2, r1.2, r2.2, r3.2)
                let d = dst + oc
                d[0] = k0.0; d[o] = k1.0; d[2 * o] = k2.0
                d[3 * o] = k0.1; d[4 * o] = k1.1; d[5 * o] = k2.1
                d[6 * o] = k0.2; d[7 * o] = k1.2; d[8 * o] = k2.2
                oc += 1
            }
        }
    }
}
