import Foundation
import SNNTensor

/// The mapped cache file.
final class CacheStorage: @unchecked Sendable {
    static let magic = Array("SNNFRAME".utf8)
    static let entrySize = 24
    let data: Data
    let indexStart: Int
    let count: Int
    let damaged = Counter()

    init(file: URL, expecting base: any FrameDataset, key: String) throws {
        let d = try Data(contentsOf: file, options: .alwaysMapped)
        let header = CacheStorage.header(base, key: key)
        guard d.count >= header.count + 4 + base.count * CacheStorage.entrySize,
              d.prefix(header.count).elementsEqual(header) else {
            throw DataError(.corrupt, file: file.path, "frame cache: stale or damaged header")
        }
        let crc = CacheStorage.le32(d, header.count)
        guard crc == CRC32.checksum(header) else { throw DataError(.corrupt, file: file.path, "frame cache: header checksum") }
        data = d
        indexStart = header.count + 4
        count = base.count
        // Labels, offsets and lengths must be consistent.
        for i in 0..<count {
            let e = indexStart + i * CacheStorage.entrySize
            let off = Int(truncatingIfNeeded: CacheStorage.le64(d, e)), len = Int(CacheStorage.le32(d, e + 8))
            guard Int32(bitPattern: CacheStorage.le32(d, e + 16)) == Int32(truncatingIfNeeded: base.label(i)),
                  off >= indexStart + count * CacheStorage.entrySize, off <= d.count, len <= d.count - off else {
                throw DataError(.corrupt, file: file.path, sample: i, "frame cache: index entry does not match")
            }
        }
    }

    static func header(_ base: any FrameDataset, key: String) -> [UInt8] {
        var h = magic
        func put(_ v: UInt32) { h += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        put(CachedDataset.formatVersion)
        let k = Array(key.utf8)
        put(UInt32(k.count)); h += k
        put(UInt32(base.count)); put(UInt32(base.timeSteps)); put(UInt32(base.frameShape.count))
        for s in base.frameShape { put(UInt32(s)) }
        put(UInt32(base.classCount))
        return h
    }

    static func le32(_ d: Data, _ o: Int) -> UInt32 {
        UInt32(littleEndian: d.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: o, as: UInt32.self) })
    }
    static func le64(_ d: Data, _ o: Int) -> UInt64 { UInt64(le32(d, o)) | UInt64(le32(d, o + 4)) << 32 }

    /// The frames of sample `i`, or nil if the payload is damaged.
    func read(_ i: Int, shape: [Int]) -> Tensor? {
        let e = indexStart + i * CacheStorage.entrySize
        let off = Int(truncatingIfNeeded: CacheStorage.le64(data, e)), len = Int(CacheStorage.le32(data, e + 8))
        let crc = CacheStorage.le32(data, e + 12), enc = CacheStorage.le32(data, e + 20)
        let n = shape.reduce(1, *)
        return data.withUnsafeBytes { raw -> Tensor? in
            let payload = UnsafeRawBufferPointer(rebasing: raw[off..<(off + len)])
            guard CRC32.checksum(payload.bindMemory(to: UInt8.self)) == crc else { return nil }
            var out = [Float](repeating: 0, count: n)
            switch enc {
            case 0:
                guard len == 4 * n else { return nil }
                out.withUnsafeMutableBytes { $0.copyMemory(from: payload) }
            case 1:
                guard len % 8 == 0 else { return nil }
                for k in 0..<(len / 8) {
                    let idx = Int(payload.loadUnaligned(fromByteOffset: 8 * k, as: UInt32.self).littleEndian)
                    let bits = payload.loadUnaligned(fromByteOffset: 8 * k + 4, as: UInt32.self).littleEndian
                    guard idx < n else { return nil }
                    out[idx] = Float(bitPattern: bits)
                }
            default: return nil
            }
            return Tensor(shape: shape, data: out)
        }
    }

    /// Decodes every sample of `base` (in parallel) and writes the cache file atomically.
    static func build(_ base: any FrameDataset, file: URL, key: String) throws {
        let n = base.count
        let expected = [base.timeSteps] + base.frameShape
        var payloads = [[UInt8]](repeating: [], count: n)
        var encodings = [UInt32](repeating: 0, count: n)
        var firstError: (any Error)?
        let lock = NSLock()
        let chunk = 16
        let chunks = (n + chunk - 1) / chunk
        payloads.withUnsafeMutableBufferPointer { pay in
            encodings.withUnsafeMutableBufferPointer { encs in
                let pay = pay, encs = encs
                concurrentPerform(chunks) { c in
                    for i in (c * chunk)..<min(n, (c + 1) * chunk) {
                        do {
                            let t = try base.frames(i)
                            guard t.shape == expected else {
                                throw DataError(.argument, sample: i, "frames shaped \(t.shape) (expected \(expected))")
                            }
                            (pay[i], encs[i]) = encode(t)
                        } catch {
                            lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                            return
                        }
                    }
                }
            }
        }
        if let firstError { throw firstError }
        var out = header(base, key: key)
        func put32(_ v: UInt32) { out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24)] }
        put32(CRC32.checksum(out))
        var offset = out.count + n * entrySize
        for i in 0..<n {
            put32(UInt32(truncatingIfNeeded: offset)); put32(UInt32(truncatingIfNeeded: offset >> 32))
            put32(UInt32(payloads[i].count)); put32(CRC32.checksum(payloads[i]))
            put32(UInt32(bitPattern: Int32(truncatingIfNeeded: base.label(i)))); put32(encodings[i])
            offset += payloads[i].count
        }
        for p in payloads { out += p }
        let dir = file.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).partial")
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(out).write(to: tmp)
            if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
            try FileManager.default.moveItem(at: tmp, to: file)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw DataError(.io, file: file.path, "cannot write the frame cache: \(error.localizedDescription)")
        }
    }

    static func encode(_ t: Tensor) -> ([UInt8], UInt32) {
        let nonzero = t.data.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        if nonzero * 2 < t.count {
            var b = [UInt8]()
            b.reserveCapacity(nonzero * 8)
            for (i, v) in t.data.enumerated() where v != 0 {
                let u = UInt32(i), f = v.bitPattern
                b += [UInt8(u & 0xFF), UInt8(u >> 8 & 0xFF), UInt8(u >> 16 & 0xFF), UInt8(u >> 24),
                      UInt8(f & 0xFF), UInt8(f >> 8 & 0xFF), UInt8(f >> 16 & 0xFF), UInt8(f >> 24)]
            }
            return (b, 1)
        }
        return (t.data.withUnsafeBytes { Array($0) }, 0)
    }
}
