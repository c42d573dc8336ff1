import SNNTensor

/// Batch normalisation of the current into a LIF population (the output of the conv or linear layer
/// in front of it), per channel. A channel is the first axis of the population's shape (`C` of
/// `[C, H, W]`, or each neuron of a flat `[N]` population); statistics run over the batch and the
/// remaining (spatial) axes.
///
/// - ``Kind/bntt``: batch normalisation through time (Kim & Panda 2020): one normalisation per time
///   step, each with its own running mean and variance and its own scale `gamma_t` per channel, no
///   shift: `I_t = gamma_t (x_t - mu_t) / sqrt(var_t + eps)`.
/// - ``Kind/bn``: conventional batch norm shared over time: per-step batch statistics in training
///   (the running statistics are updated once per step, as when one BN module is called T times),
///   one scale `gamma` and shift `beta` for all steps.
/// - ``Kind/tdbn``: threshold-dependent BN (Zheng et al. 2021): statistics over time and batch together,
///   `I_t = gamma * theta * (x_t - mu) / sqrt(var + eps) + beta` (`alpha = 1`).
/// - ``Kind/bias``: no normalisation, the synaptic layer's bias: `I_t = x_t + b` (the bias of a
///   PyTorch `Linear` or `Conv2d`, NIR's `Affine`), the same in training and evaluation; it has no
///   statistics (its running statistics stay at their initial values and are never used).
///
/// Parameters (``parameterShape``): `[T, C]` (gamma per step) for BNTT, `[1, C]` (b) for bias, `[2, C]`
/// (gamma; beta) otherwise.
/// Running statistics (``statisticsShape``): `[S, 2, C]` (mean; variance) with `S = T` for BNTT, else 1;
/// the variance stored is the unbiased batch variance, as PyTorch keeps it.
public struct InputNormalization: Codable, Hashable, Sendable {
    /// Which normalisation.
    public enum Kind: String, Codable, CaseIterable, Sendable {
        case bntt, bn, tdbn
        /// A per-channel bias current (no normalisation).
        case bias
    }
    public var kind: Kind
    /// Channels normalised (the first axis of the population's shape).
    public var channels: Int
    /// Time steps with their own parameters and statistics (BNTT); 1 for the other kinds.
    public var steps: Int
    /// Running-statistics update factor: `r <- (1 - momentum) r + momentum * batch` (PyTorch's convention).
    public var momentum: Float
    /// Added to the variance before the square root.
    public var epsilon: Float

    public init(kind: Kind, channels: Int, steps: Int = 1, momentum: Float = 0.1, epsilon: Float = 1e-4) {
        self.kind = kind; self.channels = channels; self.steps = kind == .bntt ? steps : 1
        self.momentum = momentum; self.epsilon = epsilon
    }

    /// Number of statistic sets kept: `T` for BNTT, else 1.
    public var statisticSets: Int { kind == .bntt ? steps : 1 }
    /// Shape of the learnable parameters.
    public var parameterShape: [Int] {
        switch kind {
        case .bntt: return [steps, channels]
        case .bias: return [1, channels]
        case .bn, .tdbn: return [2, channels]
        }
    }
    /// Shape of the running statistics.
    public var statisticsShape: [Int] { [statisticSets, 2, channels] }

    /// Initial parameters: gamma 1, beta 0 (bias: 0).
    public func initialParameters() -> Tensor {
        var t = Tensor(shape: parameterShape)
        if kind == .bias { return t }
        let gammaCount = kind == .bntt ? steps * channels : channels
        for j in 0..<gammaCount { t.data[j] = 1 }
        return t
    }

    /// Initial running statistics: mean 0, variance 1.
    public func initialStatistics() -> Tensor {
        var t = Tensor(shape: statisticsShape)
        for s in 0..<statisticSets { for c in 0..<channels { t.data[(s * 2 + 1) * channels + c] = 1 } }
        return t
    }

