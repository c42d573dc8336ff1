import SNNCore
import SNNTensor

/// Where a population parameter's value for element `q` of a segment of neurons comes from: one value
/// for the whole segment (a channel's run of spatial positions), or one value per element (parameters
/// per neuron, or per channel when each neuron is its own channel).
protocol NeuronParameterLanes {
    func lanes(_ q: Int) -> SIMD8<Float>
    func scalar(_ q: Int) -> Float
}

/// One value for every element of the segment.
struct BroadcastParameter: NeuronParameterLanes {
    let value: Float
    @inline(__always) func lanes(_ q: Int) -> SIMD8<Float> { SIMD8(repeating: value) }
    @inline(__always) func scalar(_ q: Int) -> Float { value }
}

/// Element `q`'s value at `base[q]`.
struct ContiguousParameter: NeuronParameterLanes {
    let base: UnsafePointer<Float>
    @inline(__always) func lanes(_ q: Int) -> SIMD8<Float> { UnsafeRawPointer(base + q).loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) func scalar(_ q: Int) -> Float { base[q] }
}

/// The EM-PF population's element-wise passes eight neurons at a time, with blends instead of a branch
/// per neuron. Every lane computes exactly what ``SNNCore/EMPFNeuronRule`` computes for one neuron
/// (the same operations in the same order, no fused multiply-add), and every per-channel gradient is
/// accumulated in the same order (memory order of the batch), so the bits equal the scalar rule's.
///
/// The neuron array `[batch, channels, spatial]` is walked in segments within which per-channel values
/// are one broadcast value (`spatial > 1`: a channel's run) or run along the elements (`spatial == 1`:
/// a batch row, one neuron per channel).
enum EMPFNeuronLanes {
    /// Per-channel membrane normalisation `u = gamma * ((m - mean) * invStd) + beta`.
    struct Normalisation {
        var mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
    }

    /// Calls `body(first, count, channel, thetaIndex)` for each segment: elements `first ..< first + count`,
    /// of channel `channel` (nil: the segment runs along the channels from 0), whose thresholds start at
    /// `thetaIndex` (nil: one threshold, that of `channel`).
    @inline(__always)
    static func forEachSegment(batch: Int, channels: Int, spatial: Int, perChannel: Bool,
                               _ body: (_ first: Int, _ count: Int, _ channel: Int?, _ thetaIndex: Int?) -> Void) {
        if spatial == 1 {
            for b in 0..<batch { body(b * channels, channels, nil, 0) }
        } else {
            for b in 0..<batch {
                for c in 0..<channels { body((b * channels + c) * spatial, spatial, c, perChannel ? nil : c * spatial) }
            }
        }
    }

    /// `out = lambda * x + add` (`add` given: the integration `m = lambda * v + I`, one multiply and one add
    /// per neuron as in the asynchronous engine) or `out = lambda * x` (the carried dL/dv of the previous
    /// step, BPTT), the decay per channel or per neuron.
    static func decay(_ x: UnsafePointer<Float>, by decay: UnsafePointer<Float>, plus add: UnsafePointer<Float>?,
                      into out: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int, perChannel: Bool) {
        forEachSegment(batch: batch, channels: channels, spatial: spatial, perChannel: perChannel) { r, count, c, k in
            func run<D: NeuronParameterLanes>(_ d: D) {
                var q = 0
                while q + 8 <= count {
                    let scaled = d.lanes(q) * UnsafeRawPointer(x + r + q).loadUnaligned(as: SIMD8<Float>.self)
                    let sum = add.map { scaled + UnsafeRawPointer($0 + r + q).loadUnaligned(as: SIMD8<Float>.self) } ?? scaled
                    UnsafeMutableRawPointer(out + r + q).storeBytes(of: sum, as: SIMD8<Float>.self)
                    q += 8
                }
                while q < count {
                    let scaled = d.scalar(q) * x[r + q]
                    out[r + q] = add.map { scaled + $0[r + q] } ?? scaled
                    q += 1
                }
            }
            if let c, k == nil { run(BroadcastParameter(value: decay[c])) } else { run(ContiguousParameter(base: decay + k!)) }
        }
    }

