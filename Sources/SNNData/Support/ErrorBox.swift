import Foundation

/// Holds an error across copies of a loader.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (any Error)?
    func set(_ e: (any Error)?) { lock.lock(); value = e; lock.unlock() }
    func get() -> (any Error)? { lock.lock(); defer { lock.unlock() }; return value }
}
