import Synchronization

/// Reusable scratch memory for the kernels' temporaries (packing buffers, transposed operands).
///
/// Large `malloc`s are served by fresh `mmap`s whose pages fault in on first touch, which costs as
/// much as a small GEMM; recycling the blocks avoids that. Blocks are 64-byte aligned, handed to one
/// caller at a time, and kept (up to `maxKept` of them) for the next request of at most their size.
struct ScratchBlock: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int
}

let scratchPool = Mutex<[ScratchBlock]>([])
let scratchMaxKept = 16
/// Blocks below this size come straight from `malloc` (cheap; not worth the lock).
let scratchMinPooledBytes = 64 * 1024

/// Calls `body` with at least `count` uninitialised `Float`s of scratch memory (64-byte aligned),
/// which it must not keep.
@inline(__always)
func withScratch<R>(floats count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let bytes = max(64, count * MemoryLayout<Float>.stride)
    let block = acquireScratch(bytes)
    defer { releaseScratch(block) }
    return try body(block.pointer.bindMemory(to: Float.self, capacity: max(1, count)))
}

func acquireScratch(_ bytes: Int) -> ScratchBlock {
    if bytes >= scratchMinPooledBytes {
        let reused: ScratchBlock? = scratchPool.withLock { pool in
            var best = -1
            for (i, b) in pool.enumerated() where b.bytes >= bytes && (best < 0 || b.bytes < pool[best].bytes) { best = i }
            return best >= 0 ? pool.remove(at: best) : nil
        }
        if let r = reused { return r }
    }
    return ScratchBlock(pointer: .allocate(byteCount: bytes, alignment: 64), bytes: bytes)
}

func releaseScratch(_ block: ScratchBlock) {
    if block.bytes < scratchMinPooledBytes { block.pointer.deallocate(); return }
    let evicted: ScratchBlock? = scratchPool.withLock { pool in
        pool.append(block)
        if pool.count <= scratchMaxKept { return nil }
        // Drop the smallest block.
        var smallest = 0
        for (i, b) in pool.enumerated() where b.bytes < pool[smallest].bytes { smallest = i }
        return pool.remove(at: smallest)
    }
    evicted?.pointer.deallocate()
}
