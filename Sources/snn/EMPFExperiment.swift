import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor
import SNNTraining

/// `snn experiment empf`: EM-PF online training against OTTT, SLTT and BPTT at several T, same budget.
struct EMPFExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "empf",
        abstract: "Train EM-PF online, OTTT, SLTT and BPTT at T = 2, 4, 6 with the same budget; report accuracy, peak training memory, time per epoch and inference operations.",
        discussion: """
        Example: snn experiment empf --dataset fashion-mnist --data ../shared/data/fashion-mnist --limit 2000 --epochs 2
        EM-PF online and BPTT train the same EM-PF network (excess spikes, learnable per-channel decay and threshold, membrane BN,
        binary weights per output channel); OTTT and SLTT train the same architecture with LIF neurons and float weights.
        Peak training memory is the bytes a training step holds (tapes, state, traces, gradients; not the input data).
        Then every trained model runs on the asynchronous engine (--F, default inf,32,8; --async-limit test samples; --no-async skips it):
        graded spikes are events carrying their value, at F = inf the step-by-step result.
        Writes a report folder (metrics.json, report.md, memory-vs-T and accuracy-vs-T pictures; see snn report), results.json and the models.
        """
    )

    @OptionGroup var data: DatasetOptions

    @Option(help: "Architecture (default: the dataset's, with membrane BN on hidden populations and a read-out last layer).")
    var arch: String?

    @Option(help: "Time steps to compare (comma list).")
    var steps: String = "2,4,6"

    @Option(help: "Methods (comma list of empf-online, ottt, sltt, bptt).")
    var methods: String = "empf-online,ottt,sltt,bptt"

    @Option(help: "Epochs per run.")
    var epochs: Int = 2

    @Option(help: "Mini-batch size.")
    var batchSize: Int = 32

    @Option(help: "Learning rate (Adam).")
    var lr: Float = 2e-3

    @Option(help: "EM-PF decay and LIF leak per step.")
    var decay: Float = 0.5

    @Option(help: "Initial threshold.")
    var threshold: Float = 0.5

    @Option(help: "Report folder (default runs/empf-DATASET).")
    var out: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @OptionGroup var asyncRuns: ExperimentAsyncOptions

    var stepList: [Int] { steps.split(separator: ",", omittingEmptySubsequences: false).compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    var methodList: [String] { Check.commaItems(methods) }

    func validate() throws {
        try data.checkValues()
        try Check.threads(threads)
        guard ["fashion-mnist", "mnist", "cifar10", "nmnist", "digits"].contains(data.dataset) else {
            throw ValidationError("--dataset must be fashion-mnist, mnist, cifar10, nmnist or digits for this experiment, got '\(data.dataset)'")
        }
        let items = steps.split(separator: ",", omittingEmptySubsequences: false)
        guard !items.isEmpty, items.allSatisfy({ Int($0.trimmingCharacters(in: .whitespaces)).map { $0 >= 1 && $0 <= 1000 } ?? false }) else {
            throw ValidationError("--steps takes time steps from 1 to 1000 (comma list, e.g. 2,4,6), got '\(steps)'")
        }
        for m in methodList where OnlineMethod(rawValue: m) == nil {
            throw ValidationError("--methods: unknown method '\(m)' (\(OnlineMethod.names))")
        }
        if data.frames != nil { throw ValidationError("--frames: the experiment sets T itself; use --steps") }
        try Check.integer(epochs, "--epochs", min: 1, max: 10_000)
        try Check.integer(batchSize, "--batch-size", min: 1, max: Check.maximumBatch)
        try Check.finite(lr, "--lr", max: 10, above: 0)
        try Check.finite(decay, "--decay", min: 0, max: 1)
        try Check.finite(threshold, "--threshold", max: 1e6, above: 0)
    }

    struct Results: Codable {
        var dataset: String
        var architecture: String
        var epochs: Int
        var batchSize: Int
        var learningRate: Float
        var seed: UInt64
        var rows: [EMPFRun.Record]
        var binaryKernel: [String: Double]?
        var asynchronous: [AsyncRow]
    }

    /// One trained model run on the asynchronous engine at one F.
    struct AsyncRow: Codable {
        var method: String
        var steps: Int
        var forwardGroupSize: Int?
        /// Step-by-step accuracy on the same samples.
        var layeredAccuracy: Double
        var metrics: AsyncMetrics
    }

    func run() throws {
        let started = Date()
        if let threads { Parallelism.threadCount = threads }
        let folder = URL(fileURLWithPath: out ?? "runs/empf-\(data.dataset)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rows: [EMPFRun.Record] = []
        var asyncRows: [AsyncRow] = []
        let asyncF = try asyncRuns.groupSizes()
        var asyncSamples = 0
        var arch = self.arch ?? ""
        var lastEMPF: EMPFModel? = nil
        var description = ""
        for t in stepList {
            var d = data
            d.frames = t
            let loaded = try d.load()
            description = loaded.description
            print(loaded.description)
            if self.arch == nil { arch = EMPFRun.defaultArchitecture(d.defaultArchitecture(for: loaded)) }
            // One untimed pass over the data first: the readers decode and cache lazily, which would
            // otherwise land in the first method's time per epoch.
            let warm = BatchLoader(dataset: loaded.train, batchSize: batchSize, shuffle: false, seed: 0)
            try warm.forEachBatch(epoch: 0) { _ in }
            try BatchLoader(dataset: loaded.test, batchSize: 128, shuffle: false, seed: 0).forEachBatch(epoch: 0) { _ in }
            for name in methodList {
                let method = OnlineMethod(rawValue: name)!
                let lif = method == .ottt || method == .sltt
                let neuron = EMPFNeuronSpec(kind: lif ? .lif(.default) : .excess, decay: decay, threshold: threshold, perChannel: true,
                                            learnable: !lif, membraneNorm: false)
                let spec = try EMPFSpec.parse(arch, neuron: neuron, binaryWeights: lif ? .none : .perChannel)
                let optimizer = Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0), learningRate: lr)
                let (model, record) = try EMPFRun.train(spec: spec, method: method, options: OnlineTrainingOptions(method: method, seed: d.seed),
                                                        optimizer: optimizer, train: loaded.train, test: loaded.test, epochs: epochs,
                                                        batchSize: batchSize, seed: d.seed)
                rows.append(record)
                try EMPFModelFile.write(model, metadata: ["experiment": "empf", "method": name, "steps": String(t), "dataset": data.dataset,
                                                          "testAccuracy": String(record.testAccuracy)],
                                        to: folder.appendingPathComponent("\(name)-T\(t).snnmodel"))
                if method == .empfOnline { lastEMPF = model }
                print(String(format: "%@ T=%d: test %.2f%%, peak %.3f MiB, %.1f s/epoch", name, t, record.testAccuracy * 100,
                             Double(record.peakTrainingBytes) / 1_048_576, record.secondsPerEpoch))
                if !asyncF.isEmpty {
                    let asyncTest = asyncRuns.samples(of: loaded.test)
                    asyncSamples = asyncTest.count
                    let layered = try EMPFLayeredEvaluation.run(model, dataset: asyncTest, batchSize: 128, exactEventOrder: false).accuracy
                    let engine = try AsyncEngine(empf: model)
                    for f in asyncF {
                        let (m, _, seconds) = try evaluateAsync(engine: engine, dataset: asyncTest,
                                                                options: try asyncRuns.engine.options(forwardGroupSize: f, seed: d.seed),
                                                                batchSize: 128, progressTitle: "async \(name) T=\(t) F=\(describe(f))")
                        print("\(name) T=\(t) async F=\(describe(f)): accuracy \(format(m.accuracy * 100, 2))% (step by step \(format(layered * 100, 2))%), \(format(m.spikesPerSample, 0)) spikes/sample, \(format(m.forwardStepsPerFrame, 1)) forward steps/frame, \(format(m.synapticOperationsPerSample.accumulates, 0)) AC + \(format(m.synapticOperationsPerSample.multiplyAccumulates, 0)) MAC/sample, \(format(Double(m.samples) / max(seconds, 1e-9), 0)) samples/s")
                        asyncRows.append(AsyncRow(method: name, steps: t, forwardGroupSize: f, layeredAccuracy: layered, metrics: m))
                    }
                }
            }
        }
        let kernel = lastEMPF.map { benchmarkBinaryKernel($0) } ?? nil
        let results = Results(dataset: description, architecture: arch, epochs: epochs, batchSize: batchSize, learningRate: lr, seed: data.seed,
                              rows: rows, binaryKernel: kernel, asynchronous: asyncRows)
        try writeJSON(results, to: folder.appendingPathComponent("results.json").path)
        try writeReport(results, folder: folder, started: started, asyncSamples: asyncSamples)
    }

    /// Times the additions-only kernel against the float event path on the first binary linear layer of `model`,
    /// with graded sparse input (30% non-zero), batch 128. Nil when the model has no binary linear layer.
    func benchmarkBinaryKernel(_ model: EMPFModel) -> [String: Double]? {
        func isLinear(_ j: Int) -> Bool { if case .synaptic(.linear) = model.spec.layers[j] { return true } else { return false } }
        guard let i = model.spec.layers.indices.first(where: { model.isBinary($0) && isLinear($0) }),
              case .synaptic(let layer) = model.spec.layers[i], case .linear(let n, let o) = layer else { return nil }
        let batch = 128
        let rng = CounterRNG(seed: 3)
        let x = Tensor(shape: [batch, n], data: (0..<(batch * n)).map { j in let u = rng.uniform(stream: 0, counter: UInt64(j)); return u < 0.7 ? 0 : u })
        let w = model.effectiveWeight(i)
        let scales = BinaryWeightMath.scales(of: model.parameters[i][0], perChannel: model.spec.binaryWeights == .perChannel, layer: layer)
        let pk = model.parameters[i][0].withUnsafeBufferPointer { PackedBinaryLinear(weight: $0.baseAddress!, inFeatures: n, outFeatures: o, scales: scales) }
        var y = Tensor(shape: [batch, o])
        func measure(_ body: () -> Void) -> Double {
            body()
            var reps = 0
            let start = Date()
            while Date().timeIntervalSince(start) < 1 || reps < 3 { body(); reps += 1 }
            return Date().timeIntervalSince(start) / Double(reps)
        }
        let binarySeconds: Double = measure { x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { pk.forward(xp.baseAddress!, batch: batch, output: $0.baseAddress!) } } }
        let floatSeconds: Double = measure { _ = SpikeDelivery.forward(layer, inShape: [n], outShape: [o], input: x, weight: w) }
        return ["inFeatures": Double(n), "outFeatures": Double(o), "batch": Double(batch), "binarySeconds": binarySeconds, "floatSeconds": floatSeconds,
                "speedUp": floatSeconds / binarySeconds]
    }

    func writeReport(_ r: Results, folder: URL, started: Date, asyncSamples: Int) throws {
        var table = MarkdownTable(header: ["method", "neuron", "weights", "T", "test accuracy", "train accuracy", "peak training memory",
                                           "time / epoch", "accumulates / sample", "MACs / sample"])
        for row in r.rows {
            table.append([row.method, row.spike, row.spike == "lif" ? "float" : "binary (per channel)", "\(row.steps)",
                          String(format: "%.2f%%", row.testAccuracy * 100), String(format: "%.2f%%", row.trainAccuracy * 100),
                          String(format: "%.3f MiB", Double(row.peakTrainingBytes) / 1_048_576), String(format: "%.1f s", row.secondsPerEpoch),
                          String(format: "%.0f", row.accumulatesPerSample), String(format: "%.0f", row.multiplyAccumulatesPerSample)])
        }
        let names = Array(NSOrderedSet(array: r.rows.map(\.method))) as! [String]
        func series(_ value: (EMPFRun.Record) -> Double) -> [LineChart.Series] {
            names.map { m in
                let rows = r.rows.filter { $0.method == m }
                return LineChart.Series(name: m, x: rows.map { Double($0.steps) }, y: rows.map(value))
            }
        }
        var report = Report(title: "EM-PF online training against OTTT, SLTT and BPTT",
                            provenance: .current(seeds: [r.seed], threads: Parallelism.threadCount, cores: Parallelism.activeCores, startedAt: started))
        report.text("""
        Data: \(r.dataset). Architecture: `\(r.architecture)`. \(r.epochs) epochs, batch \(r.batchSize), Adam lr \(r.learningRate), seed \(r.seed).
        EM-PF rows: excess spikes, learnable per-channel decay and threshold, membrane BN, binary weights per output channel
        (inference: additions, plus one multiplication per output for the scale). OTTT/SLTT rows: LIF neurons (atan surrogate), float weights.
        Peak training memory: bytes a training step holds (tapes, neuron state, traces, gradient buffers), counted by the trainer, not the input data.
        Time per epoch: wall clock on a shared, loaded machine (indicative only).
        """)
        report.table(table)
        report.figure("memory-vs-T", caption: "peak memory", .lines(LineChart(
            title: "Peak training memory against time steps", xLabel: "time steps T", yLabel: "peak training memory (MiB)",
            series: series { Double($0.peakTrainingBytes) / 1_048_576 })))
        report.figure("accuracy-vs-T", caption: "accuracy", .lines(LineChart(
            title: "Test accuracy against time steps", xLabel: "time steps T", yLabel: "test accuracy %",
            series: series { $0.testAccuracy * 100 }, yFromZero: false)))
        if let k = r.binaryKernel {
            report.heading("Binary-weight inference kernel")
            report.text(String(format: """
            First binary linear layer (%.0f -> %.0f), batch %.0f, graded input with 30%% non-zero: additions-only kernel %.3f ms,
            float event path %.3f ms per batch: speed-up x%.2f (machine under load).
            """, k["inFeatures"]!, k["outFeatures"]!, k["batch"]!, k["binarySeconds"]! * 1000, k["floatSeconds"]! * 1000, k["speedUp"]!))
        }
        report.heading("The trained models run asynchronously")
        if r.asynchronous.isEmpty {
            report.text("(skipped: --no-async)")
        } else {
            var table = MarkdownTable(header: ["method", "T", "F", "accuracy", "step-by-step accuracy", "spikes/sample", "forward steps/frame",
                                               "accumulates / sample", "MACs / sample"])
            for a in r.asynchronous {
                table.append([a.method, "\(a.steps)", describe(a.forwardGroupSize), format(a.metrics.accuracy * 100, 2) + "%",
                              format(a.layeredAccuracy * 100, 2) + "%", format(a.metrics.spikesPerSample, 0), format(a.metrics.forwardStepsPerFrame, 1),
                              format(a.metrics.synapticOperationsPerSample.accumulates, 0), format(a.metrics.synapticOperationsPerSample.multiplyAccumulates, 0)])
            }
            report.text("""
            Event by event on the asynchronous engine (\(asyncRuns.engine.scheduler) scheduler, stop \(asyncRuns.engine.stop)), \(asyncSamples) test
            samples (the first ones): every EM-PF spike is an event carrying its value (targets receive value x weight), graded neurons
            have no refractory period, membrane BN applies at a neuron's first integration of a frame; F = inf is the step-by-step result.
            """)
            report.table(table)
            print(table.text)
        }
        try writeReportFolder(report, to: folder)
    }
}
