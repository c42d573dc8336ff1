import SNNCore
import SNNTensor

/// Synchronous, layer-by-layer execution of a spiking network: the way snnTorch, SpikingJelly and
/// every mainstream framework run SNNs, and the baseline of the layer-synchronisation study.
///
/// For each time step (frame) `t`: every LIF population decays (`V <- beta V`); then layer by layer,
/// layer `l` integrates all the currents from layer `l-1` at once and evaluates its threshold once
/// (``LIFDynamics/integrate(v:current:refractory:threshold:reset:)``). With `tape: true` the run keeps
/// what BPTT needs (``LayeredTape``). A population with an ``InputNormalization`` normalises its input
/// current first (batch statistics in training, running statistics at evaluation). The last layer may
/// be a synaptic layer without neurons (a non-spiking read-out): its currents are the outputs.
public struct LayeredEngine: Sendable {
    /// The network being run.
    public var network: Network
    /// Per-sample shapes before and after each layer.
    public let shapes: [[Int]]
    let fanOuts: [[Int32]?]
    /// Synaptic layers whose output feeds a normalised population: in training their currents are
    /// normalised with batch statistics anyway, so a dense input may take the im2col GEMM rather than
    /// exact event order. Evaluation keeps the event order, which the asynchronous engine reproduces.
    let feedsNormalization: [Bool]

    /// Whether training runs normalise a population's input inside its step (`LIFPopulation.stepNormalized`:
    /// the same bits as normalising first); false runs the two passes (tests compare them).
    nonisolated(unsafe) public static var fusesNormalization = true

    public init(network: Network) throws {
        self.network = network
        self.shapes = try network.spec.shapes()
        self.fanOuts = network.spec.layers.enumerated().map { SynapticFanOut.perInput($1, inShape: try! network.spec.shapes()[$0]) }
        let layers = network.spec.layers
        self.feedsNormalization = layers.indices.map { i in
            guard layers[i].hasWeights, let next = layers[(i + 1)...].first(where: { $0.isNeuron || $0.hasWeights }) else { return false }
            return next.normalization != nil
        }
    }

    /// Whether the population at layer `i`, when it normalises its input in its step (training), also does
    /// the 2x2 average pooling right after it there (`LIFPopulation.stepNormalized(..., pooled:width:)`): maps of
    /// even height and a width that is a multiple of 8.
    func poolsInStep(population i: Int) -> Bool {
        let layers = network.spec.layers
        guard i + 1 < layers.count, case .avgPool2d(kernel: 2, stride: 2) = layers[i + 1] else { return false }
        let shape = shapes[i + 1]
        return shape.count == 3 && shape[1] % 2 == 0 && shape[2] % 8 == 0
    }

