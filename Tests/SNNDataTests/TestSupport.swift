import Foundation
import SNNData
import SNNTensor

/// Helpers shared by the SNNData tests.
enum TestData {
    /// `Data/<relative>` of this checkout (found from this file's path, then by `ProjectData`).
    static func shipped(_ relative: String) -> URL? {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let u = here.appendingPathComponent("Data").appendingPathComponent(relative)
        if FileManager.default.fileExists(atPath: u.path) { return u }
        return ProjectData.locate(relative)
    }

    /// `../shared/data/<relative>` next to the checkout, if present (developer machines and CI).
    static func sharedData(_ relative: String) -> URL? {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let u = here.deletingLastPathComponent().appendingPathComponent("shared/data").appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    /// A fresh temporary folder.
    static func tempDir(_ name: String = #function) -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("snndata-\(safe)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func write(_ bytes: [UInt8], to url: URL) {
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(bytes).write(to: url)
    }

    /// Runs `body` and returns the `DataError` it throws (nil if it did not throw one).
    static func dataError<T>(_ body: () throws -> T) -> DataError? {
        do { _ = try body(); return nil } catch let e as DataError { return e } catch { return nil }
    }
}

/// An in-memory dataset for loader tests: sample i has frames filled with `Float(i)`, label i % classes.
struct CountingDataset: FrameDataset {
    var count: Int
    var frameShape: [Int] = [3]
    var timeSteps: Int = 2
    var classCount: Int = 4
    var failAt: Int? = nil
    var badLabelAt: Int? = nil
    func label(_ index: Int) -> Int { index == badLabelAt ? 99 : index % classCount }
    func frames(_ index: Int) throws -> Tensor {
        if index == failAt { throw DataError(.corrupt, sample: index, "test failure") }
        return Tensor(shape: [timeSteps] + frameShape, repeating: Float(index))
    }
}
