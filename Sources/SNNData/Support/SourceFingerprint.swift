import Foundation

/// A short text that changes when any of a list of files changes (path, size or modification
/// time), used in frame-cache keys.
public enum SourceFingerprint {
    /// FNV-1a 64-bit hash of the files' paths, sizes and modification times, in hex.
    public static func of(_ files: [URL]) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ s: String) {
            for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        }
        let fm = FileManager.default
        for f in files {
            let a = try? fm.attributesOfItem(atPath: f.path)
            let size = (a?[.size] as? Int) ?? -1
            let mtime = (a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            mix("\(f.path)|\(size)|\(mtime)\n")
        }
        return String(h, radix: 16)
    }
}
