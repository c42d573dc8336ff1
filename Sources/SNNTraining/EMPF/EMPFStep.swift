import Foundation
import SNNCore
import SNNTensor

/// Counts the bytes a training step holds: tapes (activations kept for the backward pass), neuron
/// state, eligibility traces, gradient buffers and backward temporaries, each registered by the
/// code that creates it. `peak` is the largest total seen. Input frames (the data) are not counted.
public final class ByteMeter: @unchecked Sendable {
    public private(set) var live = 0
    public private(set) var peak = 0
    public init() {}
    /// Registers `bytes` more.
    public func alloc(_ bytes: Int) { live += bytes; peak = max(peak, live) }
    /// Releases `bytes`.
    public func free(_ bytes: Int) { live -= bytes }
    /// Registers the storage of `t`.
    public func alloc(_ t: Tensor?) { alloc((t?.count ?? 0) * 4) }
    public func free(_ t: Tensor?) { free((t?.count ?? 0) * 4) }
    /// Forgets everything.
    public func reset() { live = 0; peak = 0 }
}

/// The recurrent state of an EM-PF network between time steps.
public struct EMPFState: Sendable {
    /// Post-reset membrane `v` of each population `[batch, n]` (nil for other layers).
    public var membranes: [Tensor?]
    /// OTTT: the presynaptic eligibility trace of each weighted layer's input (nil otherwise).
    public var traces: [Tensor?]
    /// Bytes held.
    public var bytes: Int { (membranes + traces).reduce(0) { $0 + ($1?.count ?? 0) * 4 } }
}

/// What one time step keeps for its backward pass.
public struct EMPFStepTape: Sendable {
    struct Layer: Sendable {
        var cache = SynapticKernels.Cache()
        var vPrev: Tensor? = nil      // membrane before the step (the decay's gradient)
        var u: Tensor? = nil          // (normalised) membrane compared with the threshold
        var xhat: Tensor? = nil       // normalised membrane before gamma/beta (BN)
        var invStd: [Float] = []      // 1 / sqrt(var + eps) per channel (BN)
        var gates: [Float] = []       // channel attention: sigmoid gates [batch, C]
        var means: [Float] = []       // channel attention: channel means [batch, C]
    }
    var layers: [Layer]
    var batch: Int
    /// Bytes held.
    public var bytes: Int {
        layers.reduce(0) { acc, l in
            acc + (l.cache.events?.bytes ?? 0) + 4 * ((l.cache.input?.count ?? 0) + (l.cache.argmax?.count ?? 0) + (l.cache.mask?.count ?? 0)
                       + (l.vPrev?.count ?? 0) + (l.u?.count ?? 0) + (l.xhat?.count ?? 0) + l.invStd.count + l.gates.count + l.means.count)
        }
    }
}

/// One time step of an EM-PF network, forward and backward (docs/ALGORITHMS.md, "EM-PF").
///
/// Weights are taken once per parameter update (``EMPFStepper/init(model:ottt:)``): binary layers use
/// `alpha * sign(W)` materialised as floats, so graded spikes go through the ordinary event-driven
/// kernels (``SpikeDelivery``), which multiply each non-zero input by its value.
public struct EMPFStepper: Sendable {
    public let model: EMPFModel
    public let shapes: [[Int]]
    /// Forward weight of each layer (empty tensor where none).
    public let weights: [Tensor]
    /// OTTT: keep presynaptic traces (decay of the next population) and use them for weight gradients.
    public let ottt: Bool
    /// Momentum of the running statistics.
    public var statisticsMomentum: Float = 0.1
    /// The batch's position in a larger (data-parallel, global) batch: dropout draws that batch's masks.
    public var firstSample = 0
    public static let epsilon: Float = EMPFNeuronRule.epsilon

    /// Packed sign bits of binary linear layers, used by inference (forward without a tape) when built
    /// with `binaryKernels: true` (``PackedBinaryLinear``: additions only, one multiply per output).
    public let packed: [PackedBinaryLinear?]

