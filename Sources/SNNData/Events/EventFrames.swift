import SNNTensor

/// Event-to-frame conversion: counts of events per pixel and polarity in consecutive time windows.
public enum EventFrames {
    /// Accumulates `events` into a `[timeSteps, 2, height, width]` tensor of counts.
    ///
    /// Window `t` covers timestamps `startTime + t * dt ..< startTime + (t + 1) * dt` with
    /// `dt = frameDuration` seconds (rounded to whole microseconds, at least 1). Channel 0 holds OFF
    /// events (polarity 0), channel 1 ON events (polarity != 0). Events before `startTime`, after
    /// the last window, or outside the `width x height` sensor are ignored.
    public static func accumulate(events: [Event], width: Int, height: Int, frameDuration: Double,
                                  timeSteps: Int, startTime: UInt32 = 0) -> Tensor {
        var out = Tensor(shape: [timeSteps, 2, height, width])
        accumulate(events: events, into: &out, width: width, height: height, frameDuration: frameDuration,
                   timeSteps: timeSteps, startTime: startTime)
        return out
    }

    /// The same, adding into an existing `[timeSteps, 2, height, width]` tensor.
    public static func accumulate(events: [Event], into out: inout Tensor, width: Int, height: Int,
                                  frameDuration: Double, timeSteps: Int, startTime: UInt32 = 0) {
        precondition(out.shape == [timeSteps, 2, height, width], "EventFrames: tensor shape \(out.shape) is not [\(timeSteps), 2, \(height), \(width)]")
        let dt = UInt64(max(1, (frameDuration * 1e6).rounded()))
        let plane = height * width
        out.withUnsafeMutableBufferPointer { o in
            for e in events {
                guard e.timestamp >= startTime else { continue }
                let t = UInt64(e.timestamp - startTime) / dt
                guard t < UInt64(timeSteps) else { continue }
                let x = Int(e.x), y = Int(e.y)
                guard x < width, y < height else { continue }
                let c = e.polarity != 0 ? 1 : 0
                o[(Int(t) * 2 + c) * plane + y * width + x] += 1
            }
        }
    }
}
