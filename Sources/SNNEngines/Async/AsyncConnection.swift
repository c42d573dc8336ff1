import SNNCore
import SNNTensor

/// The stateless layers between two populations (or between the input and the first population),
/// compiled into one event-driven connection: optional pooling, flatten and dropout (identity at
/// evaluation), then one synaptic layer (linear or conv2d).
///
/// - Average pooling is folded in: the spikes a forward step emits from the source population are
///   first accumulated into the pooled cells (`count / k^2`, exactly what the layered pooling
///   computes on a spike map), and the pooled cells are delivered in ascending pooled index.
/// - Max pooling over binary spikes is folded in as an OR gate: a pooled cell passes one spike (value
///   1) the first time, in a frame, that a spike arrives in its window, and nothing after, which is
///   the layered max of that frame's spike map.
/// On the input connection, the input frame is pooled densely (the same kernels' summation order).
public struct AsyncConnection: Sendable {
    /// Folded pooling in front of the synapses.
    public enum Pooling: Sendable, Hashable {
        case none
        case average(kernel: Int, stride: Int)
        case max(kernel: Int, stride: Int)
    }

    /// The synaptic layer.
    public enum Synapse: Sendable, Hashable {
        case linear(inFeatures: Int, outFeatures: Int)
        case conv2d(geometry: Conv2DGeometry, outChannels: Int)
    }

    /// Source population index, or -1 for the network input.
    public let source: Int
    /// Target population index.
    public let target: Int
    /// Per-sample shape of the source (before pooling).
    public let sourceShape: [Int]
    /// Folded pooling.
    public let pooling: Pooling
    /// Per-sample shape after pooling (what the synapses see).
    public let pooledShape: [Int]
    /// The synapses.
    public let synapse: Synapse
    /// Index of the synaptic layer in the network's layer list (its weights).
    public let weightLayer: Int
    /// NeuroBench fan-out of every (pooled) presynaptic element.
    public let fanOut: [Int32]
    /// EM-PF binary weights `alpha * sign(W)`: the connection holds the signs, every event is an
    /// accumulate (a sign-selected addition), plus one multiply-accumulate (alpha) per target neuron per
    /// frame; the target multiplies its pending current by alpha when it integrates.
    public internal(set) var binaryWeights = false

    /// Number of pooled presynaptic elements.
    public var pooledCount: Int { pooledShape.reduce(1, *) }

    /// Calls `body(cell)` for every pooled cell whose window holds source element `source`
    /// (`[C, H, W]` flat index), in ascending cell order.
    @inline(__always)
    public func forEachPooledCell(of source: Int, _ body: (Int) -> Void) {
        let k: Int, s: Int
        switch pooling {
        case .none: body(source); return
        case .average(let kk, let ss), .max(let kk, let ss): k = kk; s = ss
        }
        Pool2D.forEachCell(containing: source, height: sourceShape[1], width: sourceShape[2], kernel: k, stride: s,
                           pooledHeight: pooledShape[1], pooledWidth: pooledShape[2], body)
    }
}

/// Why a network cannot run asynchronously.
public struct AsyncEngineError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}
