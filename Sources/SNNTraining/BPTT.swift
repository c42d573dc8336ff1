import SNNCore
import SNNEngines
import SNNTensor

/// Backpropagation through time over a ``LayeredTape``: reverse mode through time steps (latest
/// first) and, inside each step, through the layers (last first), with the neurons' surrogate
/// gradient in place of the spike's derivative.
///
/// For a LIF population with `U_t = beta V_{t-1} + I_t`, `s_t = H(U_t - theta)` and post-reset
/// `V_t = reset(U_t, s_t)`:
/// `dL/dU_t = dL/ds_t * sg(U_t - theta) + dL/dV_t * dV_t/dU_t (+ dL/dU_t from a membrane loss)`,
/// `dL/dI_t = dL/dU_t`, and `dL/dV_{t-1} = beta * dL/dU_t` (zero when ``Options/detachMembraneAcrossSteps``).
public enum BPTT {
    /// Options of the backward pass.
    public struct Options: Sendable {
        /// Cut the membrane's gradient path between time steps (each step's gradient then stays within
        /// the step, as in online training); off for true BPTT.
        public var detachMembraneAcrossSteps = false
        public init(detachMembraneAcrossSteps: Bool = false) { self.detachMembraneAcrossSteps = detachMembraneAcrossSteps }
    }

