/// A dense, row-major tensor of `Float` (32-bit) values.
///
/// `Tensor` is the storage type that every SNNKit layer, engine and data reader exchanges. It is a
/// value type with copy-on-write storage (a Swift `Array`), so passing it around is cheap and a
/// mutation never affects another copy. The hot kernels read and write it through unsafe buffer
/// pointers (``Tensor/withUnsafeBufferPointer(_:)``).
///
/// Shapes are listed outermost first: a batch of images is `[batch, channels, height, width]`,
/// a batch of flat vectors `[batch, features]`. Units are those of whatever the tensor holds
/// (spike counts, membrane potentials in units of the threshold's scale, pixel intensities...).
public struct Tensor: Sendable, Equatable {
    /// The extent of each dimension, outermost first.
    public private(set) var shape: [Int]
    /// The values in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of the given shape holding `data` (row-major).
    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// A tensor of the given shape whose every value `body` writes (no zero fill first: for outputs
    /// that a kernel overwrites completely). `body` must write all `shape.reduce(1, *)` values.
    public init(shape: [Int], initializingWith body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        let count = shape.reduce(1, *)
        self.shape = shape
        self.data = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            body(buffer)
            initialized = count
        }
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// The number of elements.
    @inlinable public var count: Int { data.count }
    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same values viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var copy = self
        copy.reshape(newShape)
        return copy
    }

    /// Changes the shape in place; the element count must not change.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(newShape.reduce(1, *) == data.count,
                     "Tensor: cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }

    /// Element access by flat (row-major) index.
    @inlinable public subscript(flat index: Int) -> Float {
        get { data[index] }
        set { data[index] = newValue }
    }

    /// The `index`-th slice along the outermost dimension (e.g. one sample of a batch), copied.
    public func slice(_ index: Int) -> Tensor {
        precondition(rank >= 1 && index >= 0 && index < shape[0], "Tensor: slice \(index) out of \(shape)")
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        return Tensor(shape: inner, data: Array(data[(index * n)..<((index + 1) * n)]))
    }

    /// Stacks equally shaped tensors along a new outermost dimension.
    public static func stack(_ items: [Tensor]) -> Tensor {
        guard let first = items.first else { return Tensor(shape: [0]) }
        var out = [Float]()
        out.reserveCapacity(first.count * items.count)
        for item in items {
            precondition(item.shape == first.shape, "Tensor.stack: shape \(item.shape) differs from \(first.shape)")
            out.append(contentsOf: item.data)
        }
        return Tensor(shape: [items.count] + first.shape, data: out)
    }

    /// Joins tensors along their outermost dimension (e.g. blocks of a batch, in order); the other
    /// dimensions must agree.
    public static func concatenatingRows(_ items: [Tensor]) -> Tensor {
        guard let first = items.first else { return Tensor(shape: [0]) }
        let inner = Array(first.shape.dropFirst())
        var out = [Float]()
        out.reserveCapacity(items.reduce(0) { $0 + $1.count })
        for item in items {
            if Array(item.shape.dropFirst()) != inner {
                fatalError("Tensor.concatenatingRows: shape \(item.shape) does not continue \(first.shape)")
            }
            out.append(contentsOf: item.data)
        }
        return Tensor(shape: [items.reduce(0) { $0 + $1.shape[0] }] + inner, data: out)
    }

    /// Calls `body` with a pointer to the values.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with a mutable pointer to the values.
    @inlinable public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try data.withUnsafeMutableBufferPointer(body)
    }

    /// The sum of all values.
    public func sum() -> Float { data.reduce(0, +) }

    /// The index of the largest value in each row of a `[rows, columns]` tensor (first on ties).
    public func argmaxRows() -> [Int] {
        precondition(rank == 2, "argmaxRows needs a rank-2 tensor, got \(shape)")
        let cols = shape[1]
        return (0..<shape[0]).map { r in
            var best = 0
            var bestValue = -Float.infinity
            for c in 0..<cols where data[r * cols + c] > bestValue {
                bestValue = data[r * cols + c]; best = c
            }
            return best
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(head)\(data.count > 8 ? ", ..." : "")])"
    }
}

#if canImport(Foundation)
import Foundation
#endif

/// Calls `body` with base addresses of `tensors`' buffers, in order (valid only inside `body`).
public func withPointers<R>(_ tensors: [Tensor], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    var pointers: [UnsafePointer<Float>] = []
    pointers.reserveCapacity(tensors.count)
    func next(_ i: Int) -> R {
        if i == tensors.count { return body(pointers) }
        return tensors[i].withUnsafeBufferPointer { p in
            pointers.append(p.baseAddress!)
            return next(i + 1)
        }
    }
    return next(0)
}
