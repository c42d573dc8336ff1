#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Removes the hidden temporary file of an atomic write (``ModelFile/writeAtomically(_:to:)``) when the
/// process is interrupted (SIGINT, SIGTERM, SIGHUP) while the file is being written: the handler
/// unlinks it (async-signal-safe), restores the default action and raises the signal again, so the
/// process still ends as interrupted and the previous file stays intact.
public enum InterruptCleanup {
    /// The temporary file being written (a C string owned here), or nil.
    nonisolated(unsafe) static var pending: UnsafeMutablePointer<CChar>? = nil
    static let lock = NSLock()
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Runs `body` with `path` removed on interruption. Nested or concurrent calls run unguarded.
    public static func guarding<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        lock.lock()
        guard pending == nil, let c = strdup(path) else { lock.unlock(); return try body() }
        pending = c
        let previous = signals.map { signal($0, interruptHandler) }
        lock.unlock()
        defer {
            lock.lock()
            for (s, old) in zip(signals, previous) { signal(s, old) }
            pending = nil
            free(c)
            lock.unlock()
        }
        return try body()
    }

    /// The temporary file guarded now (the one an interruption would remove), or nil.
    public static var pendingPath: String? {
        lock.lock(); defer { lock.unlock() }
        return pending.map { String(cString: $0) }
    }

    /// What the handler does before re-raising: removes the pending temporary file.
    public static func removePending() {
        if let p = pending { unlink(p) }
    }
}

private let interruptHandler: @convention(c) (Int32) -> Void = { sig in
    InterruptCleanup.removePending()
    signal(sig, SIG_DFL)
    raise(sig)
}
