import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNTensor
import SNNTraining

/// `snn train --method ...`: EM-PF online training and its baselines (docs/ALGORITHMS.md, "EM-PF").
struct EMPFOptions: ParsableArguments {
    @Option(help: "Train an EM-PF/LIF network with this method instead of the layered BPTT of plain networks: empf-online (per-step gradient, memory constant in T), ottt (eligibility traces; LIF), sltt (membrane detached between steps; LIF), bptt (through time, same network). Writes an EM-PF model file (format version 3).")
    var method: String?

    @Option(help: "With --method: the spike: excess (EM-PF, the paper's: s = (u - theta)+), membrane (EM-PF, s = u H(u - theta)), lif (binary spike, atan surrogate). Default: excess, lif for ottt and sltt.")
    var spike: String?

    @Option(help: "With --method: binary weights alpha*sign(W): none, layer (one alpha per layer) or channel (per output channel). Default: channel for EM-PF spikes, none for lif.")
    var binaryWeights: String?

    @Flag(help: "With --method: one learnable decay and threshold per neuron instead of per channel.")
    var perNeuron = false

    @Flag(help: "With --method: keep decay and threshold fixed (--beta, --threshold).")
    var fixedNeurons = false

    @Flag(help: "With an online --method: update the parameters after every time step instead of after the last.")
    var updateEveryStep = false

    @Flag(help: "With --method empf-online or sltt: parallel computation over time steps (synaptic layers run all T steps in one call, populations step through time; same gradient, memory grows with T).")
    var parallelTime = false

    @Flag(help: "With --method: random back-propagation (fixed random feedback matrices instead of transposed weights).")
    var randomFeedback = false

    @Flag(help: "With --method: efficient channel attention after every conv population (1-D conv over channel means gating the channels).")
    var channelAttention = false

    @Option(help: "With --channel-attention: the 1-D kernel size (odd, 1...15).")
    var ecaKernel: Int = 3

    /// Every option of this group (refused without --method).
    static let names = ["--spike", "--binary-weights", "--per-neuron", "--fixed-neurons", "--update-every-step", "--random-feedback",
                        "--channel-attention", "--eca-kernel", "--parallel-time"]

    func validate() throws {
        guard let method else {
            let given = Self.names.filter(givenOptions().contains)
            if !given.isEmpty { throw ValidationError("\(given.joined(separator: ", ")) \(given.count == 1 ? "needs" : "need") --method (\(OnlineMethod.names))") }
            return
        }
        guard let m = OnlineMethod(rawValue: method) else {
            throw ValidationError("unknown --method '\(method)' (\(OnlineMethod.names))")
        }
        let kind = try spikeKind(for: m)
        if (m == .ottt || m == .sltt) && kind.isGraded {
            throw ValidationError("--method \(method) trains plain LIF networks: use --spike lif (or leave --spike out)")
        }
        _ = try binary(for: kind)
        if updateEveryStep && !m.isOnline { throw ValidationError("--update-every-step applies to the online methods (empf-online, ottt, sltt), not bptt") }
        if parallelTime && !(m == .empfOnline || m == .sltt) { throw ValidationError("--parallel-time applies to --method empf-online and sltt, not \(method)") }
        if parallelTime && updateEveryStep { throw ValidationError("--parallel-time computes all steps at once: it cannot update after every step (--update-every-step)") }
        guard ecaKernel > 0, ecaKernel <= 15, ecaKernel % 2 == 1 else { throw ValidationError("--eca-kernel must be odd, 1 to 15, got \(ecaKernel)") }
    }

    func spikeKind(for m: OnlineMethod) throws -> SpikeKind {
        switch spike ?? ((m == .ottt || m == .sltt) ? "lif" : "excess") {
        case "excess": return .excess
        case "membrane": return .membrane
        case "lif": return .lif(.default)
        default: throw ValidationError("--spike must be excess, membrane or lif, got '\(spike ?? "")'")
        }
    }

