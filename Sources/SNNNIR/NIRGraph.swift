import Foundation

/// A numeric array of a NIR node parameter: its shape (`[]` for a scalar) and its values in
/// row-major order.
public struct NIRArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Double]
    public init(shape: [Int], values: [Double]) { self.shape = shape; self.values = values }
    /// A scalar.
    public init(_ value: Double) { shape = []; values = [value] }
    /// A 1-D array.
    public init(_ values: [Double]) { shape = [values.count]; self.values = values }
    /// Number of elements.
    public var count: Int { values.count }
}

/// One parameter of a NIR node, with the element type it is stored as in the file.
public enum NIRValue: Sendable, Equatable {
    /// Float32 (weights, as PyTorch exports them).
    case float32(NIRArray)
    /// Float64 (neuron parameters, as numpy creates them).
    case float64(NIRArray)
    /// Int64 (shapes, strides, kernel sizes, dimensions).
    case int64(NIRArray)
    /// A string (stored as a scalar variable-length UTF-8 string).
    case string(String)

    /// The numbers, whatever their element type (nil for a string).
    public var array: NIRArray? {
        switch self {
        case .float32(let a), .float64(let a), .int64(let a): return a
        case .string: return nil
        }
    }
}

/// One node of a NIR graph: its name (the HDF5 group name), its type (`"LIF"`, `"Affine"`...) and
/// its parameters by name, as the `nir` Python package stores them.
public struct NIRNode: Sendable, Equatable {
    public var name: String
    public var type: String
    public var parameters: [String: NIRValue]
    public init(name: String, type: String, parameters: [String: NIRValue] = [:]) {
        self.name = name; self.type = type; self.parameters = parameters
    }
}

/// A NIR graph: nodes and directed edges `(from, to)` between node names.
///
/// File layout (NIR 1.0, the `nir` package's `nir.write`): an HDF5 file with a string dataset
/// `version` and a group `node` holding `type` = `"NIRGraph"`, a group `nodes` with one group per
/// node (a string dataset `type` and one dataset per parameter) and `edges`, an `[n, 2]` dataset of
/// node-name strings.
public struct NIRGraph: Sendable, Equatable {
    public var nodes: [NIRNode]
    public var edges: [NIREdge]
    /// The `version` string of the file (the `nir` version that wrote it).
    public var version: String
    public init(nodes: [NIRNode], edges: [NIREdge], version: String = NIRGraph.writtenVersion) {
        self.nodes = nodes; self.edges = edges; self.version = version
    }
    /// The version string SNNKit writes: the `nir` release whose layout it follows (and was tested against).
    public static let writtenVersion = "1.0.8"

    /// The node named `name`.
    public func node(_ name: String) -> NIRNode? { nodes.first { $0.name == name } }
}

/// A directed edge between two node names.
public struct NIREdge: Sendable, Equatable, Hashable {
    public var from: String
    public var to: String
    public init(_ from: String, _ to: String) { self.from = from; self.to = to }
}

/// A NIR file or graph that cannot be imported or a model that cannot be exported: names the file,
/// the node (when one is at fault) and the problem.
public struct NIRError: Error, CustomStringConvertible, Sendable {
    public var file: String?
    public var node: String?
    public var problem: String
    public init(file: String? = nil, node: String? = nil, _ problem: String) {
        self.file = file; self.node = node; self.problem = problem
    }
    public var description: String {
        var s = "NIR"
        if let file { s += " file \(file)" }
        if let node { s += ", node '\(node)'" }
        return s + ": " + problem
    }
}
