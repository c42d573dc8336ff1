import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// `--checkpoint-every` and `--resume` of `snn train`.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "Write a training checkpoint (model, optimizer state, epoch, batch and step) every N optimisation steps, and after each epoch; 0: never. One step is one global batch (all MPI ranks together).")
    var checkpointEvery: Int = 0

    @Option(help: "Where --checkpoint-every writes (replaced atomically each time; default: the --out path with .checkpoint appended).")
    var checkpoint: String?

    @Option(help: "Continue training from this checkpoint (written by --checkpoint-every): same architecture, --batch-size and --seed; any number of MPI ranks. --epochs is the total, counting the epochs already done.")
    var resume: String?

    @Option(help: "Stop after this optimisation step (the run's total, resumed steps included), write a checkpoint there and exit without writing the model; continue later with --resume (e.g. jobs with a time limit).")
    var stopAfter: Int?

    func validate() throws {
        try Check.integer(checkpointEvery, "--checkpoint-every", min: 0, max: Int(Int32.max))
        if let stopAfter { try Check.integer(stopAfter, "--stop-after", min: 1, max: Int(Int32.max)) }
        if let checkpoint { try Check.writableFile(checkpoint, "--checkpoint") }
        // Only rank 0 reads it (and broadcasts it): the other ranks' nodes need not have the file.
        let env = ProcessInfo.processInfo.environment
        let rank = env["OMPI_COMM_WORLD_RANK"] ?? env["PMIX_RANK"] ?? env["PMI_RANK"] ?? "0"
        if let resume, rank == "0", !FileManager.default.fileExists(atPath: resume) {
            throw ValidationError("--resume: no such file '\(resume)'")
        }
    }

    /// Where checkpoints go (nil: none are written).
    func plan(out: String) -> CheckpointPlan? {
        guard checkpointEvery > 0 || stopAfter != nil else { return nil }
        return CheckpointPlan(every: checkpointEvery, stopAfter: stopAfter, url: URL(fileURLWithPath: checkpoint ?? out + ".checkpoint"))
    }
}

/// How often and where checkpoints are written.
struct CheckpointPlan {
    /// Every this many steps (0: only at `stopAfter`).
    var every: Int
    var stopAfter: Int?
    var url: URL
}

/// What a training loop ended with.
struct TrainLoopResult {
    var records: [EpochRecord]
    /// The step `--stop-after` stopped at (nil: training ran to the end).
    var stoppedAt: UInt64?
}

/// Where training starts, the same on every rank: rank 0 builds it (the fresh network, or the
/// checkpoint given to `--resume`, checked by `check`) and broadcasts it; an error on rank 0 is
/// reported by every rank together.
func trainingStart(_ comm: any Communicator, fresh: Network, resume: String?, batchSize: Int, seed: UInt64,
                   check: (TrainingCheckpoint) throws -> Void) throws -> TrainingCheckpoint {
    func build() throws -> TrainingCheckpoint {
        guard let resume else {
            return TrainingCheckpoint(network: fresh, optimizer: .init(stepCount: 0, first: [:], second: [:]),
                                      position: TrainingPosition(epoch: 0, batchesDone: 0, step: 0), batchSize: batchSize, seed: seed)
        }
        let c = try TrainingCheckpoint.read(from: URL(fileURLWithPath: resume))
        try check(c)
        return c
    }
    return try fromRoot(comm, build: build, encode: { try $0.encoded() },
                        decode: { try TrainingCheckpoint.decode($0, source: "(broadcast by rank 0)") })
}

/// What rank 0 `build`s, on every rank (its bytes broadcast); an error on rank 0 is thrown on every
/// rank together (``CollectiveError``), so no rank waits for a value that never comes.
func fromRoot<T>(_ comm: any Communicator, build: () throws -> T, encode: (T) throws -> [UInt8],
                 decode: ([UInt8]) throws -> T) throws -> T {
    if comm.size == 1 {
        do { return try build() } catch { throw CollectiveError(error) }
    }
    var message: [UInt8] = []
    if comm.isRoot {
        do { message = [0] + (try encode(try build())) } catch { message = [1] + Array("\(error)".utf8) }
    }
    comm.broadcast(&message, root: 0)
    guard message.first == 0 else { throw CollectiveError(CLIError(String(decoding: message.dropFirst(), as: UTF8.self))) }
    return try decode(Array(message.dropFirst()))
}