    /// Runs a batch of inputs `[T, batch] + inputShape` (time-major).
    ///
    /// - Parameters:
    ///   - training: enables dropout.
    ///   - tape: keep the activations BPTT needs.
    ///   - seed: seeds dropout masks.
    ///   - firstSample: the batch's position in a larger batch whose dropout masks it draws (data parallelism).
    ///   - countOperations: count synaptic operations (costs a pass over every layer input).
    ///   - smoothSpikes: replace the Heaviside spike by the surrogate's smooth step (gradient checks only).
    public func run(inputs: Tensor, training: Bool = false, tape keepTape: Bool = false, seed: UInt64 = 0,
                    countOperations: Bool = false, smoothSpikes: Bool = false, firstSample: Int = 0) -> LayeredRun {
        let spec = network.spec
        // Fix: fatalError instead of precondition, which release builds (-Ounchecked) do not evaluate:
        // mismatched inputs used to run on with out-of-bounds reads.
        if !(inputs.rank >= 2 && Array(inputs.shape.dropFirst(2)).reduce(1, *) == spec.inputShape.reduce(1, *)) {
            fatalError("LayeredEngine: inputs \(inputs.shape) do not match [T, batch] + \(spec.inputShape)")
        }
        let steps = inputs.shape[0], batch = inputs.shape[1]
        let frameSize = spec.inputShape.reduce(1, *)
        let rng = CounterRNG(seed: seed)
        var result = LayeredRun(steps: steps, batch: batch, neuronLayers: spec.neuronLayerIndices)
        if countOperations { result.synapticOperations = [SynapticOperations](repeating: .init(), count: batch) }
        var tape = keepTape ? LayeredTape(shapes: shapes, steps: steps) : nil
        if keepTape {
            tape!.caches = [[SynapticKernels.Cache]](repeating: [SynapticKernels.Cache](repeating: .init(), count: spec.layers.count), count: steps)
            tape!.preReset = [[Tensor?]](repeating: [Tensor?](repeating: nil, count: spec.layers.count), count: steps)
            tape!.spikes = tape!.preReset
            tape!.normalization = [NormalizationKernels.Cache?](repeating: nil, count: spec.layers.count)
        }
        result.batchStatistics = [Tensor?](repeating: nil, count: spec.layers.count)
        // Layer by layer, every time step of a layer before the next layer: the same operations, in the
        // same order per neuron, as step by step (a population's state only depends on its own past and
        // on the layers below), and what normalisation over time (tdBN) needs.
        var xs: [Tensor] = (0..<steps).map { t in
            Tensor(shape: [batch] + spec.inputShape, data: Array(inputs.data[(t * batch * frameSize)..<((t + 1) * batch * frameSize)]))
        }
        var pooledInStep = Set<Int>()  // pooling layers done inside the population step before them
        for (i, layer) in spec.layers.enumerated() {
            if case .lif(let p) = layer {
                let n = shapes[i + 1].reduce(1, *)
                var membrane = Tensor(shape: [batch, n])
                var currents = xs
                // Training with batch statistics: the population step normalises its input itself (one pass
                // over the maps instead of writing the normalised currents and reading them back).
                var fused: [NormalizationKernels.StepAffine]? = nil
                if let norm = p.normalization, training, Self.fusesNormalization, norm.kind != .bias, p.synapticDecay == nil,
                   !smoothSpikes, p.perNeuronBeta == nil, n / max(1, norm.channels) >= 8 {
                    let r = NormalizationKernels.trainingAffines(norm, parameters: network.weights[i], threshold: p.threshold, inputs: xs)
                    fused = r.affines
                    result.batchStatistics[i] = r.batchStatistics
                    if keepTape {
                        tape!.normalization[i] = NormalizationKernels.Cache(normalized: [], inverseStd: r.affines.map(\.inverseStd))
                    }
                } else if let norm = p.normalization {
                    let r = NormalizationKernels.forward(norm, parameters: network.weights[i], statistics: network.runningStatistics[i],
                                                         threshold: p.threshold, inputs: xs, training: training, keepCache: keepTape)
                    currents = r.outputs
                    result.batchStatistics[i] = r.batchStatistics
                    if keepTape { tape!.normalization[i] = r.cache }
                }
                if let alpha = p.synapticDecay { currents = SynapticCurrent.forward(currents, alpha: alpha) }
                let slot = result.neuronLayerIndices.firstIndex(of: i)!
                // A 2x2 average pooling right after a normalising conv population: pooled in the step (the
                // spike maps are not read again), and the pooling layer after it is skipped.
                var poolWidth = 0
                if fused != nil, poolsInStep(population: i), !countOperations || fanOuts[i + 1] == nil {
                    poolWidth = shapes[i + 1][2]
                    pooledInStep.insert(i + 1)
                }
                for t in 0..<steps {
                    // The step writes every value of both: no zero fill, and no copy-on-write copy (with
                    // `var s = u` the first write to s copied u's buffer).
                    var u = Tensor(shape: [batch, n]) { _ in }
                    var s = Tensor(shape: [batch, n]) { _ in }
                    let counts: [Float]
                    var pooled: Tensor? = nil
                    if let fused {
                        var xhat = Tensor(shape: xs[t].shape) { _ in }
                        if poolWidth > 0 {
                            var y = Tensor(shape: [batch] + shapes[i + 2]) { _ in }
                            counts = y.withUnsafeMutableBufferPointer { yp in
                                LIFPopulation.stepNormalized(v: &membrane, input: xs[t], affine: fused[t], normalized: &xhat,
                                                             parameters: p, preReset: &u, spikes: &s,
                                                             pooled: yp.baseAddress!, width: poolWidth)
                            }
                            pooled = y
                        } else {
                            counts = LIFPopulation.stepNormalized(v: &membrane, input: xs[t], affine: fused[t], normalized: &xhat,
                                                                  parameters: p, preReset: &u, spikes: &s)
                        }
                        if keepTape { tape!.normalization[i]!.normalized.append(xhat) }
                    } else {
                        counts = LIFPopulation.step(v: &membrane, current: currents[t], parameters: p, preReset: &u, spikes: &s,
                                                    smooth: smoothSpikes)
                    }
                    for b in 0..<batch { result.spikeCounts[slot][b] += counts[b] }
                    result.spikesPerStep[t] += counts.reduce(0.0) { $0 + Double($1) }
                    if keepTape { tape!.preReset[t][i] = u; tape!.spikes[t][i] = s }
                    if i == spec.layers.count - 1 { result.outputMembranes.append(u) }
                    xs[t] = pooled ?? s.reshaped([batch] + shapes[i + 1])
                }
            } else if pooledInStep.contains(i) {
                continue  // xs already holds the pooled maps (and a pooling keeps no cache)
            } else {
                for t in 0..<steps {
                    let x = xs[t]
                    if countOperations, let fan = fanOuts[i] {
                        let ops = SynapticOperations.count(input: x.reshaped([batch, fan.count]), fanOut: fan)
                        for b in 0..<batch { result.synapticOperations![b] += ops[b]; result.operationsPerStep[t] += ops[b] }
                    }
                    let key = (rng: rng, stream: UInt64(t) << 32 | UInt64(i))
                    let (y, cache) = SynapticKernels.forward(layer, weight: network.weights[i], input: x, inShape: shapes[i],
                                                             outShape: shapes[i + 1], training: training, dropoutKey: key,
                                                             keepCache: keepTape, exactEventOrder: !(training && feedsNormalization[i]),
                                                             dropoutFirstSample: firstSample)
                    if keepTape { tape!.caches[t][i] = cache }
                    xs[t] = y
                }
            }
        }
        result.outputs = xs.map { $0.reshaped([batch, $0.count / batch]) }
        result.tape = tape
        return result
    }
}

