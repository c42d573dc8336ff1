/// Owned by the iterator only (the worker threads hold the source, not this), so dropping the
/// iterator early, e.g. `break` in a `for` loop, stops the workers.
final class SourceHandle {
    let source: BatchSource
    init(_ source: BatchSource) { self.source = source }
    deinit { source.cancel() }
}