    func binary(for kind: SpikeKind) throws -> BinaryWeights {
        guard let binaryWeights else { return kind.isGraded ? .perChannel : .none }
        guard let b = BinaryWeights(rawValue: binaryWeights) else {
            throw ValidationError("--binary-weights must be none, layer or channel, got '\(binaryWeights)'")
        }
        return b
    }
}

/// One training run of an EM-PF/LIF network.
struct EMPFRun {
    struct Record: Codable {
        var method: String
        var spike: String
        var steps: Int
        var testAccuracy: Double
        var trainAccuracy: Double
        var peakTrainingBytes: Int
        var secondsPerEpoch: Double
        var accumulatesPerSample: Double
        var multiplyAccumulatesPerSample: Double
        var epochs: [[String: Double]]
        /// `--stop-after`: the step training stopped at (a checkpoint, no model).
        var stoppedAtStep: UInt64? = nil
    }

    /// The EM-PF form of a dataset's default architecture: membrane BN on the hidden populations, a read-out last layer.
    static func defaultArchitecture(_ plain: String) -> String {
        if !plain.contains(","), !plain.contains("=") {
            let sizes = plain.split(separator: "-").map(String.init)
            return "input=\(sizes[0])," + sizes.dropFirst().dropLast().map { "fc\($0):bn" }.joined(separator: ",") + ",fc\(sizes.last!):readout"
        }
        var items = plain.split(separator: ",").map(String.init)
        for k in 1..<items.count where items[k].hasPrefix("conv") || items[k].hasPrefix("fc") { items[k] += k == items.count - 1 ? ":readout" : ":bn" }
        return items.joined(separator: ",")
    }