/// The LIF update of a whole population for one time step of the layered engine.
public enum LIFPopulation {
    /// Decays `v`, integrates `current` once, writes the pre-reset potential `U` and the spikes (0/1),
    /// and leaves the post-reset membrane in `v`. Shapes: `[batch, neurons]` (current may be any shape with that count).
    /// With `smooth` the spike is the surrogate's smooth step (gradient checks only).
    /// Returns the spikes of each sample (``spikesPerSample(_:)`` of `s`), counted as they are written.
    @discardableResult
    public static func step(v: inout Tensor, current: Tensor, parameters p: LIFParameters,
                            preReset u: inout Tensor, spikes s: inout Tensor, smooth: Bool = false) -> [Float] {
        let batch = v.shape[0], n = v.shape[1]
        // Fix: checked in release builds too (see ``LayeredEngine/run``).
        if current.count != batch * n || u.count != batch * n || s.count != batch * n {
            fatalError("LIF population of \(n) neurons got \(current.count / max(batch, 1)) inputs")
        }
        let perNeuron = p.perNeuronBeta
        if !smooth && perNeuron == nil {
            return stepVectorised(v: &v, current: current, parameters: p, preReset: &u, spikes: &s)
        }
        v.withUnsafeMutableBufferPointer { vp in
            current.withUnsafeBufferPointer { ip in
                u.withUnsafeMutableBufferPointer { up in
                    s.withUnsafeMutableBufferPointer { sp in
                        parallelFor(batch, minimumChunk: max(1, 16_384 / max(n, 1))) { rows in
                            for b in rows {
                                for j in 0..<n {
                                    let idx = b * n + j
                                    var vv = vp[idx] * (perNeuron?[j] ?? p.beta)
                                    if smooth {
                                        let r = LIFDynamics.integrateSmooth(v: &vv, current: ip[idx], threshold: p.threshold,
                                                                            reset: p.reset, surrogate: p.surrogate)
                                        up[idx] = r.u; sp[idx] = r.spike
                                    } else {
                                        let r = LIFDynamics.integrate(v: &vv, current: ip[idx], refractory: false,
                                                                      threshold: p.threshold, reset: p.reset)
                                        up[idx] = r.u; sp[idx] = r.spiked ? 1 : 0
                                    }
                                    vp[idx] = vv
                                }
                            }
                        }
                    }
                }
            }
        }
        return spikesPerSample(s)
    }