    /// The weight gradients (one tensor per layer; empty for layers without weights).
    public static func gradients(network: Network, tape: LayeredTape, outputGradients: [Tensor],
                                 membraneGradients: [Tensor]?, options: Options = .init()) -> [Tensor] {
        let spec = network.spec
        let shapes = tape.shapes
        // Fix: validate the gradients against the tape (release builds have no bounds checks, so a short or
        // mis-shaped list was read out of bounds).
        let outCount = tape.shapes.last!.reduce(1, *)
        if outputGradients.count != tape.steps || tape.steps == 0
            || outputGradients.contains(where: { $0.count != outputGradients[0].count || $0.count % outCount != 0 })
            || (membraneGradients.map { $0.count != tape.steps || $0.contains { $0.count != outputGradients[0].count } } ?? false) {
            fatalError("BPTT: need \(tape.steps) output (and membrane) gradients of [batch, \(outCount)], got \(outputGradients.map(\.shape))")
        }
        let batch = outputGradients[0].shape[0]
        var grads = network.weights.map { Tensor(shape: $0.shape) }
        let firstNeeded = firstLayerNeedingInputGradient(spec)
        // Layer by layer (last first), every step of a layer (latest first) before the layer below: the
        // same operations per element as step by step, and what normalisation over time needs.
        var gs = outputGradients
        // Batch norm's input gradient written position-major for the conv layer below it (that layer's index, the tensors).
        var positionMajor: (layer: Int, gradients: [Tensor])?
        // The populations that take the channel-by-channel step. A pooling whose population below expands it is
        // skipped (gs then holds the pooling's output gradients when that population's step reads them).
        let plans = spec.layers.indices.map { channelwisePlan(spec, shapes: shapes, layer: $0, membraneLoss: membraneGradients != nil) }
        layers: for i in stride(from: spec.layers.count - 1, through: 0, by: -1) {
            let layer = spec.layers[i]
            if case .lif(let p) = layer {
                let plan = plans[i]
                // Per step, the channel totals batch norm's backward pass needs, when the step sums them.
                var channelTotals: [[Double]]? = plan?.sumsNormalization == true
                    ? [[Double]](repeating: [], count: tape.steps) : nil
                let perNeuron = shapes[i + 1].reduce(1, *)
                let n = batch * perNeuron
                var carriedIn = Tensor(shape: [batch, perNeuron])  // dL/dV_t carried from step t+1
                let keepCarry = !options.detachMembraneAcrossSteps
                let betas = p.perNeuronBeta
                // One leak and no membrane loss: the carry dL/dV_t = beta dL/dU_{t+1} is formed where it is used,
                // from step t+1's dU (kept anyway), instead of being written at t+1 and read back at t.
                let carryFromNext = keepCarry && betas == nil && (i != spec.layers.count - 1 || membraneGradients == nil)
                for t in stride(from: tape.steps - 1, through: 0, by: -1) {
                    let u = tape.preReset[t][i]!
                    let spikes = tape.spikes[t][i]!
                    let g = gs[t]
                    // Both are written at every element below (carriedOut only when the carry is kept; else it stays 0).
                    var dU = Tensor(shape: [batch, perNeuron]) { _ in }
                    let extra = (i == spec.layers.count - 1) ? membraneGradients?[t] : nil
                    var carriedOut = carryFromNext ? Tensor(shape: [0])
                        : (keepCarry ? Tensor(shape: [batch, perNeuron]) { _ in } : Tensor(shape: [batch, perNeuron]))
                    // Raw pointers: no copy-on-write checks in the per-element loop.
                    u.withUnsafeBufferPointer { up in
                    spikes.withUnsafeBufferPointer { sp in
                    g.withUnsafeBufferPointer { gp in
                    carriedIn.withUnsafeBufferPointer { cp in
                    dU.withUnsafeMutableBufferPointer { dp in
                    carriedOut.withUnsafeMutableBufferPointer { op in
                        var start = 0
                        if let plan {
                            let out = keepCarry && !carryFromNext ? op.baseAddress! : nil
                            var totals = [Double](repeating: 0, count: plan.sumsNormalization ? 2 * plan.channels : 0)
                            let normalized = plan.sumsNormalization ? tape.normalization[i]?.normalized[t] : nil
                            (normalized ?? Tensor(shape: [0])).withUnsafeBufferPointer { hp in
                                totals.withUnsafeMutableBufferPointer { tp in
                                    let h = normalized != nil ? hp.baseAddress : nil, tot = plan.sumsNormalization ? tp.baseAddress : nil
                                    switch p.surrogate {
                                    case .atan(let alpha):
                                        channelwiseLIFBackward(ATanLanes(alpha: alpha), p, plan: plan, batch: batch, u: up.baseAddress!,
                                                               spikes: sp.baseAddress!, g: gp.baseAddress!, carriedIn: cp.baseAddress!,
                                                               carriedInIsNextDU: carryFromNext, dU: dp.baseAddress!, carriedOut: out,
                                                               normalized: h, totals: tot)
                                    case .fastSigmoid(let slope):
                                        channelwiseLIFBackward(FastSigmoidLanes(slope: slope), p, plan: plan, batch: batch, u: up.baseAddress!,
                                                               spikes: sp.baseAddress!, g: gp.baseAddress!, carriedIn: cp.baseAddress!,
                                                               carriedInIsNextDU: carryFromNext, dU: dp.baseAddress!, carriedOut: out,
                                                               normalized: h, totals: tot)
                                    case .triangle(let height, let halfWidth):
                                        channelwiseLIFBackward(TriangleLanes(height: height, halfWidth: halfWidth), p, plan: plan, batch: batch,
                                                               u: up.baseAddress!, spikes: sp.baseAddress!, g: gp.baseAddress!,
                                                               carriedIn: cp.baseAddress!, carriedInIsNextDU: carryFromNext, dU: dp.baseAddress!,
                                                               carriedOut: out, normalized: h, totals: tot)
                                    case .sigmoid:
                                        preconditionFailure("BPTT: the sigmoid surrogate has no lane form")
                                    }
                                }
                            }
                            if plan.sumsNormalization {
                                precondition(normalized != nil, "BPTT: the tape has no normalisation cache for layer \(i)")
                                channelTotals![t] = totals
                            }
                            start = n
                        } else if extra == nil && betas == nil {
                            start = vectorisedLIFBackward(p, count: n, u: up.baseAddress!, spikes: sp.baseAddress!, g: gp.baseAddress!,
                                                          carriedIn: cp.baseAddress!, carriedInIsNextDU: carryFromNext, dU: dp.baseAddress!,
                                                          carriedOut: keepCarry && !carryFromNext ? op.baseAddress! : nil)
                        }
                        for j in start..<n {
                            let uj = up[j]
                            let x = uj - p.threshold
                            let sg = p.surrogate.gradient(x)
                            var d = gp[j] * sg
                            let carried = carryFromNext ? cp[j] * p.beta : cp[j]
                            d += carried * LIFDynamics.resetDerivative(u: uj, spike: sp[j], surrogateGradient: sg,
                                                                       threshold: p.threshold, reset: p.reset, detach: p.detachReset)
                            if let e = extra { d += e.data[j] }
                            dp[j] = d
                            if keepCarry && !carryFromNext { op[j] = d * (betas?[j % perNeuron] ?? p.beta) }
                        }
                    }}}}}}
                    carriedIn = carryFromNext ? dU : carriedOut
                    gs[t] = dU
                }
                if let alpha = p.synapticDecay { gs = SynapticCurrent.backward(gs, alpha: alpha) }
                if let norm = p.normalization {
                    guard let cache = tape.normalization[i] else {
                        fatalError("BPTT: the tape has no normalisation cache for layer \(i) (run the engine with training: true)")
                    }
                    // Under a conv layer, the gradient is also written position-major (what the conv's weight gradient
                    // reads, transposed one sample at a time while in cache); channel-major only if the conv passes it on.
                    var belowIsConv = false
                    if i > 0, case .conv2d = spec.layers[i - 1] { belowIsConv = true }
                    let written = NormalizationKernels.backward(norm, parameters: network.weights[i], threshold: p.threshold, cache: cache,
                                                                outputGradients: gs, parameterGradient: &grads[i],
                                                                channelMajor: !belowIsConv || i - 1 > firstNeeded, positionMajor: belowIsConv,
                                                                channelTotals: channelTotals)
                    gs = written.channelMajor
                    positionMajor = written.positionMajor.map { (i - 1, $0) }
                }
            } else {
                if i < firstNeeded && !layer.hasWeights { break }
                if i > 0, plans[i - 1]?.expandsPool == true {
                    // The population below reads this pooling's output gradient directly (channelwiseLIFBackward).
                    continue layers
                }
                let transposed = positionMajor?.layer == i ? positionMajor?.gradients : nil
                for t in stride(from: tape.steps - 1, through: 0, by: -1) {
                    let dx = SynapticKernels.backward(layer, weight: network.weights[i], cache: tape.caches[t][i],
                                                      outputGradient: gs[t].count == 0 ? gs[t] : gs[t].reshaped([batch] + shapes[i + 1]),
                                                      transposedOutputGradient: transposed?[t],
                                                      inShape: shapes[i], outShape: shapes[i + 1],
                                                      needInputGradient: i > firstNeeded, weightGradient: &grads[i])
                    if let dx { gs[t] = dx.reshaped([batch, dx.count / batch]) }
                }
                if i <= firstNeeded { break layers }
            }
        }
        return grads
    }

