import SNNCore
import SNNTensor

/// A network seen as the asynchronous engine sees it: populations of LIF neurons and, between them,
/// connections made of optional average pooling (folded in) followed by one synaptic layer.
///
/// Population `p` is the `p`-th `lif` layer; its neurons have network-wide ids
/// `offsets[p] ..< offsets[p + 1]`. `incoming[p]` is the connection that feeds population `p` (from
/// the input for `p = 0`, else from population `p - 1`).
public struct PopulationGraph: Sendable {
    /// A connection: source elements -> (pooling) -> synaptic layer -> target currents.
    public struct Connection: Sendable {
        /// Index of the synaptic layer (`linear` or `conv2d`) in the network's layer list.
        public var synapticLayer: Int
        /// The synaptic layer.
        public var layer: LayerSpec
        /// Shape of the synaptic layer's input (after pooling).
        public var synapticInShape: [Int]
        /// Shape of the source elements (before pooling).
        public var sourceShape: [Int]
        /// Average pooling applied to the source before the synapses (kernel, stride), if any.
        public var pool: (kernel: Int, stride: Int)?

        /// Convolution geometry of the synaptic layer (nil for linear layers).
        public var geometry: Conv2DGeometry? {
            guard case .conv2d(let ci, _, let k, let s, let p) = layer else { return nil }
            return Conv2DGeometry(inChannels: ci, inHeight: synapticInShape[1], inWidth: synapticInShape[2], kernel: k, stride: s, padding: p)
        }

        /// Calls `body(cell, factor)` for each pooled cell a source element feeds, with the pooling
        /// factor `1 / k^2` (the element itself with factor 1 without pooling). Does not allocate.
        @inline(__always)
        public func forEachPooledCell(of source: Int, _ body: (Int, Float) -> Void) {
            guard let pool else { body(source, 1); return }
            let factor = 1 / Float(pool.kernel * pool.kernel)
            Pool2D.forEachCell(containing: source, height: sourceShape[1], width: sourceShape[2], kernel: pool.kernel,
                               stride: pool.stride, pooledHeight: synapticInShape[1], pooledWidth: synapticInShape[2]) { body($0, factor) }
        }
    }

    /// Neuron parameters of each population.
    public var neurons: [LIFParameters]
    /// Layer index of each population.
    public var populationLayers: [Int]
    /// Neuron-id offsets (count = populations + 1).
    public var offsets: [Int]
    /// The connection into each population.
    public var incoming: [Connection]

    /// Builds the graph; throws for layer sequences the asynchronous view does not support.
    public init(spec: NetworkSpec) throws {
        let shapes = try spec.shapes()
        neurons = []; populationLayers = []; offsets = [0]; incoming = []
        var sourceShape = spec.inputShape
        var pool: (Int, Int)? = nil
        var pendingSynapse: (Int, LayerSpec, [Int])? = nil
        for (i, layer) in spec.layers.enumerated() {
            switch layer {
            case .avgPool2d(let k, let s):
                guard pendingSynapse == nil, pool == nil else {
                    throw ShapeError("layer \(i): average pooling must come right after a population (before the synaptic layer)")
                }
                pool = (k, s)
            case .flatten, .dropout:
                continue
            case .maxPool2d:
                throw ShapeError("layer \(i): max pooling is not supported by the asynchronous view (use avg pooling)")
            case .linear, .conv2d:
                guard pendingSynapse == nil else {
                    throw ShapeError("layer \(i): two synaptic layers without a population between them")
                }
                pendingSynapse = (i, layer, shapes[i])
            case .lif(let p):
                guard let syn = pendingSynapse else {
                    throw ShapeError("layer \(i): a population must be fed by a linear or conv layer")
                }
                incoming.append(Connection(synapticLayer: syn.0, layer: syn.1, synapticInShape: syn.2, sourceShape: sourceShape,
                                           pool: pool.map { (kernel: $0.0, stride: $0.1) }))
                neurons.append(p)
                populationLayers.append(i)
                offsets.append(offsets.last! + shapes[i + 1].reduce(1, *))
                sourceShape = shapes[i + 1]
                pool = nil; pendingSynapse = nil
            }
        }
        guard pendingSynapse == nil, pool == nil, !neurons.isEmpty else {
            throw ShapeError("the network must end with a population of LIF neurons for asynchronous execution")
        }
    }

    /// Total neurons.
    public var neuronCount: Int { offsets.last! }
}
