import SNNTensor

/// A spiking network: its architecture (``NetworkSpec``) and its trainable weights.
///
/// `weights[i]` is the weight tensor of layer `i` when that layer has weights (``LayerSpec/hasWeights``),
/// and an empty tensor otherwise. Engines read the weights; training updates them in place.
public struct Network: Sendable, Equatable {
    /// The architecture.
    public var spec: NetworkSpec
    /// One tensor per layer (empty for parameter-free layers).
    public var weights: [Tensor]

    /// A network with weights drawn by `initializer` from a seeded counter-based generator.
    public init(spec: NetworkSpec, initializer: WeightInitializer = .xavierUniform(gain: 1), seed: UInt64 = 0) throws {
        _ = try spec.shapes()
        self.spec = spec
        let rng = CounterRNG(seed: seed)
        self.weights = spec.layers.enumerated().map { i, layer in
            guard let shape = layer.weightShape, let fans = layer.fans else { return Tensor(shape: [0]) }
            return initializer.make(shape: shape, fanIn: fans.fanIn, fanOut: fans.fanOut, rng: rng.generator(stream: UInt64(i)))
        }
    }

    /// A network with the given weights; shapes are checked.
    public init(spec: NetworkSpec, weights: [Tensor]) throws {
        _ = try spec.shapes()
        guard weights.count == spec.layers.count else {
            throw ShapeError("network has \(spec.layers.count) layers but \(weights.count) weight tensors")
        }
        for (i, layer) in spec.layers.enumerated() {
            let expected = layer.weightShape ?? [0]
            guard weights[i].shape == expected else {
                throw ShapeError("layer \(i) (\(layer.shortName)): weight shape \(weights[i].shape), expected \(expected)")
            }
        }
        self.spec = spec
        self.weights = weights
    }

    /// Indices of the layers that own weights (the trainable parameters).
    public var parameterIndices: [Int] { spec.layers.indices.filter { spec.layers[$0].hasWeights } }

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
