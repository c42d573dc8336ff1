import Foundation
import SNNTensor

/// What a spiking population of an EM-PF network emits (docs/ALGORITHMS.md, "EM-PF").
///
/// Every kind integrates like LIF, `m[t] = lambda * v[t-1] + I[t]`, optionally normalises the
/// membrane (`u = BN(m)`, otherwise `u = m`) and compares `u` with the threshold `theta`.
public enum SpikeKind: Codable, Hashable, Sendable {
    /// EM-PF, the paper's reading (default): the spike is the excess `s = (u - theta) H(u - theta)`,
    /// the membrane keeps `v = u - s` (so `v = min(u, theta)`); exact (ReLU-like) gradient.
    case excess
    /// EM-PF, the other reading of EMPF.md: the spike is the whole membrane `s = u H(u - theta)`,
    /// hard reset `v = u (1 - H)`; straight-through gradient `ds/du = H` (the threshold gets none).
    case membrane
    /// Plain LIF (the OTTT/SLTT/BPTT baselines): binary spike `H(u - theta)` with a surrogate
    /// gradient, hard reset (not differentiated: `dv/du = 1 - H`).
    case lif(Surrogate)

    /// Whether spikes are real numbers (EM-PF) rather than 0/1.
    public var isGraded: Bool { if case .lif = self { return false } else { return true } }

    /// A short name: `excess`, `membrane`, `lif`.
    public var name: String {
        switch self { case .excess: return "excess"; case .membrane: return "membrane"; case .lif: return "lif" }
    }
}

/// A population of EM-PF (or LIF) neurons with learnable decay and threshold.
public struct EMPFNeuronSpec: Codable, Hashable, Sendable {
    /// What the neurons emit.
    public var kind: SpikeKind
    /// Initial decay `lambda` per step, in [0, 1].
    public var decay: Float
    /// Initial threshold `theta` (> 0), in the unit of the (normalised) membrane.
    public var threshold: Float
    /// One decay and one threshold per channel (conv maps: per feature map; linear: per neuron)
    /// instead of per neuron.
    public var perChannel: Bool
    /// Whether decay and threshold are trained (false: kept at their initial values).
    public var learnable: Bool
    /// Batch normalisation of the membrane potential before the threshold (per channel; batch
    /// statistics of each step in training, running statistics at inference, where it folds into
    /// the threshold, see ``EMPFNeuronSpec``).
    public var membraneNorm: Bool

    public init(kind: SpikeKind = .excess, decay: Float = 0.5, threshold: Float = 1, perChannel: Bool = true,
                learnable: Bool = true, membraneNorm: Bool = false) {
        self.kind = kind; self.decay = decay; self.threshold = threshold; self.perChannel = perChannel
        self.learnable = learnable; self.membraneNorm = membraneNorm
    }
}

/// How synaptic weights are used in the forward pass.
public enum BinaryWeights: String, Codable, Hashable, Sendable, CaseIterable {
    /// Float weights.
    case none
    /// `alpha * sign(W_latent)` with one `alpha = mean |W_latent|` per layer.
    case perLayer = "layer"
    /// `alpha * sign(W_latent)` with one `alpha` per output channel (output neuron of a linear layer).
    case perChannel = "channel"
}

/// One layer of an EM-PF network.
public enum EMPFLayer: Codable, Hashable, Sendable {
    /// A stateless layer of the ordinary network spec: linear, conv2d, pooling, flatten, dropout.
    case synaptic(LayerSpec)
    /// A spiking population (one neuron per input element).
    case neuron(EMPFNeuronSpec)
    /// Efficient channel attention over `[C, H, W]` maps: `g = sigmoid(conv1d_k(mean_hw(x)))`,
    /// output `x * g[c]`; `kernel` odd, zero padding `kernel / 2`, no bias.
    case channelAttention(kernel: Int)

    /// Shape of the trainable tensors this layer owns, given its per-sample input shape.
    public func parameterShapes(input: [Int]) -> [[Int]] {
        switch self {
        case .synaptic(let l): return l.weightShape.map { [$0] } ?? []
        case .neuron(let n):
            let c = n.perChannel ? EMPFLayer.channels(input) : input.reduce(1, *)
            var s: [[Int]] = [[c], [c]]  // decay, threshold
            if n.membraneNorm { let ch = EMPFLayer.channels(input); s += [[ch], [ch]] }  // gamma, beta
            return s
        case .channelAttention(let k): return [[k]]
        }
    }

