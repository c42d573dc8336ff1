import Foundation

/// Lists the `<class>/<file>` layout that N-MNIST-like datasets use.
enum ClassFolders {
    /// Files with `extension` in `folder/<k>/` for class folders `k` in `0..<classCount`, sorted by
    /// class, then numeric stem, then name.
    static func list(root folder: URL, classCount: Int, extension ext: String, datasetName: String) throws -> ([URL], [Int]) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            let parent = folder.deletingLastPathComponent()
            let hint = (0..<classCount).contains(where: { fm.fileExists(atPath: parent.appendingPathComponent("\($0)").path) })
                ? "; \(parent.path) looks like a split folder itself: pass its parent as the root" : ""
            throw DataError(.layout, file: folder.path, "\(datasetName): no such folder (expected <root>/<split>/<class>/*.\(ext))\(hint)")
        }
        let entries: [String]
        do { entries = try fm.contentsOfDirectory(atPath: folder.path) } catch {
            throw DataError(.io, file: folder.path, "cannot list folder: \(error)")
        }
        var items: [(Int, Int, String, URL)] = []
        for name in entries where !name.hasPrefix(".") {
            let sub = folder.appendingPathComponent(name)
            guard fm.fileExists(atPath: sub.path, isDirectory: &isDir), isDir.boolValue else { continue }
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let cls = Int(trimmed) else {
                throw DataError(.layout, file: sub.path, "\(datasetName): folder '\(trimmed)' is not a class (expected folders named 0...\(classCount - 1))")
            }
            guard cls >= 0, cls < classCount else {
                throw DataError(.label, file: sub.path, "\(datasetName): class folder \(cls) is outside the class range (expected 0...\(classCount - 1))")
            }
            let files: [String]
            do { files = try fm.contentsOfDirectory(atPath: sub.path) } catch {
                throw DataError(.io, file: sub.path, "cannot list folder: \(error)")
            }
            for f in files where !f.hasPrefix(".") && f.hasSuffix("." + ext) {
                let stem = String(f.dropLast(ext.count + 1))
                items.append((cls, Int(stem) ?? Int.max, f, sub.appendingPathComponent(f)))
            }
        }
        if items.isEmpty {
            throw DataError(.layout, file: folder.path, "\(datasetName): no .\(ext) files (expected <class>/*.\(ext) below this folder)")
        }
        items.sort { ($0.0, $0.1, $0.2) < ($1.0, $1.1, $1.2) }
        return (items.map { $0.3 }, items.map { $0.0 })
    }
}
