import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor

// Helpers for `snn eval --mode async`: parsing the asynchronous engine's options from the command
// line, running a dataset through the engine batch by batch, and printing its measurements.

/// Parses a forward-group-size list: `inf,32,8,2` (also `infinity`, `all`) -> `[nil, 32, 8, 2]`.
func parseForwardGroupSizes(_ text: String) throws -> [Int?] {
    let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    guard !items.isEmpty else { throw AsyncArgumentError("--F: expected a list like inf,32,8,2") }
    return try items.map { item -> Int? in
        if ["inf", "infinity", "all", "∞"].contains(item) { return nil }
        guard let f = Int(item), f >= 1 else { throw AsyncArgumentError("--F: '\(item)' is neither a positive integer nor 'inf'") }
        return f
    }
}

/// `nil` -> `inf`, else the number.
func formatForwardGroupSize(_ f: Int?) -> String { f.map(String.init) ?? "inf" }

/// Parses a scheduler: `random`, `momentum`, or `momentum:LAMBDA` (noise scale, default 1e-6).
func parseScheduler(_ text: String) throws -> Scheduler {
    let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
    switch parts.first ?? "" {
    case "random":
        guard parts.count == 1 else { throw AsyncArgumentError("--scheduler random takes no parameter") }
        return .random
    case "momentum":
        if parts.count == 2 {
            guard let lambda = Float(parts[1]), lambda >= 0 else {
                throw AsyncArgumentError("--scheduler momentum:LAMBDA needs a non-negative noise scale, got '\(parts[1])'")
            }
            return .momentum(noise: lambda)
        }
        return .momentum
    default:
        throw AsyncArgumentError("--scheduler must be random, momentum or momentum:LAMBDA, got '\(text)'")
    }
}

/// Parses a stop rule: `on-spiking-done`, `on-output:K` (stop K forward steps after the frame's first
/// output spike; `on-output` alone means K = 0) or `max-steps:N`.
func parseStopRule(_ text: String) throws -> StopRule {
    let parts = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
    func number(_ name: String, minimum: Int) throws -> Int {
        guard parts.count == 2, let n = Int(parts[1]), n >= minimum else {
            throw AsyncArgumentError("--stop \(name):N needs an integer >= \(minimum), got '\(text)'")
        }
        return n
    }
    switch parts.first ?? "" {
    case "on-spiking-done", "spiking-done", "drain":
        return .onSpikingDone
    case "on-output":
        return parts.count == 1 ? .onOutput(k: 0) : .onOutput(k: try number("on-output", minimum: 0))
    case "max-steps", "max-forward-steps":
        return .maxForwardSteps(try number("max-steps", minimum: 1))
    default:
        throw AsyncArgumentError("--stop must be on-spiking-done, on-output:K or max-steps:N, got '\(text)'")
    }
}

/// A bad asynchronous-engine argument.
struct AsyncArgumentError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// One asynchronous evaluation of a dataset: the aggregated measurements plus wall-clock throughput.
struct AsyncEvaluation: Codable {
    var metrics: AsyncMetrics
    var samplesPerSecond: Double
    var seconds: Double

    /// Runs every sample of `dataset` through the asynchronous engine in batches (no shuffling; the
    /// random streams are keyed by the sample's index in the dataset, so the batch size does not
    /// change the result). With `options.recordTrace`, the trace of every batch is concatenated.
    static func run(network: Network, dataset: any FrameDataset, batchSize: Int, options: AsyncOptions,
                    progressTitle: String? = nil) throws -> (evaluation: AsyncEvaluation, trace: SpikeTrace?) {
        let engine = try AsyncEngine(network: network)
        let loader = BatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, seed: 0)
        var runs: [AsyncRun] = []
        var trace: SpikeTrace?
        var done = 0, correct = 0
        var progress = progressTitle.map { ProgressLine($0, total: dataset.count) }
        let start = Date()
        try loader.forEachBatch { batch in
            var o = options
            o.sampleIndexOffset = done
            var run = engine.run(inputs: batch.inputs, labels: batch.labels, options: o)
            if let t = run.trace {
                if trace == nil { trace = SpikeTrace(populationSizes: t.populationSizes) }
                trace!.events += t.events
                run.trace = nil
            }
            run.tapes = nil
            done += batch.labels.count
            correct += run.samples.filter(\.correct).count
            runs.append(run)
            progress?.update(done, "acc \(format(Double(correct) / Double(max(done, 1)) * 100, 1))%")
        }
        progress?.finish()
        let seconds = max(Date().timeIntervalSince(start), 1e-9)
        let evaluation = AsyncEvaluation(metrics: AsyncMetrics(runs: runs), samplesPerSecond: Double(done) / seconds, seconds: seconds)
        return (evaluation, trace)
    }
}

