import Synchronization

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

    /// Calls `body(channel, outputPosition, kernelOffset)` for every output position `oy * Wo + ox`
    /// whose receptive field holds input element `source` (flat index of a `[C, H, W]` map), with
    /// `kernelOffset = ky * k + kx` the tap that connects them, in ascending `oy`, then `ox`: the
    /// receptive-field arithmetic of every event-driven convolution (delivery, its adjoint, the
    /// asynchronous engine). Square kernels.
    @inlinable @inline(__always)
    public func forEachReceptiveTarget(of source: Int, _ body: (_ channel: Int, _ position: Int, _ kernelOffset: Int) -> Void) {
        let hw = inHeight * inWidth
        let c = source / hw, iy = (source % hw) / inWidth, ix = source % inWidth
        let ho = outHeight, wo = outWidth, k = kernelHeight, s = stride
        // Output rows oy with 0 <= iy + p - oy * s < k (likewise columns).
        let oyMax = min(ho - 1, (iy + padding) / s)
        let oyMin = max(0, (iy + padding - k + s) / s)
        let oxMax = min(wo - 1, (ix + padding) / s)
        let oxMin = max(0, (ix + padding - k + s) / s)
        if oyMin > oyMax || oxMin > oxMax { return }
        for oy in oyMin...oyMax {
            let ky = iy + padding - oy * s
            if ky < 0 || ky >= k { continue }
            for ox in oxMin...oxMax {
                let kx = ix + padding - ox * s
                if kx < 0 || kx >= k { continue }
                body(c, oy * wo + ox, ky * k + kx)
            }
        }
    }
}