    /// Whether every synaptic layer sums its inputs in event order (ascending input index, one
    /// `value * w` at a time: ``SNNCore/SpikeDelivery``), the order of the asynchronous engine at
    /// F = infinity: the bit-exact reference. Binary layers then accumulate `±value` (the sign weights)
    /// and multiply each output once by its scale, `alpha * sum(±x)`, which is also what the packed
    /// kernel (``PackedBinaryLinear``) computes, bit for bit. Off (the default), dense conv inputs take
    /// the im2col GEMM (other rounding), binary conv layers use the float weights `alpha * sign(W)`.
    public let exactEventOrder: Bool
    /// Exact event order: sign weights and scales of the binary layers (nil elsewhere).
    let signWeights: [Tensor?]
    let binaryScales: [[Float]?]

    public init(model: EMPFModel, ottt: Bool = false, binaryKernels: Bool = false, exactEventOrder: Bool = false) throws {
        self.model = model
        self.exactEventOrder = exactEventOrder
        self.packed = model.spec.layers.indices.map { i in
            guard binaryKernels, !exactEventOrder, model.isBinary(i), case .synaptic(let l) = model.spec.layers[i], case .linear(let n, let o) = l else { return nil }
            let scales = BinaryWeightMath.scales(of: model.parameters[i][0], perChannel: model.spec.binaryWeights == .perChannel, layer: l)
            return model.parameters[i][0].withUnsafeBufferPointer { PackedBinaryLinear(weight: $0.baseAddress!, inFeatures: n, outFeatures: o, scales: scales) }
        }
        self.shapes = try model.spec.shapes()
        self.weights = model.spec.layers.indices.map { i in
            if case .synaptic(let l) = model.spec.layers[i], l.hasWeights { return model.effectiveWeight(i) }
            return Tensor(shape: [0])
        }
        self.ottt = ottt
        self.signWeights = model.spec.layers.indices.map { exactEventOrder && model.isBinary($0) ? model.signWeight($0) : nil }
        self.binaryScales = model.spec.layers.indices.map { exactEventOrder ? model.binaryScales($0) : nil }
    }

    /// A zero state for `batch` samples.
    public func initialState(batch: Int) -> EMPFState {
        var s = EMPFState(membranes: [], traces: [])
        for (i, layer) in model.spec.layers.enumerated() {
            if case .neuron = layer { s.membranes.append(Tensor(shape: [batch, shapes[i + 1].reduce(1, *)])) } else { s.membranes.append(nil) }
            if ottt, case .synaptic(let l) = layer, l.hasWeights { s.traces.append(Tensor(shape: [batch] + shapes[i])) } else { s.traces.append(nil) }
        }
        return s
    }

    /// The decay used for the OTTT trace of weighted layer `i`: that of the next population (its first value).
    func traceDecay(_ i: Int) -> Float {
        for j in (i + 1)..<model.spec.layers.count { if case .neuron = model.spec.layers[j] { return model.parameters[j][0].data[0] } }
        return 0
    }

    /// Runs one time step. `x` is `[batch] + inputShape`. Returns the last layer's output `[batch, K]`,
    /// the tape (when `keepTape`) and, in training, the batch statistics `(mean, unbiased var)` of
    /// every normalised population (to update the running statistics).
    public func forward(_ x: Tensor, state: inout EMPFState, training: Bool, keepTape: Bool, step: Int = 0,
                        seed: UInt64 = 0) -> (output: Tensor, tape: EMPFStepTape?, batchStatistics: [Int: ([Float], [Float])]) {
        var none: SynapticOperations? = nil
        return forward(x, state: &state, training: training, keepTape: keepTape, step: step, seed: seed, operations: &none)
    }

