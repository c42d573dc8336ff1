import Foundation
import SNNCore
import SNNTensor

/// The processes of a data-parallel job and the collective operations they need: every process
/// (rank `0..<size`) calls each operation in the same order, and each call returns on every rank
/// with the same result.
///
/// ``SingleProcessCommunicator`` is the default (one rank, every operation a no-op); the `MPI`
/// package trait adds `MPICommunicator` (module SNNMPI) over the system's Open MPI.
public protocol Communicator: AnyObject, Sendable {
    /// This process's index, `0..<size`; rank 0 writes files and prints progress.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Replaces `buffer` on every rank by the element-wise sum over all ranks' buffers (same count everywhere).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Same as the Float version, in Double (metrics: counts and sums that must stay exact).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Gives every rank `root`'s bytes (any length: the length is sent first).
    func broadcast(_ bytes: inout [UInt8], root: Int)
    /// Returns when every rank has called it.
    func barrier()
    /// Every rank's `bytes` (lengths may differ), in rank order, on `root`; nil on the other ranks.
    func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]?
    /// Stops every rank of the job now (after this rank printed why), with exit status `code`.
    func abort(code: Int32) -> Never
}

extension Communicator {
    /// Element-wise sum over all ranks of a Double array.
    public func allReduceSum(_ values: [Double]) -> [Double] {
        var v = values
        v.withUnsafeMutableBufferPointer { allReduceSum($0) }
        return v
    }

    /// Whether this rank writes files and prints.
    public var isRoot: Bool { rank == 0 }
}

/// One process training alone: rank 0 of 1; collectives return their input.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    public func broadcast(_ bytes: inout [UInt8], root: Int) {}
    public func barrier() {}
    public func gather(_ bytes: [UInt8], root: Int) -> [[UInt8]]? { [bytes] }
    public func abort(code: Int32) -> Never { exit(code) }
}

/// Combines the processes' step results before the optimizer step (called by ``Trainer/step(inputs:labels:)``).
///
/// Every training method plugs in here: whatever computes a step's gradients, the optimizer sees
/// the reduced ones, so all ranks apply the same update to the same weights.
public protocol GradientReducer: Sendable {
    /// On entry `result` holds this process's loss (mean over its `samples`), correct count, and
    /// gradients (means over its samples). On return it holds the same over all processes' samples,
    /// with ``StepResult/samples`` set to their total.
    func reduce(_ result: inout StepResult, samples: Int, network: Network)
}

/// Data parallelism by one all-reduce per step: each rank's gradients, weighted by its number of
/// samples, go into one flat Float buffer with the running statistics of normalised populations,
/// the loss, the correct count and the sample count; one sum over ranks, then a division by the
/// total number of samples gives every rank the gradient of the whole (global) batch.
///
/// Buffer layout (Float32): the gradient of every parameter tensor in layer order, then the running
/// statistics of each normalised population (averaged over ranks, weighted by samples), then
/// `[loss x samples, correct, samples, spikes]`. ``bufferCount(for:)`` gives its length.
public final class DataParallelReducer: GradientReducer, @unchecked Sendable {
    public let communicator: any Communicator
    private var buffer: [Float] = []
    /// All-reduce calls made and the seconds spent in them (for the scaling note).
    public private(set) var reductions = 0
    public private(set) var reductionSeconds: Double = 0

    public init(communicator: any Communicator) { self.communicator = communicator }

    /// Floats all-reduced per step for `network`.
    public static func bufferCount(for network: Network) -> Int {
        network.parameterIndices.reduce(0) { $0 + network.weights[$1].count }
            + network.normalizationIndices.reduce(0) { $0 + network.runningStatistics[$1].count } + 4
    }

    public func reduce(_ result: inout StepResult, samples: Int, network: Network) {
        let count = Self.bufferCount(for: network)
        if buffer.count != count { buffer = [Float](repeating: 0, count: count) }
        let w = Float(samples)
        let stats = result.runningStatistics ?? network.runningStatistics
        var o = 0
        buffer.withUnsafeMutableBufferPointer { b in
            for i in network.parameterIndices {
                result.gradients[i].withUnsafeBufferPointer { g in for v in g { b[o] = v * w; o += 1 } }
            }
            for i in network.normalizationIndices { for v in stats[i].data { b[o] = v * w; o += 1 } }
            b[o] = result.loss * w; b[o + 1] = Float(result.correct); b[o + 2] = w; b[o + 3] = Float(result.spikes)
            let start = Date()
            communicator.allReduceSum(b)
            reductionSeconds += Date().timeIntervalSince(start)
            reductions += 1
            let total = b[o + 2]
            precondition(total > 0, "data-parallel step with no samples on any rank")
            let scale = 1 / total
            o = 0
            for i in network.parameterIndices {
                result.gradients[i].withUnsafeMutableBufferPointer { g in for j in g.indices { g[j] = b[o] * scale; o += 1 } }
            }
            if !network.normalizationIndices.isEmpty {
                var newStats = stats
                for i in network.normalizationIndices {
                    for j in 0..<newStats[i].count { newStats[i].data[j] = b[o] * scale; o += 1 }
                }
                result.runningStatistics = newStats
            }
            result.loss = b[o] * scale
            result.correct = Int(b[o + 1].rounded())
            result.samples = Int(total.rounded())
            result.spikes = Double(b[o + 3])
        }
    }
}

/// A 64-bit FNV-1a hash (option fingerprints compared across ranks).
public func fnv1a64<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// A gradient computer whose random draws (dropout masks, input dropout, the asynchronous engine's
/// random scheduler) depend on each sample's position in the batch. Told where this process's
/// share sits in the global batch, it makes the draws the whole batch would make there, so ranks
/// do not repeat each other's draws and N ranks train like one process with the global batch.
public protocol BatchShareAware: GradientComputer {
    /// The next batches are samples `firstSample...` of global batches of `globalBatch` samples.
    mutating func placeShare(firstSample: Int, globalBatch: Int)
}

extension LayeredBPTT: BatchShareAware {
    public mutating func placeShare(firstSample: Int, globalBatch: Int) { self.firstSample = firstSample }
}

extension UnlayeredTraining: BatchShareAware {
    public mutating func placeShare(firstSample: Int, globalBatch: Int) {
        share = (firstSample, globalBatch)
        asyncOptions.sampleIndexOffset = firstSample
    }
}
