#if canImport(Glibc)
import Glibc
#endif

/// Element-wise and reduction kernels on raw `Float` buffers (SIMD, single-threaded: callers split
/// work themselves when the vectors are long). Sums are taken in a fixed order (16 lanes, then the
/// lanes added in order), so results are reproducible.
public enum Elementwise {
    /// `y += alpha * x` over `n` values.
    @inlinable
    public static func axpy(_ n: Int, alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        var j = 0
        let a = SIMD16<Float>(repeating: alpha)
        while j + 16 <= n {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            let yv = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + j).storeBytes(of: yv + a * xv, as: SIMD16<Float>.self)
            j += 16
        }
        while j < n { y[j] += alpha * x[j]; j += 1 }
    }

    /// `x *= alpha` over `n` values.
    @inlinable
    public static func scale(_ n: Int, by alpha: Float, _ x: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 16 <= n {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(x + j).storeBytes(of: xv * alpha, as: SIMD16<Float>.self)
            j += 16
        }
        while j < n { x[j] *= alpha; j += 1 }
    }

    /// `y += x` over `n` values.
    @inlinable
    public static func add(_ n: Int, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        var j = 0
        while j + 16 <= n {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            let yv = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(y + j).storeBytes(of: yv + xv, as: SIMD16<Float>.self)
            j += 16
        }
        while j < n { y[j] += x[j]; j += 1 }
    }

    /// The sum of `n` values.
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
        var acc = SIMD16<Float>()
        var j = 0
        while j + 16 <= n { acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self); j += 16 }
        var s: Float = 0
        for l in 0..<16 { s += acc[l] }
        while j < n { s += x[j]; j += 1 }
        return s
    }

    /// The dot product of two `n`-vectors.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Float {
        var acc = SIMD16<Float>()
        var j = 0
        while j + 16 <= n {
            acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(y + j).loadUnaligned(as: SIMD16<Float>.self)
            j += 16
        }
        var s: Float = 0
        for l in 0..<16 { s += acc[l] }
        while j < n { s += x[j] * y[j]; j += 1 }
        return s
    }

    /// Column sums of a `rows x cols` matrix (row stride `ld`) added into `out` (`cols` values): the
    /// bias gradient of a batch.
    public static func addColumnSums(rows: Int, cols: Int, _ x: UnsafePointer<Float>, ld: Int,
                                     into out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { add(cols, x + r * ld, into: out) }
    }

    /// Softmax cross-entropy of each row of a `rows x cols` matrix of logits against integer labels.
    ///
    /// Returns the **mean** loss over the rows, `mean_r (logsumexp(z_r) - z_r[label_r])`, computed
    /// stably (the row maximum is subtracted first). When `gradient` is given, it receives
    /// `d mean / d z` (`rows x cols`, overwritten), that is `(softmax(z_r) - onehot(label_r)) * weight / rows`,
    /// where `weight` scales the gradient (e.g. `1 / T` when the loss is averaged over `T` frames).
    @discardableResult
    public static func softmaxCrossEntropyRows(logits z: UnsafePointer<Float>, rows: Int, cols: Int,
                                               labels: UnsafePointer<Int>,
                                               gradient: UnsafeMutablePointer<Float>? = nil,
                                               gradientWeight weight: Float = 1) -> Float {
        guard rows > 0, cols > 0 else { return 0 }
        var total: Double = 0
        let gScale = weight / Float(rows)
        for r in 0..<rows {
            let row = z + r * cols
            let label = labels[r]
            precondition(label >= 0 && label < cols, "softmaxCrossEntropyRows: label \(label) outside 0..<\(cols)")
            var mx = -Float.infinity
            for j in 0..<cols { mx = max(mx, row[j]) }
            var se: Float = 0
            for j in 0..<cols { se += expf(row[j] - mx) }
            let lse = mx + logf(se)
            total += Double(lse - row[label])
            if let g = gradient {
                let gr = g + r * cols
                let inv = 1 / se
                for j in 0..<cols { gr[j] = expf(row[j] - mx) * inv * gScale }
                gr[label] -= gScale
            }
        }
        return Float(total / Double(rows))
    }
}