    /// Trains, evaluates after every epoch, and returns the model and the record.
    ///
    /// Over `comm`'s ranks (``Cluster``), each epoch's batches are those of one seeded permutation with
    /// the global `batchSize`; rank r trains on its contiguous share of each batch and the trainer
    /// averages gradients over ranks before every update (``OnlineTrainer/communicator``), so every
    /// rank holds the same model. Test accuracy is measured on shares of the test set and summed.
    /// `resume` continues a checkpoint (the same on every rank: ``onlineTrainingStart``); `checkpoint`
    /// writes them (rank 0); with its `stopAfter` reached the record's ``Record/stoppedAtStep`` is set.
    static func train(spec: EMPFSpec, method: OnlineMethod, options: OnlineTrainingOptions, optimizer: Optimizer, train: any FrameDataset,
                      test: any FrameDataset, epochs: Int, batchSize: Int, seed: UInt64, quiet: Bool = false,
                      comm: any Communicator = SingleProcessCommunicator(), resume: OnlineTrainingCheckpoint? = nil,
                      checkpoint: CheckpointPlan? = nil) throws -> (EMPFModel, Record) {
        guard batchSize % comm.size == 0 else {
            throw CollectiveError(CLIError("--batch-size \(batchSize) is not a multiple of the \(comm.size) MPI ranks: each rank takes an equal share of every batch (--batch-size is the global batch)"))
        }
        let perRank = batchSize / comm.size
        var trainer = try OnlineTrainer(model: try resume?.model ?? EMPFModel(spec: spec, seed: seed), optimizer: optimizer, options: options)
        if let resume {
            trainer.optimizer.restore(resume.optimizer)
            trainer.stepIndex = resume.position.step
        }
        if comm.size > 1 { trainer.communicator = comm }
        var history: [[String: Double]] = try resume.flatMap { c in
            try c.info["records"].map { try JSONDecoder().decode([[String: Double]].self, from: Data($0.utf8)) }
        } ?? []
        var trainAcc = history.last?["trainAccuracy"] ?? 0, testAcc = history.last?["testAccuracy"] ?? 0
        var peak = Int(history.map { $0["peakBytes"] ?? 0 }.max() ?? 0)
        var ops = SynapticOperations()
        let meter = ByteMeter()
        var stoppedAt: UInt64? = nil
        let first = resume?.position ?? TrainingPosition(epoch: 0, batchesDone: 0, step: 0)
        epochs: for epoch in first.epoch..<epochs {
            var pos = epoch == first.epoch ? first : TrainingPosition(epoch: epoch, batchesDone: 0, step: trainer.stepIndex)
            var progress = quiet || !comm.isRoot ? nil : ProgressLine("\(method.rawValue) T=\(train.timeSteps) epoch \(epoch + 1)/\(epochs)", total: train.count)
            peak = max(peak, pos.peakTapeBytes)
            let start = Date(), secondsBefore = pos.seconds
            let batches = BatchLoader(dataset: train, batchSize: batchSize, shuffle: true, seed: seed).batchIndices(epoch: epoch)
            let done = min(pos.batchesDone, batches.count)
            let ranges = batches[done...].map { shardRange(count: $0.count, rank: comm.rank, size: comm.size) }
            let shares = zip(batches[done...], ranges).map { b, r in Array(b[r]) }
            // Only the last batch may be smaller than the others, so the local loader's batches line up with the shares.
            var iterator = BatchLoader(dataset: SubsetDataset(train, indices: shares.flatMap { $0 }), batchSize: perRank, shuffle: false, seed: 0)
                .makeIterator()
            for (k, share) in shares.enumerated() {
                let inputs: Tensor, labels: [Int]
                if share.isEmpty {
                    inputs = Tensor(shape: [train.timeSteps, 0] + train.frameShape); labels = []
                } else {
                    guard let batch = try iterator.nextBatch() else { throw CLIError("rank \(comm.rank): the training data ended early (batch \(done + k + 1))") }
                    inputs = batch.inputs; labels = batch.labels
                }
                trainer.firstSample = ranges[k].lowerBound
                let r: OnlineBatchResult
                do { r = try trainer.trainBatch(inputs: inputs, labels: labels, meter: meter) } catch let e as TrainingError {
                    // Every rank computes the same global loss and gradients: all stop here together.
                    throw CollectiveError(CLIError("\(method.rawValue): epoch \(epoch + 1): \(e.problem); stopped, no model written (try a lower --lr, or --clip)"))
                }
                pos.batchesDone = done + k + 1
                pos.step = trainer.stepIndex
                pos.peakTapeBytes = max(pos.peakTapeBytes, r.peakBytes)
                pos.samples += r.samples; pos.correct += r.correct; pos.lossSum += Double(r.loss) * Double(r.samples)
                pos.seconds = secondsBefore + Date().timeIntervalSince(start)
                progress?.update(pos.samples, "loss \(format(pos.lossSum / Double(max(pos.samples, 1)), 4))  acc \(format(Double(pos.correct) / Double(max(pos.samples, 1)) * 100, 1))%")
                let stop = checkpoint?.stopAfter.map { UInt64($0) == trainer.stepIndex } ?? false
                if let checkpoint, stop || (checkpoint.every > 0 && trainer.stepIndex % UInt64(checkpoint.every) == 0) {
                    try writeCheckpoint(trainer, comm: comm, position: pos, history: history, batchSize: batchSize, seed: seed, to: checkpoint.url)
                }
                if stop {
                    progress?.finish()
                    if !quiet { print("stopped after step \(trainer.stepIndex) (--stop-after): checkpoint written to \(checkpoint!.url.path); continue with --resume \(checkpoint!.url.path)") }
                    stoppedAt = trainer.stepIndex
                    break epochs
                }
            }
            progress?.finish()
            peak = max(peak, pos.peakTapeBytes)
            trainAcc = Double(pos.correct) / Double(max(pos.samples, 1))
            (testAcc, ops) = try evaluate(trainer.model, test, batchSize: 128, comm: comm)
            let loss = pos.lossSum / Double(max(pos.samples, 1))
            history.append(["epoch": Double(epoch + 1), "loss": loss, "trainAccuracy": trainAcc, "testAccuracy": testAcc,
                            "seconds": pos.seconds, "peakBytes": Double(pos.peakTapeBytes)])
            if !quiet {
                print("\(method.rawValue) epoch \(epoch + 1)/\(epochs): loss \(format(loss, 4)), train acc \(format(trainAcc * 100, 1))%, test acc \(format(testAcc * 100, 2))%, peak training memory \(format(Double(pos.peakTapeBytes) / 1_048_576, 2)) MiB\(comm.size > 1 ? " per rank" : ""), \(format(Double(pos.samples) / max(pos.seconds, 1e-9), 0)) samples/s")
            }
            if let checkpoint {
                try writeCheckpoint(trainer, comm: comm, position: TrainingPosition(epoch: epoch + 1, batchesDone: 0, step: trainer.stepIndex),
                                    history: history, batchSize: batchSize, seed: seed, to: checkpoint.url)
            }
        }
        if comm.size > 1, trainer.reductions > 0, !quiet {
            print("data parallel: \(comm.size) ranks, \(trainer.reductions) all-reduces of up to \(trainer.reductionCount(steps: train.timeSteps) * 4) bytes, \(format(trainer.reductionSeconds / Double(trainer.reductions) * 1000, 3)) ms each on rank 0 (including waiting for the slowest rank)")
        }
        let seconds = history.reduce(0) { $0 + ($1["seconds"] ?? 0) }
        var record = Record(method: method.rawValue, spike: spec.layers.compactMap { if case .neuron(let n) = $0 { return n.kind.name } else { return nil } }.first ?? "-",
                            steps: train.timeSteps, testAccuracy: testAcc, trainAccuracy: trainAcc, peakTrainingBytes: peak,
                            secondsPerEpoch: seconds / Double(max(history.count, 1)), accumulatesPerSample: ops.accumulates,
                            multiplyAccumulatesPerSample: ops.multiplyAccumulates, epochs: history)
        record.stoppedAtStep = stoppedAt
        return (trainer.model, record)
    }

