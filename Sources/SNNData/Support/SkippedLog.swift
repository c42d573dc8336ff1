import Foundation

/// The samples a loader skipped (each listed once, however many epochs skipped it), shared by
/// the copies of a ``BatchLoader`` and its worker threads.
final class SkippedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var byIndex: [Int: SkippedSample] = [:]
    func add(_ list: [SkippedSample]) {
        guard !list.isEmpty else { return }
        lock.lock()
        for s in list where byIndex[s.index] == nil { byIndex[s.index] = s }
        lock.unlock()
    }
    func all() -> [SkippedSample] {
        lock.lock(); defer { lock.unlock() }
        return byIndex.values.sorted { $0.index < $1.index }
    }
}