/// Bit `l` set when lane `l` of `mask` is true (the standard library's `any`/`==` on SIMD values
/// become lane-by-lane loops; this is a narrowing and one multiply).
@inlinable @inline(__always)
public func laneBits(_ mask: SIMDMask<SIMD8<Int32>>) -> UInt32 {
    // Each lane's low byte (0 or 0xff), gathered into one UInt64 by element extraction (a byte shuffle);
    // the standard library's SIMD8<UInt8>(truncatingIfNeeded:) was left as an out-of-line call.
    let b = unsafeBitCast(SIMD8<Int32>().replacing(with: -1, where: mask), to: SIMD32<UInt8>.self)
    let bytes = unsafeBitCast(SIMD8<UInt8>(b[0], b[4], b[8], b[12], b[16], b[20], b[24], b[28]), to: UInt64.self)
    return UInt32(truncatingIfNeeded: ((bytes & 0x8080_8080_8080_8080) &* 0x0002_0408_1020_4081) >> 56)
}

/// Whether every lane of `v` equals zero (`+0` or `-0`; NaN is not zero), as `v == SIMD8(repeating: 0)`
/// decides it, without the standard library's lane-by-lane loop.
@inlinable @inline(__always)
public func isAllZero(_ v: SIMD8<Float>) -> Bool {
    let b = unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7fff_ffff
    let h = b.lowHalf | b.highHalf
    let q = h.lowHalf | h.highHalf
    return q[0] | q[1] == 0
}

/// Calls `body(i)` for every `i` in `0..<count` with `x[i] != 0` (NaN included), in ascending order.
///
/// Two passes over chunks of 4,096 entries. The first turns every block of sixteen entries into a
/// 16-bit mask without a branch, so the loads of a chunk overlap: a branch on freshly loaded data
/// that is not yet in cache serialises the misses (each mispredicted "block is empty" test waits a
/// full memory latency; a scan of dense event frames ran at about one cache line per memory latency).
/// The second walks the non-zero masks' set bits, from cache, with no branch per entry.
@inlinable @inline(__always)
public func forEachNonZero(_ x: UnsafePointer<Float>, _ count: Int, _ body: (Int) -> Void) {
    let chunkBlocks = 256
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: chunkBlocks) { masks in
        var first = 0
        while first + 16 <= count {
            let blocks = min(chunkBlocks, (count - first) / 16)
            for k in 0..<blocks {
                let p = x + first + 16 * k
                let lo = UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
                let hi = UnsafeRawPointer(p + 8).loadUnaligned(as: SIMD8<Float>.self)
                masks[k] = UInt16(truncatingIfNeeded: laneBits(lo .!= 0) | laneBits(hi .!= 0) << 8)
            }
            for k in 0..<blocks {
                var bits = masks[k]
                while bits != 0 {
                    body(first + 16 * k + bits.trailingZeroBitCount)
                    bits &= bits &- 1
                }
            }
            first += 16 * blocks
        }
        while first < count {
            if x[first] != 0 { body(first) }
            first += 1
        }
    }
}

/// Bit `l` set when `x[l] != 0` (NaN included), for `l` in `0..<64`. Each group of eight lanes keeps its
/// compare mask's lane weights (1, 2, ..., 128) shifted to its byte; four groups are OR-ed lane by lane
/// and their eight lanes folded into 32 bits: a third of the instructions of ``laneBits(_:)`` on every
/// group of eight.
@inlinable @inline(__always)
public func nonZeroBits64(_ x: UnsafePointer<Float>) -> UInt64 {
    let weights = SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128)
    @inline(__always) func group(_ k: Int) -> SIMD8<Int32> {
        let v = UnsafeRawPointer(x + 8 * k).loadUnaligned(as: SIMD8<Float>.self)
        return SIMD8<Int32>().replacing(with: -1, where: v .!= 0) & weights
    }
    let lo = group(0) | group(1) &<< 8 | group(2) &<< 16 | group(3) &<< 24
    let hi = group(4) | group(5) &<< 8 | group(6) &<< 16 | group(7) &<< 24
    let h = lo.lowHalf | lo.highHalf, h2 = hi.lowHalf | hi.highHalf
    let q = h.lowHalf | h.highHalf, q2 = h2.lowHalf | h2.highHalf
    return UInt64(UInt32(bitPattern: q[0] | q[1])) | UInt64(UInt32(bitPattern: q2[0] | q2[1])) &<< 32
}

