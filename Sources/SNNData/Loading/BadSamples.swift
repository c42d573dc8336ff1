import Foundation
import SNNTensor

/// A sample left out because it could not be decoded.
public struct SkippedSample: Sendable, CustomStringConvertible {
    /// Its index in the original dataset.
    public var index: Int
    /// Why.
    public var error: DataError
    public var description: String { "sample \(index): \(error)" }
}

extension FrameDataset {
    /// Decodes every sample once (in parallel) and returns the dataset without the ones that fail,
    /// with the list of those skipped, for users who asked to skip bad samples. Errors that are not
    /// ``DataError``s are rethrown. Without this, a bad sample stops loading with its error.
    public func skippingBadSamples() throws -> (dataset: SubsetDataset, skipped: [SkippedSample]) {
        let n = count
        var failures = [DataError?](repeating: nil, count: n)
        var other: (any Error)?
        let lock = NSLock()
        failures.withUnsafeMutableBufferPointer { buf in
            let buf = buf
            parallelFor(n, minimumChunk: 8) { range in
                for i in range {
                    do { _ = try frames(i) } catch let e as DataError {
                        buf[i] = e.atSample(i)
                    } catch {
                        lock.lock(); if other == nil { other = error }; lock.unlock()
                    }
                }
            }
        }
        if let other { throw other }
        var keep: [Int] = [], skipped: [SkippedSample] = []
        for i in 0..<n {
            if let e = failures[i] { skipped.append(SkippedSample(index: i, error: e)) } else { keep.append(i) }
        }
        return (SubsetDataset(self, indices: keep), skipped)
    }
}
