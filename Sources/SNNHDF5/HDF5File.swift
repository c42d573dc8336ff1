#if HDF5
import CHDF5
import Foundation
import SNNData

/// A read-only HDF5 file opened through the system libhdf5, with the few reads SNNKit needs:
/// whole 1-D numeric datasets and single elements of 1-D variable-length datasets.
///
/// The serial libhdf5 is not thread-safe, so every call into it holds one process-wide lock;
/// an `HDF5File` can therefore be shared between threads (reads are serialised). Errors are
/// ``DataError``s naming the file, the dataset path and the element index.
public final class HDF5File: @unchecked Sendable {
    /// Serialises all libhdf5 calls.
    static let lock = NSLock()
    public let path: String
    let id: hid_t

    /// Opens `url` read-only. Throws if it does not exist or is not an HDF5 file.
    public init(url: URL) throws {
        path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw DataError(.io, file: path, "no such file") }
        let opened: hid_t = HDF5File.lock.withLock {
            chdf5_silence_errors()
            guard H5Fis_hdf5(url.path) > 0 else { return -1 }
            return H5Fopen(url.path, chdf5_acc_rdonly(), chdf5_p_default())
        }
        guard opened >= 0 else {
            throw DataError(.corrupt, file: path, offset: 0, "HDF5: cannot open (expected an HDF5 file with a valid superblock; truncated or not HDF5)")
        }
        id = opened
    }

    deinit {
        HDF5File.lock.withLock { _ = H5Fclose(id) }
    }

    /// Whether the object at `path` (e.g. `"spikes/times"`) exists.
    public func exists(_ dataset: String) -> Bool {
        HDF5File.lock.withLock { existsLocked(dataset) }
    }

    func existsLocked(_ dataset: String) -> Bool {
        var prefix = ""
        for part in dataset.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + part
            if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return false }
        }
        return true
    }

    /// Opens a dataset, runs `body` with it (lock held), closes it.
    func withDataset<R>(_ dataset: String, _ body: (hid_t) throws -> R) throws -> R {
        try HDF5File.lock.withLock {
            guard existsLocked(dataset) else {
                throw DataError(.missing, file: path, "HDF5: no dataset '\(dataset)' (expected it in this file)")
            }
            let ds = H5Dopen2(id, dataset, chdf5_p_default())
            guard ds >= 0 else { throw DataError(.corrupt, file: path, "HDF5: cannot open dataset '\(dataset)'") }
            defer { H5Dclose(ds) }
            return try body(ds)
        }
    }

    /// The number of elements of a 1-D dataset.
    public func count(_ dataset: String) throws -> Int {
        try withDataset(dataset) { ds in try extent(ds, dataset) }
    }

    func extent(_ ds: hid_t, _ name: String) throws -> Int {
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank == 1 else { throw DataError(.corrupt, file: path, "HDF5: dataset '\(name)' has \(rank) dimensions (expected 1)") }
        var dims: [hsize_t] = [0]
        H5Sget_simple_extent_dims(space, &dims, nil)
        return Int(dims[0])
    }

    func typeClass(_ ds: hid_t) -> (H5T_class_t, H5T_class_t?) {
        let t = H5Dget_type(ds)
        defer { H5Tclose(t) }
        let c = H5Tget_class(t)
        if c == H5T_VLEN {
            let base = H5Tget_super(t)
            defer { H5Tclose(base) }
            return (c, H5Tget_class(base))
        }
        return (c, nil)
    }

    /// A whole 1-D integer dataset, converted to `Int`.
    public func readIntegers(_ dataset: String) throws -> [Int] {
        try withDataset(dataset) { ds in
            let n = try extent(ds, dataset)
            guard typeClass(ds).0 == H5T_INTEGER else {
                throw DataError(.corrupt, file: path, "HDF5: dataset '\(dataset)' is not integer (expected integer values)")
            }
            var buf = [Int32](repeating: 0, count: n)
            let status = buf.withUnsafeMutableBytes { H5Dread(ds, chdf5_native_int32(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
            guard status >= 0 else { throw DataError(.corrupt, file: path, "HDF5: reading '\(dataset)' failed") }
            return buf.map { Int($0) }
        }
    }

    /// Element `index` of a 1-D variable-length dataset of numbers, converted to `Float`.
    public func readVariableLengthFloats(_ dataset: String, index: Int) throws -> [Float] {
        try readVariableLength(dataset, index: index, memoryBase: chdf5_native_float(), zero: Float(0), baseClasses: [H5T_FLOAT, H5T_INTEGER])
    }

    /// Element `index` of a 1-D variable-length dataset of integers, converted to `Int`.
    public func readVariableLengthIntegers(_ dataset: String, index: Int) throws -> [Int] {
        try readVariableLength(dataset, index: index, memoryBase: chdf5_native_int32(), zero: Int32(0), baseClasses: [H5T_INTEGER]).map { Int($0) }
    }

    func readVariableLength<T>(_ dataset: String, index: Int, memoryBase: hid_t, zero: T, baseClasses: [H5T_class_t]) throws -> [T] {
        try withDataset(dataset) { ds in
            let n = try extent(ds, dataset)
            guard index >= 0 && index < n else {
                throw DataError(.argument, file: path, sample: index, "HDF5: element \(index) of '\(dataset)' (expected 0..<\(n))")
            }
            let (cls, base) = typeClass(ds)
            guard cls == H5T_VLEN, let base, baseClasses.contains(base) else {
                throw DataError(.corrupt, file: path, "HDF5: dataset '\(dataset)' is not a variable-length array of numbers (expected vlen \(baseClasses.contains(H5T_FLOAT) ? "float" : "integer"))")
            }
            let fileSpace = H5Dget_space(ds)
            defer { H5Sclose(fileSpace) }
            var start: [hsize_t] = [hsize_t(index)], count: [hsize_t] = [1]
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
            var one: [hsize_t] = [1]
            let memSpace = H5Screate_simple(1, &one, nil)
            defer { H5Sclose(memSpace) }
            let memType = H5Tvlen_create(memoryBase)
            defer { H5Tclose(memType) }
            var hv = hvl_t(len: 0, p: nil)
            guard H5Dread(ds, memType, memSpace, fileSpace, chdf5_p_default(), &hv) >= 0 else {
                throw DataError(.corrupt, file: path, sample: index, "HDF5: reading element \(index) of '\(dataset)' failed")
            }
            defer { _ = chdf5_vlen_reclaim(memType, memSpace, &hv) }
            guard hv.len > 0, let p = hv.p else { return [] }
            return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: T.self), count: hv.len))
        }
    }
}
#endif
