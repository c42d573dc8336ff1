import Dispatch
import Synchronization
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
/// The calling thread and the ``WorkerPool``'s threads share the iterations (each taken by whichever
/// thread claims it first; results cannot depend on which, as every iteration writes only its own
/// part of the outputs). A call made while the pool is running another (nested calls, or a second
/// thread's) goes to Dispatch's `concurrentPerform` instead.
///
/// Kernels hand it closures that capture raw buffers; each iteration writes only its own part of
/// them, which is the (unchecked) contract that makes the `@Sendable` conversion below sound.
public func concurrentPerform(_ n: Int, _ body: (Int) -> Void) {
    if n <= 1 { if n == 1 { body(0) }; return }
    #if canImport(Glibc)
    if WorkerPool.shared.run(n, body) { return }
    #endif
    withoutActuallyEscaping(body) { escaping in
        let sendable = unsafeBitCast(escaping, to: (@Sendable (Int) -> Void).self)
        DispatchQueue.concurrentPerform(iterations: n, execute: sendable)
    }
}

#if canImport(Glibc)
/// Threads that run the iterations of ``concurrentPerform(_:_:)`` beside the calling thread (Linux; elsewhere
/// Dispatch runs them).
///
/// A training step makes hundreds of parallel calls a few hundred microseconds apart (one per kernel
/// and time step), with short single-threaded stretches between them. Dispatch parks its threads
/// between calls and wakes them for the next, which left a second core idle about a tenth of BNTT's
/// training step. The pool's threads instead wait for the next call spinning for a while
/// (``spinNanoseconds``, offering the core to other runnable threads between checks) before they sleep
/// on a condition variable.
///
/// Protocol: `generation` is odd while no call is open and even while one is; a worker announces
/// itself in `active` and then checks that the generation it saw is still current (the caller closes
/// a call, then waits for `active` to drain: sequentially consistent on both sides, so one of them
/// sees the other). The caller therefore changes the call's fields only while no worker reads them.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    /// How long an idle worker spins for the next call before it sleeps.
    static let spinNanoseconds = 200_000

    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(1)
    private let active = Atomic<Int>(0)
    private let nextIteration = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    // The open call; written by the caller only while the pool is closed and no worker is active.
    private var body: ((Int) -> Void)?
    private var iterations = 0
    private var workers = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Runs `body` for `0..<n` on the calling thread and the pool's; false (nothing run) when the pool is
    /// already running a call.
    func run(_ n: Int, _ body: (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        let wanted = min(n, Parallelism.threadCount) - 1
        while workers < wanted { startWorker(); workers += 1 }
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            iterations = n
            nextIteration.store(0, ordering: .sequentiallyConsistent)
            unfinished.store(n, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)  // open (even)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex); pthread_cond_broadcast(condition); pthread_mutex_unlock(mutex)
            }
            claimIterations()
            var spins = 0
            while unfinished.load(ordering: .sequentiallyConsistent) > 0 { Self.pause(&spins) }
            generation.add(1, ordering: .sequentiallyConsistent)  // closed (odd)
            while active.load(ordering: .sequentiallyConsistent) > 0 { Self.pause(&spins) }
            self.body = nil
        }
        return true
    }

    /// Runs iterations of the open call until none is left unclaimed.
    private func claimIterations() {
        var call: ((Int) -> Void)?  // read once a first iteration is claimed (released before the caller sees `active` drop)
        while true {
            let i = nextIteration.add(1, ordering: .sequentiallyConsistent).oldValue
            if i >= iterations { return }
            if call == nil { call = body }
            call!(i)
            unfinished.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func startWorker() {
        var thread = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        let made = pthread_create(&thread, nil, { context in
            Unmanaged<WorkerPool>.fromOpaque(context!).takeUnretainedValue().workerLoop()
        }, context)
        if made != 0 { fatalError("WorkerPool: pthread_create failed (\(made))") }
        pthread_detach(thread)
    }

    private func workerLoop() -> Never {
        var seen = 1
        while true {
            var g = generation.load(ordering: .sequentiallyConsistent)
            if g & 1 == 1 || g == seen {
                let start = Self.nanoseconds()
                var spins = 0
                while g & 1 == 1 || g == seen {
                    if spins & 255 == 255 && Self.nanoseconds() - start > Self.spinNanoseconds {
                        g = sleep(seen: seen)
                        break
                    }
                    Self.pause(&spins)
                    g = generation.load(ordering: .sequentiallyConsistent)
                }
            }
            active.add(1, ordering: .sequentiallyConsistent)
            if generation.load(ordering: .sequentiallyConsistent) != g {
                active.subtract(1, ordering: .sequentiallyConsistent)
                continue
            }
            seen = g
            claimIterations()
            active.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// Sleeps until a call other than `seen` is open; returns its generation.
    private func sleep(seen: Int) -> Int {
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var g = generation.load(ordering: .sequentiallyConsistent)
        while g & 1 == 1 || g == seen {
            pthread_cond_wait(condition, mutex)
            g = generation.load(ordering: .sequentiallyConsistent)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return g
    }

    /// One round of a spin wait: after the first 64, each round offers the core to another runnable thread
    /// (`sched_yield` returns at once when there is none). With more runnable threads than cores (several
    /// processes, as under `mpirun`, or tests running side by side) the thread waited for may be the one
    /// descheduled, and a pure spin would hold its core for the rest of a time slice.
    @inline(__always)
    private static func pause(_ spins: inout Int) {
        spins += 1
        if spins > 64 { sched_yield() }
    }

    private static func nanoseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }
}
#endif

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
