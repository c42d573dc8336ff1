import Foundation

/// Whole-file reads that turn every failure into a ``DataError`` naming the file.
public enum FileData {
    /// The bytes of `url`.
    public static func read(_ url: URL) throws -> [UInt8] {
        let path = url.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError(.io, file: path, "no such file")
        }
        if isDir.boolValue { throw DataError(.io, file: path, "is a folder (expected a file)") }
        guard let fh = FileHandle(forReadingAtPath: path) else {
            throw DataError(.io, file: path, "cannot open for reading")
        }
        defer { try? fh.close() }
        do {
            let data = try fh.readToEnd() ?? Data()
            return [UInt8](data)
        } catch {
            throw DataError(.io, file: path, "read failed: \(error)")
        }
    }

    /// The bytes of `url`, gunzipped if the file starts with the gzip magic number.
    public static func readDecompressing(_ url: URL) throws -> [UInt8] {
        let raw = try read(url)
        if Gzip.isGzip(raw) { return try Gzip.decompress(raw, file: url.path) }
        if url.pathExtension == "gz" {
            throw DataError(.corrupt, file: url.path, offset: 0, "name ends in .gz but the file does not start with the gzip magic number 1f 8b")
        }
        return raw
    }
}
