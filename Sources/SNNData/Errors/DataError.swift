import Foundation

/// An error reading or decoding a dataset: it names the file, where in it (byte offset or sample
/// index) things went wrong, and what the reader expected to find there.
///
/// Every reader in SNNData throws only `DataError`, so callers can print it as is
/// (``description``) or switch over ``kind``.
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The category of the failure.
    public enum Kind: String, Sendable, Equatable {
        /// The file or folder could not be opened or read.
        case io
        /// The data ends before the format says it should.
        case truncated
        /// Bytes that the format does not allow (bad magic, bad checksum, bad Huffman code...).
        case corrupt
        /// The folder layout is not the one the dataset uses.
        case layout
        /// A label outside the class range.
        case label
        /// Event timestamps that go backwards.
        case timestamps
        /// A valid file whose variant this reader does not support.
        case unsupported
        /// A required dataset (e.g. inside an HDF5 file) or column is missing.
        case missing
        /// A bad argument (index out of range, empty dataset, inconsistent shapes).
        case argument
    }

    /// What kind of failure this is.
    public var kind: Kind
    /// The file (or folder) involved, if any.
    public var file: String?
    /// The byte offset in `file` (in the decompressed stream for compressed files, unless stated).
    public var offset: Int?
    /// The sample (or row, or record) index involved, if any.
    public var sample: Int?
    /// What was expected and what was found.
    public var message: String

    public init(_ kind: Kind, file: String? = nil, offset: Int? = nil, sample: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.offset = offset
        self.sample = sample
        self.message = message
    }

    /// A copy with `file` set if it was not already.
    public func inFile(_ path: String) -> DataError {
        var copy = self
        if copy.file == nil { copy.file = path }
        return copy
    }

    /// A copy with `sample` set if it was not already.
    public func atSample(_ index: Int) -> DataError {
        var copy = self
        if copy.sample == nil { copy.sample = index }
        return copy
    }

    public var description: String {
        var parts = ["data error (\(kind.rawValue))"]
        if let file { parts.append("file \(file)") }
        if let sample { parts.append("sample \(sample)") }
        if let offset { parts.append("byte offset \(offset)") }
        return parts.joined(separator: ", ") + ": " + message
    }
}