    /// Forward of a population: from the integrated membrane `m`, the (normalised) membrane `u`
    /// (when `norm` is given), `xhat = (m - mean) * invStd` (when `xhat` is given), the spikes `s` and the
    /// post-reset membrane `v` (``SNNCore/EMPFNeuronRule/fire(_:theta:mode:)``).
    static func fire(m: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>?, xhat: UnsafeMutablePointer<Float>?,
                     s: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, theta: UnsafePointer<Float>,
                     norm: Normalisation?, mode: Int, batch: Int, channels: Int, spatial: Int, perChannel: Bool) {
        forEachSegment(batch: batch, channels: channels, spatial: spatial, perChannel: perChannel) { r, count, c, k in
            func run<T: NeuronParameterLanes, N: NeuronParameterLanes>(_ th: T, _ mean: N, _ inv: N, _ gamma: N, _ beta: N) {
                fireSegment(m + r, u: u.map { $0 + r }, xhat: xhat.map { $0 + r }, s: s + r, v: v + r, count: count,
                            theta: th, normalise: norm != nil, mean: mean, invStd: inv, gamma: gamma, beta: beta, mode: mode)
            }
            if let c {
                let z = BroadcastParameter(value: 0)
                let nm = norm.map { (BroadcastParameter(value: $0.mean[c]), BroadcastParameter(value: $0.invStd[c]),
                                     BroadcastParameter(value: $0.gamma[c]), BroadcastParameter(value: $0.beta[c])) } ?? (z, z, z, z)
                if let k { run(ContiguousParameter(base: theta + k), nm.0, nm.1, nm.2, nm.3) } else { run(BroadcastParameter(value: theta[c]), nm.0, nm.1, nm.2, nm.3) }
            } else {
                let nm = norm ?? Normalisation(mean: theta, invStd: theta, gamma: theta, beta: theta)   // unused without the norm
                run(ContiguousParameter(base: theta), ContiguousParameter(base: nm.mean), ContiguousParameter(base: nm.invStd),
                    ContiguousParameter(base: nm.gamma), ContiguousParameter(base: nm.beta))
            }
        }
    }