/// A rank's contiguous share of a dataset, samples `range` of `base`. Evaluations that seed
/// samples by their index (the asynchronous engine's random scheduler) use `range.lowerBound + i`.
struct DatasetShard: FrameDataset {
    let base: any FrameDataset
    let range: Range<Int>
    var firstIndex: Int { range.lowerBound }
    var count: Int { range.count }
    var frameShape: [Int] { base.frameShape }
    var timeSteps: Int { base.timeSteps }
    var classCount: Int { base.classCount }
    func label(_ index: Int) -> Int { base.label(range.lowerBound + index) }
    func frames(_ index: Int) throws -> Tensor {
        guard index >= 0 && index < range.count else { throw DataError(.argument, sample: index, "shard sample index \(index) (expected 0..<\(range.count))") }
        return try base.frames(range.lowerBound + index)
    }
}

/// The contiguous part `rank` of `size` takes of `count` items (sizes differ by at most one).
func shardRange(count: Int, rank: Int, size: Int) -> Range<Int> {
    (rank * count / size)..<((rank + 1) * count / size)
}

/// Data-parallel training over `comm`'s ranks (one rank: plain training), with checkpoints.
///
/// Each epoch's batches are those of one `BatchLoader` with the global `batchSize` (the seeded
/// permutation of the epoch); rank r trains on its contiguous share of each batch, and one
/// all-reduce per step (``DataParallelReducer``) gives every rank the whole batch's mean gradient,
/// so every rank applies the same update. Test accuracy per epoch is measured on shares of the test
/// set and summed. Starting from `start` (a checkpoint's position) skips the batches already done.
func dataParallelTrainLoop(trainer: inout Trainer, comm: any Communicator, train: any FrameDataset, test: (any FrameDataset)?,
                           epochs: Int, batchSize: Int, seed: UInt64, start: TrainingPosition, records startRecords: [EpochRecord],
                           checkpoint: CheckpointPlan?, evaluate: (Network, any FrameDataset) throws -> Double) throws -> TrainLoopResult {
    guard batchSize % comm.size == 0 else {
        throw CollectiveError(CLIError("--batch-size \(batchSize) is not a multiple of the \(comm.size) MPI ranks: each rank takes an equal share of every batch (--batch-size is the global batch)"))
    }
    let perRank = batchSize / comm.size
    if comm.size > 1 { trainer.gradientReducer = DataParallelReducer(communicator: comm) }
    trainer.stepIndex = start.step
    var records = startRecords
    for epoch in start.epoch..<epochs {
        trainer.beginEpoch(epoch)
        // Signed rate coding (BNTT): fresh draws and augmentation every epoch.
        let data: any FrameDataset = (train as? SignedRateImages)?.forEpoch(epoch) ?? train
        let batches = BatchLoader(dataset: data, batchSize: batchSize, shuffle: true, seed: seed).batchIndices(epoch: epoch)
        var pos = epoch == start.epoch ? start : TrainingPosition(epoch: epoch, batchesDone: 0, step: trainer.stepIndex)
        let first = min(pos.batchesDone, batches.count)
        let ranges = batches[first...].map { shardRange(count: $0.count, rank: comm.rank, size: comm.size) }
        let shares = zip(batches[first...], ranges).map { b, r in Array(b[r]) }
        // Only the last batch may be smaller than the others, so the local loader's batches line up with the shares.
        let loader = BatchLoader(dataset: SubsetDataset(data, indices: shares.flatMap { $0 }), batchSize: perRank, shuffle: false, seed: 0)
        var iterator = loader.makeIterator()
        var progress = comm.isRoot ? ProgressLine("epoch \(epoch + 1)/\(epochs)", total: train.count) : nil
        let started = Date(), secondsBefore = pos.seconds
        for (k, share) in shares.enumerated() {
            let inputs: Tensor, labels: [Int]
            if share.isEmpty {
                inputs = Tensor(shape: [data.timeSteps, 0] + data.frameShape); labels = []
            } else {
                guard let batch = try iterator.nextBatch() else { throw CLIError("rank \(comm.rank): the training data ended early (batch \(first + k + 1))") }
                inputs = batch.inputs; labels = batch.labels
            }
            if comm.size > 1, var c = trainer.computer as? any BatchShareAware {
                c.placeShare(firstSample: ranges[k].lowerBound, globalBatch: batches[first + k].count)
                trainer.computer = c
            }
            let r = trainer.step(inputs: inputs, labels: labels)
            let n = r.samples ?? labels.count
            pos.batchesDone = first + k + 1
            // The loss and the weights are the same on every rank: all stop together.
            guard r.loss.isFinite else { throw TrainingError(epoch: epoch, batch: pos.batchesDone, problem: "the loss is \(r.loss)") }
            if let bad = trainer.firstNonFiniteWeight() {
                throw TrainingError(epoch: epoch, batch: pos.batchesDone, problem: "layer \(bad.layer) has a non-finite weight (\(bad.value)) after the update")
            }
            pos.samples += n; pos.correct += r.correct; pos.lossSum += Double(r.loss) * Double(n)
            pos.peakTapeBytes = max(pos.peakTapeBytes, r.tapeBytes)
            pos.step = trainer.stepIndex
            pos.seconds = secondsBefore + Date().timeIntervalSince(started)
            progress?.update(pos.samples, "loss \(format(pos.lossSum / Double(max(pos.samples, 1)), 4))  acc \(format(Double(pos.correct) / Double(max(pos.samples, 1)) * 100, 1))%  \(format(Double(pos.samples) / max(pos.seconds, 1e-9), 0)) samples/s")
            let stop = checkpoint?.stopAfter.map { UInt64($0) == trainer.stepIndex } ?? false
            if let checkpoint, stop || (checkpoint.every > 0 && trainer.stepIndex % UInt64(checkpoint.every) == 0) {
                try writeCheckpoint(trainer: trainer, comm: comm, position: pos, records: records, batchSize: batchSize, seed: seed, to: checkpoint.url)
            }
            if stop {
                progress?.finish()
                print("stopped after step \(trainer.stepIndex) (--stop-after): checkpoint written to \(checkpoint!.url.path); continue with --resume \(checkpoint!.url.path)")
                return TrainLoopResult(records: records, stoppedAt: trainer.stepIndex)
            }
        }
        progress?.finish()
        let metrics = EpochMetrics(epoch: epoch, loss: Float(pos.lossSum / Double(max(pos.samples, 1))),
                                   trainAccuracy: Double(pos.correct) / Double(max(pos.samples, 1)), samples: pos.samples,
                                   seconds: pos.seconds, samplesPerSecond: Double(pos.samples) / max(pos.seconds, 1e-9),
                                   learningRate: trainer.optimizer.learningRate, peakTapeBytes: pos.peakTapeBytes)
        let testAccuracy = try test.map { try shardedAccuracy(comm, network: trainer.network, dataset: $0, evaluate: evaluate) }
        records.append(EpochRecord(metrics: metrics, testAccuracy: testAccuracy))
        print("epoch \(epoch + 1)/\(epochs): loss \(format(Double(metrics.loss), 4)), train acc \(format(metrics.trainAccuracy * 100, 1))%"
              + (testAccuracy.map { ", test acc \(format($0 * 100, 1))%" } ?? "")
              + ", \(format(metrics.samplesPerSecond, 0)) samples/s, lr \(metrics.learningRate)")
        if let checkpoint {
            try writeCheckpoint(trainer: trainer, comm: comm, position: TrainingPosition(epoch: epoch + 1, batchesDone: 0, step: trainer.stepIndex),
                                records: records, batchSize: batchSize, seed: seed, to: checkpoint.url)
        }
    }
    if let reducer = trainer.gradientReducer as? DataParallelReducer, comm.isRoot, reducer.reductions > 0 {
        let floats = DataParallelReducer.bufferCount(for: trainer.network)
        print("data parallel: \(comm.size) ranks, \(reducer.reductions) all-reduces of \(floats * 4) bytes, \(format(reducer.reductionSeconds / Double(reducer.reductions) * 1000, 3)) ms each on rank 0 (including waiting for the slowest rank)")
    }
    return TrainLoopResult(records: records, stoppedAt: nil)
}

