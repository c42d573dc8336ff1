import Foundation
import SNNCore
#if HDF5
import SNNHDF5
import SNNData
#endif

/// Reads and writes NIR graphs as HDF5 files (the layout of ``NIRGraph``). Needs the `HDF5` trait;
/// without it both calls throw an error saying so.
public enum NIRFile {
    /// Whether this build can read and write NIR files (built with the `HDF5` trait).
    public static var available: Bool {
        #if HDF5
        return true
        #else
        return false
        #endif
    }

    static let noTrait = "NIR files need libhdf5: rebuild with `swift build -c release --traits HDF5` (Debian: apt-get install libhdf5-dev)"

    /// Reads the graph in `url`. Throws a ``NIRError`` naming the file (and the node) when it is not
    /// an HDF5 file, lacks the NIR layout, or holds a node without a type.
    public static func read(from url: URL) throws -> NIRGraph {
        #if HDF5
        let file: HDF5File
        do { file = try HDF5File(url: url) } catch let e as DataError {
            throw NIRError(file: url.path, e.message.hasPrefix("no such") ? "no such file" : "not an HDF5 file (a NIR file is HDF5, as nir.write makes it)")
        }
        func fail(_ node: String?, _ p: String) -> NIRError { NIRError(file: url.path, node: node, p) }
        guard file.kind("node") == .group else { throw fail(nil, "no group 'node' (not a NIR file: nir.write puts the graph there)") }
        if file.kind("node/type") == .dataset {
            let t = try? file.readStrings("node/type").values.first
            guard t == "NIRGraph" else { throw fail(nil, "the top node has type '\(t ?? "?")', expected 'NIRGraph'") }
        }
        guard file.kind("node/nodes") == .group else { throw fail(nil, "no group 'node/nodes' (the graph's nodes)") }
        var nodes = [NIRNode]()
        for name in try file.children("node/nodes") {
            let base = "node/nodes/\(name)"
            guard file.kind(base) == .group else { throw fail(name, "is not a group (expected a group of parameters)") }
            guard file.kind(base + "/type") == .dataset, let type = try? file.readStrings(base + "/type").values.first else {
                throw fail(name, "has no 'type' string (missing parameter 'type')")
            }
            var node = NIRNode(name: name, type: type)
            for key in try file.children(base) where key != "type" {
                let p = base + "/" + key
                guard file.kind(p) == .dataset else { continue }  // metadata, nested graphs: not parameters
                do {
                    switch try file.elementKind(p) {
                    case .string:
                        let s = try file.readStrings(p)
                        node.parameters[key] = .string(s.values.first ?? "")
                    case .integer:
                        let a = try file.readNumbers(p)
                        node.parameters[key] = .int64(NIRArray(shape: a.shape, values: a.values))
                    case .float:
                        let a = try file.readNumbers(p)
                        node.parameters[key] = .float64(NIRArray(shape: a.shape, values: a.values))
                    default:
                        throw fail(name, "parameter '\(key)' is neither numbers nor a string")
                    }
                } catch let e as DataError { throw fail(name, "parameter '\(key)': \(e.message)") }
            }
            nodes.append(node)
        }
        var edges = [NIREdge]()
        if file.kind("node/edges") == .dataset {
            let e: (shape: [Int], values: [String])
            do { e = try file.readStrings("node/edges") } catch let err as DataError { throw fail(nil, "edges: \(err.message)") }
            if !e.values.isEmpty {
                guard e.shape.count == 2, e.shape[1] == 2 else { throw fail(nil, "edges have shape \(e.shape), expected [n, 2] (pairs of node names)") }
                for i in 0..<e.shape[0] { edges.append(NIREdge(e.values[2 * i], e.values[2 * i + 1])) }
            }
        }
        var version = ""
        if file.kind("version") == .dataset { version = (try? file.readStrings("version").values.first) ?? "" }
        return NIRGraph(nodes: nodes, edges: edges, version: version)
        #else
        throw NIRError(file: url.path, noTrait)
        #endif
    }

    /// Writes `graph` to `url` atomically (the file appears complete or not at all).
    public static func write(_ graph: NIRGraph, to url: URL) throws {
        #if HDF5
        let data: Data
        do {
            let w = try HDF5MemoryWriter()
            try w.write("version", strings: [graph.version], shape: [])
            try w.createGroup("node")
            try w.write("node/type", strings: ["NIRGraph"], shape: [])
            try w.createGroup("node/nodes")
            for node in graph.nodes {
                let base = "node/nodes/\(node.name)"
                try w.createGroup(base)
                try w.write(base + "/type", strings: [node.type], shape: [])
                for key in node.parameters.keys.sorted() {
                    let p = base + "/" + key
                    switch node.parameters[key]! {
                    case .float32(let a): try w.write(p, float32: a.values.map { Float($0) }, shape: a.shape)
                    case .float64(let a): try w.write(p, float64: a.values, shape: a.shape)
                    case .int64(let a): try w.write(p, int64: a.values.map { Int64($0) }, shape: a.shape)
                    case .string(let s): try w.write(p, strings: [s], shape: [])
                    }
                }
            }
            try w.write("node/edges", strings: graph.edges.flatMap { [$0.from, $0.to] }, shape: [graph.edges.count, 2])
            data = try w.finish()
        } catch let e as DataError { throw NIRError(file: url.path, "cannot be written: \(e.message)") }
        do { try ModelFile.writeAtomically(data, to: url) } catch let e as ModelFileError {
            throw NIRError(file: url.path, e.problem)
        }
        #else
        throw NIRError(file: url.path, noTrait)
        #endif
    }
}