    /// Problems with the hyper-parameters for a population of shape `shape`, or nil.
    public func validate(populationShape shape: [Int]) -> String? {
        guard channels > 0, steps > 0 else { return "\(kind.rawValue) needs positive channels and steps (got \(channels), \(steps))" }
        guard momentum >= 0, momentum <= 1, epsilon > 0, epsilon.isFinite else {
            return "\(kind.rawValue) needs momentum in [0, 1] and a positive epsilon (got \(momentum), \(epsilon))"
        }
        guard let c = shape.first, c == channels else { return "\(kind.rawValue) has \(channels) channels for a population shaped \(shape)" }
        return nil
    }

    /// Problems with running statistics read from a file, or nil: wrong length, non-finite values,
    /// negative variance.
    public func validate(statistics: Tensor) -> String? {
        guard statistics.shape == statisticsShape else {
            return "\(kind.rawValue) running statistics have shape \(statistics.shape), expected \(statisticsShape)"
        }
        for s in 0..<statisticSets {
            for c in 0..<channels {
                let m = statistics.data[(s * 2) * channels + c], v = statistics.data[(s * 2 + 1) * channels + c]
                guard m.isFinite else { return "\(kind.rawValue) running mean (step \(s), channel \(c)) is \(m)" }
                guard v.isFinite, v >= 0 else { return "\(kind.rawValue) running variance (step \(s), channel \(c)) is \(v) (must be finite and >= 0)" }
            }
        }
        return nil
    }

    /// The statistic set used at time step `t`.
    @inlinable public func statisticSet(step t: Int) -> Int { kind == .bntt ? t : 0 }

    /// The evaluation-mode normalisation at step `t` as a per-channel affine map of the input current,
    /// `I = scale[c] * x + bias[c]` (the folded form: `scale = gamma_t / sqrt(var_t + eps)` times `theta`
    /// for tdBN, `bias = beta - mu_t * scale`). This is what an event-driven engine applies: a scale of
    /// the incoming currents and a bias current injected once per step.
    public func folded(parameters: Tensor, statistics: Tensor, threshold: Float, step t: Int) -> (scale: [Float], bias: [Float]) {
        if kind == .bntt && t >= steps { fatalError("BNTT layer has parameters for \(steps) steps, asked for step \(t)") }
        let set = statisticSet(step: t)
        if kind == .bias { return ([Float](repeating: 1, count: channels), Array(parameters.data[0..<channels])) }
        var scale = [Float](repeating: 0, count: channels), bias = scale
        for c in 0..<channels {
            let mean = statistics.data[(set * 2) * channels + c], variance = statistics.data[(set * 2 + 1) * channels + c]
            let gamma = kind == .bntt ? parameters.data[t * channels + c] : parameters.data[c]
            let shift: Float = kind == .bntt ? 0 : parameters.data[channels + c]
            let g = kind == .tdbn ? gamma * threshold : gamma
            let s = g / (variance + epsilon).squareRoot()
            scale[c] = s
            bias[c] = shift - mean * s
        }
        return (scale, bias)
    }
}

/// Forward and backward passes of ``InputNormalization`` over all time steps of a batch at once
/// (tdBN's statistics span the steps, so the layered engine runs a normalised population's steps together).
public enum NormalizationKernels {
    /// What the training forward pass keeps: the normalised input `x_hat` per step and `1/sqrt(var + eps)`
    /// per step and channel.
    public struct Cache: Sendable {
        public var normalized: [Tensor]
        public var inverseStd: [[Float]]

        public init(normalized: [Tensor], inverseStd: [[Float]]) {
            self.normalized = normalized; self.inverseStd = inverseStd
        }
    }