/// Rank 0 writes the checkpoint (atomically); the other ranks go on.
func writeCheckpoint(trainer: Trainer, comm: any Communicator, position: TrainingPosition, records: [EpochRecord],
                     batchSize: Int, seed: UInt64, to url: URL) throws {
    guard comm.isRoot else { return }
    let json = String(decoding: try JSONEncoder().encode(records), as: UTF8.self)
    try TrainingCheckpoint(network: trainer.network, optimizer: trainer.optimizer.state, position: position, batchSize: batchSize,
                           seed: seed, info: ["records": json]).write(to: url)
}

/// The per-epoch records stored in a checkpoint.
func checkpointRecords(_ c: TrainingCheckpoint) throws -> [EpochRecord] {
    guard let json = c.info["records"] else { return [] }
    return try JSONDecoder().decode([EpochRecord].self, from: Data(json.utf8))
}

/// Accuracy on `dataset` with each rank evaluating its contiguous share; the same on every rank.
func shardedAccuracy(_ comm: any Communicator, network: Network, dataset: any FrameDataset,
                     evaluate: (Network, any FrameDataset) throws -> Double) throws -> Double {
    guard comm.size > 1 else { return try evaluate(network, dataset) }
    let range = shardRange(count: dataset.count, rank: comm.rank, size: comm.size)
    let part = range.isEmpty ? 0 : try evaluate(network, DatasetShard(base: dataset, range: range))
    let sums = comm.allReduceSum([(part * Double(range.count)).rounded(), Double(range.count)])
    return sums[0] / max(sums[1], 1)
}

