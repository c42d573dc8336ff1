/// Iterates one epoch of a ``BatchLoader``. ``nextBatch()`` throws decoding errors; ``next()``
/// (used by `for ... in`) ends the epoch at the first error and records it in
/// ``BatchLoader/lastError``.
public struct BatchIterator: IteratorProtocol {
    let handle: SourceHandle
    let errorBox: ErrorBox
    var source: BatchSource { handle.source }

    public mutating func next() -> Batch? {
        do { return try nextBatch() } catch {
            errorBox.set(error)
            source.cancel()
            return nil
        }
    }

    /// The next batch, nil at the end of the epoch; throws the sample's decoding error.
    public mutating func nextBatch() throws -> Batch? {
        guard let r = source.take() else { return nil }
        return try r.get()
    }
}