    /// Shape of the running statistics (mean, variance of the membrane) of a normalised population.
    public func statisticShapes(input: [Int]) -> [[Int]] {
        if case .neuron(let n) = self, n.membraneNorm { let c = EMPFLayer.channels(input); return [[c], [c]] }
        return []
    }

    /// Channels of a per-sample shape: `C` of `[C, H, W]`, the length of a flat vector.
    public static func channels(_ shape: [Int]) -> Int { shape.count == 3 ? shape[0] : shape.reduce(1, *) }

    /// A short human-readable name.
    public var shortName: String {
        switch self {
        case .synaptic(let l): return l.shortName
        case .neuron(let n):
            return "\(n.kind.name) lambda=\(n.decay) theta=\(n.threshold)" + (n.membraneNorm ? " +bn" : "") + (n.learnable ? "" : " fixed")
        case .channelAttention(let k): return "eca k\(k)"
        }
    }
}

/// The architecture of an EM-PF network: input shape, layers and the weight mode.
public struct EMPFSpec: Codable, Hashable, Sendable {
    /// One sample's input at one time step.
    public var inputShape: [Int]
    /// The layers, input side first.
    public var layers: [EMPFLayer]
    /// Binary weights for every linear and conv layer, or float weights.
    public var binaryWeights: BinaryWeights

    public init(inputShape: [Int], layers: [EMPFLayer], binaryWeights: BinaryWeights = .none) {
        self.inputShape = inputShape; self.layers = layers; self.binaryWeights = binaryWeights
    }

    /// Per-sample shapes: `shapes[0]` is the input, `shapes[i+1]` follows layer `i`.
    public func shapes() throws -> [[Int]] {
        var shapes = [inputShape]
        for (i, layer) in layers.enumerated() {
            let input = shapes.last!
            switch layer {
            case .synaptic(let l):
                if case .lif = l { throw ShapeError("layer \(i): use an EM-PF neuron layer, not lif") }
                switch l.outputShape(for: input) {
                case .success(let s): shapes.append(s)
                case .failure(let e): throw ShapeError("layer \(i) (\(l.shortName)): \(e.description)")
                }
            case .neuron(let n):
                guard n.decay >= 0, n.decay <= 1, n.threshold.isFinite, n.threshold > 0 else {
                    throw ShapeError("layer \(i): neuron needs decay in [0, 1] and threshold > 0, got \(n.decay), \(n.threshold)")
                }
                shapes.append(input)
            case .channelAttention(let k):
                guard input.count == 3, k > 0, k % 2 == 1, k <= 15 else {
                    throw ShapeError("layer \(i): channel attention needs [C, H, W] maps and an odd kernel 1...15, got \(input), k\(k)")
                }
                shapes.append(input)
            }
        }
        return shapes
    }

    /// Number of outputs (classes).
    public func outputCount() throws -> Int { try shapes().last!.reduce(1, *) }

    /// Builds an EM-PF spec from an architecture string of the ordinary network spec
    /// (``NetworkSpec/parse(_:neuron:timeSteps:)``): every `lif` population becomes `neuron`; a `:bn`
    /// suffix turns on the population's membrane normalisation (`:bntt`/`:tdbn` are refused);
    /// `attention` adds efficient channel attention (kernel `attentionKernel`) after every
    /// population of a conv layer.
    public static func parse(_ text: String, neuron: EMPFNeuronSpec, binaryWeights: BinaryWeights = .none,
                             attentionKernel: Int? = nil) throws -> EMPFSpec {
        let plain = try NetworkSpec.parse(text, neuron: LIFParameters(beta: 1, threshold: 1), timeSteps: 1)
        let shapes = try plain.shapes()
        var layers: [EMPFLayer] = []
        for (i, layer) in plain.layers.enumerated() {
            if case .lif(let p) = layer {
                var n = neuron
                if let norm = p.normalization {
                    guard norm.kind == .bn else {
                        throw ShapeError("architecture: EM-PF populations take ':bn' (membrane batch norm) only, not ':\(norm.kind.rawValue)'")
                    }
                    n.membraneNorm = true
                }
                layers.append(.neuron(n))
                if let k = attentionKernel, shapes[i + 1].count == 3 { layers.append(.channelAttention(kernel: k)) }
            } else {
                layers.append(.synaptic(layer))
            }
        }
        let spec = EMPFSpec(inputShape: plain.inputShape, layers: layers, binaryWeights: binaryWeights)
        _ = try spec.shapes()
        return spec
    }
}

