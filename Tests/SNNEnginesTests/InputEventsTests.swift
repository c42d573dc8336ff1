import Testing
import SNNTensor
@testable import SNNEngines

/// `InputEvents` lists every frame's non-zero entries, ascending, with their values, whatever the
/// number of parallel runs, growing its buffers as needed; dense input is refused (``isComplete``).
struct InputEventsTests {
    @Test("InputEvents: each frame's events and values equal the plain scan", arguments: [1, 2, 3, 7])
    func eventsMatchThePlainScan(runs: Int) {
        let frames = 11, frameSize = 37
        var state: UInt64 = 0x5EED &+ UInt64(runs)
        var x = [Float](repeating: 0, count: frames * frameSize)
        for f in 0..<frames {
            // Frame f's density grows with f (empty first frame; the lists outgrow their first buffer); -0 is not an event.
            for i in 0..<frameSize {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let u = Double(state >> 11) / Double(1 << 53)
                if u < 0.3 * Double(f) / Double(frames - 2) { x[f * frameSize + i] = Float(i % 5) - 2 }
                if i == 3 { x[f * frameSize + i] = -0.0 }
            }
        }
        // Frames all dense abandon the lists; the sparse ones are listed.
        let dense = [Float](repeating: 1, count: frames * frameSize)
        dense.withUnsafeBufferPointer { #expect(!InputEvents($0.baseAddress!, frames: frames, frameSize: frameSize, runs: runs).isComplete) }
        x.withUnsafeBufferPointer { xp in
            let events = InputEvents(xp.baseAddress!, frames: frames, frameSize: frameSize, runs: runs)
            #expect(events.isComplete)
            for f in 0..<frames {
                let e = events.events(ofFrame: f)
                let want = (0..<frameSize).filter { x[f * frameSize + $0] != 0 }
                #expect((0..<e.count).map { Int(e.indices[$0]) } == want, "frame \(f)")
                #expect((0..<e.count).map { e.values[$0] } == want.map { x[f * frameSize + $0] }, "frame \(f)")
            }
        }
    }
}
