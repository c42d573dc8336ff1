import SNNTensor

/// Frames from 1-D spike trains given as parallel lists of spike times and channel numbers
/// (the Spiking Heidelberg Digits layout: 700 cochlea channels, times in seconds).
public enum SpikeTrains {
    /// Counts spikes per time window and channel group: `[timeSteps, ceil(channels / channelBin)]`.
    ///
    /// Spike `k` at `times[k]` seconds on channel `units[k]` goes to frame `floor(time / frameDuration)`
    /// and feature `units[k] / channelBin`; spikes after the last window are dropped.
    /// - Throws: ``DataError`` if the lists differ in length, a channel is out of range, a time is
    ///   negative or not finite, or times go backwards. `file` and `sample` are named in errors.
    public static func frames(times: [Float], units: [Int], channels: Int, channelBin: Int = 1,
                              frameDuration: Double, timeSteps: Int, file: String? = nil, sample: Int? = nil) throws -> Tensor {
        precondition(channelBin >= 1 && frameDuration > 0 && timeSteps > 0)
        guard times.count == units.count else {
            throw DataError(.corrupt, file: file, sample: sample, "\(times.count) spike times but \(units.count) channel numbers (expected equal counts)")
        }
        let features = (channels + channelBin - 1) / channelBin
        var out = Tensor(shape: [timeSteps, features])
        var last = -Float.infinity
        let dtF = Float(frameDuration)
        try out.withUnsafeMutableBufferPointer { o in
            for k in 0..<times.count {
                let t = times[k], u = units[k]
                guard t.isFinite, t >= 0 else {
                    throw DataError(.corrupt, file: file, sample: sample, "spike \(k) at time \(t) s (expected a finite time >= 0)")
                }
                guard t >= last else {
                    throw DataError(.timestamps, file: file, sample: sample, "spike \(k) at \(t) s after one at \(last) s (expected non-decreasing times)")
                }
                last = t
                guard u >= 0 && u < channels else {
                    throw DataError(.corrupt, file: file, sample: sample, "spike \(k) on channel \(u) (expected 0...\(channels - 1))")
                }
                let q = t / dtF // in Float, like the times, so 0.005 / 0.005 is exactly 1
                if q < Float(timeSteps) { o[Int(q) * features + u / channelBin] += 1 }
            }
        }
        return out
    }
}