extension LayeredEvaluation {
    /// Layered evaluation with each rank evaluating its contiguous share of `dataset`; the combined
    /// result on rank 0 (the other ranks get their own share's).
    static func sharded(_ comm: any Communicator, network: Network, dataset: any FrameDataset, batchSize: Int,
                        progressTitle: String? = nil) throws -> LayeredEvaluation {
        guard comm.size > 1 else { return try run(network: network, dataset: dataset, batchSize: batchSize, seed: 0, progressTitle: progressTitle) }
        let range = shardRange(count: dataset.count, rank: comm.rank, size: comm.size)
        let part = range.isEmpty ? LayeredEvaluation()
            : try run(network: network, dataset: DatasetShard(base: dataset, range: range), batchSize: batchSize, seed: 0,
                      progressTitle: comm.isRoot ? progressTitle : nil)
        let parts = try gatherJSON(comm, part)
        guard let parts else { return part }
        return combined(parts)
    }

    /// One evaluation from evaluations of disjoint parts of a dataset (means weighted by samples).
    static func combined(_ parts: [LayeredEvaluation]) -> LayeredEvaluation {
        var out = LayeredEvaluation()
        let nonEmpty = parts.filter { $0.samples > 0 }
        out.samples = parts.reduce(0) { $0 + $1.samples }
        out.correct = parts.reduce(0) { $0 + $1.correct }
        let n = Double(max(out.samples, 1))
        func weighted(_ f: (LayeredEvaluation) -> Double) -> Double { nonEmpty.reduce(0) { $0 + f($1) * Double($1.samples) } / n }
        let layers = nonEmpty.first?.spikesPerSamplePerLayer.count ?? 0
        out.spikesPerSamplePerLayer = (0..<layers).map { k in weighted { $0.spikesPerSamplePerLayer[k] } }
        out.spikeDensityPerLayer = (0..<layers).map { k in weighted { $0.spikeDensityPerLayer[k] } }
        out.spikesPerSample = weighted(\.spikesPerSample)
        out.synapticOperationsPerSample = SynapticOperations(accumulates: weighted(\.synapticOperationsPerSample.accumulates),
                                                             multiplyAccumulates: weighted(\.synapticOperationsPerSample.multiplyAccumulates))
        // The ranks ran at the same time: the slowest one sets the wall time.
        let seconds = nonEmpty.map { Double($0.samples) / max($0.samplesPerSecond, 1e-9) }.max() ?? 0
        out.samplesPerSecond = Double(out.samples) / max(seconds, 1e-9)
        return out
    }
}