/// Unfolds one `[C, H, W]` map into the `[C*kh*kw, Ho*Wo]` patch matrix (zero padding).
public func im2col(_ x: UnsafePointer<Float>, _ g: Conv2DGeometry, _ cols: UnsafeMutablePointer<Float>) {
    let ho = g.outHeight, wo = g.outWidth, st = g.stride, pad = g.padding, w = g.inWidth
    var row = 0
    for c in 0..<g.inChannels {
        for ky in 0..<g.kernelHeight {
            for kx in 0..<g.kernelWidth {
                // Output columns whose input column ix = ox * stride - padding + kx lies in [0, W): lo..<hi.
                let lo = min(wo, max(0, (pad - kx + st - 1) / st))
                let last = w - 1 + pad - kx
                let hi = last < 0 ? lo : max(lo, min(wo, last / st + 1))
                let dst = cols + row * ho * wo
                for oy in 0..<ho {
                    let iy = oy * st - pad + ky
                    let d = dst + oy * wo
                    if iy < 0 || iy >= g.inHeight { d.update(repeating: 0, count: wo); continue }
                    let src = x + (c * g.inHeight + iy) * w - pad + kx
                    if lo > 0 { d.update(repeating: 0, count: lo) }
                    if st == 1 {
                        (d + lo).update(from: src + lo, count: hi - lo)
                    } else {
                        for ox in lo..<hi { d[ox] = src[ox * st] }
                    }
                    if hi < wo { (d + hi).update(repeating: 0, count: wo - hi) }
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

/// Input density (fraction of non-zero input values) at or below which the convolution kernels
/// scatter the non-zero inputs instead of unfolding patches (im2col) and multiplying.
let convSparseDensity = 0.25

/// 2-D convolution (cross-correlation, no bias) of a batch.
///
/// - Parameters:
///   - input: `[batch, C, H, W]` values.
///   - weight: `[O, C, kh, kw]` values.
///   - output: `[batch, O, Ho, Wo]`, overwritten.
///
/// Samples are split over the cores. Spike inputs (at most a quarter of the batch's inputs non-zero)
/// take an event-driven path: each non-zero input adds its value times the matching weight column
/// to the output positions it reaches, so the cost follows the number of spikes. On that path every
/// output is `0 + v1 * w1 + v2 * w2 + ...` over its non-zero inputs in ascending input index
/// (separate multiply and add), bit for bit what delivering the events one by one in index order
/// gives. Denser inputs of layers with outputs at least 8 wide are convolved directly from the padded
/// maps (`conv2dForwardDirect`, the bits of the im2col GEMM without the patch matrix); narrower ones
/// are unfolded (im2col) and multiplied with ``gemm(m:n:k:a:lda:transA:b:ldb:transB:c:ldc:beta:parallel:)``.
///
/// `events`, when given, receives the non-zero inputs if the event-driven path is taken (see
/// ``ConvEventLists``; it stays incomplete otherwise).
///
/// `fastDense: true` lets dense inputs of 3x3 convolutions with stride 1 and padding 1 (even height, width a
/// multiple of 16, at least 8 input channels) take Winograd's F(2x2, 3x3) (`Winograd3x3`): 16 multiplications
/// per 2x2 outputs instead of 36, other rounding than the GEMM's. For training runs that do not promise event
/// order.
public func conv2dForward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                          geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>, events: ConvEventLists? = nil,
                          fastDense: Bool = false) {
    guard batch > 0 else { return }
    let inSize = g.inSize, outSize = outChannels * g.outPositions
    if outSize == 0 { return }
    let sparseLimit = Int(convSparseDensity * Double(batch * inSize))
    // Event lists need each sample's count: then the batch is counted sample by sample (stopping, as the
    // whole-batch count does, once past the limit) and the event kernel does not count again.
    var sampleNonZeros: [Int] = []
    var nonZeros = 0
    if events != nil {
        sampleNonZeros.reserveCapacity(batch)
        while sampleNonZeros.count < batch && nonZeros <= sparseLimit {
            let n = countNonZeros(rows: 1, cols: inSize, input + sampleNonZeros.count * inSize, inSize)
            sampleNonZeros.append(n)
            nonZeros += n
        }
    } else {
        nonZeros = countNonZeros(rows: 1, cols: batch * inSize, input, batch * inSize, limit: sparseLimit)
    }
    if nonZeros <= sparseLimit {
        forwardEvents(input: input, batch: batch, weight: weight, outChannels: outChannels, geometry: g, output: output,
                      events: events, sampleNonZeros: sampleNonZeros)
        return
    }
    if fastDense && Winograd3x3.applies(g) {
        Winograd3x3.forward(input: input, batch: batch, weight: weight, outChannels: outChannels, geometry: g, output: output)
        return
    }
    if g.outWidth >= 8 {
        conv2dForwardDirect(input: input, batch: batch, weight: weight, outChannels: outChannels, geometry: g, output: output)
        return
    }
    parallelFor(batch) { samples in
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: max(1, g.patchSize * g.outPositions))
        defer { cols.deallocate() }
        for s in samples {
            im2col(input + s * inSize, g, cols)
            gemm(m: outChannels, n: g.outPositions, k: g.patchSize, a: weight, lda: g.patchSize,
                 b: cols, ldb: g.outPositions, c: output + s * outSize, ldc: g.outPositions, parallel: false)
        }
    }
}

/// The event-driven path of ``conv2dForward(input:batch:weight:outChannels:geometry:output:)``
/// whatever the input density: every output is `0 + v1 * w1 + v2 * w2 + ...` over its non-zero
/// inputs in ascending input index (separate multiply and add), bit for bit what delivering the
/// events one by one in index order gives. Shapes and layouts as in `conv2dForward`.
///
/// `events`, when given (made for this geometry and batch), receives every sample's non-zero inputs as the
/// kernel sorts them, for the weight gradient of the same input.
public func conv2dForwardEvents(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                                geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>, events: ConvEventLists? = nil) {
    forwardEvents(input: input, batch: batch, weight: weight, outChannels: outChannels, geometry: g, output: output,
                  events: events, sampleNonZeros: [])
}

/// ``conv2dForwardEvents(input:batch:weight:outChannels:geometry:output:events:)`` given, when `events` is, the
/// samples' non-zero counts (`[batch]`; empty: counted here).
func forwardEvents(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                   geometry g: Conv2DGeometry, output: UnsafeMutablePointer<Float>, events: ConvEventLists?,
                   sampleNonZeros: [Int]) {
    guard batch > 0 else { return }
    let inSize = g.inSize, outSize = outChannels * g.outPositions
    if outSize == 0 { return }
    let o = outChannels, positions = g.outPositions
    // Weights as [C*kh*kw, O]: one contiguous row of O values per (c, ky, kx).
    let wT = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * o)
    defer { wT.deallocate() }
    transposeInto(src: weight, srcRows: o, srcCols: g.patchSize, srcStride: g.patchSize, dst: wT, dstStride: o)
    let wTc = UnsafePointer(wT)
    let tables = ConvScatter.shared(g)
    let sc = tables.scatter
    defer { withExtendedLifetime(tables) {} }
    if let events { precondition(events.geometry == g && events.batch == batch, "conv2dForwardEvents: event lists made for another shape") }
    let lists = events
    parallelFor(batch, minimumChunk: max(1, 4096 / max(1, outSize))) { samples in
        let yT = UnsafeMutablePointer<Float>.allocate(capacity: positions * o)
        let scratch = sc.makeScratch()
        defer { yT.deallocate(); scratch.deallocate() }
        for s in samples {
            yT.update(repeating: 0, count: positions * o)
            let x = input + s * inSize
            if let lists {
                let nonZeros = sampleNonZeros.isEmpty ? countNonZeros(rows: 1, cols: inSize, x, inSize) : sampleNonZeros[s]
                let block = lists.allocate(sample: s, nonZeros: nonZeros)
                var begin = 0
                for c in 0..<g.inChannels {
                    let ends = block.ends + c * lists.phases
                    let count = sc.sortChannel(x + c * sc.plane, scratch: scratch, positions: block.positions, values: block.values,
                                               ends: ends, begin: begin)
                    if count == 0 { continue }
                    sc.forEachTap(channel: c, positions: block.positions, values: block.values, ends: ends, begin: begin) { p, pos, v in
                        axpySmall(o, v, wTc + p * o, yT + pos * o)
                    }
                    begin += count
                }
                precondition(begin == nonZeros, "conv2dForwardEvents: non-zero count changed while sorting")
            } else {
                sc.forEachPair(x, channels: 0..<g.inChannels, scratch: scratch) { p, pos, v in
                    axpySmall(o, v, wTc + p * o, yT + pos * o)
                }
            }
            transposeInto(src: yT, srcRows: positions, srcCols: o, srcStride: o, dst: output + s * outSize,
                          dstStride: positions)
        }
    }
}

/// Tables for the event-driven convolution loops. Input `(iy, ix)` feeds output `(oy, ox)` through
/// tap `(ky, kx)` when `oy * stride - padding + ky == iy` (and likewise for x). Inputs are grouped by
/// their phase `(iy mod stride, ix mod stride)`: a tap is reached by the inputs of one phase only, so
/// the loops run over taps outside and over that phase's inputs inside, with trip counts the branch
/// predictor can follow (a per-input loop over its 1 to 4 taps mispredicts constantly).
struct ConvScatter {
    let g: Conv2DGeometry
    let plane: Int
    let outY: UnsafeMutablePointer<Int32>   // [ky * H + iy]: oy, or -1
    let outX: UnsafeMutablePointer<Int32>   // [kx * W + ix]: ox, or -1
    let phaseOf: UnsafeMutablePointer<Int32> // [iy * W + ix]: phase class
    let rowOf: UnsafeMutablePointer<Int32>, colOf: UnsafeMutablePointer<Int32>
    let tapPhaseY: [Int], tapPhaseX: [Int]   // the input phase each tap row / column is reached from

    init(_ g: Conv2DGeometry) {
        self.g = g
        let h = g.inHeight, w = g.inWidth, st = g.stride, pad = g.padding
        let kh = g.kernelHeight, kw = g.kernelWidth
        plane = h * w
        outY = .allocate(capacity: max(1, kh * h)); outX = .allocate(capacity: max(1, kw * w))
        phaseOf = .allocate(capacity: max(1, plane))
        rowOf = .allocate(capacity: max(1, plane)); colOf = .allocate(capacity: max(1, plane))
        func out(_ i: Int, _ k: Int, _ n: Int) -> Int32 {
            let t = i + pad - k
            if t < 0 || t % st != 0 || t / st >= n { return -1 }
            return Int32(t / st)
        }
        for ky in 0..<kh { for iy in 0..<h { outY[ky * h + iy] = out(iy, ky, g.outHeight) } }
        for kx in 0..<kw { for ix in 0..<w { outX[kx * w + ix] = out(ix, kx, g.outWidth) } }
        for iy in 0..<h {
            for ix in 0..<w {
                phaseOf[iy * w + ix] = Int32((iy % st) * st + ix % st)
                rowOf[iy * w + ix] = Int32(iy); colOf[iy * w + ix] = Int32(ix)
            }
        }
        tapPhaseY = (0..<kh).map { ky in ((ky - pad) % st + st) % st }
        tapPhaseX = (0..<kw).map { kx in ((kx - pad) % st + st) % st }
    }

    func deallocate() {
        outY.deallocate(); outX.deallocate(); phaseOf.deallocate(); rowOf.deallocate(); colOf.deallocate()
    }

    /// The tables of `g`, built once and shared by every call (each forward and backward pass of every
    /// time step asked for them anew, 2% of a layered CNN's training). Read-only once built; freed with
    /// the last reference (the cache forgets all of them when it holds 32 geometries).
    final class Shared: Sendable {
        nonisolated(unsafe) let scatter: ConvScatter
        init(_ g: Conv2DGeometry) { scatter = ConvScatter(g) }
        deinit { scatter.deallocate() }
    }

    static let cache = Mutex<[Conv2DGeometry: Shared]>([:])

    static func shared(_ g: Conv2DGeometry) -> Shared {
        if let found = cache.withLock({ $0[g] }) { return found }
        let made = Shared(g)
        return cache.withLock { tables in
            if let raced = tables[g] { return raced }
            if tables.count >= 32 { tables.removeAll() }
            tables[g] = made
            return made
        }
    }

    /// Per-thread scratch: the compacted non-zero inputs of one channel (`2 * (plane + 1)` Ints and Floats),
    /// their phase-sorted copy (Int32 positions, Floats) and phase counters.
    struct Scratch {
        let idx: UnsafeMutablePointer<Int>, val: UnsafeMutablePointer<Float>
        let sorted: UnsafeMutablePointer<Int32>, sortedVal: UnsafeMutablePointer<Float>
        let start: UnsafeMutablePointer<Int>, ends: UnsafeMutablePointer<Int32>
        init(plane: Int, phases: Int) {
            idx = .allocate(capacity: plane + 1); val = .allocate(capacity: plane + 1)
            sorted = .allocate(capacity: plane + 1); sortedVal = .allocate(capacity: plane + 1)
            start = .allocate(capacity: phases + 1); ends = .allocate(capacity: phases)
        }
        func deallocate() {
            idx.deallocate(); val.deallocate(); sorted.deallocate(); sortedVal.deallocate(); start.deallocate(); ends.deallocate()
        }
    }
    func makeScratch() -> Scratch { Scratch(plane: plane, phases: g.stride * g.stride) }

    /// Writes the non-zero inputs of one channel's map `x` (`[H, W]`), sorted by phase (stable: row-major order
    /// inside a phase), to `positions[begin...]` (map offsets) and `values[begin...]`; `ends[ph]` becomes the
    /// end of phase `ph` counted from `positions` (so phase 0 starts at `begin`). Returns the count.
    @inline(__always)
    func sortChannel(_ x: UnsafePointer<Float>, scratch sc: Scratch, positions: UnsafeMutablePointer<Int32>,
                     values: UnsafeMutablePointer<Float>, ends: UnsafeMutablePointer<Int32>, begin: Int) -> Int {
        let phases = g.stride * g.stride
        let count = compactNonZeros(x, plane, indices: sc.idx, values: sc.val)
        // Counting sort by phase.
        sc.start[0] = begin
        for ph in 1...phases { sc.start[ph] = 0 }
        if count > 0 {
            for l in 0..<count { sc.start[Int(phaseOf[sc.idx[l]]) + 1] += 1 }
            for ph in 0..<phases { sc.start[ph + 1] += sc.start[ph] }
            for l in 0..<count {
                let ph = Int(phaseOf[sc.idx[l]])
                let d = sc.start[ph]
                positions[d] = Int32(truncatingIfNeeded: sc.idx[l]); values[d] = sc.val[l]
                sc.start[ph] = d + 1
            }
        }
        // start[ph] is now the end of phase ph.
        for ph in 0..<phases { ends[ph] = Int32(truncatingIfNeeded: count > 0 ? sc.start[ph] : begin) }
        return count
    }

    /// Calls `body(patchRow, position, value)` for every non-zero input of channel `c` (as ``sortChannel``
    /// left them: phase `ph` at `[ph == 0 ? begin : ends[ph - 1], ends[ph])` of `positions` and `values`) and
    /// every output position it reaches, grouped by tap. `patchRow` is `(c * kh + ky) * kw + kx`.
    ///
    /// Taps run in ascending `(ky, kx)` order; tap `(ky, kx)` is reached only by inputs of phase
    /// `((ky - padding) mod stride, (kx - padding) mod stride)`. Each output therefore receives its inputs in
    /// ascending input index, the order of a plain event-by-event delivery.
    @inline(__always)
    func forEachTap(channel c: Int, positions: UnsafePointer<Int32>, values: UnsafePointer<Float>, ends: UnsafePointer<Int32>,
                    begin: Int, _ body: (_ patchRow: Int, _ position: Int, _ value: Float) -> Void) {
        let st = g.stride, h = g.inHeight, w = g.inWidth
        let kh = g.kernelHeight, kw = g.kernelWidth, wo = g.outWidth
        for ky in 0..<kh {
            let py = tapPhaseY[ky]
            let oyTable = outY + ky * h
            for kx in 0..<kw {
                let ph = py * st + tapPhaseX[kx]
                let lo = ph == 0 ? begin : Int(ends[ph - 1]), hi = Int(ends[ph])
                if lo == hi { continue }
                let oxTable = outX + kx * w
                let row = (c * kh + ky) * kw + kx
                for e in lo..<hi {
                    let q = Int(positions[e])
                    let oy = oyTable[Int(rowOf[q])], ox = oxTable[Int(colOf[q])]
                    if oy < 0 || ox < 0 { continue }
                    body(row, Int(oy) * wo + Int(ox), values[e])
                }
            }
        }
    }

    /// ``sortChannel(_:scratch:positions:values:ends:begin:)`` into the scratch, then
    /// ``forEachTap(channel:positions:values:ends:begin:_:)``, for each channel of `channels` (ascending) of
    /// one sample's `[C, H, W]` input `x`.
    @inline(__always)
    func forEachPair(_ x: UnsafePointer<Float>, channels: Range<Int>, scratch sc: Scratch,
                     _ body: (_ patchRow: Int, _ position: Int, _ value: Float) -> Void) {
        for c in channels {
            if sortChannel(x + c * plane, scratch: sc, positions: sc.sorted, values: sc.sortedVal, ends: sc.ends, begin: 0) == 0 {
                continue
            }
            forEachTap(channel: c, positions: sc.sorted, values: sc.sortedVal, ends: sc.ends, begin: 0, body)
        }
    }
}

/// The non-zero inputs of a convolution's batch, per sample and channel, sorted by phase as the event-driven
/// kernels visit them: what ``conv2dForwardEvents(input:batch:weight:outChannels:geometry:output:events:)``
/// builds anyway, kept so that the weight gradient of the same input
/// (``conv2dBackward(input:batch:weight:outChannels:geometry:outputGradient:transposedOutputGradient:weightGradient:inputGradient:events:)``)
/// does not find and sort them again.
///
/// Filled by one forward call (``isComplete`` once every sample is in); belongs to that call's input only.
/// Per sample, one block: phase ends (`Int32`, `[C, stride * stride]`), then map offsets (`Int32`) and values
/// (`Float`) of the non-zero inputs.
public final class ConvEventLists: @unchecked Sendable {
    /// The geometry and batch the lists were made for.
    public let geometry: Conv2DGeometry, batch: Int
    let phases: Int
    private let blocks: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let counts: UnsafeMutablePointer<Int>

    public init(geometry: Conv2DGeometry, batch: Int) {
        self.geometry = geometry; self.batch = max(0, batch); phases = geometry.stride * geometry.stride
        blocks = .allocate(capacity: max(1, self.batch)); blocks.initialize(repeating: nil, count: max(1, self.batch))
        counts = .allocate(capacity: max(1, self.batch)); counts.initialize(repeating: -1, count: max(1, self.batch))
    }

    deinit {
        for s in 0..<batch { blocks[s]?.deallocate() }
        blocks.deallocate(); counts.deallocate()
    }

    /// Whether every sample's lists are in.
    public var isComplete: Bool { (0..<batch).allSatisfy { counts[$0] >= 0 } }

    /// Non-zero inputs over the batch (valid once complete).
    public var nonZeroCount: Int { (0..<batch).reduce(0) { $0 + max(0, counts[$1]) } }

    /// Bytes held by the lists.
    public var bytes: Int {
        (0..<batch).reduce(0) { total, s in
            total + (counts[s] >= 0 ? Self.blockBytes(channels: geometry.inChannels, phases: phases, nonZeros: counts[s]) : 0)
        }
    }

    static func blockBytes(channels: Int, phases: Int, nonZeros: Int) -> Int { 4 * (channels * phases + 2 * nonZeros) }

    typealias Block = (ends: UnsafeMutablePointer<Int32>, positions: UnsafeMutablePointer<Int32>, values: UnsafeMutablePointer<Float>)

    /// Sample `s`'s block for `nonZeros` inputs (each sample is allocated by one thread, once).
    func allocate(sample s: Int, nonZeros: Int) -> Block {
        precondition(blocks[s] == nil, "ConvEventLists: sample \(s) filled twice")
        let bytes = Self.blockBytes(channels: geometry.inChannels, phases: phases, nonZeros: nonZeros)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(4, bytes), alignment: 4)
        blocks[s] = raw; counts[s] = nonZeros
        return block(raw, nonZeros)
    }

    /// Sample `s`'s block (after ``isComplete``).
    func block(sample s: Int) -> Block { block(blocks[s]!, counts[s]) }

    private func block(_ raw: UnsafeMutableRawPointer, _ nonZeros: Int) -> Block {
        let endCount = geometry.inChannels * phases
        let ends = raw.bindMemory(to: Int32.self, capacity: endCount + nonZeros)
        let values = (raw + 4 * (endCount + nonZeros)).bindMemory(to: Float.self, capacity: nonZeros)
        return (ends, ends + endCount, values)
    }
}

/// `y[0..<n] += alpha * x[0..<n]` for short rows (channel vectors): 16, then 8 lanes, then scalars.
@inline(__always)
func axpySmall(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var j = 0
    while j + 16 <= n { st16(y + j, ld16(y + j) + alpha * ld16(x + j)); j += 16 }
    if j + 8 <= n { st8(y + j, ld8(y + j) + alpha * ld8(x + j)); j += 8 }
    while j < n { y[j] += alpha * x[j]; j += 1 }
}

/// Folds `[Ho*Wo, C*kh*kw]` matrices (im2col transposed) back, adding into `[C, H, W]` maps. The
/// receptive-field arithmetic does not depend on the channel, so it is done once: a table of
/// (patch-row offset, map offset) pairs, one per output position and tap that lands inside the map,
/// in position order. Each map element receives its values in ascending output position, as a
/// position-by-position fold gives, without a bounds test per value.
struct TransposedFold {
    let g: Conv2DGeometry
    let count: Int
    let source: UnsafeMutablePointer<Int32>, target: UnsafeMutablePointer<Int32>

    init(_ g: Conv2DGeometry) {
        self.g = g
        let kh = g.kernelHeight, kw = g.kernelWidth, p = g.patchSize
        let capacity = max(1, g.outPositions * kh * kw)
        source = .allocate(capacity: capacity); target = .allocate(capacity: capacity)
        var n = 0
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for ky in 0..<kh {
                    let iy = oy * g.stride - g.padding + ky
                    if iy < 0 || iy >= g.inHeight { continue }
                    for kx in 0..<kw {
                        let ix = ox * g.stride - g.padding + kx
                        if ix < 0 || ix >= g.inWidth { continue }
                        source[n] = Int32((oy * g.outWidth + ox) * p + ky * kw + kx)
                        target[n] = Int32(iy * g.inWidth + ix)
                        n += 1
                    }
                }
            }
        }
        count = n
    }

    func deallocate() { source.deallocate(); target.deallocate() }

    /// Adds `rows` (`[Ho*Wo, C*kh*kw]`) into `x` (`[C, H, W]`).
    func add(_ rows: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>) {
        let taps = g.kernelHeight * g.kernelWidth, plane = g.inHeight * g.inWidth
        for c in 0..<g.inChannels {
            let src = rows + c * taps, dst = x + c * plane
            for e in 0..<count { dst[Int(target[e])] += src[Int(source[e])] }
        }
    }
}

