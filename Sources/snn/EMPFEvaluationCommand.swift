import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNTensor
import SNNTraining

/// The step-by-step (layered) evaluation of an EM-PF model over a dataset.
struct EMPFLayeredEvaluation: Codable {
    var samples: Int
    var correct: Int
    var accuracy: Double
    /// Time steps per sample: every population is evaluated once per step.
    var steps: Int
    var spikesPerSample: Double
    var spikesPerSamplePerLayer: [Double]
    /// The values of the spikes each population fired, summed per sample (mean over samples).
    var spikeValuePerSamplePerLayer: [Double]
    /// Accumulates (binary spikes, or any spike into binary weights) and multiply-accumulates.
    var synapticOperationsPerSample: SynapticOperations
    /// Whether every layer summed in event order (``SNNTraining/EMPFStepper/exactEventOrder``), the
    /// bit-exact reference of the asynchronous engine at F = infinity; otherwise the fast kernels.
    var exactEventOrder: Bool

    static func run(_ model: EMPFModel, dataset: any FrameDataset, batchSize: Int, exactEventOrder: Bool,
                    progressTitle: String? = nil) throws -> EMPFLayeredEvaluation {
        let loader = BatchLoader(dataset: dataset, batchSize: batchSize, shuffle: false, seed: 0)
        var correct = 0, seen = 0
        var ops = SynapticOperations()
        var spikes: [Int] = []
        var values: [Double] = []
        var progress = progressTitle.map { ProgressLine($0, total: dataset.count) }
        try loader.forEachBatch(epoch: 0) { batch in
            let r = try EMPFEvaluation.run(model, inputs: batch.inputs, exactEventOrder: exactEventOrder)
            correct += zip(EMPFEvaluation.predictions(r.outputs), batch.labels).filter { $0 == $1 }.count
            let n = Double(batch.labels.count)
            ops.accumulates += r.operations.accumulates * n; ops.multiplyAccumulates += r.operations.multiplyAccumulates * n
            spikes = spikes.isEmpty ? r.spikes : zip(spikes, r.spikes).map { $0 + $1 }
            values = values.isEmpty ? r.values : zip(values, r.values).map { $0 + $1 }
            seen += batch.labels.count
            progress?.update(seen, "")
        }
        if let e = loader.lastError { throw e }
        progress?.finish()
        let n = Double(max(seen, 1))
        ops.accumulates /= n; ops.multiplyAccumulates /= n
        let perLayer = spikes.map { Double($0) / n }
        return EMPFLayeredEvaluation(samples: seen, correct: correct, accuracy: Double(correct) / n, steps: dataset.timeSteps,
                                     spikesPerSample: perLayer.reduce(0, +), spikesPerSamplePerLayer: perLayer,
                                     spikeValuePerSamplePerLayer: values.map { $0 / n },
                                     synapticOperationsPerSample: ops, exactEventOrder: exactEventOrder)
    }

    /// ``run(_:dataset:batchSize:exactEventOrder:progressTitle:)`` with each rank on its contiguous share of
    /// `dataset`; the combined evaluation on rank 0, nil on the other ranks.
    static func sharded(_ comm: any Communicator, _ model: EMPFModel, dataset: any FrameDataset, batchSize: Int,
                        exactEventOrder: Bool, progressTitle: String? = nil) throws -> EMPFLayeredEvaluation? {
        guard comm.size > 1 else {
            return try run(model, dataset: dataset, batchSize: batchSize, exactEventOrder: exactEventOrder, progressTitle: progressTitle)
        }
        let range = shardRange(count: dataset.count, rank: comm.rank, size: comm.size)
        let part = range.isEmpty ? nil : try run(model, dataset: DatasetShard(base: dataset, range: range), batchSize: batchSize,
                                                  exactEventOrder: exactEventOrder, progressTitle: comm.isRoot ? progressTitle : nil)
        guard let parts = try gatherJSON(comm, part)?.compactMap({ $0 }), var out = parts.first else { return nil }
        // Counts summed; per-sample means weighted by each part's samples.
        out.samples = parts.reduce(0) { $0 + $1.samples }
        out.correct = parts.reduce(0) { $0 + $1.correct }
        let n = Double(max(out.samples, 1))
        out.accuracy = Double(out.correct) / n
        func mean(_ f: (EMPFLayeredEvaluation) -> Double) -> Double { parts.reduce(0) { $0 + f($1) * Double($1.samples) } / n }
        out.spikesPerSamplePerLayer = out.spikesPerSamplePerLayer.indices.map { k in mean { $0.spikesPerSamplePerLayer[k] } }
        out.spikeValuePerSamplePerLayer = out.spikeValuePerSamplePerLayer.indices.map { k in mean { $0.spikeValuePerSamplePerLayer[k] } }
        out.spikesPerSample = out.spikesPerSamplePerLayer.reduce(0, +)
        out.synapticOperationsPerSample = SynapticOperations(accumulates: mean(\.synapticOperationsPerSample.accumulates),
                                                             multiplyAccumulates: mean(\.synapticOperationsPerSample.multiplyAccumulates))
        return out
    }

    func print() {
        Swift.print("layered (EM-PF, step by step\(exactEventOrder ? ", exact event order" : "")): accuracy \(format(accuracy * 100, 2))% (\(correct)/\(samples)), \(format(spikesPerSample, 1)) spikes/sample")
        Swift.print("  spikes/sample per layer: " + spikesPerSamplePerLayer.map { format($0, 1) }.joined(separator: ", "))
        Swift.print("  spike value/sample per layer: " + spikeValuePerSamplePerLayer.map { format($0, 1) }.joined(separator: ", "))
        Swift.print("  synaptic ops/sample: \(format(synapticOperationsPerSample.accumulates, 0)) AC + \(format(synapticOperationsPerSample.multiplyAccumulates, 0)) MAC")
        Swift.print("  latency: \(steps) steps, every population evaluated once per step")
    }
}