/// Asynchronous evaluation with each rank running its contiguous share of `dataset` (samples keep
/// their global index, which seeds their stochastic parts); the combined metrics on rank 0.
func evaluateAsyncSharded(_ comm: any Communicator, network: Network, dataset: any FrameDataset, options: AsyncOptions, batchSize: Int,
                          progressTitle: String? = nil) throws -> (metrics: AsyncMetrics, seconds: Double) {
    try evaluateAsyncSharded(comm, engine: try AsyncEngine(network: network), dataset: dataset, options: options, batchSize: batchSize,
                             progressTitle: progressTitle)
}

/// ``evaluateAsyncSharded(_:network:dataset:options:batchSize:progressTitle:)`` with a compiled engine
/// (a plain network's or an EM-PF model's).
func evaluateAsyncSharded(_ comm: any Communicator, engine: AsyncEngine, dataset: any FrameDataset, options: AsyncOptions, batchSize: Int,
                          progressTitle: String? = nil) throws -> (metrics: AsyncMetrics, seconds: Double) {
    guard comm.size > 1 else {
        let r = try evaluateAsync(engine: engine, dataset: dataset, options: options, batchSize: batchSize, progressTitle: progressTitle)
        return (r.metrics, r.seconds)
    }
    let range = shardRange(count: dataset.count, rank: comm.rank, size: comm.size)
    var part: (metrics: AsyncMetrics, seconds: Double)? = nil
    if !range.isEmpty {
        let r = try evaluateAsync(engine: engine, dataset: DatasetShard(base: dataset, range: range), options: options,
                                  batchSize: batchSize, progressTitle: comm.isRoot ? progressTitle : nil)
        part = (r.metrics, r.seconds)
    }
    struct Part: Codable { var metrics: AsyncMetrics?; var seconds: Double }
    let parts = try gatherJSON(comm, Part(metrics: part?.metrics, seconds: part?.seconds ?? 0))
    guard let parts else { return part ?? (AsyncMetrics(runs: []), 0) }  // ranks other than 0 do not use it
    let metrics = parts.compactMap(\.metrics)
    guard let combined = AsyncMetrics.combined(metrics) else { throw CLIError("no samples to evaluate") }
    return (combined, parts.map(\.seconds).max() ?? 0)
}

