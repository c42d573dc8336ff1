import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor
import SNNTraining

/// `snn experiment bntt`: BNTT against shared BN, tdBN and no normalisation at a low number of steps,
/// same network, recipe and budget; then BNTT's early exit.
struct BNTTExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bntt",
        abstract: "Train BNTT, shared BN, tdBN and no BN with the same budget; report accuracy, spikes, SynOps, gammas and early exit.",
        discussion: """
        Example: snn experiment bntt --dataset fashion-mnist --data ../shared/data/fashion-mnist --frames 10 --epochs 2
        Every variant uses BNTT's recipe (SGD momentum 0.9, weight decay 1e-4, lr / 10 at 50/70/90% of the epochs,
        BNTT's neuron, signed Poisson input drawn every step, crop+flip on CIFAR-10, mean-ce on a read-out).
        Writes a report folder (metrics.json, report.md, accuracy-vs-steps, gamma and early-exit pictures as SVG and PNG; see snn report), results.json and the models.
        """
    )

    @OptionGroup var data: DatasetOptions

    @Option(help: "Architecture preset (vgg5, vgg9).")
    var arch: String = "vgg5"

    @Option(help: "Variants to train (comma list of bntt, bn, tdbn, none).")
    var variants: String = "bntt,bn,tdbn,none"

    @Option(help: "Epochs per variant.")
    var epochs: Int = 2

    @Option(help: "Mini-batch size.")
    var batchSize: Int = 64

    @Option(help: "Learning rate (SGD).")
    var lr: Float = 0.1

    @Option(help: "Weight decay of the normalisation parameters (gamma); BNTT.md: 5e-3 brings out the early-exit pattern.")
    var gammaWeightDecay: Float = 5e-3

    @Option(help: "Neuron leak per step.")
    var beta: Float = 0.95

    @Option(help: "Early-exit rule: tail or naive.")
    var exitRule: String = "tail"

    @Option(help: "Report folder (default runs/bntt-DATASET).")
    var out: String?

    @OptionGroup var asyncRuns: ExperimentAsyncOptions
    var async: AsyncModeOptions { asyncRuns.engine }

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    struct Row: Codable {
        var variant: String
        var steps: Int
        var accuracy: Double?
        var accuracyPerStep: [Double]
        var spikesPerSample: Double?
        var synapticOperationsPerSample: Double?
        var trainingSeconds: Double
        var trainAccuracy: Double?
        var diverged: String?
    }

    struct Results: Codable {
        var dataset: String
        var architecture: String
        var epochs: Int
        var batchSize: Int
        var learningRate: Float
        var gammaWeightDecay: Float
        var seed: UInt64
        var rows: [Row]
        var gammaProfile: GammaProfile?
        var earlyExit: [EarlyExitResult]
        var history: [String: [EpochRecord]]
        var asynchronous: [AsyncRow]
    }

    /// One trained model run on the asynchronous engine at one F.
    struct AsyncRow: Codable {
        var variant: String
        var forwardGroupSize: Int?
        var layeredAccuracy: Double
        var metrics: AsyncMetrics
    }

    func run() throws {
        let started = Date()
        if let threads { Parallelism.threadCount = threads }
        let kinds: [InputNormalization.Kind?] = try variants.split(separator: ",").map { s in
            let name = s.trimmingCharacters(in: .whitespaces)
            if name == "none" { return nil }
            guard let k = InputNormalization.Kind(rawValue: name) else { throw ValidationError("--variants: unknown '\(name)' (bntt, bn, tdbn, none)") }
            return k
        }
        guard !kinds.isEmpty else { throw ValidationError("--variants is empty") }
        guard NetworkPresets.names.contains(arch) else {
            throw ValidationError("unknown --arch preset '\(arch)' (presets: \(NetworkPresets.names.joined(separator: ", ")))")
        }
        guard epochs > 0, batchSize > 0, lr > 0, lr.isFinite else { throw ValidationError("--epochs, --batch-size and --lr must be positive") }
        guard gammaWeightDecay >= 0, beta >= 0, beta <= 1 else { throw ValidationError("--gamma-weight-decay must be >= 0 and --beta in [0, 1]") }
        guard let rule = GammaProfile.Rule(rawValue: exitRule) else { throw ValidationError("--exit-rule must be tail or naive") }
        let asyncF = try asyncRuns.groupSizes()
        var data = self.data
        data.encoding = "signed-poisson"
        if data.dataset == "cifar10" { data.augment = true }
        if data.frames == nil { data.frames = 10 }
        let folder = URL(fileURLWithPath: out ?? "runs/bntt-\(data.dataset)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let loaded = try data.load()
        print(loaded.description)
        let steps = loaded.train.timeSteps
        var config = TrainingConfiguration()
        config.epochs = epochs; config.learningRate = lr; config.seed = data.seed
        config.optimizer = .sgd(momentum: 0.9, weightDecay: 1e-4)
        config.schedule = .bntt(epochs: epochs)
        config.loss = .meanCrossEntropy
        config.normalizationWeightDecay = gammaWeightDecay

        var rows: [Row] = []
        var history: [String: [EpochRecord]] = [:]
        var bnttModel: Network?
        var sweeps: [String: StepwiseEvaluation] = [:]
        var trained: [(name: String, network: Network)] = []
        for kind in kinds {
            let name = kind?.rawValue ?? "none"
            let spec = try NetworkPresets.spec(arch, inputShape: loaded.train.frameShape, classes: loaded.train.classCount,
                                               neuron: .bntt(beta: beta), normalization: kind, timeSteps: steps)
            print("== \(name): \(spec.layers.map(\.shortName).joined(separator: " | "))")
            var trainer = Trainer(network: try Network(spec: spec, initializer: .xavierUniform(gain: 2), seed: data.seed),
                                  configuration: config, computer: LayeredBPTT())
            let start = Date()
            do {
                history[name] = try trainLoop(trainer: &trainer, train: loaded.train, test: nil, epochs: epochs,
                                              batchSize: batchSize, seed: data.seed) { _, _ in 0 }
            } catch let e as TrainingError {
                print("\(name): \(e)")
                rows.append(Row(variant: name, steps: steps, accuracyPerStep: [], trainingSeconds: Date().timeIntervalSince(start),
                                diverged: e.description))
                continue
            }
            let seconds = Date().timeIntervalSince(start)
            let sweep = try StepwiseEvaluation.run(network: trainer.network, dataset: loaded.test, batchSize: 128, progressTitle: "test \(name)")
            sweeps[name] = sweep
            let acc = (1...steps).map { sweep.accuracy(steps: $0) }
            rows.append(Row(variant: name, steps: steps, accuracy: acc.last, accuracyPerStep: acc,
                            spikesPerSample: sweep.spikesPerSample.last, synapticOperationsPerSample: sweep.synapticOperationsPerSample.last,
                            trainingSeconds: seconds, trainAccuracy: history[name]?.last?.metrics.trainAccuracy))
            print("\(name): \(loaded.train.count) training samples x \(epochs) epochs; test accuracy \(format(acc.last! * 100, 2))% at T=\(steps), \(format(sweep.spikesPerSample.last!, 0)) spikes/sample, training \(format(seconds, 0)) s")
            try ModelFile.write(trainer.network, metadata: ["experiment": "bntt", "variant": name, "dataset": data.dataset,
                                                            "encoding": "signed-poisson", "frames": String(steps), "seed": String(data.seed),
                                                            "testAccuracy": String(acc.last!)],
                                to: folder.appendingPathComponent("\(name).snnmodel"))
            if kind == .bntt { bnttModel = trainer.network }
            trained.append((name, trainer.network))
        }

        // The trained models on the asynchronous engine: normalisation folded into per-channel current scales
        // and a bias current at frame start; at F = inf the layered result, bit for bit.
        var asyncRows: [AsyncRow] = []
        let asyncTest = asyncRuns.samples(of: loaded.test)
        for (name, network) in trained {
            // Layered accuracy on the same samples, for the comparison (equal at F = inf).
            let layered = try LayeredEvaluation.run(network: network, dataset: asyncTest, batchSize: 128, seed: 0).accuracy
            for f in asyncF {
                let (m, _, seconds) = try evaluateAsync(network: network, dataset: asyncTest,
                                                        options: try async.options(forwardGroupSize: f, seed: data.seed),
                                                        batchSize: 128, progressTitle: "async \(name) F=\(describe(f))")
                print("\(name) async F=\(describe(f)): accuracy \(format(m.accuracy * 100, 2))% (layered \(format(layered * 100, 2))%), \(format(m.spikesPerSample, 0)) spikes/sample, \(format(m.forwardStepsPerFrame, 1)) forward steps/frame, \(format(Double(m.samples) / max(seconds, 1e-9), 0)) samples/s")
                asyncRows.append(AsyncRow(variant: name, forwardGroupSize: f, layeredAccuracy: layered, metrics: m))
            }
        }

        // Early exit of the BNTT model: thresholds across the range of its mean gammas.
        var exits: [EarlyExitResult] = []
        var profile: GammaProfile? = nil
        if let model = bnttModel, let sweep = sweeps["bntt"] {
            let p = GammaProfile(network: model)
            profile = p
            let values = p.meanGamma.flatMap { $0 }.sorted()
            var thresholds = Set<Float>()
            for q in stride(from: 0.05, through: 1.0, by: 0.05) {
                let v = values[min(values.count - 1, Int(Double(values.count - 1) * q))]
                if v > 0 { thresholds.insert(v * 1.0001) }
            }
            // One row per exit step (the smallest threshold that gives it).
            var seen = Set<Int>()
            for a in thresholds.sorted() {
                let k = min(try p.exitSteps(threshold: a, rule: rule), steps)
                if seen.insert(k).inserted { exits.append(EarlyExitResult(threshold: a, rule: rule.rawValue, steps: k, sweep: sweep)) }
            }
        }
        let accSeries = rows.filter { !$0.accuracyPerStep.isEmpty }.map { r in
            LineChart.Series(name: r.variant, x: r.accuracyPerStep.indices.map { Double($0 + 1) }, y: r.accuracyPerStep.map { $0 * 100 })
        }

        // Report.
        var table = MarkdownTable(header: ["normalisation", "T", "test accuracy", "train accuracy", "spikes/sample", "SynOps/sample", "training time"])
        for r in rows {
            table.append([r.variant, String(r.steps), r.accuracy.map { format($0 * 100, 2) + "%" } ?? "diverged",
                          r.trainAccuracy.map { format($0 * 100, 2) + "%" } ?? "-",
                          r.spikesPerSample.map { format($0, 0) } ?? "-", r.synapticOperationsPerSample.map { format($0, 0) } ?? "-",
                          format(r.trainingSeconds, 0) + " s"])
        }
        var exitTable = MarkdownTable(header: ["threshold", "steps", "accuracy", "spikes/sample", "spikes saved", "SynOps saved"])
        for e in exits {
            exitTable.append([format(Double(e.threshold!), 3), "\(e.steps)/\(e.fullSteps)", format(e.accuracy * 100, 2) + "%",
                              format(e.spikesPerSample, 0), format(e.spikesSavedPercent, 1) + "%", format(e.synapticOperationsSavedPercent, 1) + "%"])
        }
        var asyncTable = MarkdownTable(header: ["normalisation", "F", "accuracy", "layered accuracy", "spikes/sample", "forward steps/frame", "SynOps/sample"])
        for r in asyncRows {
            asyncTable.append([r.variant, describe(r.forwardGroupSize), format(r.metrics.accuracy * 100, 2) + "%", format(r.layeredAccuracy * 100, 2) + "%",
                               format(r.metrics.spikesPerSample, 0), format(r.metrics.forwardStepsPerFrame, 1),
                               format(r.metrics.synapticOperationsPerSample.total, 0)])
        }
        var report = Report(title: "BNTT vs shared BN vs tdBN vs no BN (\(data.dataset), T = \(steps))",
                            provenance: .current(seeds: [data.seed], threads: Parallelism.threadCount, cores: Parallelism.activeCores, startedAt: started))
        report.text("\(loaded.description); used: \(loaded.train.count) training and \(loaded.test.count) test samples (--limit \(data.limit)).")
        report.text("""
        Network `\(arch)` (\(try NetworkPresets.architecture(arch, inputShape: loaded.train.frameShape, classes: loaded.train.classCount, normalization: .bntt).replacingOccurrences(of: ":bntt", with: ":NORM"))),
        BNTT's neuron (leak \(beta), threshold 1, subtractive reset not differentiated, triangle surrogate), signed
        Poisson input drawn every step\(data.augment ? ", random crop (pad 4) + flip" : ""). Same budget for every variant:
        \(epochs) epoch(s), batch \(batchSize), SGD lr \(lr) momentum 0.9, weight decay 1e-4 (gamma: \(gammaWeightDecay)),
        lr / 10 at 50/70/90% of the epochs, seed \(data.seed), \(Parallelism.threadCount) threads on a shared machine
        (training times are indicative only).
        """)
        report.table(table)
        let trainedVariants = rows.map(\.variant).filter { !(history[$0]?.isEmpty ?? true) }
        if !trainedVariants.isEmpty {
            report.figure("training-loss", caption: "training loss per epoch", .lines(LineChart(
                title: "Training loss per epoch", xLabel: "epoch", yLabel: "loss (mean-ce, mean over batches)",
                series: trainedVariants.map { v in .init(name: v, x: history[v]!.indices.map { Double($0 + 1) }, y: history[v]!.map { Double($0.metrics.loss) }) })))
        }
        if !accSeries.isEmpty {
            report.figure("accuracy-vs-steps", caption: "accuracy vs steps", .lines(LineChart(
                title: "Test accuracy when stopping after t steps", xLabel: "time steps used", yLabel: "accuracy %", series: accSeries)))
        }
        report.heading("BNTT: channel-mean gamma per layer and step")
        if let p = profile, let model = bnttModel {
            var t = MarkdownTable(header: ["layer"] + (1...p.steps).map { "t=\($0)" })
            let names = gammaLayerNames(model, p)
            for (k, g) in p.meanGamma.enumerated() { t.append([k < names.count ? names[k] : "\(p.layers[k])"] + g.map { format(Double($0), 3) }) }
            report.table(t)
            report.figure("gamma", caption: "gamma", .lines(gammaChart(p, names: names)))
        } else {
            report.text("(no BNTT model)")
        }
        report.heading("Early exit (\(rule.rawValue) rule)")
        if exits.isEmpty {
            report.text("(no BNTT model)")
        } else {
            report.table(exitTable)
            report.figure("early-exit", caption: "early exit", .lines(LineChart(
                title: "BNTT early exit (\(rule.rawValue) rule)", xLabel: "gamma threshold", yLabel: "percent",
                series: [.init(name: "test accuracy %", x: exits.map { Double($0.threshold!) }, y: exits.map { $0.accuracy * 100 }),
                         .init(name: "steps used, % of T", x: exits.map { Double($0.threshold!) }, y: exits.map { Double($0.steps) / Double(steps) * 100 })])))
        }
        report.heading("The trained models run asynchronously")
        report.text("""
        Event by event on the asynchronous engine (\(async.scheduler) scheduler, stop \(async.stop)): each normalised
        population's evaluation-mode normalisation is folded into a per-channel scale of its input currents and a bias
        current injected at the start of every frame (docs/ALGORITHMS.md); F = inf is layered execution.
        \(asyncTest.count) test samples (the first ones\(asyncTest.count < loaded.test.count ? ", --async-limit \(asyncRuns.asyncLimit)" : "")).
        """)
        if asyncRows.isEmpty { report.text("(skipped)") } else { report.table(asyncTable) }
        try writeJSON(Results(dataset: loaded.description, architecture: arch, epochs: epochs, batchSize: batchSize, learningRate: lr,
                              gammaWeightDecay: gammaWeightDecay, seed: data.seed, rows: rows, gammaProfile: profile, earlyExit: exits,
                              history: history, asynchronous: asyncRows), to: folder.appendingPathComponent("results.json").path)
        print(table.text)
        if !exits.isEmpty { print(exitTable.text) }
        if !asyncRows.isEmpty { print(asyncTable.text) }
        try writeReportFolder(report, to: folder)
    }
}