    /// Normalises `inputs[t]` (each `[batch, C * spatial]`). In training: batch statistics; returns the
    /// outputs, the cache, and the batch statistics `[S, 2, C]` (mean; unbiased variance) for the running
    /// update. In evaluation: the running statistics (folded form), no cache.
    public static func forward(_ norm: InputNormalization, parameters: Tensor, statistics: Tensor, threshold: Float,
                               inputs: [Tensor], training: Bool, keepCache: Bool)
        -> (outputs: [Tensor], cache: Cache?, batchStatistics: Tensor?) {
        let steps = inputs.count
        if norm.kind == .bntt && steps > norm.steps {
            fatalError("BNTT normalisation has parameters for \(norm.steps) time steps; the run has \(steps)")
        }
        let c = norm.channels
        let batch = inputs[0].shape[0]
        let perSample = inputs[0].count / max(batch, 1)
        if perSample % c != 0 { fatalError("normalisation of \(c) channels got \(perSample) values per sample") }
        let spatial = perSample / c
        var outputs = inputs
        if norm.kind == .bias {
            // x + b in training and evaluation alike (the folded form 1 * x + b is x + b exactly); no statistics.
            // The (empty) cache lets BPTT run on an evaluation-mode tape too.
            for t in 0..<steps {
                outputs[t].withUnsafeMutableBufferPointer { y in
                    for b in 0..<batch { for ch in 0..<c {
                        let base = (b * c + ch) * spatial, o = parameters.data[ch]
                        for k in 0..<spatial { y[base + k] = 1 * y[base + k] + o }
                    } }
                }
            }
            return (outputs, keepCache ? Cache(normalized: [], inverseStd: []) : nil, nil)
        }
        if !training {
            for t in 0..<steps {
                let (scale, bias) = norm.folded(parameters: parameters, statistics: statistics, threshold: threshold, step: t)
                // Into a new tensor: the inputs are shared with the caller, so scaling in place would copy them first.
                outputs[t] = Tensor(shape: inputs[t].shape) { y in
                    inputs[t].withUnsafeBufferPointer { x in
                        for b in 0..<batch {
                            for ch in 0..<c {
                                let base = (b * c + ch) * spatial
                                let s = scale[ch], o = bias[ch]
                                for k in 0..<spatial { y[base + k] = s * x[base + k] + o }
                            }
                        }
                    }
                }
            }
            return (outputs, nil, nil)
        }
        let (affines, batchStats) = trainingAffines(norm, parameters: parameters, threshold: threshold, inputs: inputs)
        var cache = Cache(normalized: keepCache ? inputs : [], inverseStd: [[Float]](repeating: [], count: steps))
        for t in 0..<steps {
            let a = affines[t]
            var xhat = Tensor(shape: inputs[t].shape) { _ in }
            outputs[t] = Tensor(shape: inputs[t].shape) { y in
                inputs[t].withUnsafeBufferPointer { x in
                    xhat.withUnsafeMutableBufferPointer { xh in
                        ChannelAffine.normalize(x.baseAddress!, batch: batch, channels: c, spatial: spatial, mean: a.mean,
                                                inverseStd: a.inverseStd, scale: a.scale, shift: a.shift,
                                                normalized: xh.baseAddress!, y: y.baseAddress!)
                    }
                }
            }
            if keepCache { cache.normalized[t] = xhat; cache.inverseStd[t] = a.inverseStd }
        }
        return (outputs, keepCache ? cache : nil, batchStats)
    }

    /// The training normalisation of one step as per-channel constants: `x_hat = (x - mean) * inverseStd`,
    /// `I = scale * x_hat + shift` (``ChannelAffine/normalize(_:batch:channels:spatial:mean:inverseStd:scale:shift:normalized:y:)``).
    public struct StepAffine: Sendable {
        public var mean: [Float], inverseStd: [Float], scale: [Float], shift: [Float]
    }