    /// The common case of ``step(v:current:parameters:preReset:spikes:smooth:)`` (one decay for the whole
    /// population, Heaviside spikes), eight neurons at a time: the same operations as
    /// ``LIFDynamics/integrate(v:current:refractory:threshold:reset:)``, so the same bits.
    /// Spike counts per sample are summed as ``spikesPerSample(_:)`` sums them (whole numbers: any
    /// order gives the same value), while the spikes are in registers.
    static func stepVectorised(v: inout Tensor, current: Tensor, parameters p: LIFParameters,
                               preReset u: inout Tensor, spikes s: inout Tensor) -> [Float] {
        let batch = v.shape[0], n = v.shape[1]
        var counts = [Float](repeating: 0, count: batch)
        let theta = SIMD8<Float>(repeating: p.threshold), beta = SIMD8<Float>(repeating: p.beta)
        let hardReset = p.reset == .zero
        v.withUnsafeMutableBufferPointer { vp in
            current.withUnsafeBufferPointer { ip in
                u.withUnsafeMutableBufferPointer { up in
                    s.withUnsafeMutableBufferPointer { sp in
                        let vb = vp.baseAddress!, ib = ip.baseAddress!, ub = up.baseAddress!, sb = sp.baseAddress!
                        counts.withUnsafeMutableBufferPointer { cp in
                        let cb = cp.baseAddress!
                        parallelFor(batch, minimumChunk: max(1, 16_384 / max(n, 1))) { rows in
                            for b in rows {
                                var j = b * n
                                let end = j + n
                                var fires = SIMD8<Float>()
                                while j + 8 <= end {
                                    fires += updateLanes(j, current: UnsafeRawPointer(ib + j).loadUnaligned(as: SIMD8<Float>.self),
                                                         v: vb, u: ub, spikes: sb, beta: beta, theta: theta, hardReset: hardReset)
                                    j += 8
                                }
                                var total = fires.sum()
                                while j < end {
                                    var vv = vb[j] * p.beta
                                    let r = LIFDynamics.integrate(v: &vv, current: ib[j], refractory: false, threshold: p.threshold, reset: p.reset)
                                    ub[j] = r.u; sb[j] = r.spiked ? 1 : 0; vb[j] = vv
                                    if r.spiked { total += 1 }
                                    j += 1
                                }
                                cb[b] = total
                            }
                        }
                        }
                    }
                }
            }
        }
        return counts
    }