/// Gradients of ``conv2dForward(input:batch:weight:outChannels:geometry:output:)``.
///
/// - `weightGradient` (`[O, C, kh, kw]`) is *accumulated* (added to).
/// - `inputGradient` (`[batch, C, H, W]`), when given, is overwritten.
///
/// Spike inputs take the event-driven path for the weight gradient (each non-zero input adds its
/// value times the output gradient at the positions it reached; threads own input channels). The
/// input gradient of stride-1 layers (inputs at least 8 wide, padding below the kernel size) is the
/// full correlation of `dY` with the flipped kernel (`convInputGradientDirect`; by Winograd's F(2x2, 3x3) for
/// 3x3 kernels with padding 1 on maps it fits, see `Winograd3x3`); otherwise it is
/// `dY^T W` per sample (a GEMM) folded back onto the input map. Sums are taken in an order that does
/// not depend on the thread count.
public func conv2dBackward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                           geometry g: Conv2DGeometry, outputGradient: UnsafePointer<Float>,
                           weightGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?) {
    conv2dBackward(input: input, batch: batch, weight: weight, outChannels: outChannels, geometry: g,
                   outputGradient: outputGradient, transposedOutputGradient: nil,
                   weightGradient: weightGradient, inputGradient: inputGradient)
}

/// ``conv2dBackward(input:batch:weight:outChannels:geometry:outputGradient:weightGradient:inputGradient:)``
/// with the output gradient in either layout or both, the same results:
///
/// - `outputGradient`: `[batch, O, Ho*Wo]` (channel-major, as the forward pass writes its output);
/// - `transposedOutputGradient`: `[batch, Ho*Wo, O]` (position-major), what the weight gradient reads.
///   A producer that has the gradient in cache one sample at a time (batch norm's backward pass) writes
///   it so for less than this function's own transpose of the whole batch costs.
///
/// At least one must be given; `outputGradient` is needed when `inputGradient` is asked for.
///
/// `events`: the forward pass's ``ConvEventLists`` of this `input`, when it kept them (complete, same geometry
/// and batch; others are ignored). The spike path then reads the non-zero inputs from them instead of finding
/// and sorting them again: the same sums in the same order.
public func conv2dBackward(input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
                           geometry g: Conv2DGeometry, outputGradient: UnsafePointer<Float>?,
                           transposedOutputGradient: UnsafePointer<Float>?,
                           weightGradient: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
                           events: ConvEventLists? = nil) {
    guard batch > 0 else { return }
    precondition(outputGradient != nil || (transposedOutputGradient != nil && inputGradient == nil),
                 "conv2dBackward: the input gradient needs the channel-major output gradient")
    let inSize = g.inSize, o = outChannels, positions = g.outPositions, outSize = o * positions
    let p = g.patchSize
    if outSize == 0 || p == 0 {
        if let dx = inputGradient { dx.update(repeating: 0, count: batch * inSize) }
        return
    }
    let sparseLimit = Int(convSparseDensity * Double(batch * inSize))
    let lists = events.flatMap { $0.geometry == g && $0.batch == batch && $0.isComplete ? $0 : nil }
    let sparse = (lists?.nonZeroCount ?? countNonZeros(rows: 1, cols: batch * inSize, input, batch * inSize, limit: sparseLimit))
        <= sparseLimit
    let dWt = UnsafeMutablePointer<Float>.allocate(capacity: p * o)  // [C*kh*kw, O]
    dWt.initialize(repeating: 0, count: p * o)
    defer { dWt.deallocate() }
    // The input gradient's path: the direct correlation (stride 1), W^T dY and a phased fold (outputs at least
    // 8 wide), or the transposed fold of narrow outputs, which reads dY position-major.
    let directInputGradient = g.stride == 1 && g.inWidth >= 8 && g.padding <= g.kernelHeight - 1
    let narrowInputGradient = inputGradient != nil && !directInputGradient && g.outWidth < 8
    // The output gradient as [batch, Ho*Wo, O], for the sparse weight gradient and the narrow input gradient
    // (the dense weight gradient transposes one sample at a time, while it is in cache).
    let needsWholeTranspose = transposedOutputGradient == nil && (sparse || narrowInputGradient)
    let dyBlock = acquireScratch(needsWholeTranspose ? batch * outSize * MemoryLayout<Float>.stride : 0)
    defer { releaseScratch(dyBlock) }
    let dyT = dyBlock.pointer.bindMemory(to: Float.self, capacity: needsWholeTranspose ? batch * outSize : 0)
    if needsWholeTranspose, let outputGradient {
        parallelFor(batch, minimumChunk: max(1, 8192 / outSize)) { samples in
            for s in samples {
                transposeInto(src: outputGradient + s * outSize, srcRows: o, srcCols: positions, srcStride: positions,
                              dst: dyT + s * outSize, dstStride: o)
            }
        }
    }
    let dyTc = transposedOutputGradient ?? UnsafePointer(dyT)
    if sparse {
        let tables = ConvScatter.shared(g)
        let sc = tables.scatter
        defer { withExtendedLifetime(tables) {} }
        parallelFor(g.inChannels) { channels in
            let scratch = sc.makeScratch()
            defer { scratch.deallocate() }
            for s in 0..<batch {
                let dys = dyTc + s * outSize
                if let lists {
                    let block = lists.block(sample: s)
                    for c in channels {
                        let ends = block.ends + c * lists.phases
                        let begin = c == 0 ? 0 : Int(ends[-1])
                        sc.forEachTap(channel: c, positions: block.positions, values: block.values, ends: ends, begin: begin) { row, pos, v in
                            axpySmall(o, v, dys + pos * o, dWt + row * o)
                        }
                    }
                } else {
                    sc.forEachPair(input + s * inSize, channels: channels, scratch: scratch) { row, pos, v in
                        axpySmall(o, v, dys + pos * o, dWt + row * o)
                    }
                }
            }
        }
    } else if Winograd3x3.applies(g) {
        Winograd3x3.weightGradient(input: input, batch: batch, outChannels: o, geometry: g, outputGradient: outputGradient,
                                   transposedOutputGradient: transposedOutputGradient, into: dWt)
    } else {
        // Dense inputs: dWt += cols(x_s) * dY_s^T over fixed groups of samples (partials summed in order).
        let group = 8
        let groups = (batch + group - 1) / group
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: groups * p * o)
        partial.initialize(repeating: 0, count: groups * p * o)
        defer { partial.deallocate() }
        parallelFor(groups) { gs in
            // Straight from the padded maps (the sums of the packed im2col GEMM; see convWeightGradientDirect).
            let planes = PhasePlanes(g)
            let padded = UnsafeMutablePointer<Float>.allocate(capacity: planes.count)
            padded.initialize(repeating: 0, count: planes.count)
            let sampleDyT = UnsafeMutablePointer<Float>.allocate(capacity: transposedOutputGradient == nil ? outSize : 0)
            defer { padded.deallocate(); sampleDyT.deallocate() }
            for gi in gs {
                for s in (gi * group)..<min(batch, (gi + 1) * group) {
                    planes.fill(input + s * inSize, padded)
                    var dys = dyTc + s * outSize
                    if transposedOutputGradient == nil, let outputGradient {
                        transposeInto(src: outputGradient + s * outSize, srcRows: o, srcCols: positions, srcStride: positions,
                                      dst: sampleDyT, dstStride: o)
                        dys = UnsafePointer(sampleDyT)
                    }
                    convWeightGradientDirect(padded: padded, geometry: g, outChannels: o, dyT: dys,
                                             dWt: partial + gi * p * o)
                }
            }
        }
        for gi in 0..<groups { axpyRow(p * o, 1, partial + gi * p * o, dWt) }
    }
    // weightGradient[o, p] += dWt[p, o]
    for oc in 0..<o {
        let dst = weightGradient + oc * p
        for r in 0..<p { dst[r] += dWt[r * o + oc] }
    }

    guard let dx = inputGradient, let outputGradient else { return }
    if directInputGradient {
        // The full correlation with the flipped kernel, straight from dY (no patch matrix, no fold).
        convInputGradientDirect(outputGradient: outputGradient, batch: batch, weight: weight, outChannels: o, geometry: g,
                                inputGradient: dx)
        return
    }
    if !narrowInputGradient {
        // dX: dcols[P, HW] = W^T dY_s per sample (a GEMM), folded back with contiguous row adds.
        let fold = PhasedFold(g)
        defer { fold.deallocate() }
        parallelFor(batch, minimumChunk: 1) { samples in
            let cols = UnsafeMutablePointer<Float>.allocate(capacity: p * positions)
            let planes = UnsafeMutablePointer<Float>.allocate(capacity: fold.planeCount)
            defer { cols.deallocate(); planes.deallocate() }
            for s in samples {
                gemm(m: p, n: positions, k: o, a: weight, lda: p, transA: true, b: outputGradient + s * outSize,
                     ldb: positions, c: cols, ldc: positions, parallel: false)
                fold.fold(cols, planes: planes, into: dx + s * inSize)
            }
        }
        return
    }
    // Narrow outputs: dcolsT[HW, P] = dyT_s[HW, O] * W[O, P] for a few samples at a time (one GEMM), folded back.
    let chunk = max(1, min(16, 65_536 / max(1, positions * p)))
    let fold = TransposedFold(g)
    defer { fold.deallocate() }
    parallelFor(batch, minimumChunk: 1) { samples in
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: chunk * positions * p)
        defer { rows.deallocate() }
        var s0 = samples.lowerBound
        while s0 < samples.upperBound {
            let cnt = min(chunk, samples.upperBound - s0)
            gemm(m: cnt * positions, n: p, k: o, a: dyTc + s0 * outSize, lda: o, b: weight, ldb: p,
                 c: rows, ldc: p, parallel: false)
            for s in s0..<(s0 + cnt) {
                let dxs = dx + s * inSize
                dxs.update(repeating: 0, count: inSize)
                fold.add(rows + (s - s0) * positions * p, into: dxs)
            }
            s0 += cnt
        }
    }
}

