#if HDF5
import CHDF5
import Foundation
import SNNData

/// Writes files in the SHD layout (for tests and conversions): `spikes/times` (vlen float32,
/// seconds), `spikes/units` (vlen uint16) and `labels` (uint16).
public enum SHDWriter {
    /// Writes `samples` (times in seconds, channel numbers) and `labels` to `url`, replacing it.
    /// `omit` leaves out the named datasets (to make broken files in tests).
    /// - Parameter halfPrecisionTimes: store times as IEEE half floats (16 bits), as the published
    ///   SHD files do (h5py's float16), instead of float32.
    public static func write(url: URL, samples: [(times: [Float], units: [Int])], labels: [Int], omit: Set<String> = [],
                             halfPrecisionTimes: Bool = false) throws {
        try HDF5File.lock.withLock {
            chdf5_silence_errors()
            let f = H5Fcreate(url.path, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
            guard f >= 0 else { throw DataError(.io, file: url.path, "HDF5: cannot create file") }
            defer { H5Fclose(f) }
            let g = H5Gcreate2(f, "spikes", chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            defer { H5Gclose(g) }
            var dims: [hsize_t] = [hsize_t(samples.count)]
            let space = H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            func vlen<T>(_ name: String, _ values: [[T]], _ memBase: hid_t, fileBase: hid_t? = nil) {
                guard !omit.contains(name) else { return }
                let type = H5Tvlen_create(memBase)
                defer { H5Tclose(type) }
                let fileType = fileBase.map { H5Tvlen_create($0) } ?? H5Tcopy(type)
                defer { H5Tclose(fileType) }
                let ds = H5Dcreate2(f, name, fileType, space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
                defer { H5Dclose(ds) }
                let buffers = values.map { v -> UnsafeMutablePointer<T> in
                    let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, v.count))
                    if !v.isEmpty { p.initialize(from: v, count: v.count) }
                    return p
                }
                defer { buffers.forEach { $0.deallocate() } }
                var hv = zip(values, buffers).map { hvl_t(len: $0.0.count, p: UnsafeMutableRawPointer($0.1)) }
                H5Dwrite(ds, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &hv)
            }
            if halfPrecisionTimes {
                let half = chdf5_ieee_half()
                defer { H5Tclose(half) }
                vlen("spikes/times", samples.map { $0.times }, chdf5_native_float(), fileBase: half)
            } else {
                vlen("spikes/times", samples.map { $0.times }, chdf5_native_float())
            }
            vlen("spikes/units", samples.map { $0.units.map { UInt16(truncatingIfNeeded: $0) } }, chdf5_native_uint16())
            if !omit.contains("labels") {
                var l = [UInt16](labels.map { UInt16(truncatingIfNeeded: $0) })
                var ldims: [hsize_t] = [hsize_t(labels.count)]
                let ls = H5Screate_simple(1, &ldims, nil)
                defer { H5Sclose(ls) }
                let ds = H5Dcreate2(f, "labels", chdf5_native_uint16(), ls, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
                defer { H5Dclose(ds) }
                l.withUnsafeMutableBytes { _ = H5Dwrite(ds, chdf5_native_uint16(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
            }
        }
    }
}
#endif