/// Writes the positions (ascending) and values of the entries of `x[0..<count]` that are not zero
/// (NaN included, as ``forEachNonZero(_:_:_:)`` decides) to `indices` and `values`, and returns their
/// number. Both need room for `count` entries.
///
/// Blocks of 64 entries become one 64-bit mask without a branch. The first four events of a block
/// are then written whatever their number (a spare slot takes the block's last entry, and the next
/// events overwrite it), so the usual sparse block (events or input spikes at a few percent: 0 to
/// 4 events) costs no branch on its event count; only the rest are walked one by one. A spare slot
/// lies below the block's end, so `count` entries of room suffice. Walking each block of sixteen's set
/// bits with a loop (``forEachNonZero(_:_:_:)``) mispredicted its exit about once per block: this runs
/// N-MNIST-like frames about twice as fast.
@inlinable
public func compactNonZeros<Index: FixedWidthInteger>(_ x: UnsafePointer<Float>, _ count: Int, indices: UnsafeMutablePointer<Index>,
                                                      values: UnsafeMutablePointer<Float>) -> Int {
    var e = 0
    var i = 0
    while i + 64 <= count {
        var m = nonZeroBits64(x + i)
        let found = m.nonzeroBitCount
        for q in 0..<4 {
            let j = i + (m | 1 << 63).trailingZeroBitCount
            indices[e + q] = Index(truncatingIfNeeded: j); values[e + q] = x[j]
            m &= m &- 1
        }
        var extra = e + 4
        while m != 0 {
            let j = i + m.trailingZeroBitCount
            indices[extra] = Index(truncatingIfNeeded: j); values[extra] = x[j]
            extra += 1
            m &= m &- 1
        }
        e += found
        i += 64
    }
    while i + 8 <= count {
        var m = laneBits(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) .!= 0)
        while m != 0 {
            let j = i + m.trailingZeroBitCount
            indices[e] = Index(truncatingIfNeeded: j); values[e] = x[j]
            e += 1
            m &= m &- 1
        }
        i += 8
    }
    while i < count {
        if x[i] != 0 { indices[e] = Index(truncatingIfNeeded: i); values[e] = x[i]; e += 1 }
        i += 1
    }
    return e
}

/// Sorts `items` ascending by `key`, which must be unique (a total order, so the result does not depend
/// on the method). Items already in order (the spikes of a layered-like forward step usually are) are
/// left after one pass; otherwise up to 64 items (e.g. the spikes of one asynchronous forward step) are
/// insertion-sorted in place on the keys, and longer arrays use the standard library's sort.
@inlinable
public func sortByUniqueKey<T>(_ items: inout [T], key: (T) -> UInt64) {
    let n = items.count
    guard n > 1 else { return }
    let sorted = items.withUnsafeBufferPointer { p -> Bool in
        var previous = key(p[0])
        for i in 1..<n {
            let k = key(p[i])
            if k < previous { return false }
            previous = k
        }
        return true
    }
    if sorted { return }
    guard n <= 64 else { items.sort { key($0) < key($1) }; return }
    items.withUnsafeMutableBufferPointer { p in
        for i in 1..<n {
            let x = p[i], k = key(x)
            var j = i
            while j > 0 && key(p[j - 1]) > k { p[j] = p[j - 1]; j -= 1 }
            p[j] = x
        }
    }
}