/// `col2im` for the input gradient without scattered writes: the input map is split into `stride`
/// column phases (`ix = X * stride + phase`, shifted by a margin so that padding columns have room),
/// in which every kernel tap's contribution is a contiguous shifted row add. The phases are then
/// interleaved back into the `[C, H, W]` map (overwritten).
struct PhasedFold {
    let g: Conv2DGeometry
    let margin: Int          // columns of padding room, in phase-plane units
    let planeWidth: Int      // X extent of one phase row
    let planeCount: Int      // C * stride * H * planeWidth
    let phaseOf: UnsafeMutablePointer<Int32>, xOf: UnsafeMutablePointer<Int32>  // per input column

    init(_ g: Conv2DGeometry) {
        self.g = g
        let st = g.stride
        margin = (g.padding + st - 1) / st
        planeWidth = g.outWidth + (g.kernelWidth - 1 + st * margin) / st + 1
        planeCount = max(1, g.inChannels * st * g.inHeight * planeWidth)
        phaseOf = .allocate(capacity: max(1, g.inWidth)); xOf = .allocate(capacity: max(1, g.inWidth))
        for ix in 0..<g.inWidth {
            let t = ix + st * margin
            phaseOf[ix] = Int32(t % st); xOf[ix] = Int32(t / st)
        }
    }
    func deallocate() { phaseOf.deallocate(); xOf.deallocate() }