extension EMPFModel {
    /// The spike kinds of the populations, input side first.
    var spikeKinds: [SpikeKind] { spec.layers.compactMap { if case .neuron(let n) = $0 { return n.kind } else { return nil } } }
}

extension EvalCommand {
    /// `snn eval` on an EM-PF model (format version 3): `--mode layered` (step by step) or `--mode async`.
    func evaluateEMPF(_ comm: any Communicator) throws {
        let given = givenOptions()
        let plainOnly = ["--early-exit", "--exit-rule", "--exit-tolerance", "--gamma-plot"].filter(given.contains)
        guard plainOnly.isEmpty else {
            throw ValidationError("\(plainOnly.joined(separator: ", ")) \(plainOnly.count == 1 ? "applies" : "apply") to plain models with BNTT layers; \(model) is an EM-PF model (format version 3)")
        }
        let (empf, metadata) = try EMPFModelFile.read(from: URL(fileURLWithPath: model))
        if mode == "async" {
            try AsyncCompatibility.check(empf.spec, stopRule: try AsyncModeOptions.parseStopRule(async.stop))
            if async.dropNegativePending {
                throw ValidationError("--drop-negative-pending reproduces the reference LIF implementation; it does not apply to EM-PF models (a pending current's effect depends on the neuron's scale and norm, not its sign)")
            }
            if async.refractoryDropout > 0, !empf.spikeKinds.contains(where: { !$0.isGraded }) {
                throw ValidationError("--refractory-dropout: graded EM-PF neurons have no refractory period (only LIF-kind populations, --spike lif, have one); leave it out for \(model)")
            }
        }
        let (data, adopted) = try datasetOptions(self.data, matching: metadata, model: model, givenOptions: given, allowMismatch: allowMismatch)
        try data.checkValues()
        if !adopted.isEmpty { print("from the model: \(adopted.joined(separator: " "))") }
        let loaded = try split.map { try data.load(split: $0) } ?? data.load()
        print(loaded.description)
        if !allowMismatch { try checkRecorded(metadata, model: model, against: loaded.test) }
        let shapes = try empf.spec.shapes()
        guard shapes[0].reduce(1, *) == loaded.test.frameShape.reduce(1, *) else {
            throw CLIError("model \(model) takes inputs of \(shapes[0]), but the dataset's frames are \(loaded.test.frameShape)")
        }
        guard shapes.last!.reduce(1, *) == loaded.test.classCount else {
            throw CLIError("model \(model) has \(shapes.last!.reduce(1, *)) outputs, but the dataset has \(loaded.test.classCount) classes")
        }
        print("EM-PF model: \(empf.spec.layers.map(\.shortName).joined(separator: " | ")), weights: \(empf.spec.binaryWeights.rawValue)")
        switch mode {
        case "layered":
            // Over MPI each rank evaluates its share of the test set; rank 0 prints the combination.
            guard let r = try EMPFLayeredEvaluation.sharded(comm, empf, dataset: loaded.test, batchSize: batchSize,
                                                            exactEventOrder: exactOrder, progressTitle: "eval") else { return }
            r.print()
            if let json { try writeJSON(r, to: json); print("written \(json)") }
        default:
            let engine = try AsyncEngine(empf: empf)
            let all = try evaluateAsyncPerF(comm, engine: engine, dataset: loaded.test, async: async, seed: data.seed,
                                            batchSize: batchSize, trace: trace)
            if let json, comm.isRoot { try writeJSON(all, to: json); print("written \(json)") }
        }
    }
}

/// `snn info` on an EM-PF model file.
func describeEMPFModel(_ path: String) throws {
    let (model, metadata) = try EMPFModelFile.read(from: URL(fileURLWithPath: path))
    let shapes = try model.spec.shapes()
    print("model \(path) (format version \(EMPFModelFile.version): EM-PF network)")
    print("input \(model.spec.inputShape)")
    for (i, layer) in model.spec.layers.enumerated() {
        let count = model.parameters[i].reduce(0) { $0 + $1.count }
        var note = count > 0 ? "  (\(count) parameters)" : ""
        if model.isBinary(i) { note += ", binary weights per \(model.spec.binaryWeights == .perChannel ? "output channel" : "layer")" }
        if case .neuron(let n) = layer {
            let mean = { (t: Tensor) in t.data.reduce(0, +) / Float(max(t.count, 1)) }
            note += (n.perChannel ? ", per channel" : ", per neuron") + String(format: ": decay mean %.3f, threshold mean %.3f",
                                                                                 mean(model.parameters[i][0]), mean(model.parameters[i][1]))
            if n.membraneNorm { note += ", membrane BN (running statistics)" }
        }
        print(String(format: "%3d  %-44@ -> %@%@", i, layer.shortName as NSString, "\(shapes[i + 1])" as NSString, note as NSString))
    }
    let neurons = model.spec.layers.indices.reduce(0) { n, i in if case .neuron = model.spec.layers[i] { return n + shapes[i + 1].reduce(1, *) } else { return n } }
    print("neurons \(neurons), parameters \(model.parameterCount), spikes: \(Array(Set(model.spikeKinds.map(\.name))).sorted().joined(separator: ", "))")
    do {
        try AsyncCompatibility.check(model.spec)
        print("asynchronous engine: runs it (snn eval --mode async)")
    } catch let e as AsyncEngineError {
        print("asynchronous engine: refused: \(e.description)")
    }
    for key in metadata.keys.sorted() { print("\(key): \(metadata[key]!)") }
}