    /// ``forward(_:state:training:keepTape:step:seed:)`` that also adds the batch's synaptic operations
    /// into `operations` (when not nil): see ``EMPFEvaluation/Result/operationsPerSample``.
    /// `observe(i, y)`, when given, sees every layer's output `y` (`[batch] + shapes[i + 1]`), e.g. each
    /// population's spikes.
    public func forward(_ x: Tensor, state: inout EMPFState, training: Bool, keepTape: Bool, step: Int = 0,
                        seed: UInt64 = 0, operations: inout SynapticOperations?,
                        observe: ((_ layer: Int, _ output: Tensor) -> Void)? = nil) -> (output: Tensor, tape: EMPFStepTape?, batchStatistics: [Int: ([Float], [Float])]) {
        let batch = x.shape[0]
        var h = x.reshaped([batch] + model.spec.inputShape)
        var tape = EMPFStepTape(layers: [EMPFStepTape.Layer](repeating: .init(), count: model.spec.layers.count), batch: batch)
        var stats: [Int: ([Float], [Float])] = [:]
        let rng = CounterRNG(seed: seed)
        for (i, layer) in model.spec.layers.enumerated() {
            switch layer {
            case .synaptic(let l):
                if operations != nil, l.hasWeights, let fan = SynapticFanOut.perInput(l, inShape: shapes[i]) {
                    let binary = model.isBinary(i)
                    var ops = operations!
                    for b in 0..<batch {
                        for j in 0..<fan.count {
                            let v = h.data[b * fan.count + j]
                            if v == 0 { continue }
                            if binary || v == 1 || v == -1 { ops.accumulates += Double(fan[j]) } else { ops.multiplyAccumulates += Double(fan[j]) }
                        }
                        if binary { ops.multiplyAccumulates += Double(shapes[i + 1].reduce(1, *)) }
                    }
                    operations = ops
                }
                if ottt, l.hasWeights {
                    var tr = state.traces[i]!
                    let d = traceDecay(i)
                    for j in 0..<tr.count { tr.data[j] = d * tr.data[j] + h.data[j] }
                    state.traces[i] = tr
                }
                if !keepTape, let pk = packed[i] {
                    var y = Tensor(shape: [batch] + shapes[i + 1])
                    h.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { pk.forward(xp.baseAddress!, batch: batch, output: $0.baseAddress!) } }
                    h = y
                    observe?(i, h)
                    continue
                }
                let (sum, cache) = SynapticKernels.forward(l, weight: signWeights[i] ?? weights[i], input: h, inShape: shapes[i], outShape: shapes[i + 1],
                                                           training: training, dropoutKey: (rng, UInt64(step) << 32 | UInt64(i)),
                                                           keepCache: keepTape, exactEventOrder: exactEventOrder, dropoutFirstSample: firstSample)
                var y = sum
                if let alpha = binaryScales[i] { Self.scaleOutputChannels(&y, alpha) }
                if keepTape {
                    tape.layers[i].cache = cache
                    if ottt, l.hasWeights { tape.layers[i].cache.input = state.traces[i]! }
                }
                h = y
            case .neuron(let spec):
                let (s, st) = neuronForward(i, spec: spec, current: h, state: &state, training: training, keepTape: keepTape, tape: &tape.layers[i])
                if let st { stats[i] = st }
                h = s
            case .channelAttention:
                h = attentionForward(i, input: h, keepTape: keepTape, tape: &tape.layers[i])
            }
            observe?(i, h)
        }
        return (h.reshaped([batch, h.count / max(batch, 1)]), keepTape ? tape : nil, stats)
    }

    /// `y[b, c, ...] = alpha[c] * y[b, c, ...]` (one scale: every element), the sign-selected sum's one
    /// multiplication per output.
    static func scaleOutputChannels(_ y: inout Tensor, _ alpha: [Float]) {
        let batch = y.shape[0], per = y.count / max(batch, 1)
        let inner = alpha.count > 1 ? per / alpha.count : per
        y.withUnsafeMutableBufferPointer { p in
            for b in 0..<batch {
                for j in 0..<per { p[b * per + j] = alpha[alpha.count > 1 ? j / inner : 0] * p[b * per + j] }
            }
        }
    }

    /// Runs `body(run, channel)` over the neuron array `[batch, channels, spatial]` one channel's
    /// contiguous run at a time (`run` = index of its first element), in memory order. A population's
    /// decay and threshold are per channel (one value per run) or per neuron (`c * spatial + q`).
    @inline(__always)
    static func forEachRun(batch: Int, channels: Int, spatial: Int, _ body: (_ run: Int, _ channel: Int) -> Void) {
        for b in 0..<batch { for c in 0..<channels { body((b * channels + c) * spatial, c) } }
    }

    func neuronForward(_ i: Int, spec n: EMPFNeuronSpec, current: Tensor, state: inout EMPFState, training: Bool, keepTape: Bool,
                       tape: inout EMPFStepTape.Layer) -> (Tensor, ([Float], [Float])?) {
        let shape = shapes[i + 1]
        let batch = current.shape[0], size = shape.reduce(1, *)
        let channels = EMPFLayer.channels(shape), spatial = size / channels
        let p = model.parameters[i]
        let perChannel = n.perChannel
        let vPrev = state.membranes[i]!
        // m = lambda v_{t-1} + I, element by element (the same two operations as the asynchronous engine).
        let m = Tensor(shape: [batch, size]) { mp in
            vPrev.withUnsafeBufferPointer { vp in
            current.withUnsafeBufferPointer { cp in
            p[0].withUnsafeBufferPointer { dp in
                EMPFNeuronLanes.decay(vp.baseAddress!, by: dp.baseAddress!, plus: cp.baseAddress!, into: mp.baseAddress!,
                                      batch: batch, channels: channels, spatial: spatial, perChannel: perChannel)
            }}}
        }
        // Membrane batch norm: per-channel statistics of the batch (training) or the running ones.
        var batchStats: ([Float], [Float])? = nil
        var mean: [Float] = [], inv: [Float] = [], gamma: [Float] = [], beta: [Float] = []
        if n.membraneNorm {
            gamma = p[2].data; beta = p[3].data
            var variance: [Float]
            if training {
                mean = [Float](repeating: 0, count: channels); variance = mean
                let count = batch * spatial
                // Per channel one Double chain over the batch in memory order (four channels side by side).
                var sums = [Double](repeating: 0, count: channels), squares = sums
                m.withUnsafeBufferPointer { mp in
                    ChannelChains.doubleTotals(mp.baseAddress!, batch: batch, channels: channels, spatial: spatial, center: nil, into: &sums)
                    let mus = sums.map { $0 / Double(count) }
                    ChannelChains.doubleTotals(mp.baseAddress!, batch: batch, channels: channels, spatial: spatial, center: mus, into: &squares)
                    for c in 0..<channels { mean[c] = Float(mus[c]); variance[c] = Float(squares[c] / Double(count)) }
                }
                batchStats = (mean, variance.map { $0 * Float(count) / Float(max(count - 1, 1)) })
            } else {
                mean = model.statistics[i][0].data; variance = model.statistics[i][1].data
            }
            inv = variance.map { EMPFNeuronRule.invStd(variance: $0, epsilon: EMPFStepper.epsilon) }
        }
        // One pass: normalise (u, and xhat for the tape), fire, reset. Without the norm u is m itself.
        let norm = n.membraneNorm, keepXhat = keepTape && norm
        let mode = EMPFNeuronRule.mode(n.kind)
        // Every element of these is written by the pass (u and xhat only when used; empty otherwise).
        var u = Tensor(shape: norm ? [batch, size] : [0]) { _ in }
        var xhat = Tensor(shape: keepXhat ? [batch, size] : [0]) { _ in }
        var s = Tensor(shape: [batch] + shape) { _ in }
        var v = Tensor(shape: [batch, size]) { _ in }
        m.withUnsafeBufferPointer { mp in
        u.withUnsafeMutableBufferPointer { up in
        xhat.withUnsafeMutableBufferPointer { xp in
        s.withUnsafeMutableBufferPointer { sp in
        v.withUnsafeMutableBufferPointer { vp in
        p[1].withUnsafeBufferPointer { tp in
        mean.withUnsafeBufferPointer { meanp in
        inv.withUnsafeBufferPointer { invp in
        gamma.withUnsafeBufferPointer { gp in
        beta.withUnsafeBufferPointer { bp in
            let normalisation = norm ? EMPFNeuronLanes.Normalisation(mean: meanp.baseAddress!, invStd: invp.baseAddress!,
                                                                     gamma: gp.baseAddress!, beta: bp.baseAddress!) : nil
            EMPFNeuronLanes.fire(m: mp.baseAddress!, u: norm ? up.baseAddress! : nil, xhat: keepXhat ? xp.baseAddress! : nil,
                                 s: sp.baseAddress!, v: vp.baseAddress!, theta: tp.baseAddress!, norm: normalisation, mode: mode,
                                 batch: batch, channels: channels, spatial: spatial, perChannel: perChannel)
        }}}}}}}}}}
        if !norm { u = m }
        if keepTape { tape.vPrev = vPrev; tape.u = u; if keepXhat { tape.xhat = xhat; tape.invStd = inv } }
        state.membranes[i] = v
        return (s, batchStats)
    }

    func attentionForward(_ i: Int, input x: Tensor, keepTape: Bool, tape: inout EMPFStepTape.Layer) -> Tensor {
        let shape = shapes[i], batch = x.shape[0]
        let c = shape[0], hw = shape[1] * shape[2]
        let w = model.parameters[i][0].data, k = w.count, r = k / 2
        var means = [Float](repeating: 0, count: batch * c), gates = means
        var out = x
        for b in 0..<batch {
            for ch in 0..<c {
                var s: Float = 0
                for q in 0..<hw { s += x.data[(b * c + ch) * hw + q] }
                means[b * c + ch] = s / Float(hw)
            }
            for ch in 0..<c {
                var y: Float = 0
                for t in 0..<k { let src = ch + t - r; if src >= 0 && src < c { y += w[t] * means[b * c + src] } }
                let g = 1 / (1 + expf(-y))
                gates[b * c + ch] = g
                for q in 0..<hw { out.data[(b * c + ch) * hw + q] *= g }
            }
        }
        if keepTape { tape.cache.input = x; tape.gates = gates; tape.means = means }
        return out
    }

    /// Backward pass of one step: adds parameter gradients into `gradients` (same layout as
    /// ``EMPFModel/parameters``; synaptic entries are gradients of the *forward* weight) and, for BPTT,
    /// carries `dL/dv` between steps through `carry` (dL/dv of this step in, of the previous step out;
    /// pass nil entries, or `carry: nil`, for per-step (online) gradients). `feedback` replaces a weighted
    /// layer's weight in the input gradient (random back-propagation). `meter` counts temporaries.
    public func backward(_ tape: EMPFStepTape, outputGradient: Tensor, gradients: inout [[Tensor]],
                         carry: inout [Tensor?]?, feedback: [Tensor?]? = nil, meter: ByteMeter? = nil) {
        let batch = tape.batch
        var g = outputGradient.reshaped([batch] + shapes.last!)
        meter?.alloc(g)
        let firstWeighted = model.spec.layers.firstIndex { if case .synaptic(let l) = $0 { return l.hasWeights } else { return false } } ?? 0
        for i in stride(from: model.spec.layers.count - 1, through: 0, by: -1) {
            let L = tape.layers[i]
            var next: Tensor? = nil
            switch model.spec.layers[i] {
            case .synaptic(let l):
                let need = i > firstWeighted
                let w = (l.hasWeights ? feedback?[i] : nil) ?? weights[i]
                var gw = l.hasWeights ? gradients[i][0] : Tensor(shape: [0])
                next = SynapticKernels.backward(l, weight: w, cache: L.cache, outputGradient: g, inShape: shapes[i], outShape: shapes[i + 1],
                                                needInputGradient: need, weightGradient: &gw)
                if l.hasWeights { gradients[i][0] = gw }
                if !need && i <= firstWeighted { meter?.free(g); return }
            case .neuron(let n):
                let r = neuronBackward(i, spec: n, layer: L, gs: g, gv: carry?[i] ?? nil, gradients: &gradients[i], wantCarry: carry != nil)
                next = r.input
                if carry != nil { carry![i] = r.carry }
            case .channelAttention:
                next = attentionBackward(i, layer: L, dout: g, gradient: &gradients[i][0])
            }
            if let nx = next { meter?.alloc(nx); meter?.free(g); g = nx }
        }
        meter?.free(g)
    }

    /// Returns dL/dI; writes dL/dv_{t-1} into `carryOut` when given.
    func neuronBackward(_ i: Int, spec n: EMPFNeuronSpec, layer L: EMPFStepTape.Layer, gs: Tensor, gv: Tensor?,
                        gradients grads: inout [Tensor], wantCarry: Bool) -> (input: Tensor, carry: Tensor?) {
        let shape = shapes[i + 1]
        let batch = gs.shape[0], size = shape.reduce(1, *)
        let channels = EMPFLayer.channels(shape), spatial = size / channels
        let p = model.parameters[i]
        let perChannel = n.perChannel
        let u = L.u!, vPrev = L.vPrev!
        var du = Tensor(shape: [batch, size]) { _ in }   // every element written below
        var dTheta = grads[1].data
        // dL/du from the spike's gradient g_s and the carried dL/dv g_v (zero when online); dL/dtheta.
        du.withUnsafeMutableBufferPointer { dp in
        u.withUnsafeBufferPointer { up in
        gs.withUnsafeBufferPointer { gp in
        p[1].withUnsafeBufferPointer { tp in
        dTheta.withUnsafeMutableBufferPointer { dtp in
            func run(_ carried: UnsafeBufferPointer<Float>?) {
                guard case .lif(let sg) = n.kind else {
                    // Excess and membrane spikes: eight neurons at a time; dL/dtheta (excess) as one chain per
                    // threshold in memory order.
                    var excess = false
                    if case .excess = n.kind { excess = true }
                    EMPFNeuronLanes.straightThrough(u: up.baseAddress!, gs: gp.baseAddress!, gv: carried?.baseAddress, du: dp.baseAddress!,
                                                    theta: tp.baseAddress!, dTheta: excess ? dtp.baseAddress! : nil,
                                                    batch: batch, channels: channels, spatial: spatial, perChannel: perChannel)
                    return
                }
                Self.forEachRun(batch: batch, channels: channels, spatial: spatial) { r, c in
                    for q in 0..<spatial {
                        let idx = r + q, k = perChannel ? c : c * spatial + q
                        let th = tp[k], uu = up[idx]
                        let s = gp[idx], cv = carried?[idx] ?? 0
                        let d = sg.gradient(uu - th)
                        dp[idx] = s * d + (uu > th ? 0 : cv)
                        dtp[k] -= s * d
                    }
                }
            }
            if let gv { gv.withUnsafeBufferPointer { run($0) } } else { run(nil) }
        }}}}}
        if n.learnable { grads[1] = Tensor(shape: grads[1].shape, data: dTheta) }
        var dm = n.membraneNorm ? Tensor(shape: [batch, size]) { _ in } : du   // the norm writes every element
        if n.membraneNorm {
            let gamma = p[2].data, xhat = L.xhat!, inv = L.invStd
            var dGamma = grads[2].data, dBeta = grads[3].data
            let count = Float(batch * spatial)
            du.withUnsafeBufferPointer { dp in
            xhat.withUnsafeBufferPointer { xp in
            dm.withUnsafeMutableBufferPointer { mp in
                // Per channel: sum of du and of du * xhat, each one Float chain in memory order.
                var sumsD = [Float](repeating: 0, count: channels), sumsDX = sumsD
                ChannelChains.accumulate(dp.baseAddress!, xp.baseAddress!, batch: batch, channels: channels, spatial: spatial,
                                         sums: &sumsD, products: &sumsDX)
                for c in 0..<channels {
                    let sumD = sumsD[c], sumDX = sumsDX[c]
                    dBeta[c] += sumD; dGamma[c] += sumDX
                    // dxhat = du * gamma; dm = inv/N * (N dxhat - sum dxhat - xhat sum(dxhat xhat))
                    let g = gamma[c], iv = inv[c]
                    let meanD = g * sumD / count, meanDX = g * sumDX / count
                    for b in 0..<batch {
                        let r = (b * channels + c) * spatial
                        for q in 0..<spatial { mp[r + q] = iv * (g * dp[r + q] - meanD - xp[r + q] * meanDX) }
                    }
                }
            }}}
            grads[2] = Tensor(shape: grads[2].shape, data: dGamma); grads[3] = Tensor(shape: grads[3].shape, data: dBeta)
        }
        var dDecay = grads[0].data
        var carried = wantCarry ? Tensor(shape: [batch, size]) { _ in } : nil   // written below
        dDecay.withUnsafeMutableBufferPointer { dd in
        dm.withUnsafeBufferPointer { dmp in
        vPrev.withUnsafeBufferPointer { vp in
            if perChannel {
                // dd[c] += dm * v_{t-1}: one chain per channel in memory order.
                ChannelChains.accumulate(dmp.baseAddress!, vp.baseAddress!, batch: batch, channels: channels, spatial: spatial,
                                         sums: nil, products: dd.baseAddress!)
            } else {
                Self.forEachRun(batch: batch, channels: channels, spatial: spatial) { r, c in
                    let k = c * spatial
                    for q in 0..<spatial { dd[k + q] += dmp[r + q] * vp[r + q] }
                }
            }
            if carried != nil {
                carried!.withUnsafeMutableBufferPointer { op in
                p[0].withUnsafeBufferPointer { dp in
                    EMPFNeuronLanes.decay(dmp.baseAddress!, by: dp.baseAddress!, plus: nil, into: op.baseAddress!,
                                          batch: batch, channels: channels, spatial: spatial, perChannel: perChannel)
                }}
            }
        }}}
        if n.learnable { grads[0] = Tensor(shape: grads[0].shape, data: dDecay) }
        return (dm.reshaped([batch] + shapes[i]), carried)
    }

    func attentionBackward(_ i: Int, layer L: EMPFStepTape.Layer, dout: Tensor, gradient: inout Tensor) -> Tensor {
        let shape = shapes[i], x = L.cache.input!, batch = x.shape[0]
        let c = shape[0], hw = shape[1] * shape[2]
        let w = model.parameters[i][0].data, k = w.count, r = k / 2
        var dx = dout
        var dw = gradient.data
        for b in 0..<batch {
            var dy = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                let g = L.gates[b * c + ch]
                var dg: Float = 0
                for q in 0..<hw { let idx = (b * c + ch) * hw + q; dg += dout.data[idx] * x.data[idx]; dx.data[idx] = dout.data[idx] * g }
                dy[ch] = dg * g * (1 - g)
            }
            var dz = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                for t in 0..<k {
                    let src = ch + t - r
                    guard src >= 0 && src < c else { continue }
                    dw[t] += dy[ch] * L.means[b * c + src]
                    dz[src] += dy[ch] * w[t]
                }
            }
            for ch in 0..<c { let d = dz[ch] / Float(hw); for q in 0..<hw { dx.data[(b * c + ch) * hw + q] += d } }
        }
        gradient = Tensor(shape: gradient.shape, data: dw)
        return dx
    }
}

