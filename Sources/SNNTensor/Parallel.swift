import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How SNNKit splits work over the machine's cores.
///
/// Every parallel kernel goes through ``parallelFor(_:minimumChunk:_:)``, so the thread count is set in
/// one place (``Parallelism/threadCount``, default: all active cores; environment variable
/// `SNNKIT_THREADS` overrides it). Results never depend on the thread count: kernels split work
/// into disjoint output ranges and random numbers come from a counter-based generator.
public enum Parallelism {
    nonisolated(unsafe) private static var _threads: Int = {
        if let s = getenv("SNNKIT_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, ProcessInfoCores.active)
    }()

    /// The number of worker threads kernels use (at least 1): 1 inside ``onCallingThread(_:)``.
    public static var threadCount: Int {
        get { CallingThreadOnly.isSet ? 1 : _threads }
        set { _threads = max(1, newValue) }
    }

    /// Runs `body` with every kernel it calls kept on the calling thread (``threadCount`` reads 1
    /// there): for callers that already split their work over the cores, such as training that runs
    /// whole blocks of samples on one thread each. Results are the same as with any thread count.
    public static func onCallingThread<R>(_ body: () throws -> R) rethrows -> R {
        let was = CallingThreadOnly.isSet
        CallingThreadOnly.isSet = true
        defer { CallingThreadOnly.isSet = was }
        return try body()
    }

    /// Workers for `blocks` independent blocks of work: ``threadCount``, but no more than the blocks
    /// (and at least 1).
    public static func workerCount(forBlocks blocks: Int) -> Int { max(1, min(threadCount, blocks)) }

    /// The number of cores the operating system reports as active.
    public static var activeCores: Int { ProcessInfoCores.active }
}

/// A per-thread flag (POSIX thread-specific data): set while the thread runs ``Parallelism/onCallingThread(_:)``.
enum CallingThreadOnly {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        if pthread_key_create(&key, nil) != 0 { fatalError("Parallelism: no thread-specific key left") }
        return key
    }()

    static var isSet: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}

enum ProcessInfoCores {
    static var active: Int {
        #if canImport(Glibc)
        return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        #else
        return 1
        #endif
    }
}

/// Runs `body(range)` over disjoint chunks of `0..<count`, in parallel over ``Parallelism/threadCount``
/// threads. Chunks hold at least `minimumChunk` indices so that tiny loops stay on one thread.
@inlinable
public func parallelFor(_ count: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    guard count > 0 else { return }
    let threads = Parallelism.threadCount
    let chunks = max(1, min(threads, count / max(1, minimumChunk)))
    if chunks == 1 { body(0..<count); return }
    concurrentPerform(chunks) { c in
        let lo = count * c / chunks
        let hi = count * (c + 1) / chunks
        if lo < hi { body(lo..<hi) }
    }
}

/// Runs `body(i)` for `i` in `0..<n` concurrently and returns when all are done.
///
/// Kernels hand it closures that capture raw buffers; each iteration writes only its own part of
/// them, which is the (unchecked) contract that makes the `@Sendable` conversion below sound.
public func concurrentPerform(_ n: Int, _ body: (Int) -> Void) {
    if n <= 1 { if n == 1 { body(0) }; return }
    withoutActuallyEscaping(body) { escaping in
        let sendable = unsafeBitCast(escaping, to: (@Sendable (Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: n, execute: sendable)
    }
}

/// Peak resident memory of this process in bytes (Linux: `VmHWM` from `/proc/self/status`), or nil.
public func peakResidentMemoryBytes() -> Int? {
    #if canImport(Glibc)
    guard let f = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let length = line.firstIndex(of: 0) ?? line.count
        let s = String(decoding: line[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmHWM:") {
            let digits = s.split(separator: " ").compactMap { Int($0) }
            if let kb = digits.first { return kb * 1024 }
        }
    }
    #endif
    return nil
}