    /// The LIF backward step of ``gradients(network:tape:outputGradients:membraneGradients:options:)`` eight
    /// neurons at a time, for a population with one leak and no membrane loss: per lane the same operations,
    /// in the same order, as the scalar loop (``Surrogate/gradient(_:)``, ``LIFDynamics/resetDerivative``).
    /// Returns how many elements it did (a multiple of 8; the caller does the rest); 0 for the sigmoid
    /// surrogate, which stays scalar.
    /// With `carriedInIsNextDU` the carry is `carriedIn * beta` (step t+1's dU times the leak: the value
    /// `carriedOut` would have held).
    static func vectorisedLIFBackward(_ p: LIFParameters, count n: Int, u: UnsafePointer<Float>, spikes: UnsafePointer<Float>,
                                      g: UnsafePointer<Float>, carriedIn: UnsafePointer<Float>, carriedInIsNextDU: Bool = false,
                                      dU: UnsafeMutablePointer<Float>, carriedOut: UnsafeMutablePointer<Float>?) -> Int {
        if case .sigmoid = p.surrogate { return 0 }
        // Blocks of 8 lanes split over the cores (each element is independent of the others).
        let blocks = n / 8
        parallelFor(blocks, minimumChunk: 4096) { range in
            let first = range.lowerBound * 8, count = range.count * 8
            let out = carriedOut.map { $0 + first }
            switch p.surrogate {
            case .atan(let alpha):
                _ = lifBackwardLanes(ATanLanes(alpha: alpha), p, count, u + first, spikes + first, g + first, carriedIn + first,
                                     carriedInIsNextDU, dU + first, out)
            case .fastSigmoid(let slope):
                _ = lifBackwardLanes(FastSigmoidLanes(slope: slope), p, count, u + first, spikes + first, g + first, carriedIn + first,
                                     carriedInIsNextDU, dU + first, out)
            case .triangle(let height, let halfWidth):
                _ = lifBackwardLanes(TriangleLanes(height: height, halfWidth: halfWidth), p, count, u + first, spikes + first, g + first,
                                     carriedIn + first, carriedInIsNextDU, dU + first, out)
            case .sigmoid:
                break
            }
        }
        return blocks * 8
    }

    @inline(__always)
    static func lifBackwardLanes<S: LaneSurrogate>(_ surrogate: S, _ p: LIFParameters, _ n: Int, _ u: UnsafePointer<Float>,
                                                   _ spikes: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                                                   _ carriedIn: UnsafePointer<Float>, _ carriedInIsNextDU: Bool,
                                                   _ dU: UnsafeMutablePointer<Float>, _ carriedOut: UnsafeMutablePointer<Float>?) -> Int {
        var j = 0
        while j + 8 <= n {
            let d = lifLanes(surrogate, p, u: u + j, spikes: spikes + j, g: UnsafeRawPointer(g + j).loadUnaligned(as: SIMD8<Float>.self),
                             carriedIn: carriedIn + j, carriedInIsNextDU: carriedInIsNextDU)
            UnsafeMutableRawPointer(dU + j).storeBytes(of: d, as: SIMD8<Float>.self)
            if let carriedOut { UnsafeMutableRawPointer(carriedOut + j).storeBytes(of: d * p.beta, as: SIMD8<Float>.self) }
            j += 8
        }
        return j
    }

