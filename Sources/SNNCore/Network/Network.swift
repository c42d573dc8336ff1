import SNNTensor

/// A spiking network: its architecture (``NetworkSpec``) and its trainable weights.
///
/// `weights[i]` is the weight tensor of layer `i` when that layer has weights (``LayerSpec/hasWeights``),
/// and an empty tensor otherwise. Engines read the weights; training updates them in place.
public struct Network: Sendable, Equatable {
    /// The architecture.
    public var spec: NetworkSpec
    /// One tensor per layer (empty for parameter-free layers): synaptic weights, or the normalisation
    /// parameters of a normalised LIF population (``LayerSpec/parameterShape``).
    public var weights: [Tensor]
    /// Running statistics of each normalised LIF population (``InputNormalization/statisticsShape``);
    /// an empty tensor for every other layer. State, not trained by gradients: updated by training
    /// batches and used at evaluation.
    public var runningStatistics: [Tensor]

    /// A network with weights drawn by `initializer` from a seeded counter-based generator.
    public init(spec: NetworkSpec, initializer: WeightInitializer = .xavierUniform(gain: 1), seed: UInt64 = 0) throws {
        _ = try spec.shapes()
        self.spec = spec
        let rng = CounterRNG(seed: seed)
        self.weights = spec.layers.enumerated().map { i, layer in
            if let norm = layer.normalization { return norm.initialParameters() }
            guard let shape = layer.weightShape, let fans = layer.fans else { return Tensor(shape: [0]) }
            return initializer.make(shape: shape, fanIn: fans.fanIn, fanOut: fans.fanOut, rng: rng.generator(stream: UInt64(i)))
        }
        self.runningStatistics = Network.initialStatistics(spec)
    }

    /// Initial running statistics (mean 0, variance 1) for every normalised population.
    public static func initialStatistics(_ spec: NetworkSpec) -> [Tensor] {
        spec.layers.map { $0.normalization?.initialStatistics() ?? Tensor(shape: [0]) }
    }

    /// A network with the given weights (and running statistics; default: the initial ones); shapes
    /// and statistics (finite, variance >= 0) are checked.
    public init(spec: NetworkSpec, weights: [Tensor], runningStatistics: [Tensor]? = nil) throws {
        _ = try spec.shapes()
        guard weights.count == spec.layers.count else {
            throw ShapeError("network has \(spec.layers.count) layers but \(weights.count) weight tensors")
        }
        for (i, layer) in spec.layers.enumerated() {
            let expected = layer.parameterShape ?? [0]
            guard weights[i].shape == expected else {
                throw ShapeError("layer \(i) (\(layer.shortName)): weight shape \(weights[i].shape), expected \(expected)")
            }
        }
        let stats = runningStatistics ?? Network.initialStatistics(spec)
        guard stats.count == spec.layers.count else {
            throw ShapeError("network has \(spec.layers.count) layers but \(stats.count) running-statistics tensors")
        }
        for (i, layer) in spec.layers.enumerated() {
            if let norm = layer.normalization {
                if let problem = norm.validate(statistics: stats[i]) { throw ShapeError("layer \(i) (\(layer.shortName)): \(problem)") }
            } else if stats[i].count != 0 {
                throw ShapeError("layer \(i) (\(layer.shortName)) has no normalisation but \(stats[i].count) running statistics")
            }
        }
        self.spec = spec
        self.weights = weights
        self.runningStatistics = stats
    }

    /// Indices of the layers that own trainable parameters (weights or normalisation parameters).
    public var parameterIndices: [Int] { spec.layers.indices.filter { spec.layers[$0].hasParameters } }

    /// Indices of the normalised LIF populations.
    public var normalizationIndices: [Int] { spec.layers.indices.filter { spec.layers[$0].normalization != nil } }

    /// Number of trainable weights.
    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } }
}

/// How initial weights are drawn.
public enum WeightInitializer: Sendable, Hashable {
    /// Uniform in `±gain * sqrt(6 / (fanIn + fanOut))` (Glorot & Bengio). The reference default (gain 1).
    case xavierUniform(gain: Float)
    /// Uniform in `±gain * sqrt(3 / fanIn)` (He et al., "fan-in" mode; gain sqrt(2) for ReLU-like units).
    case kaimingUniform(gain: Float)

    func make(shape: [Int], fanIn: Int, fanOut: Int, rng: StreamRNG) -> Tensor {
        var rng = rng
        let bound: Float
        switch self {
        case .xavierUniform(let g): bound = g * (6 / Float(fanIn + fanOut)).squareRoot()
        case .kaimingUniform(let g): bound = g * (3 / Float(fanIn)).squareRoot()
        }
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { _ in (rng.uniform() * 2 - 1) * bound })
    }
}
