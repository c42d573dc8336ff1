import Foundation

/// Remembers each recording's packet list so that a file is scanned once, not once per gesture.
final class PacketIndexCache: @unchecked Sendable {
    private let lock = NSLock()
    private var byPath: [String: [AEDAT3.Packet]] = [:]

    func packets(for path: String, build: () throws -> [AEDAT3.Packet]) throws -> [AEDAT3.Packet] {
        lock.lock()
        if let p = byPath[path] { lock.unlock(); return p }
        lock.unlock()
        let p = try build()
        lock.lock()
        byPath[path] = p
        lock.unlock()
        return p
    }
}