extension AsyncMetrics {
    /// One set of metrics from those of disjoint parts of a dataset: counts summed, means weighted by
    /// what they average over (samples, frames, outputs, forward steps).
    static func combined(_ parts: [AsyncMetrics]) -> AsyncMetrics? {
        let parts = parts.filter { $0.samples > 0 }
        guard var out = parts.first else { return nil }
        guard parts.count > 1 else { return out }
        func total(_ f: (AsyncMetrics) -> Int) -> Int { parts.reduce(0) { $0 + f($1) } }
        func mean(_ f: (AsyncMetrics) -> Double, weight: (AsyncMetrics) -> Double) -> Double {
            let w = parts.reduce(0) { $0 + weight($1) }
            return w > 0 ? parts.reduce(0) { $0 + f($1) * weight($1) } / w : 0
        }
        func optionalMean(_ f: (AsyncMetrics) -> Double?, weight: (AsyncMetrics) -> Int) -> Double? {
            let w = parts.reduce(0) { $0 + (f($1) == nil ? 0 : weight($1)) }
            return w > 0 ? parts.reduce(0) { $0 + (f($1) ?? 0) * Double(weight($1)) } / Double(w) : nil
        }
        let samples: (AsyncMetrics) -> Double = { Double($0.samples) }
        let steps: (AsyncMetrics) -> Double = { $0.forwardStepsPerSample * Double($0.samples) }
        out.samples = total(\.samples)
        out.labelled = total(\.labelled)
        out.correct = total(\.correct)
        out.accuracy = out.labelled > 0 ? Double(out.correct) / Double(out.labelled) : 0
        out.spikesPerSample = mean(\.spikesPerSample, weight: samples)
        out.spikesPerSamplePerLayer = out.spikesPerSamplePerLayer.indices.map { k in mean({ $0.spikesPerSamplePerLayer[k] }, weight: samples) }
        out.spikeDensityPerLayer = out.spikeDensityPerLayer.indices.map { k in mean({ $0.spikeDensityPerLayer[k] }, weight: samples) }
        out.spikeDensity = mean(\.spikeDensity, weight: samples)
        out.emittedSpikesPerSample = mean(\.emittedSpikesPerSample, weight: samples)
        out.spikesLeftInQueuePerSample = mean(\.spikesLeftInQueuePerSample, weight: samples)
        out.forwardStepsPerFrame = mean(\.forwardStepsPerFrame, weight: samples)  // every sample has the same frames
        out.forwardStepsPerSample = mean(\.forwardStepsPerSample, weight: samples)
        out.framesStoppedEarlyFraction = mean(\.framesStoppedEarlyFraction, weight: samples)
        out.samplesWithOutput = total(\.samplesWithOutput)
        out.samplesWithCorrectOutput = total(\.samplesWithCorrectOutput)
        out.firstOutputStep = optionalMean(\.firstOutputStep, weight: \.samplesWithOutput)
        out.spikesUntilFirstOutput = optionalMean(\.spikesUntilFirstOutput, weight: \.samplesWithOutput)
        out.firstCorrectOutputStep = optionalMean(\.firstCorrectOutputStep, weight: \.samplesWithCorrectOutput)
        out.spikesUntilFirstCorrectOutput = optionalMean(\.spikesUntilFirstCorrectOutput, weight: \.samplesWithCorrectOutput)
        var hist = [Int](repeating: 0, count: parts.map(\.currentsToSpikeHistogram.count).max() ?? 0)
        for p in parts { for (i, c) in p.currentsToSpikeHistogram.enumerated() { hist[i] += c } }
        out.currentsToSpikeHistogram = hist
        let histTotal = hist.reduce(0, +)
        out.meanCurrentsToSpike = histTotal > 0 ? Double(hist.enumerated().reduce(0) { $0 + $1.offset * $1.element }) / Double(histTotal) : nil
        out.queueLengthMean = mean(\.queueLengthMean, weight: steps)
        out.queueLengthMax = parts.map(\.queueLengthMax).max() ?? 0
        out.synapticOperationsPerSample = SynapticOperations(accumulates: mean(\.synapticOperationsPerSample.accumulates, weight: samples),
                                                             multiplyAccumulates: mean(\.synapticOperationsPerSample.multiplyAccumulates, weight: samples))
        return out
    }
}

/// Every rank's value, in rank order, on rank 0 (JSON over `gather`); nil on the other ranks.
func gatherJSON<T: Codable>(_ comm: any Communicator, _ value: T) throws -> [T]? {
    let bytes = [UInt8](try JSONEncoder().encode(value))
    guard let all = comm.gather(bytes, root: 0) else { return nil }
    return try all.map { try JSONDecoder().decode(T.self, from: Data($0)) }
}