    /// The batch statistics of a training forward pass as each step's ``StepAffine``, and the statistics
    /// `[S, 2, C]` (mean; unbiased variance) for the running update. Normalising with them is
    /// ``forward(_:parameters:statistics:threshold:inputs:training:keepCache:)`` in training (which does
    /// exactly that); the layered engine applies them inside the population step instead.
    public static func trainingAffines(_ norm: InputNormalization, parameters: Tensor, threshold: Float,
                                       inputs: [Tensor]) -> (affines: [StepAffine], batchStatistics: Tensor) {
        precondition(norm.kind != .bias, "trainingAffines: a bias has no statistics")
        let steps = inputs.count, c = norm.channels
        if norm.kind == .bntt && steps > norm.steps {
            fatalError("BNTT normalisation has parameters for \(norm.steps) time steps; the run has \(steps)")
        }
        let batch = inputs[0].shape[0]
        let perSample = inputs[0].count / max(batch, 1)
        if perSample % c != 0 { fatalError("normalisation of \(c) channels got \(perSample) values per sample") }
        let spatial = perSample / c
        // Groups of steps sharing statistics: each step alone (bntt, bn) or all together (tdbn).
        let groups: [[Int]] = norm.kind == .tdbn ? [Array(0..<steps)] : (0..<steps).map { [$0] }
        var batchStats = Tensor(shape: [norm.kind == .tdbn ? 1 : steps, 2, c])
        var affines = [StepAffine](repeating: StepAffine(mean: [], inverseStd: [], scale: [], shift: []), count: steps)
        for (gi, group) in groups.enumerated() {
            let n = Double(group.count * batch * spatial)
            // Per channel, over the group's steps, then the batch, in one read of the maps: the sums of x and of
            // x^2 in Double. Variance = E[x^2] - E[x]^2 loses about log2(mean^2 / variance) of Double's 53 bits,
            // so it keeps Float's 24 while the mean is within about 20,000 standard deviations of zero.
            var mean = [Double](repeating: 0, count: c), sq = mean
            withPointers(group.map { inputs[$0] }) { maps in
                mean.withUnsafeMutableBufferPointer { m in
                    sq.withUnsafeMutableBufferPointer {
                        ChannelSums.accumulate(maps, batch: batch, channels: c, spatial: spatial, into: m.baseAddress!,
                                               squares: $0.baseAddress!)
                    }
                }
            }
            var inv = [Float](repeating: 0, count: c)
            for ch in 0..<c {
                mean[ch] /= n
                let variance = max(0, sq[ch] / n - mean[ch] * mean[ch])
                sq[ch] = variance * n  // the squared deviations' sum, for the unbiased running variance
                inv[ch] = Float(1 / (variance + Double(norm.epsilon)).squareRoot())
                batchStats.data[(gi * 2) * c + ch] = Float(mean[ch])
                batchStats.data[(gi * 2 + 1) * c + ch] = Float(n > 1 ? sq[ch] / (n - 1) : variance)
            }
            let meanF = mean.map { Float($0) }
            for t in group {
                let (scale, shift) = trainingAffine(norm, parameters: parameters, threshold: threshold, step: t)
                affines[t] = StepAffine(mean: meanF, inverseStd: inv, scale: scale, shift: shift)
            }
        }
        return (affines, batchStats)
    }

    /// Per-channel scale and shift applied to `x_hat` at step `t` in training.
    static func trainingAffine(_ norm: InputNormalization, parameters: Tensor, threshold: Float, step t: Int) -> ([Float], [Float]) {
        let c = norm.channels
        switch norm.kind {
        case .bntt: return (Array(parameters.data[(t * c)..<((t + 1) * c)]), [Float](repeating: 0, count: c))
        case .bn: return (Array(parameters.data[0..<c]), Array(parameters.data[c..<(2 * c)]))
        case .tdbn: return (parameters.data[0..<c].map { $0 * threshold }, Array(parameters.data[c..<(2 * c)]))
        case .bias: return ([Float](repeating: 1, count: c), Array(parameters.data[0..<c]))
        }
    }