/// An EM-PF network: architecture, trainable parameters and running statistics.
///
/// `parameters[i]` lists layer `i`'s tensors (``EMPFLayer/parameterShapes(input:)``): the latent
/// weight of a synaptic layer; decay, threshold (and gamma, beta) of a population; the 1-D kernel
/// of channel attention. `statistics[i]` holds a normalised population's running mean and variance.
public struct EMPFModel: Sendable, Equatable {
    public var spec: EMPFSpec
    public var parameters: [[Tensor]]
    public var statistics: [[Tensor]]

    /// A model with Kaiming-uniform (gain sqrt(2)) weights drawn from `seed`, neurons at their
    /// initial decay and threshold, gamma 1, beta 0, running mean 0 and variance 1.
    public init(spec: EMPFSpec, seed: UInt64 = 0) throws {
        let shapes = try spec.shapes()
        self.spec = spec
        let rng = CounterRNG(seed: seed)
        var params: [[Tensor]] = []
        var stats: [[Tensor]] = []
        for (i, layer) in spec.layers.enumerated() {
            let ps = layer.parameterShapes(input: shapes[i])
            switch layer {
            case .synaptic(let l):
                if let shape = l.weightShape, let fans = l.fans {
                    var g = rng.generator(stream: UInt64(i))
                    let bound = (2 * 3 / Float(fans.fanIn)).squareRoot()
                    let n = shape.reduce(1, *)
                    params.append([Tensor(shape: shape, data: (0..<n).map { _ in (g.uniform() * 2 - 1) * bound })])
                } else { params.append([]) }
            case .neuron(let n):
                var t = [Tensor(shape: ps[0], repeating: n.decay), Tensor(shape: ps[1], repeating: n.threshold)]
                if n.membraneNorm { t += [Tensor(shape: ps[2], repeating: 1), Tensor(shape: ps[3], repeating: 0)] }
                params.append(t)
            case .channelAttention(let k):
                var g = rng.generator(stream: UInt64(i))
                params.append([Tensor(shape: [k], data: (0..<k).map { _ in (g.uniform() * 2 - 1) * 0.5 })])
            }
            let ss = layer.statisticShapes(input: shapes[i])
            stats.append(ss.isEmpty ? [] : [Tensor(shape: ss[0], repeating: 0), Tensor(shape: ss[1], repeating: 1)])
        }
        self.parameters = params
        self.statistics = stats
    }

    /// A model with the given tensors; every shape is checked against the architecture.
    public init(spec: EMPFSpec, parameters: [[Tensor]], statistics: [[Tensor]]) throws {
        let shapes = try spec.shapes()
        guard parameters.count == spec.layers.count, statistics.count == spec.layers.count else {
            throw ShapeError("EM-PF model has \(spec.layers.count) layers but \(parameters.count) parameter and \(statistics.count) statistics groups")
        }
        for (i, layer) in spec.layers.enumerated() {
            let want = layer.parameterShapes(input: shapes[i]), got = parameters[i].map(\.shape)
            guard want == got else { throw ShapeError("layer \(i) (\(layer.shortName)): parameter shapes \(got), expected \(want)") }
            let wantS = layer.statisticShapes(input: shapes[i]), gotS = statistics[i].map(\.shape)
            guard wantS == gotS else { throw ShapeError("layer \(i) (\(layer.shortName)): statistics shapes \(gotS), expected \(wantS)") }
        }
        self.spec = spec; self.parameters = parameters; self.statistics = statistics
    }

    /// Number of trainable values.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }

    /// Whether layer `i` is a linear or conv layer whose weights are binarised.
    public func isBinary(_ i: Int) -> Bool {
        guard spec.binaryWeights != .none, case .synaptic(let l) = spec.layers[i] else { return false }
        return l.hasWeights
    }

