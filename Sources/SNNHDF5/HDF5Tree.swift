#if HDF5
import CHDF5
import Foundation
import SNNData

/// What an HDF5 path names.
public enum HDF5ObjectKind: Sendable, Equatable {
    case group, dataset, other
}

/// The element type class of a dataset.
public enum HDF5ElementKind: Sendable, Equatable {
    case integer, float, string, other
}

/// Generic reads of whole datasets of any rank, for formats stored as trees of groups (NIR): the
/// children of a group, numeric datasets (integer or float, converted to `Double`) and string
/// datasets (variable-length or fixed-length, ASCII or UTF-8), scalar (rank 0) or n-dimensional.
extension HDF5File {
    /// The kind of object at `path`, or nil when nothing is there.
    public func kind(_ path: String) -> HDF5ObjectKind? {
        HDF5File.lock.withLock {
            guard path == "/" || existsLocked(path) else { return nil }
            let o = H5Oopen(id, path, chdf5_p_default())
            guard o >= 0 else { return nil }
            defer { H5Oclose(o) }
            switch H5Iget_type(o) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// The names of the links in group `path`, in name order.
    public func children(_ path: String) throws -> [String] {
        try HDF5File.lock.withLock {
            guard path == "/" || existsLocked(path) else {
                throw DataError(.missing, file: self.path, "HDF5: no group '\(path)'")
            }
            let g = H5Gopen2(id, path, chdf5_p_default())
            guard g >= 0 else { throw DataError(.corrupt, file: self.path, "HDF5: '\(path)' is not a group") }
            defer { H5Gclose(g) }
            var info = H5G_info_t()
            guard H5Gget_info(g, &info) >= 0 else { throw DataError(.corrupt, file: self.path, "HDF5: cannot list group '\(path)'") }
            var names = [String]()
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, chdf5_p_default())
                guard n >= 0 else { throw DataError(.corrupt, file: self.path, "HDF5: cannot read link \(i) of group '\(path)'") }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                _ = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(n) + 1, chdf5_p_default())
                names.append(String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return names
        }
    }

    /// The most elements a whole-dataset read accepts (2^27: 1 GiB as doubles). The extents come
    /// from an untrusted file: a huge claimed size must be an error, not an overflow or an allocation.
    public static let maximumElements = 1 << 27

    /// Extents of a dataset (`[]` for a scalar) and its element count; an error beyond ``maximumElements``.
    func shape(_ ds: hid_t, _ name: String) throws -> (dims: [Int], count: Int) {
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 32 else { throw DataError(.corrupt, file: path, "HDF5: dataset '\(name)' has rank \(rank)") }
        guard rank > 0 else { return ([], H5Sget_simple_extent_type(space) == H5S_NULL ? 0 : 1) }
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        var n = 1
        for d in dims {
            let (m, overflow) = n.multipliedReportingOverflow(by: Int(clamping: d))
            guard !overflow, m <= HDF5File.maximumElements else {
                throw DataError(.corrupt, file: path, "HDF5: dataset '\(name)' claims extents \(dims) (more than \(HDF5File.maximumElements) elements)")
            }
            n = m
        }
        return (dims.map { Int($0) }, n)
    }

    /// The element kind of a dataset: integer, float, string or other.
    public func elementKind(_ dataset: String) throws -> HDF5ElementKind {
        try withDataset(dataset) { ds in
            switch typeClass(ds).0 {
            case H5T_INTEGER: return .integer
            case H5T_FLOAT: return .float
            case H5T_STRING: return .string
            default: return .other
            }
        }
    }

    /// A whole numeric dataset (integer or floating point), converted to `Double`, with its shape
    /// (`[]` for a scalar).
    public func readNumbers(_ dataset: String) throws -> (shape: [Int], values: [Double]) {
        try withDataset(dataset) { ds in
            let cls = typeClass(ds).0
            guard cls == H5T_INTEGER || cls == H5T_FLOAT else {
                throw DataError(.corrupt, file: path, "HDF5: dataset '\(dataset)' is not numeric (expected integer or float values)")
            }
            let (dims, n) = try shape(ds, dataset)
            var buf = [Double](repeating: 0, count: max(n, 1))
            if n > 0 {
                let status = buf.withUnsafeMutableBytes { H5Dread(ds, chdf5_native_double(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
                guard status >= 0 else { throw DataError(.corrupt, file: path, "HDF5: reading '\(dataset)' failed") }
            }
            return (dims, Array(buf.prefix(n)))
        }
    }

    /// A whole string dataset (variable- or fixed-length strings), with its shape (`[]` for a scalar).
    public func readStrings(_ dataset: String) throws -> (shape: [Int], values: [String]) {
        try withDataset(dataset) { ds in
            let fileType = H5Dget_type(ds)
            defer { H5Tclose(fileType) }
            guard H5Tget_class(fileType) == H5T_STRING else {
                throw DataError(.corrupt, file: path, "HDF5: dataset '\(dataset)' does not hold strings")
            }
            let (dims, n) = try shape(ds, dataset)
            guard n > 0 else { return (dims, []) }
            if H5Tis_variable_str(fileType) > 0 {
                let memType = H5Tcopy(chdf5_c_s1())
                defer { H5Tclose(memType) }
                H5Tset_size(memType, chdf5_variable())
                H5Tset_cset(memType, H5Tget_cset(fileType))
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                guard H5Dread(ds, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &pointers) >= 0 else {
                    throw DataError(.corrupt, file: path, "HDF5: reading strings '\(dataset)' failed")
                }
                let strings = pointers.map { $0.map { String(cString: $0) } ?? "" }
                let space = H5Dget_space(ds)
                defer { H5Sclose(space) }
                _ = chdf5_vlen_reclaim(memType, space, &pointers)
                return (dims, strings)
            }
            let size = H5Tget_size(fileType)
            guard size > 0, size < 1 << 20 else { throw DataError(.corrupt, file: path, "HDF5: string dataset '\(dataset)' has element size \(size)") }
            let memType = H5Tcopy(fileType)
            defer { H5Tclose(memType) }
            var buf = [UInt8](repeating: 0, count: n * size)
            let status = buf.withUnsafeMutableBytes { H5Dread(ds, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
            guard status >= 0 else { throw DataError(.corrupt, file: path, "HDF5: reading strings '\(dataset)' failed") }
            let strings = (0..<n).map { i -> String in
                let bytes = buf[(i * size)..<((i + 1) * size)]
                let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
                return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            return (dims, strings)
        }
    }
}

/// Builds an HDF5 file in memory (libhdf5's core driver, no file on disk) and hands back its bytes,
/// so the caller can write them atomically. Datasets are contiguous and uncompressed; strings are
/// variable-length UTF-8, as h5py writes `h5py.string_dtype()`.
public final class HDF5MemoryWriter: @unchecked Sendable {
    let file: hid_t
    var closed = false

    public init() throws {
        let opened: hid_t = HDF5File.lock.withLock {
            chdf5_silence_errors()
            let fapl = H5Pcreate(chdf5_p_file_access())
            defer { H5Pclose(fapl) }
            H5Pset_fapl_core(fapl, 1 << 16, false)
            return H5Fcreate("snnkit-memory-\(UUID().uuidString).h5", chdf5_acc_trunc(), chdf5_p_default(), fapl)
        }
        guard opened >= 0 else { throw DataError(.io, "HDF5: cannot create an in-memory file") }
        file = opened
    }

    deinit {
        if !closed { HDF5File.lock.withLock { _ = H5Fclose(file) } }
    }

    /// Creates the group `path` (its parent must exist).
    public func createGroup(_ path: String) throws {
        try HDF5File.lock.withLock {
            let g = H5Gcreate2(file, path, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard g >= 0 else { throw DataError(.io, "HDF5: cannot create group '\(path)'") }
            H5Gclose(g)
        }
    }

    func dataset(_ path: String, type: hid_t, shape: [Int], _ write: (hid_t) -> herr_t) throws {
        try HDF5File.lock.withLock {
            var dims = shape.map { hsize_t($0) }
            let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
            defer { H5Sclose(space) }
            let ds = H5Dcreate2(file, path, type, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard ds >= 0 else { throw DataError(.io, "HDF5: cannot create dataset '\(path)'") }
            defer { H5Dclose(ds) }
            guard write(ds) >= 0 else { throw DataError(.io, "HDF5: cannot write dataset '\(path)'") }
        }
    }

    /// Writes a float32 dataset of `shape` (`[]`: a scalar) holding `values` in row-major order.
    public func write(_ path: String, float32 values: [Float], shape: [Int]) throws {
        precondition(values.count == shape.reduce(1, *), "HDF5MemoryWriter: \(values.count) values for shape \(shape)")
        try dataset(path, type: chdf5_native_float(), shape: shape) { ds in
            values.withUnsafeBytes { H5Dwrite(ds, chdf5_native_float(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Writes a float64 dataset.
    public func write(_ path: String, float64 values: [Double], shape: [Int]) throws {
        precondition(values.count == shape.reduce(1, *), "HDF5MemoryWriter: \(values.count) values for shape \(shape)")
        try dataset(path, type: chdf5_native_double(), shape: shape) { ds in
            values.withUnsafeBytes { H5Dwrite(ds, chdf5_native_double(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Writes an int64 dataset.
    public func write(_ path: String, int64 values: [Int64], shape: [Int]) throws {
        precondition(values.count == shape.reduce(1, *), "HDF5MemoryWriter: \(values.count) values for shape \(shape)")
        try dataset(path, type: chdf5_native_int64(), shape: shape) { ds in
            values.withUnsafeBytes { H5Dwrite(ds, chdf5_native_int64(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Writes variable-length UTF-8 strings (`shape` `[]`: one scalar string).
    public func write(_ path: String, strings: [String], shape: [Int]) throws {
        precondition(strings.count == shape.reduce(1, *), "HDF5MemoryWriter: \(strings.count) strings for shape \(shape)")
        let type: hid_t = HDF5File.lock.withLock {
            let t = H5Tcopy(chdf5_c_s1())
            H5Tset_size(t, chdf5_variable())
            H5Tset_cset(t, H5T_CSET_UTF8)
            return t
        }
        defer { HDF5File.lock.withLock { _ = H5Tclose(type) } }
        let buffers = strings.map { strdup($0) }
        defer { buffers.forEach { free($0) } }
        try dataset(path, type: type, shape: shape) { ds in
            buffers.withUnsafeBufferPointer { H5Dwrite(ds, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Closes the file and returns its bytes (a complete HDF5 file).
    public func finish() throws -> Data {
        try HDF5File.lock.withLock {
            guard !closed else { throw DataError(.argument, "HDF5MemoryWriter: finish() called twice") }
            H5Fflush(file, H5F_SCOPE_GLOBAL)
            let size = H5Fget_file_image(file, nil, 0)
            guard size > 0 else { throw DataError(.io, "HDF5: cannot take the in-memory file's image") }
            var bytes = [UInt8](repeating: 0, count: size)
            let got = bytes.withUnsafeMutableBytes { H5Fget_file_image(file, $0.baseAddress, size) }
            closed = true
            H5Fclose(file)
            guard got == size else { throw DataError(.io, "HDF5: the in-memory file's image is incomplete") }
            return Data(bytes)
        }
    }
}
#endif