/// The measurements of one or more asynchronous evaluations (e.g. an `--F` sweep) as a text table,
/// one row per evaluation.
func asyncMetricsTable(_ rows: [AsyncEvaluation]) -> String {
    let header = ["F", "scheduler", "stop", "accuracy", "spikes/sample", "density", "steps/frame",
                  "1st out step", "1st correct", "spikes to 1st out", "queue mean/max", "synops/sample", "samples/s"]
    var table = [header]
    for r in rows {
        let m = r.metrics
        func opt(_ x: Double?, _ d: Int = 1) -> String { x.map { format($0, d) } ?? "-" }
        table.append([
            formatForwardGroupSize(m.forwardGroupSize), m.scheduler, m.stopRule,
            format(m.accuracy * 100, 2) + "%", format(m.spikesPerSample, 1), format(m.spikeDensity, 4),
            format(m.forwardStepsPerFrame, 1), opt(m.firstOutputStep), opt(m.firstCorrectOutputStep),
            opt(m.spikesUntilFirstOutput), "\(format(m.queueLengthMean, 1))/\(m.queueLengthMax)",
            format(m.synapticOperationsPerSample.total, 0), format(r.samplesPerSecond, 0),
        ])
    }
    let widths = header.indices.map { c in table.map { $0[c].count }.max() ?? 0 }
    return table.map { row in
        row.enumerated().map { c, cell in
            c < 3 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                  : String(repeating: " ", count: widths[c] - cell.count) + cell
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// Prints one asynchronous evaluation in full: the table row, then per-layer details and the
/// currents-to-spike histogram.
func printAsync(_ r: AsyncEvaluation) {
    let m = r.metrics
    print("async F=\(formatForwardGroupSize(m.forwardGroupSize)) \(m.scheduler) stop=\(m.stopRule): accuracy \(format(m.accuracy * 100, 2))% (\(m.correct)/\(m.labelled)), \(format(m.spikesPerSample, 1)) spikes/sample, \(format(r.samplesPerSecond, 0)) samples/s")
    print("  spikes/sample per layer: " + m.spikesPerSamplePerLayer.map { format($0, 1) }.joined(separator: ", "))
    print("  spike density per layer: " + m.spikeDensityPerLayer.map { format($0, 4) }.joined(separator: ", "))
    print("  forward steps/frame \(format(m.forwardStepsPerFrame, 2)), frames stopped early \(format(m.framesStoppedEarlyFraction * 100, 1))%, spikes left in queue/sample \(format(m.spikesLeftInQueuePerSample, 1))")
    func opt(_ x: Double?) -> String { x.map { format($0, 2) } ?? "-" }
    print("  first output spike: step \(opt(m.firstOutputStep)) after \(opt(m.spikesUntilFirstOutput)) spikes (\(m.samplesWithOutput)/\(m.samples) samples); first correct: step \(opt(m.firstCorrectOutputStep)) after \(opt(m.spikesUntilFirstCorrectOutput)) spikes (\(m.samplesWithCorrectOutput) samples)")
    print("  queue length per forward step: mean \(format(m.queueLengthMean, 2)), max \(m.queueLengthMax)")
    print("  synaptic ops/sample: \(format(m.synapticOperationsPerSample.accumulates, 0)) AC + \(format(m.synapticOperationsPerSample.multiplyAccumulates, 0)) MAC")
    if let mean = m.meanCurrentsToSpike {
        let h = m.currentsToSpikeHistogram
        let last = h.lastIndex { $0 > 0 } ?? 0
        let shown = h[0...min(last, 15)].enumerated().map { "\($0.offset):\($0.element)" }.joined(separator: " ")
        print("  currents before first spike of a frame: mean \(format(mean, 2)); histogram \(shown)\(last > 15 ? " ..." : "")")
    }
}