    /// Rank 0 writes an online-training checkpoint (atomically); the other ranks go on.
    static func writeCheckpoint(_ trainer: OnlineTrainer, comm: any Communicator, position: TrainingPosition, history: [[String: Double]],
                                batchSize: Int, seed: UInt64, to url: URL) throws {
        guard comm.isRoot else { return }
        let json = String(decoding: try JSONEncoder().encode(history), as: UTF8.self)
        try OnlineTrainingCheckpoint(model: trainer.model, optimizer: trainer.optimizer.state, position: position, batchSize: batchSize,
                                     seed: seed, method: trainer.options.method.rawValue, info: ["records": json]).write(to: url)
    }

    /// Where `--method` training starts, the same on every rank: rank 0 reads and checks `--resume`'s
    /// checkpoint (nil: a fresh model) and broadcasts it; an error on rank 0 is reported by every rank together.
    static func onlineTrainingStart(_ comm: any Communicator, resume: String?, check: (OnlineTrainingCheckpoint) throws -> Void) throws -> OnlineTrainingCheckpoint? {
        guard let resume else { return nil }
        func build() throws -> OnlineTrainingCheckpoint {
            let c = try OnlineTrainingCheckpoint.read(from: URL(fileURLWithPath: resume))
            try check(c)
            return c
        }
        return try fromRoot(comm, build: build, encode: { try $0.encoded() },
                            decode: { try OnlineTrainingCheckpoint.decode($0, source: "(broadcast by rank 0)") })
    }