    /// ``step(v:current:parameters:preReset:spikes:smooth:)`` of a population whose input current is the
    /// training normalisation of `input` (`[batch, C, spatial]` maps, `spatial >= 8`): per element
    /// `x_hat = (x - mean[c]) * inverseStd[c]` (written to `normalized`), `I = scale[c] * x_hat + shift[c]`,
    /// then the vectorised LIF update on `I`: the operations of ``ChannelAffine`` followed by the step,
    /// so the same bits, without writing `I` and reading it back. Returns the spikes per sample.
    ///
    /// `pooled` (with `width`, the maps' row length): also writes the 2x2 average pooling of the spikes
    /// (`[batch, C, H/2, W/2]`), while they are in registers. The spikes are 0 or 1, so every order of the
    /// window's four additions gives `count * 0.25` exactly: ``Pool2D/averageForward(_:batch:channels:height:width:kernel:stride:output:)``'s
    /// bits. Needs an even map height and a width that is a multiple of 8.
    public static func stepNormalized(v: inout Tensor, input: Tensor, affine a: NormalizationKernels.StepAffine,
                                      normalized: inout Tensor, parameters p: LIFParameters,
                                      preReset u: inout Tensor, spikes s: inout Tensor,
                                      pooled: UnsafeMutablePointer<Float>? = nil, width: Int = 0) -> [Float] {
        let batch = v.shape[0], n = v.shape[1], c = a.mean.count
        if input.count != batch * n || u.count != batch * n || s.count != batch * n || normalized.count != batch * n
            || c == 0 || n % c != 0 || n / c < 8 || p.perNeuronBeta != nil {
            fatalError("LIF population of \(n) neurons cannot normalise \(input.count / max(batch, 1)) inputs in \(c) channels in its step")
        }
        let spatial = n / c
        if pooled != nil && !(width > 0 && width % 8 == 0 && spatial % (2 * width) == 0) {
            fatalError("LIF population: maps of \(spatial) neurons and rows of \(width) cannot be pooled 2x2 in its step")
        }
        let theta = SIMD8<Float>(repeating: p.threshold), beta = SIMD8<Float>(repeating: p.beta)
        let hardReset = p.reset == .zero
        var counts = [Float](repeating: 0, count: batch)
        v.withUnsafeMutableBufferPointer { vp in
            input.withUnsafeBufferPointer { xp in
                normalized.withUnsafeMutableBufferPointer { hp in
                    u.withUnsafeMutableBufferPointer { up in
                        s.withUnsafeMutableBufferPointer { sp in
                            counts.withUnsafeMutableBufferPointer { cp in
                                let vb = vp.baseAddress!, xb = xp.baseAddress!, hb = hp.baseAddress!
                                let ub = up.baseAddress!, sb = sp.baseAddress!, cb = cp.baseAddress!
                                parallelFor(batch, minimumChunk: max(1, 16_384 / max(n, 1))) { rows in
                                    for b in rows {
                                        var fires = SIMD8<Float>()
                                        var total: Float = 0
                                        for ch in 0..<c {
                                            let m = a.mean[ch], iv = a.inverseStd[ch], sc = a.scale[ch], o = a.shift[ch]
                                            let m8 = SIMD8(repeating: m), iv8 = SIMD8(repeating: iv)
                                            let s8 = SIMD8(repeating: sc), o8 = SIMD8(repeating: o)
                                            // Eight neurons at j: normalise (x_hat written), then the update; their spikes.
                                            @inline(__always) func lanes(_ j: Int) -> SIMD8<Float> {
                                                let h = (UnsafeRawPointer(xb + j).loadUnaligned(as: SIMD8<Float>.self) - m8) * iv8
                                                UnsafeMutableRawPointer(hb + j).storeBytes(of: h, as: SIMD8<Float>.self)
                                                return updateLanes(j, current: s8 * h + o8, v: vb, u: ub, spikes: sb,
                                                                   beta: beta, theta: theta, hardReset: hardReset)
                                            }
                                            if let pooled {
                                                // Two rows at a time: eight columns of each, then their four windows.
                                                let first = (b * c + ch) * spatial, half = width / 2
                                                var q = pooled + (b * c + ch) * (spatial / 4)
                                                var row = 0
                                                while row < spatial / width {
                                                    var x = 0
                                                    while x < width {
                                                        let j = first + row * width + x
                                                        let both = lanes(j) + lanes(j + width)  // a column's two rows
                                                        fires += both
                                                        let pairs = SIMD4(both[0] + both[1], both[2] + both[3], both[4] + both[5], both[6] + both[7])
                                                        UnsafeMutableRawPointer(q + x / 2).storeBytes(of: pairs * 0.25, as: SIMD4<Float>.self)
                                                        x += 8
                                                    }
                                                    q += half
                                                    row += 2
                                                }
                                                continue
                                            }
                                            var j = (b * c + ch) * spatial
                                            let end = j + spatial
                                            while j + 8 <= end {
                                                fires += lanes(j)
                                                j += 8
                                            }
                                            while j < end {
                                                let h = (xb[j] - m) * iv
                                                hb[j] = h
                                                var vv = vb[j] * p.beta
                                                let r = LIFDynamics.integrate(v: &vv, current: sc * h + o, refractory: false,
                                                                              threshold: p.threshold, reset: p.reset)
                                                ub[j] = r.u; sb[j] = r.spiked ? 1 : 0; vb[j] = vv
                                                if r.spiked { total += 1 }
                                                j += 1
                                            }
                                        }
                                        cb[b] = fires.sum() + total
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return counts
    }

    /// Eight neurons of the vectorised LIF update at `j`: `U = beta V + I`, spikes where `U > theta`, the
    /// post-reset `V` (the operations of ``LIFDynamics/integrate(v:current:refractory:threshold:reset:)``);
    /// writes U, the spikes (0/1) and V, and returns the spikes.
    @inline(__always)
    static func updateLanes(_ j: Int, current: SIMD8<Float>, v vb: UnsafeMutablePointer<Float>, u ub: UnsafeMutablePointer<Float>,
                            spikes sb: UnsafeMutablePointer<Float>, beta: SIMD8<Float>, theta: SIMD8<Float>,
                            hardReset: Bool) -> SIMD8<Float> {
        let zero = SIMD8<Float>(), one = SIMD8<Float>(repeating: 1)
        let vv = UnsafeRawPointer(vb + j).loadUnaligned(as: SIMD8<Float>.self) * beta
        let uu = vv + current
        let margin = uu - theta
        let fired = margin .> zero
        let spikes = zero.replacing(with: one, where: fired)
        UnsafeMutableRawPointer(ub + j).storeBytes(of: uu, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(sb + j).storeBytes(of: spikes, as: SIMD8<Float>.self)
        let after = hardReset ? uu.replacing(with: zero, where: fired) : uu.replacing(with: margin, where: fired)
        UnsafeMutableRawPointer(vb + j).storeBytes(of: after, as: SIMD8<Float>.self)
        return spikes
    }

    /// Sum of spikes per sample of a `[batch, neurons]` spike tensor.
    public static func spikesPerSample(_ s: Tensor) -> [Float] {
        let batch = s.shape[0], n = s.count / max(batch, 1)
        var sums = [Float](repeating: 0, count: batch)
        s.withUnsafeBufferPointer { p in
            for b in 0..<batch {
                let row = p.baseAddress! + b * n
                var acc = SIMD8<Float>()
                var j = 0
                while j + 8 <= n { acc += UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self); j += 8 }
                var total = acc.sum()
                while j < n { total += row[j]; j += 1 }
                sums[b] = total
            }
        }
        return sums
    }
}

/// What a layered run produced.
public struct LayeredRun: Sendable {
    /// Output of the last layer per time step, `[batch, classes]`: spikes when the last layer is LIF, currents otherwise.
    public var outputs: [Tensor] = []
    /// Pre-reset membrane `U` of the last layer per time step (empty when the last layer is not LIF).
    public var outputMembranes: [Tensor] = []
    /// The layer indices of the LIF populations, in order.
    public var neuronLayerIndices: [Int]
    /// Spikes per population (same order as ``neuronLayerIndices``) per sample, summed over time.
    public var spikeCounts: [[Float]]
    /// Training runs: the batch statistics of each normalised population (``InputNormalization``),
    /// `[S, 2, C]` (mean; unbiased variance), for the running-statistics update; nil elsewhere.
    public var batchStatistics: [Tensor?] = []
    /// Spikes of the whole batch (all populations) at each time step.
    public var spikesPerStep: [Double]
    /// Synaptic operations of the whole batch at each time step (when counted).
    public var operationsPerStep: [SynapticOperations]
    /// Synaptic operations per sample (when counted).
    public var synapticOperations: [SynapticOperations]?
    /// The activations kept for BPTT.
    public var tape: LayeredTape?
    /// Time steps and batch size.
    public var steps: Int, batch: Int

    init(steps: Int, batch: Int, neuronLayers: [Int]) {
        self.steps = steps; self.batch = batch; self.neuronLayerIndices = neuronLayers
        self.spikeCounts = neuronLayers.map { _ in [Float](repeating: 0, count: batch) }
        self.spikesPerStep = [Double](repeating: 0, count: steps)
        self.operationsPerStep = [SynapticOperations](repeating: .init(), count: steps)
    }

    /// Output summed over time, `[batch, classes]` (spike counts, or summed currents).
    public var summedOutput: Tensor {
        var acc = outputs[0]
        for t in 1..<outputs.count { for j in 0..<acc.count { acc.data[j] += outputs[t].data[j] } }
        return acc
    }

    /// Predicted class per sample: argmax of the summed output (first maximum on ties).
    public var predictions: [Int] { summedOutput.argmaxRows() }
}

/// Activations of a layered run kept for backpropagation through time.
public struct LayeredTape: Sendable {
    /// Per-sample shapes before and after each layer.
    public var shapes: [[Int]]
    /// Time steps recorded.
    public var steps: Int
    /// `caches[t][layer]`: what each stateless layer kept at step t.
    public var caches: [[SynapticKernels.Cache]] = []
    /// `preReset[t][layer]`: pre-reset membrane `U` of LIF layers at step t (nil for other layers).
    public var preReset: [[Tensor?]] = []
    /// `spikes[t][layer]`: the spikes LIF layers emitted at step t (nil for other layers).
    public var spikes: [[Tensor?]] = []
    /// `normalization[layer]`: what a normalised population's input normalisation kept (all steps).
    public var normalization: [NormalizationKernels.Cache?] = []
    /// Bytes held by the tape (for memory reports).
    public var byteCount: Int {
        var n = 0
        for step in caches { for c in step { n += (c.input?.count ?? 0) * 4 + (c.argmax?.count ?? 0) * 4 + (c.mask?.count ?? 0) * 4 } }
        for step in preReset { for u in step { n += (u?.count ?? 0) * 4 } }
        for step in spikes { for u in step { n += (u?.count ?? 0) * 4 } }
        for c in normalization { for x in c?.normalized ?? [] { n += x.count * 4 } }
        return n
    }
}
