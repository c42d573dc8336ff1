/// One layer of a network description: what it computes and its hyper-parameters (no weights).
///
/// A network is a sequence of layers (``NetworkSpec``). Synaptic layers (`linear`, `conv2d`) own
/// weights; `lif` layers are populations of spiking neurons; pooling, flatten and dropout are
/// parameter-free. The layered engine runs them in order; the asynchronous engine groups the layers
/// between two `lif` populations into one connection.
public enum LayerSpec: Codable, Hashable, Sendable {
    /// Fully connected, `y = x W` with `W` stored `[inFeatures, outFeatures]` (one row per presynaptic
    /// neuron, so a spike's fan-out is contiguous). No bias. The input is flattened.
    case linear(inFeatures: Int, outFeatures: Int)
    /// 2-D convolution (cross-correlation) without bias over `[C, H, W]` maps; weight `[out, in, k, k]`.
    case conv2d(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int)
    /// Average pooling with a square window (no padding).
    case avgPool2d(kernel: Int, stride: Int)
    /// Max pooling with a square window (no padding).
    case maxPool2d(kernel: Int, stride: Int)
    /// Flattens `[C, H, W]` to `[C*H*W]` (free: the storage is already row-major).
    case flatten
    /// Inverted dropout with drop probability `rate` during training; identity at evaluation.
    case dropout(rate: Float)
    /// A population of LIF neurons, one per input element.
    case lif(LIFParameters)

    /// Whether the layer owns a weight tensor.
    public var hasWeights: Bool {
        switch self { case .linear, .conv2d: return true; default: return false }
    }

    /// Whether the layer is a population of spiking neurons.
    public var isNeuron: Bool { if case .lif = self { return true } else { return false } }

    /// The shape of one sample's output given one sample's input shape, or an error message.
    public func outputShape(for input: [Int]) -> Result<[Int], ShapeError> {
        // Fix: reject empty/non-positive extents and hyper-parameters before any arithmetic (a stride of 0
        // used to divide by zero, negative sizes reached `Tensor(shape:)`'s precondition, and products could
        // overflow); model files and parsed strings are untrusted input, so these must be errors, not traps.
        guard !input.isEmpty, input.allSatisfy({ $0 > 0 }) else { return .failure(ShapeError("invalid input shape \(input)")) }
        var count = 1
        for d in input {
            let (c, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { return .failure(ShapeError("input shape \(input) is too large")) }
            count = c
        }
        switch self {
        case .linear(let i, let o):
            guard i > 0, o > 0, !i.multipliedReportingOverflow(by: o).overflow else {
                return .failure(ShapeError("linear \(i)->\(o) needs positive sizes"))
            }
            return count == i ? .success([o]) : .failure(ShapeError("linear expects \(i) inputs, got \(input) (\(count))"))
        case .conv2d(let ci, let co, let k, let s, let p):
            guard input.count == 3, input[0] == ci else {
                return .failure(ShapeError("conv2d expects [\(ci), H, W], got \(input)"))
            }
            guard co > 0, k > 0, s > 0, p >= 0, k <= 1 << 16, p <= 1 << 16,
                  let patch = LayerSpec.product([ci, k, k]), LayerSpec.product([patch, co]) != nil else {
                return .failure(ShapeError("conv2d \(ci)->\(co) k\(k) s\(s) p\(p) needs positive sizes and stride, padding >= 0"))
            }
            let ho = (input[1] + 2 * p - k) / s + 1, wo = (input[2] + 2 * p - k) / s + 1
            guard ho > 0, wo > 0, s > 0, k > 0 else { return .failure(ShapeError("conv2d k\(k) s\(s) p\(p) does not fit \(input)")) }
            return .success([co, ho, wo])
        case .avgPool2d(let k, let s), .maxPool2d(let k, let s):
            guard input.count == 3, input[1] >= k, input[2] >= k, k > 0, s > 0 else {
                return .failure(ShapeError("pool k\(k) s\(s) expects [C, H, W] of at least \(k)x\(k), got \(input)"))
            }
            return .success([input[0], (input[1] - k) / s + 1, (input[2] - k) / s + 1])
        case .flatten:
            return .success([count])
        case .dropout(let rate):
            // Fix: a rate outside [0, 1) gives an infinite or negative keep scale.
            guard rate >= 0, rate < 1 else { return .failure(ShapeError("dropout rate \(rate) is outside [0, 1)")) }
            return .success(input)
        case .lif(let p):
            // Fix: per-neuron decays must cover the population exactly (engines index them by neuron).
            if let b = p.perNeuronBeta, b.count != count {
                return .failure(ShapeError("lif has \(b.count) per-neuron decays for \(count) neurons"))
            }
            if let norm = p.normalization, let problem = norm.validate(populationShape: input) {
                return .failure(ShapeError(problem))
            }
            return .success(input)
        }
    }

    /// The product of `values`, or nil when it overflows.
    static func product(_ values: [Int]) -> Int? {
        var n = 1
        for v in values {
            let (r, overflow) = n.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            n = r
        }
        return n
    }

    /// Shape of the weight tensor, if any.
    public var weightShape: [Int]? {
        switch self {
        case .linear(let i, let o): return [i, o]
        case .conv2d(let ci, let co, let k, _, _): return [co, ci, k, k]
        default: return nil
        }
    }

    /// Shape of the layer's trainable parameters: the weights of a synaptic layer, or the input
    /// normalisation's gamma (and beta) of a LIF population (``InputNormalization/parameterShape``).
    public var parameterShape: [Int]? {
        if let w = weightShape { return w }
        if case .lif(let p) = self, let norm = p.normalization { return norm.parameterShape }
        return nil
    }

    /// Whether the layer owns trainable parameters (weights, or normalisation parameters).
    public var hasParameters: Bool { parameterShape != nil }

    /// The input normalisation of a LIF population, if any.
    public var normalization: InputNormalization? {
        if case .lif(let p) = self { return p.normalization }
        return nil
    }

    /// Fan-in and fan-out for weight initialisation.
    public var fans: (fanIn: Int, fanOut: Int)? {
        switch self {
        case .linear(let i, let o): return (i, o)
        case .conv2d(let ci, let co, let k, _, _): return (ci * k * k, co * k * k)
        default: return nil
        }
    }
}

/// A shape mismatch in a network description.
public struct ShapeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
