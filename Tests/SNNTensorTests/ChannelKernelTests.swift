import Testing
import SNNTensor

/// The batch-norm reductions and passes must give the plain loops' bits (they only run independent
/// channels' chains side by side and split channels or samples over the cores).
@Suite("Channel kernels")
struct ChannelKernelTests {
    /// (batch, channels, spatial): channel counts with and without a lane tail, spatial 1 (linear layers).
    static let shapes: [(Int, Int, Int)] = [(3, 16, 10), (2, 11, 7), (5, 3, 1), (4, 128, 1), (1, 9, 33), (2, 1, 4), (2, 8, 12), (3, 4, 3),
                                            (3, 5, 16), (2, 3, 50), (4, 8, 196)]

    @Test("ChannelSums.accumulate: per-sample partial sums (small maps) or 16 lanes over maps and samples, bit for bit", arguments: shapes.indices)
    func channelSums(index: Int) {
        let (batch, c, sp) = Self.shapes[index]
        var rng = TestRNG(UInt64(1000 + index))
        let maps = [rng.values(batch * c * sp, -3, 5), rng.values(batch * c * sp, -1, 2)]
        let center = (0..<c).map { Double($0) * 0.1 - 0.3 }
        for useCenter in [false, true] {
            var want = (0..<c).map { Double($0) * 0.5 }   // the totals start from what the buffer holds
            func term(_ v: Float, _ ch: Int) -> Double {
                if useCenter { let d = Double(v) - center[ch]; return d * d } else { return Double(v) }
            }
            if sp < ChannelChains.laneThreshold {
                for x in maps {
                    for b in 0..<batch { for ch in 0..<c {
                        var acc: Double = 0
                        for k in 0..<sp { acc += term(x[(b * c + ch) * sp + k], ch) }
                        want[ch] += acc
                    } }
                }
            } else {
                // The two maps one after the other: lanes carry on from the first map into the second.
                let both = maps[0] + maps[1]
                for ch in 0..<c {
                    let (lanes, tail) = Self.laneSums(batch: 2 * batch, channels: c, spatial: sp, channel: ch) { term(both[$0], ch) }
                    want[ch] += Self.fold(lanes)! + tail
                }
            }
            var got = (0..<c).map { Double($0) * 0.5 }
            maps[0].withUnsafeBufferPointer { m0 in
                maps[1].withUnsafeBufferPointer { m1 in
                    center.withUnsafeBufferPointer { cp in
                        ChannelSums.accumulate([m0.baseAddress!, m1.baseAddress!], batch: batch, channels: c, spatial: sp,
                                               center: useCenter ? cp.baseAddress! : nil, into: &got)
                    }
                }
            }
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "B\(batch) C\(c) S\(sp) center \(useCenter)")
        }
        // One pass for the sums and the squares: the bits of the two calls (squares = centre 0).
        let zeros = [Double](repeating: 0, count: c)
        var sums = (0..<c).map { Double($0) * 0.5 }, squares = sums.map { $0 + 1 }
        var wantSums = sums, wantSquares = squares
        maps[0].withUnsafeBufferPointer { m0 in
            maps[1].withUnsafeBufferPointer { m1 in
                let ms = [m0.baseAddress!, m1.baseAddress!]
                ChannelSums.accumulate(ms, batch: batch, channels: c, spatial: sp, into: &wantSums)
                zeros.withUnsafeBufferPointer { ChannelSums.accumulate(ms, batch: batch, channels: c, spatial: sp, center: $0.baseAddress!, into: &wantSquares) }
                sums.withUnsafeMutableBufferPointer { s in
                    squares.withUnsafeMutableBufferPointer {
                        ChannelSums.accumulate(ms, batch: batch, channels: c, spatial: sp, into: s.baseAddress!, squares: $0.baseAddress!)
                    }
                }
            }
        }
        #expect(sums.map(\.bitPattern) == wantSums.map(\.bitPattern), "B\(batch) C\(c) S\(sp) sums beside squares")
        #expect(squares.map(\.bitPattern) == wantSquares.map(\.bitPattern), "B\(batch) C\(c) S\(sp) squares")
    }

    @Test("ChannelSums.accumulateGradient and ChannelAffine: the backward sums and both passes, bit for bit", arguments: shapes.indices)
    func gradientSumsAndPasses(index: Int) {
        let (batch, c, sp) = Self.shapes[index]
        var rng = TestRNG(UInt64(1100 + index))
        let n = batch * c * sp
        let g = rng.values(n), h = rng.values(n, -2, 2), scale = rng.values(c, 0.5, 1.5)
        var wG = [Double](repeating: 0, count: c), wGH = wG, wSG = wG.map { $0 + 0.25 }, wSGH = wSG
        if sp < ChannelChains.laneThreshold {
            for b in 0..<batch { for ch in 0..<c {
                var a: Double = 0, ah: Double = 0
                for k in 0..<sp { let i = (b * c + ch) * sp + k; a += Double(g[i]); ah += Double(g[i]) * Double(h[i]) }
                wG[ch] += a; wGH[ch] += ah; wSG[ch] += a * Double(scale[ch]); wSGH[ch] += ah * Double(scale[ch])
            } }
        } else {
            for ch in 0..<c {
                let (lg, tg) = Self.laneSums(batch: batch, channels: c, spatial: sp, channel: ch) { Double(g[$0]) }
                let (lh, th) = Self.laneSums(batch: batch, channels: c, spatial: sp, channel: ch) { Double(g[$0]) * Double(h[$0]) }
                let a = Self.fold(lg)! + tg, ah = Self.fold(lh)! + th
                wG[ch] += a; wGH[ch] += ah; wSG[ch] += a * Double(scale[ch]); wSGH[ch] += ah * Double(scale[ch])
            }
        }
        var sG = [Double](repeating: 0, count: c), sGH = sG, sSG = sG.map { $0 + 0.25 }, sSGH = sSG
        ChannelSums.accumulateGradient(g: g, h: h, batch: batch, channels: c, spatial: sp, scale: scale,
                                       sumG: &sG, sumGH: &sGH, scaledG: &sSG, scaledGH: &sSGH)
        #expect(sG.map(\.bitPattern) == wG.map(\.bitPattern))
        #expect(sGH.map(\.bitPattern) == wGH.map(\.bitPattern))
        #expect(sSG.map(\.bitPattern) == wSG.map(\.bitPattern))
        #expect(sSGH.map(\.bitPattern) == wSGH.map(\.bitPattern))

        let mean = rng.values(c), inv = rng.values(c, 0.5, 2), shift = rng.values(c)
        var xhat = [Float](repeating: .nan, count: n), y = xhat, dx = xhat
        ChannelAffine.normalize(g, batch: batch, channels: c, spatial: sp, mean: mean, inverseStd: inv, scale: scale, shift: shift,
                                normalized: &xhat, y: &y)
        ChannelAffine.inputGradient(g, normalized: h, batch: batch, channels: c, spatial: sp, scale: scale, inverseStd: inv,
                                    meanG: mean, meanGH: shift, dx: &dx)
        for i in 0..<n {
            let ch = (i / sp) % c
            let hv = (g[i] - mean[ch]) * inv[ch]
            #expect(xhat[i].bitPattern == hv.bitPattern && y[i].bitPattern == (scale[ch] * hv + shift[ch]).bitPattern, "element \(i)")
            let want = inv[ch] * (g[i] * scale[ch] - mean[ch] - h[i] * shift[ch])
            #expect(dx[i].bitPattern == want.bitPattern, "element \(i)")
        }
    }

    /// The lane order of `ChannelChains` written out with scalars: lane `j` sums positions `q ≡ j (mod 16)`
    /// below the last full block, sample after sample; the tail is one chain in memory order.
    static func laneSums<F: FloatingPoint>(batch: Int, channels: Int, spatial: Int, channel: Int, _ term: (Int) -> F) -> ([F], F) {
        var lanes = [F](repeating: 0, count: 16), tail: F = 0
        let full = spatial / 16 * 16
        for b in 0..<batch { for q in 0..<spatial {
            let i = (b * channels + channel) * spatial + q
            if q < full { lanes[q % 16] += term(i) } else { tail += term(i) }
        } }
        return (lanes, tail)
    }

    /// The fixed fold of 16 lanes: `l[j] + l[j + 8]`, then `+ (j + 4)`, then `+ (j + 2)`, then the pair.
    static func fold<F: FloatingPoint>(_ l: [F]) -> F? {
        guard l.count == 16 else { return nil }
        let h = (0..<8).map { l[$0] + l[$0 + 8] }
        let q = (0..<4).map { h[$0] + h[$0 + 4] }
        let r = (0..<2).map { q[$0] + q[$0 + 2] }
        return r[0] + r[1]
    }

    @Test("ChannelChains: channel chains in memory order (small maps) or the documented 16-lane order, bit for bit", arguments: shapes.indices)
    func channelChains(index: Int) {
        let (batch, c, sp) = Self.shapes[index]
        var rng = TestRNG(UInt64(1200 + index))
        let n = batch * c * sp
        let x = rng.values(n, -4, 4), y = rng.values(n)
        var wS = rng.values(c), wP = rng.values(c)
        var gS = wS, gP = wP
        if sp < ChannelChains.laneThreshold {
            for ch in 0..<c { for b in 0..<batch { for q in 0..<sp {
                let i = (b * c + ch) * sp + q
                wS[ch] += x[i]; wP[ch] += x[i] * y[i]
            } } }
        } else {
            for ch in 0..<c {
                let (s, ts) = Self.laneSums(batch: batch, channels: c, spatial: sp, channel: ch) { x[$0] }
                let (p, tp) = Self.laneSums(batch: batch, channels: c, spatial: sp, channel: ch) { x[$0] * y[$0] }
                wS[ch] += Self.fold(s)! + ts
                wP[ch] += Self.fold(p)! + tp
            }
        }
        let (s0, p0) = (gS, gP)
        ChannelChains.accumulate(x, y, batch: batch, channels: c, spatial: sp, sums: &gS, products: &gP)
        #expect(gS.map(\.bitPattern) == wS.map(\.bitPattern))
        #expect(gP.map(\.bitPattern) == wP.map(\.bitPattern))
        // Products alone, sums alone: the same chains.
        var onlyP = p0, onlyS = s0
        ChannelChains.accumulate(x, y, batch: batch, channels: c, spatial: sp, sums: nil, products: &onlyP)
        ChannelChains.accumulate(x, nil, batch: batch, channels: c, spatial: sp, sums: &onlyS, products: nil)
        #expect(onlyP.map(\.bitPattern) == wP.map(\.bitPattern))
        #expect(onlyS.map(\.bitPattern) == wS.map(\.bitPattern))
        let center = (0..<c).map { Double($0) * 0.25 - 1 }
        for useCenter in [false, true] {
            var want = [Double](repeating: 0, count: c)
            func term(_ i: Int, _ ch: Int) -> Double {
                let v = Double(x[i])
                if useCenter { let d = v - center[ch]; return d * d } else { return v }
            }
            if sp < ChannelChains.laneThreshold {
                for ch in 0..<c { for b in 0..<batch { for q in 0..<sp { want[ch] += term((b * c + ch) * sp + q, ch) } } }
            } else {
                for ch in 0..<c {
                    let (lanes, tail) = Self.laneSums(batch: batch, channels: c, spatial: sp, channel: ch) { term($0, ch) }
                    want[ch] = Self.fold(lanes)! + tail
                }
            }
            var got = [Double](repeating: .nan, count: c)
            center.withUnsafeBufferPointer { cp in
                ChannelChains.doubleTotals(x, batch: batch, channels: c, spatial: sp, center: useCenter ? cp.baseAddress! : nil, into: &got)
            }
            #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "center \(useCenter)")
        }
    }

    @Test("sortByUniqueKey gives the standard library's order, short (in place) and long arrays")
    func sortByKey() {
        var rng = TestRNG(77)
        for n in [0, 1, 2, 3, 17, 64, 65, 200] {
            // Unique keys in random order, with their positions as payload.
            var keys = (0..<n).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
            for i in stride(from: n - 1, to: 0, by: -1) { keys.swapAt(i, rng.int(0...i)) }
            var items = keys.enumerated().map { (key: $0.element, position: $0.offset) }
            let want = items.sorted { $0.key < $1.key }
            sortByUniqueKey(&items) { $0.key }
            #expect(items.map(\.position) == want.map(\.position), "n = \(n)")
        }
        var hand: [UInt64] = [5, 3, 9, 1]
        sortByUniqueKey(&hand) { $0 }
        #expect(hand == [1, 3, 5, 9])
        // Already in order (left after the check), and in order but for one pair at either end.
        for n in [2, 64, 65, 200] {
            let ordered = (0..<n).map { UInt64($0) * 3 }
            var same = ordered
            sortByUniqueKey(&same) { $0 }
            #expect(same == ordered, "n = \(n)")
            var lastSwapped = ordered; lastSwapped.swapAt(n - 2, n - 1)
            sortByUniqueKey(&lastSwapped) { $0 }
            #expect(lastSwapped == ordered, "n = \(n), last pair swapped")
            var firstSwapped = ordered; firstSwapped.swapAt(0, 1)
            sortByUniqueKey(&firstSwapped) { $0 }
            #expect(firstSwapped == ordered, "n = \(n), first pair swapped")
        }
    }

    @Test("isAllZero, laneBits and forEachNonZero: hand values")
    func laneHelpers() {
        #expect(isAllZero(SIMD8<Float>(repeating: 0)))
        #expect(isAllZero(SIMD8<Float>(0, -0.0, 0, 0, -0.0, 0, 0, 0)))
        #expect(!isAllZero(SIMD8<Float>(0, 0, 0, 0, 0, 0, 0, .leastNonzeroMagnitude)))
        #expect(!isAllZero(SIMD8<Float>(.nan, 0, 0, 0, 0, 0, 0, 0)))
        #expect(!isAllZero(SIMD8<Float>(0, 0, 0, -1, 0, 0, 0, 0)))
        let v = SIMD8<Float>(0, 2, 0, -0.0, .nan, 1, 0, -3)
        #expect(laneBits(v .!= 0) == 0b1011_0010)
        #expect(laneBits(v .> 0) == 0b0010_0010)
        #expect(laneBits(SIMD8<Float>(repeating: 1) .> 0) == 0xFF)
        #expect(laneBits(SIMD8<Float>() .> 0) == 0)
        // forEachNonZero: ascending, NaN counts, -0 does not (also alone in a block), a tail of 3.
        var x = [Float](repeating: 0, count: 51)
        x[1] = 2; x[3] = -0.0; x[7] = .nan; x[8] = -1; x[20] = -0.0; x[40] = 0.5; x[41] = -0.0; x[50] = 3
        var seen: [Int] = []
        forEachNonZero(x, x.count) { seen.append($0) }
        #expect(seen == [1, 7, 8, 40, 50])
        // Random sparse arrays across the 4,096-entry chunks and a ragged tail, against the plain loop.
        var rng = TestRNG(91)
        for n in [0, 15, 16, 4_095, 4_096, 4_097, 9_000] {
            let y = rng.spikes(n, density: 0.1)
            var got: [Int] = []
            forEachNonZero(y, n) { got.append($0) }
            #expect(got == y.indices.filter { y[$0] != 0 }, "n \(n)")
        }
    }

    @Test("compactNonZeros: the plain loop's positions and values, at every density, block edge and count")
    func compaction() {
        func plain(_ x: [Float]) -> (indices: [Int32], values: [UInt32]) {
            let i = x.indices.filter { x[$0] != 0 }
            return (i.map { Int32($0) }, i.map { x[$0].bitPattern })
        }
        func check(_ x: [Float], _ context: String) {
            // Room for exactly `count` entries, filled with a marker to see stray writes past the count.
            var indices = [Int32](repeating: -7, count: x.count), values = [Float](repeating: 9, count: x.count)
            let n = compactNonZeros(x, x.count, indices: &indices, values: &values)
            let want = plain(x)
            #expect(n == want.indices.count, "\(context): count")
            #expect(Array(indices.prefix(n)) == want.indices, "\(context): positions")
            #expect(values.prefix(n).map(\.bitPattern) == want.values, "\(context): values")
            // Int positions (the sparse kernels' form) agree.
            var wide = [Int](repeating: -1, count: x.count), wideValues = [Float](repeating: 0, count: x.count)
            #expect(compactNonZeros(x, x.count, indices: &wide, values: &wideValues) == n, "\(context): Int count")
            #expect(wide.prefix(n).map { Int32($0) } == want.indices, "\(context): Int positions")
        }
        // Hand blocks: 0 to 6 events in a 64-entry block, the last entry set, NaN counts, -0 does not.
        for events in 0...6 {
            var x = [Float](repeating: 0, count: 64 + 64 + 9)
            for k in 0..<events { x[64 + 63 - 9 * k] = Float(k + 1) }
            x[5] = -0.0; x[130] = .nan; x[136] = -2
            check(x, "\(events) events in block 2")
        }
        var full = [Float](repeating: 1.5, count: 200)
        full[63] = 0; full[64] = -0.0
        check(full, "dense")
        var rng = TestRNG(17)
        for n in [0, 1, 7, 8, 63, 64, 65, 127, 128, 200, 2_312, 4_097] {
            for density: Float in [0, 0.02, 0.08, 0.3, 1] {
                check(rng.spikes(n, density: density).map { $0 * 2 }, "n \(n) density \(density)")
            }
        }
    }
}
