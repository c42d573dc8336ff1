import SNNCore
import SNNTensor

extension BPTT {
    /// Whether eligible populations take the channel-by-channel backward step (the same bits as the
    /// pooling's backward pass, the plain step and batch norm's channel sums one after another); false
    /// runs those separately (tests compare them).
    nonisolated(unsafe) public static var foldsIntoPopulationStep = true

    /// What the channel-by-channel LIF backward step (``channelwiseLIFBackward(_:_:plan:batch:u:spikes:g:carriedIn:carriedInIsNextDU:dU:carriedOut:normalized:totals:)``)
    /// takes over for a population of `[C, H, W]` maps, so that the maps are read once instead of three times.
    struct ChannelwisePlan: Equatable {
        /// A 2x2 average pooling (stride 2) follows: its backward pass (each input gets `0 + dP * 0.25`) is
        /// done while reading `dL/ds`, and the pooling layer's own is skipped.
        var expandsPool: Bool
        /// The population normalises its input (BNTT, BN, tdBN): the channel totals of `dL/dI` and
        /// `dL/dI * x_hat` that batch norm's backward pass needs are summed in the same pass, in
        /// `ChannelSums`' lane order (the same bits as summing them afterwards).
        var sumsNormalization: Bool
        var channels: Int, height: Int, width: Int
    }

    /// The plan for LIF layer `i` of `spec`, or nil when the plain step runs: one leak, no synaptic
    /// current, a surrogate with a lane form, no membrane loss, rows a multiple of 8 wide; and something to fold in.
    static func channelwisePlan(_ spec: NetworkSpec, shapes: [[Int]], layer i: Int, membraneLoss: Bool) -> ChannelwisePlan? {
        guard foldsIntoPopulationStep, i >= 0, i < spec.layers.count, case .lif(let p) = spec.layers[i], p.perNeuronBeta == nil, p.synapticDecay == nil else { return nil }
        if case .sigmoid = p.surrogate { return nil }
        if i == spec.layers.count - 1 && membraneLoss { return nil }
        let shape = shapes[i + 1]
        guard shape.count == 3, shape[2] > 0, shape[2] % 8 == 0 else { return nil }
        var expands = false
        if i + 1 < spec.layers.count, case .avgPool2d(let k, let s) = spec.layers[i + 1], k == 2, s == 2, shape[1] % 2 == 0 { expands = true }
        let spatial = shape[1] * shape[2]
        var sums = false
        if let norm = p.normalization, norm.kind != .bias, spatial >= ChannelChains.laneThreshold, spatial % 16 == 0 { sums = true }
        guard expands || sums else { return nil }
        return ChannelwisePlan(expandsPool: expands, sumsNormalization: sums, channels: shape[0], height: shape[1], width: shape[2])
    }

    /// One step of the LIF backward pass over `[batch, C, H, W]` maps, channel by channel (threads own
    /// channels). Per element the operations of ``lifBackwardLanes(_:_:_:_:_:_:_:_:_:_:)``. With
    /// `plan.expandsPool`, `g` is the pooling's output gradient (`[batch, C, H/2, W/2]`); with
    /// `plan.sumsNormalization`, `totals[2c]` and `totals[2c + 1]` receive channel `c`'s sums of `dU` and of
    /// `dU * normalized` (``SNNTensor/ChannelSums``' 16 Double lanes, sample after sample, folded the same way).
    static func channelwiseLIFBackward<S: LaneSurrogate>(_ surrogate: S, _ p: LIFParameters, plan: ChannelwisePlan, batch: Int,
                                                         u: UnsafePointer<Float>, spikes: UnsafePointer<Float>, g: UnsafePointer<Float>,
                                                         carriedIn: UnsafePointer<Float>, carriedInIsNextDU: Bool,
                                                         dU: UnsafeMutablePointer<Float>, carriedOut: UnsafeMutablePointer<Float>?,
                                                         normalized: UnsafePointer<Float>?, totals: UnsafeMutablePointer<Double>?) {
        let c = plan.channels, w = plan.width, spatial = plan.height * plan.width
        let pooledPlane = spatial / 4, pooledWidth = w / 2
        let sums = plan.sumsNormalization && normalized != nil && totals != nil
        parallelFor(c, minimumChunk: 1) { channels in
            for ch in channels {
                var s0 = SIMD4<Double>(), s1 = s0, s2 = s0, s3 = s0
                var p0 = SIMD4<Double>(), p1 = p0, p2 = p0, p3 = p0
                for b in 0..<batch {
                    let base = (b * c + ch) * spatial, pooledBase = (b * c + ch) * pooledPlane
                    let h = sums ? normalized! + base : u  // (u: never read when not summing)
                    var y = 0, x = 0  // the position of the next block of 8 (rows are a multiple of 8 wide)
                    var k = 0
                    while k < spatial {
                        // Two blocks of 8 (one when not summing: spatial is then only a multiple of 8).
                        var d = (SIMD8<Float>(), SIMD8<Float>())
                        for half in 0..<(sums ? 2 : 1) {
                            let kk = k + 8 * half
                            let gv = plan.expandsPool
                                ? pooledShare(g + pooledBase + (y / 2) * pooledWidth + x / 2)
                                : UnsafeRawPointer(g + base + kk).loadUnaligned(as: SIMD8<Float>.self)
                            x += 8
                            if x == w { x = 0; y += 1 }
                            let j = base + kk
                            let dj = lifLanes(surrogate, p, u: u + j, spikes: spikes + j, g: gv, carriedIn: carriedIn + j,
                                              carriedInIsNextDU: carriedInIsNextDU)
                            UnsafeMutableRawPointer(dU + j).storeBytes(of: dj, as: SIMD8<Float>.self)
                            if let carriedOut { UnsafeMutableRawPointer(carriedOut + j).storeBytes(of: dj * p.beta, as: SIMD8<Float>.self) }
                            if half == 0 { d.0 = dj } else { d.1 = dj }
                        }
                        if sums {
                            let g0 = ChannelChains.widen(d.0.lowHalf), g1 = ChannelChains.widen(d.0.highHalf)
                            let g2 = ChannelChains.widen(d.1.lowHalf), g3 = ChannelChains.widen(d.1.highHalf)
                            s0 += g0; s1 += g1; s2 += g2; s3 += g3
                            p0 += g0 * ChannelChains.loadWide(h + k); p1 += g1 * ChannelChains.loadWide(h + k + 4)
                            p2 += g2 * ChannelChains.loadWide(h + k + 8); p3 += g3 * ChannelChains.loadWide(h + k + 12)
                            k += 16
                        } else {
                            k += 8
                        }
                    }
                }
                if sums, let totals {
                    let tail: Double = 0  // spatial is a multiple of 16: ChannelSums' scalar tail is empty
                    totals[2 * ch] = ChannelChains.laneTotal(s0, s1, s2, s3) + tail
                    totals[2 * ch + 1] = ChannelChains.laneTotal(p0, p1, p2, p3) + tail
                }
            }
        }
    }

    /// A 2x2 average pooling's backward pass for eight inputs of a row: each of four outputs' gradients
    /// `dP` (at `p`) shared by its two columns, `0 + dP * 0.25` as `Pool2D.averageBackward` writes it.
    @inline(__always)
    static func pooledShare(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        let share = 0 + UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) * 0.25
        return SIMD8(share[0], share[0], share[1], share[1], share[2], share[2], share[3], share[3])
    }
}