    /// Test accuracy and synaptic operations per sample (binary linear layers on the additions-only
    /// kernel); over several ranks each evaluates its contiguous share and the sums are combined.
    static func evaluate(_ model: EMPFModel, _ test: any FrameDataset, batchSize: Int,
                         comm: any Communicator = SingleProcessCommunicator()) throws -> (Double, SynapticOperations) {
        let range = shardRange(count: test.count, rank: comm.rank, size: comm.size)
        let part: any FrameDataset = comm.size > 1 ? DatasetShard(base: test, range: range) : test
        var correct = 0, seen = 0
        var ops = SynapticOperations()
        if part.count > 0 {
            let loader = BatchLoader(dataset: part, batchSize: batchSize, shuffle: false, seed: 0)
            try loader.forEachBatch(epoch: 0) { batch in
                let r = try EMPFEvaluation.run(model, inputs: batch.inputs)
                let p = EMPFEvaluation.predictions(r.outputs)
                correct += zip(p, batch.labels).filter { $0 == $1 }.count
                let n = Double(batch.labels.count)
                ops.accumulates += r.operations.accumulates * n; ops.multiplyAccumulates += r.operations.multiplyAccumulates * n
                seen += batch.labels.count
            }
            if let e = loader.lastError { throw e }
        }
        if comm.size > 1 {
            let sums = comm.allReduceSum([Double(correct), Double(seen), ops.accumulates, ops.multiplyAccumulates])
            correct = Int(sums[0]); seen = Int(sums[1]); ops = SynapticOperations(accumulates: sums[2], multiplyAccumulates: sums[3])
        }
        ops.accumulates /= Double(max(seen, 1)); ops.multiplyAccumulates /= Double(max(seen, 1))
        return (Double(correct) / Double(max(seen, 1)), ops)
    }

