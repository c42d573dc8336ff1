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
    static func train(spec: EMPFSpec, method: OnlineMethod, options: OnlineTrainingOptions, optimizer: Optimizer, train: any FrameDataset,
                      test: any FrameDataset, epochs: Int, batchSize: Int, seed: UInt64, quiet: Bool = false) throws -> (EMPFModel, Record) {
        let model = try EMPFModel(spec: spec, seed: seed)
        var trainer = try OnlineTrainer(model: model, optimizer: optimizer, options: options)
        let loader = BatchLoader(dataset: train, batchSize: batchSize, shuffle: true, seed: seed)
        var peak = 0
        var seconds = 0.0
        var history: [[String: Double]] = []
        var trainAcc = 0.0, testAcc = 0.0
        var ops = SynapticOperations()
        let meter = ByteMeter()
        for epoch in 0..<epochs {
            var progress = ProgressLine("\(method.rawValue) T=\(train.timeSteps) epoch \(epoch + 1)/\(epochs)", total: train.count)
            var seen = 0, correct = 0
            var lossSum = 0.0
            let start = Date()
            try loader.forEachBatch(epoch: epoch) { batch in
                let r: OnlineBatchResult
                do { r = try trainer.trainBatch(inputs: batch.inputs, labels: batch.labels, meter: meter) } catch let e as TrainingError {
                    throw CLIError("\(method.rawValue): epoch \(epoch + 1): \(e.problem); stopped (try a lower --lr, or --clip)")
                }
                peak = max(peak, r.peakBytes)
                seen += batch.labels.count; correct += r.correct; lossSum += Double(r.loss) * Double(batch.labels.count)
                if !quiet { progress.update(seen, "loss \(format(lossSum / Double(seen), 4))  acc \(format(Double(correct) / Double(seen) * 100, 1))%") }
            }
            if let e = loader.lastError { throw e }
            seconds += Date().timeIntervalSince(start)
            progress.finish()
            trainAcc = Double(correct) / Double(max(seen, 1))
            (testAcc, ops) = try evaluate(trainer.model, test, batchSize: 128)
            history.append(["epoch": Double(epoch + 1), "loss": lossSum / Double(max(seen, 1)), "trainAccuracy": trainAcc, "testAccuracy": testAcc])
            if !quiet {
                print("\(method.rawValue) epoch \(epoch + 1)/\(epochs): loss \(format(lossSum / Double(max(seen, 1)), 4)), train acc \(format(trainAcc * 100, 1))%, test acc \(format(testAcc * 100, 2))%, peak training memory \(format(Double(peak) / 1_048_576, 2)) MiB")
            }
        }
        let record = Record(method: method.rawValue, spike: spec.layers.compactMap { if case .neuron(let n) = $0 { return n.kind.name } else { return nil } }.first ?? "-",
                            steps: train.timeSteps, testAccuracy: testAcc, trainAccuracy: trainAcc, peakTrainingBytes: peak,
                            secondsPerEpoch: seconds / Double(max(epochs, 1)), accumulatesPerSample: ops.accumulates,
                            multiplyAccumulatesPerSample: ops.multiplyAccumulates, epochs: history)
        return (trainer.model, record)
    }

    /// Test accuracy and synaptic operations per sample (binary linear layers on the additions-only kernel).
    static func evaluate(_ model: EMPFModel, _ test: any FrameDataset, batchSize: Int) throws -> (Double, SynapticOperations) {
        let loader = BatchLoader(dataset: test, batchSize: batchSize, shuffle: false, seed: 0)
        var correct = 0, seen = 0
        var ops = SynapticOperations()
        try loader.forEachBatch(epoch: 0) { batch in
            let r = try EMPFEvaluation.run(model, inputs: batch.inputs)
            let p = EMPFEvaluation.predictions(r.outputs)
            correct += zip(p, batch.labels).filter { $0 == $1 }.count
            let n = Double(batch.labels.count)
            ops.accumulates += r.operations.accumulates * n; ops.multiplyAccumulates += r.operations.multiplyAccumulates * n
            seen += batch.labels.count
        }
        if let e = loader.lastError { throw e }
        ops.accumulates /= Double(max(seen, 1)); ops.multiplyAccumulates /= Double(max(seen, 1))
        return (Double(correct) / Double(max(seen, 1)), ops)
    }

    /// `snn train --method ...`.
    static func runTrain(_ options: EMPFOptions, data: DatasetOptions, net: NetworkOptions, training: TrainingOptions, out: String, metrics: String?) throws {
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
        let (model, record) = try train(spec: spec, method: method,
                                        options: OnlineTrainingOptions(method: method, updateEveryStep: options.updateEveryStep,
                                                                       randomFeedback: options.randomFeedback, clip: training.clip, seed: data.seed,
                                                                       parallelTime: options.parallelTime),
                                        optimizer: optimizer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                        batchSize: training.batchSize, seed: data.seed)
        print("test accuracy \(format(record.testAccuracy * 100, 2))%; peak training memory \(format(Double(record.peakTrainingBytes) / 1_048_576, 2)) MiB; \(format(record.accumulatesPerSample, 0)) accumulates + \(format(record.multiplyAccumulatesPerSample, 0)) multiply-accumulates per sample")
        var metadata = datasetMetadata(data, loaded: loaded)
        metadata["trainedWith"] = method.rawValue
        metadata["seed"] = String(data.seed)
        metadata["testAccuracy"] = String(record.testAccuracy)
        try EMPFModelFile.write(model, metadata: metadata, to: URL(fileURLWithPath: out))
        print("EM-PF model written to \(out) (format version 3)")
        if let metrics { try writeJSON(record, to: metrics); print("metrics written to \(metrics)") }
    }
}