    /// Backward pass of the training forward: given `dL/dI_t` for every step, returns `dL/dx_t` and adds
    /// the parameter gradient into `parameterGradient` (shape ``InputNormalization/parameterShape``).
    /// Gradients flow through the batch mean and variance.
    public static func backward(_ norm: InputNormalization, parameters: Tensor, threshold: Float, cache: Cache,
                                outputGradients: [Tensor], parameterGradient: inout Tensor) -> [Tensor] {
        backward(norm, parameters: parameters, threshold: threshold, cache: cache, outputGradients: outputGradients,
                 parameterGradient: &parameterGradient, channelMajor: true, positionMajor: false).channelMajor
    }

    /// ``backward(_:parameters:threshold:cache:outputGradients:parameterGradient:)`` with the input gradient
    /// in the layouts asked for (the same values):
    ///
    /// - `channelMajor`: `[batch, C, spatial]` per step, as the forward pass's input (else `[batch, 0]`);
    /// - `positionMajor`: `[batch, spatial, C]` per step, what a convolution's weight gradient reads
    ///   (``SNNTensor/conv2dBackward(input:batch:weight:outChannels:geometry:outputGradient:transposedOutputGradient:weightGradient:inputGradient:)``);
    ///   `nil` for the `bias` kind, whose input gradient is its output gradient (always channel-major then).
    ///
    /// `channelTotals`, when given, holds per step the channel totals `[sum(dL/dI), sum(dL/dI * x_hat)]` of
    /// each channel (`[2C]`), as ``SNNTensor/ChannelSums/accumulateGradient(g:h:batch:channels:spatial:scale:sumG:sumGH:scaledG:scaledGH:)``
    /// computes them on conv maps (16 positions or more): a producer that summed them while writing
    /// `dL/dI` (BPTT's channel-by-channel LIF step) saves reading the maps again.
    public static func backward(_ norm: InputNormalization, parameters: Tensor, threshold: Float, cache: Cache,
                                outputGradients: [Tensor], parameterGradient: inout Tensor,
                                channelMajor: Bool, positionMajor: Bool,
                                channelTotals: [[Double]]? = nil) -> (channelMajor: [Tensor], positionMajor: [Tensor]?) {
        let steps = outputGradients.count
        let c = norm.channels
        let batch = outputGradients[0].shape[0]
        let spatial = outputGradients[0].count / max(batch, 1) / c
        if norm.kind == .bias {
            // dL/dx = dL/dI; dL/db[c] = sum over steps, batch and positions of dL/dI.
            for t in 0..<steps {
                outputGradients[t].withUnsafeBufferPointer { g in
                    for ch in 0..<c {
                        var acc: Double = 0
                        for b in 0..<batch { let base = (b * c + ch) * spatial; for k in 0..<spatial { acc += Double(g[base + k]) } }
                        parameterGradient.data[ch] += Float(acc)
                    }
                }
            }
            return (outputGradients, nil)
        }
        let groups: [[Int]] = norm.kind == .tdbn ? [Array(0..<steps)] : (0..<steps).map { [$0] }
        var inputGradients = outputGradients
        var transposed: [Tensor]? = positionMajor ? [] : nil
        for group in groups {
            let n = Float(group.count * batch * spatial)
            // Sums over the group of dxhat and dxhat * xhat per channel.
            var sumD = [Double](repeating: 0, count: c), sumDX = sumD
            for t in group {
                let (scale, _) = trainingAffine(norm, parameters: parameters, threshold: threshold, step: t)
                var dGamma = [Double](repeating: 0, count: c), dBeta = dGamma
                if let totals = channelTotals?[t] {
                    precondition(totals.count == 2 * c && spatial >= ChannelChains.laneThreshold,
                                 "NormalizationKernels.backward: channel totals are [2C] per step of a conv map")
                    // What accumulateGradient adds from the lane totals of each channel.
                    for ch in 0..<c {
                        let sg = totals[2 * ch], sgh = totals[2 * ch + 1], sc = Double(scale[ch])
                        dBeta[ch] += sg; dGamma[ch] += sgh; sumD[ch] += sg * sc; sumDX[ch] += sgh * sc
                    }
                } else {
                    outputGradients[t].withUnsafeBufferPointer { g in
                        cache.normalized[t].withUnsafeBufferPointer { h in
                            scale.withUnsafeBufferPointer { sc in
                                dBeta.withUnsafeMutableBufferPointer { db in
                                    dGamma.withUnsafeMutableBufferPointer { dg in
                                        sumD.withUnsafeMutableBufferPointer { sd in
                                            sumDX.withUnsafeMutableBufferPointer { sdx in
                                                ChannelSums.accumulateGradient(g: g.baseAddress!, h: h.baseAddress!, batch: batch, channels: c,
                                                                               spatial: spatial, scale: sc.baseAddress!, sumG: db.baseAddress!,
                                                                               sumGH: dg.baseAddress!, scaledG: sd.baseAddress!, scaledGH: sdx.baseAddress!)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                for ch in 0..<c {
                    switch norm.kind {
                    case .bntt: parameterGradient.data[t * c + ch] += Float(dGamma[ch])
                    case .bn: parameterGradient.data[ch] += Float(dGamma[ch]); parameterGradient.data[c + ch] += Float(dBeta[ch])
                    case .tdbn: parameterGradient.data[ch] += Float(dGamma[ch]) * threshold; parameterGradient.data[c + ch] += Float(dBeta[ch])
                    case .bias: break  // handled above
                    }
                }
            }
            for t in group {
                let (scale, _) = trainingAffine(norm, parameters: parameters, threshold: threshold, step: t)
                let inv = cache.inverseStd[t]
                let meanD = sumD.map { Float($0) / n }, meanDX = sumDX.map { Float($0) / n }
                guard positionMajor else {
                    inputGradients[t] = Tensor(shape: outputGradients[t].shape) { dx in
                        outputGradients[t].withUnsafeBufferPointer { g in
                            cache.normalized[t].withUnsafeBufferPointer { h in
                                ChannelAffine.inputGradient(g.baseAddress!, normalized: h.baseAddress!, batch: batch, channels: c, spatial: spatial,
                                                            scale: scale, inverseStd: inv, meanG: meanD, meanGH: meanDX, dx: dx.baseAddress!)
                            }
                        }
                    }
                    continue
                }
                // Both tensors are written at every element (the channel-major one only when asked for).
                var dx = channelMajor ? Tensor(shape: outputGradients[t].shape) { _ in } : Tensor(shape: [batch, 0])
                var dxT = Tensor(shape: [batch, spatial, c]) { _ in }
                outputGradients[t].withUnsafeBufferPointer { g in
                    cache.normalized[t].withUnsafeBufferPointer { h in
                        dx.withUnsafeMutableBufferPointer { d in
                            dxT.withUnsafeMutableBufferPointer { dt in
                                ChannelAffine.inputGradient(g.baseAddress!, normalized: h.baseAddress!, batch: batch, channels: c, spatial: spatial,
                                                            scale: scale, inverseStd: inv, meanG: meanD, meanGH: meanDX,
                                                            dx: channelMajor ? d.baseAddress : nil, transposedDx: dt.baseAddress!)
                            }
                        }
                    }
                }
                inputGradients[t] = dx
                transposed!.append(dxT)
            }
        }
        return (inputGradients, transposed)
    }

    /// New running statistics after one training batch: `r <- (1 - m) r + m * batch`, once per step for
    /// BNTT (each its own set) and shared BN (the one set, step after step), once for tdBN.
    public static func updatedStatistics(_ norm: InputNormalization, running: Tensor, batch: Tensor) -> Tensor {
        var r = running
        let c = norm.channels, m = norm.momentum
        let sets = batch.shape[0]
        for s in 0..<sets {
            let target = norm.kind == .bntt ? s : 0
            for j in 0..<(2 * c) {
                let idx = target * 2 * c + j
                r.data[idx] = (1 - m) * r.data[idx] + m * batch.data[s * 2 * c + j]
            }
        }
        return r
    }
}