    /// `snn train --method ...`.
    static func runTrain(_ options: EMPFOptions, data: DatasetOptions, net: NetworkOptions, training: TrainingOptions, out: String, metrics: String?,
                         report: String? = nil, checkpoints: CheckpointOptions, comm: any Communicator = SingleProcessCommunicator()) throws {
        let started = Date()
        let method = OnlineMethod(rawValue: options.method!)!
        let kind = try options.spikeKind(for: method)
        let config = try training.configuration(seed: data.seed)
        let loaded = try data.load()
        print(loaded.description)
        let arch = net.arch ?? defaultArchitecture(data.defaultArchitecture(for: loaded))
        let neuron = EMPFNeuronSpec(kind: kind, decay: net.beta ?? 0.5, threshold: net.threshold, perChannel: !options.perNeuron,
                                    learnable: !options.fixedNeurons && kind.isGraded, membraneNorm: false)
        let spec: EMPFSpec
        do {
            spec = try EMPFSpec.parse(arch, neuron: neuron, binaryWeights: try options.binary(for: kind),
                                      attentionKernel: options.channelAttention ? options.ecaKernel : nil)
        } catch let e as ShapeError { throw ValidationError("--arch '\(arch)': \(e.description)") }
        let shapes = try spec.shapes()
        if options.channelAttention, !spec.layers.contains(where: { if case .channelAttention = $0 { return true } else { return false } }) {
            throw ValidationError("--channel-attention gates the channels of conv populations, and --arch '\(arch)' has none")
        }
        guard spec.inputShape.reduce(1, *) == loaded.train.frameShape.reduce(1, *) else {
            throw ValidationError("--arch '\(arch)' takes inputs of \(spec.inputShape), but \(data.dataset) frames are \(loaded.train.frameShape)")
        }
        guard shapes.last!.reduce(1, *) == loaded.train.classCount else {
            throw ValidationError("--arch '\(arch)' has \(shapes.last!.reduce(1, *)) outputs, but \(data.dataset) has \(loaded.train.classCount) classes")
        }
        print("network: \(spec.layers.map(\.shortName).joined(separator: " | ")), weights: \(spec.binaryWeights.rawValue)")
        let optimizer = Optimizer(config.optimizer, learningRate: config.learningRate)
        let resume = try onlineTrainingStart(comm, resume: checkpoints.resume) { c in
            let path = checkpoints.resume ?? ""
            guard c.method == method.rawValue else {
                throw CLIError("--resume: checkpoint \(path) was trained with --method \(c.method), not \(method.rawValue)")
            }
            guard c.model.spec == spec else {
                throw CLIError("--resume: checkpoint \(path) is of another network (\(c.model.spec.layers.map(\.shortName).joined(separator: " | ")), weights \(c.model.spec.binaryWeights.rawValue)) than the options give (\(spec.layers.map(\.shortName).joined(separator: " | ")), weights \(spec.binaryWeights.rawValue)): use the --arch, dataset and neuron options it was trained with")
            }
            guard c.batchSize == training.batchSize else {
                throw CLIError("--resume: checkpoint \(path) was trained with --batch-size \(c.batchSize), not \(training.batchSize): the batches (and so the model) would differ; give --batch-size \(c.batchSize) (the global batch, any number of ranks)")
            }
            guard c.seed == data.seed else { throw CLIError("--resume: checkpoint \(path) was trained with --seed \(c.seed), not \(data.seed): give --seed \(c.seed)") }
            if let stop = checkpoints.stopAfter, UInt64(stop) <= c.position.step {
                throw CLIError("--stop-after \(stop) is not after checkpoint \(path)'s step \(c.position.step) (--stop-after counts every step of the run)")
            }
            guard c.position.epoch < config.epochs else {
                throw CLIError("--resume: checkpoint \(path) has already finished \(c.position.epoch) epochs; --epochs \(config.epochs) is the total, so raise it to continue")
            }
        }
        if let resume, let path = checkpoints.resume {
            print("resuming from \(path): epoch \(resume.position.epoch + 1), \(resume.position.batchesDone) batches done, step \(resume.position.step)")
        }
        let (model, record) = try train(spec: spec, method: method,
                                        options: OnlineTrainingOptions(method: method, updateEveryStep: options.updateEveryStep,
                                                                       randomFeedback: options.randomFeedback, clip: training.clip, seed: data.seed,
                                                                       parallelTime: options.parallelTime),
                                        optimizer: optimizer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                        batchSize: training.batchSize, seed: data.seed, comm: comm, resume: resume,
                                        checkpoint: checkpoints.plan(out: out))
        if record.stoppedAtStep != nil { return }  // --stop-after: the checkpoint is written, no model
        print("test accuracy \(format(record.testAccuracy * 100, 2))%; peak training memory \(format(Double(record.peakTrainingBytes) / 1_048_576, 2)) MiB; \(format(record.accumulatesPerSample, 0)) accumulates + \(format(record.multiplyAccumulatesPerSample, 0)) multiply-accumulates per sample")
        guard comm.isRoot else { return }  // rank 0 writes the model and the metrics
        var metadata = datasetMetadata(data, loaded: loaded)
        metadata["trainedWith"] = method.rawValue
        metadata["seed"] = String(data.seed)
        metadata["testAccuracy"] = String(record.testAccuracy)
        try EMPFModelFile.write(model, metadata: metadata, to: URL(fileURLWithPath: out))
        print("EM-PF model written to \(out) (format version 3)")
        if let metrics { try writeJSON(record, to: metrics); print("metrics written to \(metrics)") }
        if let report {
            let content = EMPFTrainReport(datasetDescription: loaded.description, architecture: spec.layers.map(\.shortName).joined(separator: " | "),
                                          settings: "\(method.rawValue), weights \(spec.binaryWeights.rawValue), \(training.optimizer) lr \(config.learningRate), batch \(training.batchSize), \(config.epochs) epochs" + (comm.size > 1 ? ", \(comm.size) MPI ranks" : ""),
                                          record: record, seed: data.seed)
            try writeReportFolder(try content.build(model: model, test: loaded.test, started: started), to: URL(fileURLWithPath: report))
        }
    }
}