    /// `dL/dU` of eight neurons from their `U`, spikes, `dL/ds` (`g`) and the carry: per lane the scalar
    /// loop's operations in its order.
    @inline(__always)
    static func lifLanes<S: LaneSurrogate>(_ surrogate: S, _ p: LIFParameters, u: UnsafePointer<Float>, spikes: UnsafePointer<Float>,
                                           g: SIMD8<Float>, carriedIn: UnsafePointer<Float>, carriedInIsNextDU: Bool) -> SIMD8<Float> {
        typealias V = SIMD8<Float>
        let theta = V(repeating: p.threshold), one = V(repeating: 1)
        let uj = UnsafeRawPointer(u).loadUnaligned(as: V.self)
        let sg = surrogate.gradient(uj - theta)
        var d = g * sg
        let derivative: V
        if p.reset == .subtract {
            derivative = p.detachReset ? one : one - theta * sg
        } else {
            let s = UnsafeRawPointer(spikes).loadUnaligned(as: V.self)
            derivative = p.detachReset ? (one - s) : (one - s) - uj * sg
        }
        let carried = UnsafeRawPointer(carriedIn).loadUnaligned(as: V.self)
        d += (carriedInIsNextDU ? carried * V(repeating: p.beta) : carried) * derivative
        return d
    }

    /// The first layer with weights: nothing below it needs an input gradient.
    static func firstLayerNeedingInputGradient(_ spec: NetworkSpec) -> Int {
        spec.layers.firstIndex(where: { $0.hasWeights }) ?? spec.layers.count
    }
}

/// A surrogate gradient evaluated on eight lanes with the scalar formula's operations, in its order
/// (``Surrogate/gradient(_:)``).
protocol LaneSurrogate {
    func gradient(_ x: SIMD8<Float>) -> SIMD8<Float>
}

struct ATanLanes: LaneSurrogate {
    let alpha: Float
    @inline(__always) func gradient(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let pi = SIMD8<Float>(repeating: Float.pi)
        let z = pi * x * alpha / 2
        return 1 / (pi * (1 + z * z))
    }
}

struct FastSigmoidLanes: LaneSurrogate {
    let slope: Float
    @inline(__always) func gradient(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let d = 1 + slope * x.replacing(with: -x, where: x .< 0)
        return 1 / (d * d)
    }
}

struct TriangleLanes: LaneSurrogate {
    let height: Float, halfWidth: Float
    @inline(__always) func gradient(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // `max(0, v)` as the scalar formula's `Swift.max` takes it (`v >= 0 ? v : 0`, so NaN gives 0) in
        // one compare and blend: the standard library's `pointwiseMax` is a lane-by-lane loop.
        let v = 1 - x.replacing(with: -x, where: x .< 0) / halfWidth
        return height * SIMD8<Float>().replacing(with: v, where: v .>= 0)
    }
}

/// Surrogate gradients of many margins at once, eight lanes at a time with the scalar formula's operations.
enum SurrogateLanes {
    /// Writes `surrogate.gradient(x[i])` to `out[i]` for the leading multiple of 8 of `count` values and
    /// returns how many it wrote (0 for the sigmoid surrogate, which has no lane form).
    static func gradients(_ surrogate: Surrogate, _ x: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) -> Int {
        switch surrogate {
        case .atan(let alpha): return run(ATanLanes(alpha: alpha), x, count, out)
        case .fastSigmoid(let slope): return run(FastSigmoidLanes(slope: slope), x, count, out)
        case .triangle(let h, let w): return run(TriangleLanes(height: h, halfWidth: w), x, count, out)
        case .sigmoid: return 0
        }
    }

    @inline(__always)
    static func run<S: LaneSurrogate>(_ s: S, _ x: UnsafePointer<Float>, _ count: Int, _ out: UnsafeMutablePointer<Float>) -> Int {
        var i = 0
        while i + 8 <= count {
            let g = s.gradient(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(out + i).storeBytes(of: g, as: SIMD8<Float>.self)
            i += 8
        }
        return i
    }
}