    /// Folds `cols` (`[C*kh*kw, Ho*Wo]`) into `dx` (`[C, H, W]`, overwritten) using `planes` as scratch.
    func fold(_ cols: UnsafePointer<Float>, planes: UnsafeMutablePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let st = g.stride, pad = g.padding, h = g.inHeight, w = g.inWidth
        let kh = g.kernelHeight, kw = g.kernelWidth, ho = g.outHeight, wo = g.outWidth, pw = planeWidth
        planes.update(repeating: 0, count: planeCount)
        for c in 0..<g.inChannels {
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let t = kx - pad + st * margin
                    let phase = t % st, shift = t / st
                    let src = cols + ((c * kh + ky) * kw + kx) * ho * wo
                    let planeBase = planes + (c * st + phase) * h * pw + shift
                    for oy in 0..<ho {
                        let iy = oy * st - pad + ky
                        if iy < 0 || iy >= h { continue }
                        addRow(wo, src + oy * wo, planeBase + iy * pw)
                    }
                }
            }
        }
        // Input column ix lives in phase (ix + st * margin) mod st at X = (ix + st * margin) / st, so for strides 1
        // and 2 the rows are a shifted copy and an interleave of two shifted rows.
        let phasePlane = h * pw
        for c in 0..<g.inChannels {
            for iy in 0..<h {
                let d = dx + (c * h + iy) * w
                let base = planes + c * st * phasePlane + iy * pw
                switch st {
                case 1:
                    d.update(from: base + margin, count: w)
                case 2:
                    PhasedFold.interleave(base + margin, base + phasePlane + margin, count: w, into: d)
                default:
                    for ix in 0..<w { d[ix] = base[Int(phaseOf[ix]) * phasePlane + Int(xOf[ix])] }
                }
            }
        }
    }

    /// `d[2k] = even[k]`, `d[2k + 1] = odd[k]` for `2k (+ 1) < count`: eight pairs at a time with two-source shuffles.
    @inline(__always)
    static func interleave(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, count: Int,
                           into d: UnsafeMutablePointer<Float>) {
        var k = 0
        while 2 * k + 16 <= count {
            storeInterleaved(ld8(even + k), ld8(odd + k), into: d + 2 * k)
            k += 8
        }
        while 2 * k < count {
            d[2 * k] = even[k]
            if 2 * k + 1 < count { d[2 * k + 1] = odd[k] }
            k += 1
        }
    }
}

/// `y[0..<n] += x[0..<n]`.
@inline(__always)
func addRow(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var j = 0
    while j + 16 <= n { st16(y + j, ld16(y + j) + ld16(x + j)); j += 16 }
    if j + 8 <= n { st8(y + j, ld8(y + j) + ld8(x + j)); j += 8 }
    while j < n { y[j] += x[j]; j += 1 }
}