extension EMPFStepper {
    /// The inference form of a membrane-normalised population with the batch norm folded into the
    /// threshold: with running statistics the norm is `u = a m + b` per channel
    /// (`a = gamma / sqrt(var + eps)`, `b = beta - a mean`), so `u > theta` becomes `m > theta_f`
    /// with `theta_f = (theta - b) / a` (for `a > 0`; `a < 0` flips the comparison): a silent neuron
    /// needs no normalisation arithmetic to decide; a firing one emits `a (m - theta_f)` (excess) or
    /// `a m + b` (membrane). The state keeps the normalised membrane as in training.
    /// Returns the spikes and the new membrane for `current` `[batch, n]` and previous membrane `v`.
    public func foldedNeuronStep(_ i: Int, current: Tensor, membrane v: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        guard case .neuron(let n) = model.spec.layers[i], n.membraneNorm else { fatalError("foldedNeuronStep: layer \(i) is not a normalised population") }
        let shape = shapes[i + 1], batch = current.shape[0], size = shape.reduce(1, *)
        let channels = EMPFLayer.channels(shape), spatial = size / channels
        let p = model.parameters[i]
        let mean = model.statistics[i][0].data, variance = model.statistics[i][1].data
        var a = [Float](repeating: 0, count: channels), b = a
        for c in 0..<channels {
            a[c] = p[2].data[c] / (variance[c] + EMPFStepper.epsilon).squareRoot()
            b[c] = p[3].data[c] - a[c] * mean[c]
        }
        var s = Tensor(shape: [batch, size]), out = Tensor(shape: [batch, size])
        for bi in 0..<batch {
            for j in 0..<size {
                let idx = bi * size + j, c = j / spatial
                let k = n.perChannel ? c : j
                let th = p[1].data[k]
                let m = p[0].data[k] * v.data[idx] + current.data[idx]
                let thf = (th - b[c]) / a[c]
                let fire = a[c] > 0 ? m > thf : m < thf
                switch n.kind {
                case .excess: s.data[idx] = fire ? a[c] * (m - thf) : 0; out.data[idx] = fire ? th : a[c] * m + b[c]
                case .membrane: s.data[idx] = fire ? a[c] * m + b[c] : 0; out.data[idx] = fire ? 0 : a[c] * m + b[c]
                case .lif: s.data[idx] = fire ? 1 : 0; out.data[idx] = fire ? 0 : a[c] * m + b[c]
                }
            }
        }
        return (s, out)
    }
}