    /// The scales `alpha` of binary layer `i` (one, or one per output channel), nil when the layer is not binary.
    public func binaryScales(_ i: Int) -> [Float]? {
        guard isBinary(i), case .synaptic(let layer) = spec.layers[i] else { return nil }
        return BinaryWeightMath.scales(of: parameters[i][0], perChannel: spec.binaryWeights == .perChannel, layer: layer)
    }

    /// The signs `sign(W)` (`+1` for 0) of binary layer `i` as `±1` floats: the weight of sign-selected
    /// accumulation, whose sums are multiplied by ``binaryScales(_:)`` per output channel.
    public func signWeight(_ i: Int) -> Tensor {
        guard case .synaptic(let layer) = spec.layers[i] else { return parameters[i].first ?? Tensor(shape: [0]) }
        return BinaryWeightMath.binarised(parameters[i][0], scales: [1], layer: layer)
    }

    /// The forward weight of synaptic layer `i`: the latent weight, or `alpha * sign(W)` when binary.
    public func effectiveWeight(_ i: Int) -> Tensor {
        let w = parameters[i][0]
        guard isBinary(i), case .synaptic(let layer) = spec.layers[i] else { return w }
        let scales = BinaryWeightMath.scales(of: w, perChannel: spec.binaryWeights == .perChannel, layer: layer)
        return BinaryWeightMath.binarised(w, scales: scales, layer: layer)
    }
}

/// Scales and signs of binary weights (``BinaryWeights``).
public enum BinaryWeightMath {
    /// Output channel of flat weight index `j`: linear `[in, out]` -> `j % out`; conv `[O, C, k, k]` -> `j / (C k k)`.
    @inlinable public static func outputChannel(_ j: Int, layer: LayerSpec) -> Int {
        switch layer {
        case .linear(_, let o): return j % o
        case .conv2d(let ci, _, let k, _, _): return j / (ci * k * k)
        default: return 0
        }
    }

    /// Number of output channels of a weighted layer.
    public static func outputChannels(_ layer: LayerSpec) -> Int {
        switch layer { case .linear(_, let o): return o; case .conv2d(_, let o, _, _, _): return o; default: return 1 }
    }

    /// Calls `body(channel, indices)` for every output channel's weights in ascending flat index:
    /// linear `[in, out]` -> column `c` (stride `out`); conv `[O, C, k, k]` -> the block of channel `c`.
    /// With one channel (per-layer scale, or another layer) every index belongs to channel 0.
    @inline(__always)
    static func forEachChannel(count: Int, perChannel: Bool, layer: LayerSpec, _ body: (_ channel: Int, _ indices: StrideTo<Int>) -> Void) {
        switch (perChannel, layer) {
        case (true, .linear(_, let o)):
            for c in 0..<o { body(c, stride(from: c, to: count, by: o)) }
        case (true, .conv2d(let ci, let co, let k, _, _)):
            let block = ci * k * k
            for c in 0..<co { body(c, stride(from: c * block, to: (c + 1) * block, by: 1)) }
        default:
            body(0, stride(from: 0, to: count, by: 1))
        }
    }

    /// `alpha = mean |W|` per layer (one value) or per output channel.
    public static func scales(of w: Tensor, perChannel: Bool, layer: LayerSpec) -> [Float] {
        let channels = perChannel ? outputChannels(layer) : 1
        var scales = [Float](repeating: 1e-8, count: channels)
        w.withUnsafeBufferPointer { p in
            forEachChannel(count: p.count, perChannel: perChannel, layer: layer) { c, indices in
                var sum: Double = 0, count = 0
                for j in indices { sum += Double(abs(p[j])); count += 1 }
                // A channel of all-zero latent weights keeps a tiny positive scale (a zero scale is invalid in model files).
                scales[c] = max(Float(sum / Double(max(count, 1))), 1e-8)
            }
        }
        return scales
    }

    /// `alpha[c] * sign(W)` with `sign(0) = +1`.
    public static func binarised(_ w: Tensor, scales: [Float], layer: LayerSpec) -> Tensor {
        var out = w
        w.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                forEachChannel(count: p.count, perChannel: scales.count > 1, layer: layer) { c, indices in
                    let a = scales[c]
                    for j in indices { o[j] = p[j] < 0 ? -a : a }
                }
            }
        }
        return out
    }
}
