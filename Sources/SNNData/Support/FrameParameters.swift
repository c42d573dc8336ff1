/// Checks of the parameters that turn a sample into frames, shared by the readers, so that a bad
/// value is a ``DataError`` naming it instead of a trap or an allocation failure later.
public enum FrameParameters {
    /// The largest sample the readers build: `timeSteps * frameSize` values (1 GiB of Float32).
    public static let maxValuesPerSample = 1 << 28

    /// Throws `argument` unless `frameDuration` (seconds, if the dataset has one) is finite and
    /// positive, `timeSteps` is positive, and one sample holds at most ``maxValuesPerSample`` values.
    public static func check(frameDuration: Double?, timeSteps: Int, frameSize: Int, dataset: String) throws {
        if let frameDuration, !(frameDuration.isFinite && frameDuration > 0 && frameDuration < 1e6) {
            throw DataError(.argument, "\(dataset): frame duration \(frameDuration) s (expected a finite number above 0)")
        }
        guard timeSteps > 0 else {
            throw DataError(.argument, "\(dataset): \(timeSteps) time steps (expected 1 or more)")
        }
        let values = timeSteps.multipliedReportingOverflow(by: max(1, frameSize))
        guard !values.overflow, values.partialValue <= maxValuesPerSample else {
            throw DataError(.argument, "\(dataset): \(timeSteps) time steps of \(frameSize) values is more than \(maxValuesPerSample) values (1 GiB) per sample")
        }
    }
}
