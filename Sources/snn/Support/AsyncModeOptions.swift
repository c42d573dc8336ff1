import ArgumentParser
import Foundation
import SNNData
import SNNEngines
import SNNTensor

/// Options of asynchronous execution, shared by eval, train --mode async and experiments.
struct AsyncModeOptions: ParsableArguments {
    @Option(help: "Scheduler: momentum (highest pre-spike potential first) or random.")
    var scheduler: String = "momentum"

    @Option(name: .customLong("F"), help: "Forward group size F: spikes emitted per forward step; inf for infinity (= layered order). A comma list sweeps: inf,32,8,2.")
    var forwardGroupSizes: String = "8"

    @Option(help: "Stop rule: on-spiking-done, on-output:K (stop K forward steps after the first output spike), max-steps:N.")
    var stop: String = "on-spiking-done"

    @Option(help: "Momentum scheduler tie-breaking noise lambda.")
    var noise: Float = 1e-6

    @Option(help: "Probability that a spike does not set the refractory flag (a training aid; 0 = off).")
    var refractoryDropout: Float = 0

    @Flag(help: "Reference compatibility: drop pending negative currents when a frame stops.")
    var dropNegativePending = false

    /// The parsed F values (nil = infinity); at least one.
    func groupSizes() throws -> [Int?] {
        guard !forwardGroupSizes.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--F needs at least one value (a positive integer or inf; a comma list sweeps, e.g. inf,8,2)")
        }
        let values = try forwardGroupSizes.split(separator: ",", omittingEmptySubsequences: false).map { item -> Int? in
            let t = item.trimmingCharacters(in: .whitespaces).lowercased()
            if t == "inf" || t == "infinity" { return nil }
            guard let v = Int(t), v >= 1 else { throw ValidationError("--F takes positive integers or inf (comma list, e.g. inf,8,2), got '\(t)' in '\(forwardGroupSizes)'") }
            return v
        }
        guard !values.isEmpty else { throw ValidationError("--F needs at least one value (a positive integer or inf)") }
        return values
    }

    /// Checks every value before any work.
    func validate() throws {
        _ = try groupSizes()
        _ = try parsedScheduler()
        _ = try Self.parseStopRule(stop)
        try Check.finite(noise, "--noise", min: 0)
        try Check.finite(refractoryDropout, "--refractory-dropout", min: 0, max: 1)
    }

    /// The options of this group, as typed on the command line.
    static let names = ["--scheduler", "--F", "--stop", "--noise", "--refractory-dropout", "--drop-negative-pending"]

    func parsedScheduler() throws -> Scheduler {
        switch scheduler {
        case "momentum": return .momentum(noise: noise)
        case "random": return .random
        default: throw ValidationError("--scheduler must be momentum or random")
        }
    }

    static func parseStopRule(_ text: String) throws -> StopRule {
        if text == "on-spiking-done" { return .onSpikingDone }
        if text.hasPrefix("on-output:"), let k = Int(text.dropFirst(10)), k >= 0 { return .onOutput(k: k) }
        if text.hasPrefix("max-steps:"), let n = Int(text.dropFirst(10)), n >= 1 { return .maxForwardSteps(n) }
        throw ValidationError("--stop must be on-spiking-done, on-output:K or max-steps:N, got '\(text)'")
    }

    /// Engine options for one F.
    func options(forwardGroupSize: Int?, seed: UInt64) throws -> AsyncOptions {
        AsyncOptions(forwardGroupSize: forwardGroupSize, scheduler: try parsedScheduler(), stopRule: try Self.parseStopRule(stop),
                     refractoryDropout: refractoryDropout, dropsPendingNegativeCurrentsOnStop: dropNegativePending, seed: seed)
    }
}

/// Runs a dataset through the asynchronous engine and aggregates the measurements.
func evaluateAsync(network: SNNCore.Network, dataset: any FrameDataset, options: AsyncOptions, batchSize: Int,
                   progressTitle: String? = nil, trace: Bool = false) throws -> (metrics: AsyncMetrics, runs: [AsyncRun], seconds: Double) {
    try evaluateAsync(engine: try AsyncEngine(network: network), dataset: dataset, options: options, batchSize: batchSize,
                      progressTitle: progressTitle, trace: trace)
}

/// Runs a dataset through a compiled engine (a plain network's or an EM-PF model's) and aggregates the measurements.
func evaluateAsync(engine: AsyncEngine, dataset: any FrameDataset, options: AsyncOptions, batchSize: Int,
                   progressTitle: String? = nil, trace: Bool = false) throws -> (metrics: AsyncMetrics, runs: [AsyncRun], seconds: Double) {
    let loader = BatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, seed: 0)
    var runs: [AsyncRun] = []
    var done = 0
    var progress = progressTitle.map { ProgressLine($0, total: dataset.count) }
    let start = Date()
    try loader.forEachBatch { batch in
        var o = options
        o.sampleIndexOffset = ((dataset as? DatasetShard)?.firstIndex ?? 0) + done  // an MPI rank's share keeps the samples' indices
        o.recordTrace = trace
        runs.append(engine.run(inputs: batch.inputs, labels: batch.labels, options: o))
        done += batch.labels.count
        progress?.update(done, "")
    }
    progress?.finish()
    return (AsyncMetrics(runs: runs), runs, Date().timeIntervalSince(start))
}

func describe(_ f: Int?) -> String { f.map(String.init) ?? "inf" }

func printAsync(_ m: AsyncMetrics, samplesPerSecond: Double? = nil) {
    print("async \(m.scheduler), F=\(describe(m.forwardGroupSize)), \(m.stopRule): accuracy \(format(m.accuracy * 100, 2))% (\(m.correct)/\(m.labelled)), \(format(m.spikesPerSample, 1)) spikes/sample"
          + (samplesPerSecond.map { ", \(format($0, 0)) samples/s" } ?? ""))
    print("  spikes/sample per layer: " + m.spikesPerSamplePerLayer.map { format($0, 1) }.joined(separator: ", "))
    print("  spike density per layer: " + m.spikeDensityPerLayer.map { format($0, 4) }.joined(separator: ", "))
    if let v = m.spikeValuePerSamplePerLayer { print("  spike value/sample per layer: " + v.map { format($0, 1) }.joined(separator: ", ")) }
    print("  forward steps/frame \(format(m.forwardStepsPerFrame, 2)); first output at step \(m.firstOutputStep.map { format($0, 1) } ?? "-"), first correct at \(m.firstCorrectOutputStep.map { format($0, 1) } ?? "-"); spikes until first correct output \(m.spikesUntilFirstCorrectOutput.map { format($0, 1) } ?? "-")")
    print("  queue length mean \(format(m.queueLengthMean, 2)) max \(m.queueLengthMax); currents before a spike (mean) \(m.meanCurrentsToSpike.map { format($0, 2) } ?? "-")")
    print("  synaptic ops/sample: \(format(m.synapticOperationsPerSample.accumulates, 0)) AC + \(format(m.synapticOperationsPerSample.multiplyAccumulates, 0)) MAC")
}
import SNNCore

/// Joins the traces of several batches and writes them as one CSV file.
func writeTrace(_ runs: [AsyncRun], to path: String) throws {
    guard let first = runs.first?.trace else { return }
    var all = SpikeTrace(populationSizes: first.populationSizes)
    for r in runs { all.events += r.trace?.events ?? [] }
    try all.write(to: URL(fileURLWithPath: path))
}
