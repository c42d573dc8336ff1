import SNNTensor

/// The non-zero entries (events) of every input frame of a batch, in ascending order within a frame,
/// found before any sample runs.
///
/// The inputs `[T, batch] + shape` are read once, in memory order, split over the cores in contiguous
/// runs of frames. Scanning each sample's frames while it runs reads them in 9 KB pieces 1 MB apart
/// (batch 128, N-MNIST), interleaved with the network's work, and the scan was the largest part of an
/// F = infinity run; in one stream the hardware prefetcher keeps up. Every event keeps the input's
/// value, so delivery never reads the dense frame.
///
/// Lists cost 8 bytes an event against the frame's 4 an entry: for dense input (analog or rate-coded
/// images) they are abandoned once a run's events pass a quarter of its entries (``isComplete`` false),
/// and the engine scans the frames as it runs instead.
final class InputEvents: @unchecked Sendable {
    /// Whether every frame was listed (false: the input was too dense and the lists were abandoned).
    let isComplete: Bool
    /// Frames per run (the last run may be shorter).
    let framesPerRun: Int
    /// Per run: the first event of each of its frames, and one past its last (`frames + 1` entries).
    private let starts: UnsafeMutablePointer<UnsafeMutablePointer<Int32>>
    /// Per run: the events' positions within their frame and their values.
    private let indices: UnsafeMutablePointer<UnsafeMutablePointer<Int32>>
    private let values: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let runCount: Int

    /// Scans `frames` frames of `frameSize` values at `x` (frame `f` at `x + f * frameSize`) in up to
    /// `runs` parallel runs.
    init(_ x: UnsafePointer<Float>, frames: Int, frameSize: Int, runs requested: Int) {
        let runs = max(1, min(requested, frames))
        let per = (frames + runs - 1) / runs
        framesPerRun = max(1, per)
        runCount = frames == 0 ? 0 : (frames + framesPerRun - 1) / framesPerRun
        starts = .allocate(capacity: max(1, runCount))
        indices = .allocate(capacity: max(1, runCount))
        values = .allocate(capacity: max(1, runCount))
        let (starts, indices, values, per2) = (starts, indices, values, framesPerRun)
        let abandoned = UnsafeMutablePointer<Bool>.allocate(capacity: max(1, runCount))
        abandoned.initialize(repeating: false, count: max(1, runCount))
        defer { abandoned.deallocate() }
        concurrentPerform(runCount) { r in
            let first = r * per2, n = min(per2, frames - first)
            let s = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
            // Room for a sixteenth of the entries, doubled when full (event frames are sparse).
            let limit = n * frameSize / 4 + frameSize
            var capacity = min(limit, max(64, n * frameSize / 16))
            var ip = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
            var vp = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
            var e = 0
            for k in 0..<n {
                s[k] = Int32(truncatingIfNeeded: e)
                if capacity - e < frameSize {
                    // Room for a whole frame is needed; past a quarter of the run's entries, give up.
                    if e + frameSize > limit { abandoned[r] = true; break }
                    let grown = min(limit, max(2 * capacity, e + frameSize))
                    let i2 = UnsafeMutablePointer<Int32>.allocate(capacity: grown), v2 = UnsafeMutablePointer<Float>.allocate(capacity: grown)
                    i2.update(from: ip, count: e); v2.update(from: vp, count: e)
                    ip.deallocate(); vp.deallocate()
                    ip = i2; vp = v2; capacity = grown
                }
                e += compactNonZeros(x + (first + k) * frameSize, frameSize, indices: ip + e, values: vp + e)
            }
            s[n] = Int32(truncatingIfNeeded: e)
            starts[r] = s; indices[r] = ip; values[r] = vp
        }
        isComplete = !(0..<runCount).contains { abandoned[$0] }
    }

    deinit {
        for r in 0..<runCount { starts[r].deallocate(); indices[r].deallocate(); values[r].deallocate() }
        starts.deallocate(); indices.deallocate(); values.deallocate()
    }

    /// Frame `f`'s events: positions, values and their number.
    @inline(__always)
    func events(ofFrame f: Int) -> (indices: UnsafePointer<Int32>, values: UnsafePointer<Float>, count: Int) {
        let r = f / framesPerRun, k = f - r * framesPerRun
        let s = starts[r], a = Int(s[k]), b = Int(s[k + 1])
        return (UnsafePointer(indices[r] + a), UnsafePointer(values[r] + a), b - a)
    }
}