    @inline(__always)
    static func fireSegment<T: NeuronParameterLanes, N: NeuronParameterLanes>(
        _ m: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>?, xhat: UnsafeMutablePointer<Float>?,
        s: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, theta: T,
        normalise: Bool, mean: N, invStd: N, gamma: N, beta: N, mode: Int) {
        let zero = SIMD8<Float>(), one = SIMD8<Float>(repeating: 1)
        var q = 0
        while q + 8 <= count {
            let x = UnsafeRawPointer(m + q).loadUnaligned(as: SIMD8<Float>.self)
            var uu = x
            if normalise {
                let xh = (x - mean.lanes(q)) * invStd.lanes(q)
                if let xhat { UnsafeMutableRawPointer(xhat + q).storeBytes(of: xh, as: SIMD8<Float>.self) }
                uu = gamma.lanes(q) * xh + beta.lanes(q)
                UnsafeMutableRawPointer(u! + q).storeBytes(of: uu, as: SIMD8<Float>.self)
            }
            let th = theta.lanes(q)
            let fired = uu .> th
            let spike: SIMD8<Float>, after: SIMD8<Float>
            switch mode {
            case 0: spike = zero.replacing(with: uu - th, where: fired); after = uu.replacing(with: th, where: fired)
            case 1: spike = zero.replacing(with: uu, where: fired); after = uu.replacing(with: zero, where: fired)
            default: spike = zero.replacing(with: one, where: fired); after = uu.replacing(with: zero, where: fired)
            }
            UnsafeMutableRawPointer(s + q).storeBytes(of: spike, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(v + q).storeBytes(of: after, as: SIMD8<Float>.self)
            q += 8
        }
        while q < count {
            var uu = m[q]
            if normalise {
                let xh = (uu - mean.scalar(q)) * invStd.scalar(q)
                xhat?[q] = xh
                uu = gamma.scalar(q) * xh + beta.scalar(q)
                u![q] = uu
            }
            let f = EMPFNeuronRule.fire(uu, theta: theta.scalar(q), mode: mode)
            s[q] = f.spike; v[q] = f.membrane
            q += 1
        }
    }

    /// Backward of an excess or membrane population (``SNNCore/SpikeKind/excess``, `.membrane`):
    /// `du = fired ? gs : gv` (the straight-through gradient; `gv` the carried dL/dv, zero online) and,
    /// for excess spikes, `dtheta += gv - gs` over the firing neurons.
    ///
    /// A threshold per neuron (or per channel of a dense layer) gets its term added in place (nothing
    /// added where the neuron is silent). A threshold per channel of a conv map sums each sample's run
    /// of the channel as `ChannelChains` does (16 lanes, the fixed fold, then the tail in memory order;
    /// a silent neuron adds `+0` to its lane) and adds that total: `dTheta[c] += run total`, sample
    /// after sample.
    static func straightThrough(u: UnsafePointer<Float>, gs: UnsafePointer<Float>, gv: UnsafePointer<Float>?,
                                du: UnsafeMutablePointer<Float>, theta: UnsafePointer<Float>, dTheta: UnsafeMutablePointer<Float>?,
                                batch: Int, channels: Int, spatial: Int, perChannel: Bool) {
        forEachSegment(batch: batch, channels: channels, spatial: spatial, perChannel: perChannel) { r, count, c, k in
            let carried = gv.map { $0 + r }
            if let c, k == nil {
                let total = straightThroughRun(u + r, gs + r, carried, du + r, count: count, theta: theta[c], summing: dTheta != nil)
                dTheta?[c] += total
            } else {
                straightThroughInPlace(u + r, gs + r, carried, du + r, count: count, theta: theta + k!, dTheta: dTheta.map { $0 + k! })
            }
        }
    }

    /// `du = fired ? gs : gv` over a run sharing one threshold; returns (when `summing`) the run's
    /// threshold gradient `sum over firing neurons of (gv - gs)` in the lane order of `ChannelChains`.
    @inline(__always)
    static func straightThroughRun(_ u: UnsafePointer<Float>, _ gs: UnsafePointer<Float>, _ gv: UnsafePointer<Float>?,
                                   _ du: UnsafeMutablePointer<Float>, count: Int, theta: Float, summing: Bool) -> Float {
        let th = SIMD8<Float>(repeating: theta), zero = SIMD8<Float>()
        var lanes = (SIMD8<Float>(), SIMD8<Float>())
        @inline(__always) func block(_ q: Int) -> SIMD8<Float> {
            let uu = UnsafeRawPointer(u + q).loadUnaligned(as: SIMD8<Float>.self)
            let g = UnsafeRawPointer(gs + q).loadUnaligned(as: SIMD8<Float>.self)
            let carried = gv.map { UnsafeRawPointer($0 + q).loadUnaligned(as: SIMD8<Float>.self) } ?? zero
            let fired = uu .> th
            UnsafeMutableRawPointer(du + q).storeBytes(of: carried.replacing(with: g, where: fired), as: SIMD8<Float>.self)
            return zero.replacing(with: carried - g, where: fired)
        }
        let full = count & ~15
        var q = 0
        while q < full {
            let a = block(q), b = block(q + 8)
            if summing { lanes.0 += a; lanes.1 += b }
            q += 16
        }
        var tail: Float = 0
        while q < count {
            let fired = u[q] > theta
            let cv = gv?[q] ?? 0
            du[q] = fired ? gs[q] : cv
            if fired { tail += cv - gs[q] }
            q += 1
        }
        return summing ? ChannelChains.laneTotal(lanes.0, lanes.1) + tail : 0
    }

    /// `du = fired ? gs : gv` with a threshold per element, and `dTheta[q] += gv - gs` where fired.
    @inline(__always)
    static func straightThroughInPlace(_ u: UnsafePointer<Float>, _ gs: UnsafePointer<Float>, _ gv: UnsafePointer<Float>?,
                                       _ du: UnsafeMutablePointer<Float>, count: Int, theta: UnsafePointer<Float>,
                                       dTheta: UnsafeMutablePointer<Float>?) {
        var q = 0
        while q + 8 <= count {
            let uu = UnsafeRawPointer(u + q).loadUnaligned(as: SIMD8<Float>.self)
            let g = UnsafeRawPointer(gs + q).loadUnaligned(as: SIMD8<Float>.self)
            let carried = gv.map { UnsafeRawPointer($0 + q).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8<Float>()
            let fired = uu .> UnsafeRawPointer(theta + q).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(du + q).storeBytes(of: carried.replacing(with: g, where: fired), as: SIMD8<Float>.self)
            if let dTheta {
                let old = UnsafeRawPointer(dTheta + q).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dTheta + q).storeBytes(of: old.replacing(with: old + (carried - g), where: fired),
                                                               as: SIMD8<Float>.self)
            }
            q += 8
        }
        while q < count {
            let fired = u[q] > theta[q]
            let cv = gv?[q] ?? 0
            du[q] = fired ? gs[q] : cv
            if fired, let dTheta { dTheta[q] += cv - gs[q] }
            q += 1
        }
    }
}
