import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor
import SNNTraining

/// `snn experiment layer-sync`: the layer-synchronisation study. Trains a layered model (BPTT) and two
/// unlayered ones (random and momentum scheduling), runs each in every execution mode, once per seed,
/// and writes a report with the mean and spread over seeds.
struct LayerSyncExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer-sync",
        abstract: "Layered vs unlayered training, evaluated layered and asynchronously (F sweep, stop rules), over seeds.",
        discussion: """
        Trains three models with the same architecture, seed and budget: layered BPTT; unlayered backprop \
        with the random scheduler; unlayered backprop with the momentum scheduler (both at --train-F). Each is \
        evaluated layer by layer and asynchronously with both schedulers for every F of --F-sweep ("on spiking \
        done"), and with "on output:K" for every K of --k-sweep (at --train-F). The whole study runs once per \
        seed of --seeds (data split where the dataset has none, initialisation, schedulers); the report gives \
        the mean and the standard deviation over seeds. Writes a report folder into --out (metrics.json, report.md, SVG and PNG plots; see snn report) and results.json.
        Example: snn experiment layer-sync --dataset nmnist --epochs 15 --seeds 1,2,3
        """
    )

    @OptionGroup var data: DatasetOptions
    @OptionGroup var net: NetworkOptions
    @OptionGroup var training: TrainingOptions

    @Option(name: .customLong("train-F"), help: "F used by unlayered training (at least 1).")
    var trainF: Int = 8

    @Option(name: .customLong("F-sweep"), help: "F values evaluated (comma list, inf allowed).")
    var fSweep: String = "inf,32,8,2"

    @Option(help: "K values of the on-output:K stop rule evaluated (comma list).")
    var kSweep: String = "0,1,2,4,8,16"

    @Option(help: "Seeds, one study each (comma list; default: --seed).")
    var seeds: String?

    @Option(help: "Probability that a spike does not set the refractory flag during unlayered training.")
    var refractoryDropout: Float = 0

    @Flag(inversion: .prefixedNo, help: "Unlayered backprop: only a neuron's last integration in a frame passes the silent gradient (the default; see docs/ALGORITHMS.md).")
    var silentGradientAtFrameEnd = true

    @Option(help: "Unlayered backprop: zero surrogate gradient where U - theta is below this value.")
    var backpropThreshold: Float?

    @Option(help: "Report folder (default runs/layer-sync-DATASET).")
    var out: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    static let models = ["layered", "unlayered-random", "unlayered-momentum"]

    struct Row: Codable {
        var seed: UInt64
        var model: String
        var execution: String
        var scheduler: String?
        var forwardGroupSize: String?
        var stopRule: String?
        var accuracy: Double
        var spikesPerSample: Double
        var spikeDensity: Double
        var spikesPerSamplePerLayer: [Double]
        var spikesPerNeuronPerLayer: [Double]
        var firstOutputStep: Double?
        var firstCorrectOutputStep: Double?
        var spikesUntilFirstCorrectOutput: Double?
        var forwardStepsPerFrame: Double?
        var synapticOperationsPerSample: Double
        var currentsToSpikeHistogram: [Int]?

        /// The execution setting, without the seed.
        var setting: String { "\(model)|\(execution)|\(scheduler ?? "-")|\(forwardGroupSize ?? "-")|\(stopRule ?? "-")" }
    }

    /// Mean and sample standard deviation of a measurement over seeds.
    struct Spread: Codable {
        var mean: Double
        var sd: Double
        var n: Int
        init?(_ values: [Double]) {
            guard !values.isEmpty else { return nil }
            let count = values.count
            let m = values.reduce(0, +) / Double(count)
            n = count
            mean = m
            sd = count > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(count - 1)).squareRoot() : 0
        }
        func text(_ digits: Int, scale: Double = 1) -> String {
            n > 1 ? "\(format(mean * scale, digits)) ± \(format(sd * scale, digits))" : format(mean * scale, digits)
        }
    }

    struct Summary: Codable {
        var model: String
        var execution: String
        var scheduler: String?
        var forwardGroupSize: String?
        var stopRule: String?
        var accuracy: Spread
        var spikesPerSample: Spread
        var spikeDensity: Spread
        var spikesPerNeuronPerLayer: [Double]
        var firstCorrectOutputStep: Spread?
        var spikesUntilFirstCorrectOutput: Spread?
        var forwardStepsPerFrame: Spread?
        var synapticOperationsPerSample: Spread
        var currentsToSpikeHistogram: [Int]?
    }

    struct Results: Codable {
        var dataset: String
        var architecture: [String]
        var trainF: Int
        var epochs: Int
        var seeds: [UInt64]
        /// Training history per model and seed (`"MODEL seed S"`).
        var training: [String: [EpochRecord]]
        var rows: [Row]
        var summary: [Summary]
        var settings: String
        /// The command line (after `snn`), the machine's cores and the wall time of the whole study.
        var command: String
        var cores: Int
        var seconds: Double
    }

    var folderPath: String { out ?? "runs/layer-sync-\(data.dataset)" }

    func validate() throws {
        try data.checkValues()
        try Check.threads(threads)
        guard trainF >= 1 else { throw ValidationError("--train-F must be at least 1 (spikes emitted per forward step), got \(trainF)") }
        _ = try seedList()
        _ = try kList()
        _ = try fList()
        try Check.finite(refractoryDropout, "--refractory-dropout", min: 0, max: 1)
        if let backpropThreshold { try Check.finite(backpropThreshold, "--backprop-threshold") }
        try Check.writableFolder(folderPath, "--out")
    }

    func seedList() throws -> [UInt64] {
        guard let seeds else { return [data.seed] }
        let list = try seeds.split(separator: ",", omittingEmptySubsequences: false).map { s -> UInt64 in
            guard let v = UInt64(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--seeds takes a comma list of non-negative integers (got '\(seeds)')") }
            return v
        }
        guard Set(list).count == list.count else { throw ValidationError("--seeds lists a seed twice ('\(seeds)')") }
        return list
    }

    func fList() throws -> [Int?] {
        do { return try AsyncModeOptions.parse(["--F", fSweep]).groupSizes() } catch {
            throw ValidationError("--F-sweep takes positive integers or inf (comma list, e.g. inf,32,8,2), got '\(fSweep)'")
        }
    }

    func kList() throws -> [Int] {
        let ks = try kSweep.split(separator: ",", omittingEmptySubsequences: false).map { s -> Int in
            guard let k = Int(s.trimmingCharacters(in: .whitespaces)), k >= 0 else {
                throw ValidationError("--k-sweep takes integers >= 0 (comma list, e.g. 0,1,2,4), got '\(kSweep)'")
            }
            return k
        }
        guard !ks.isEmpty else { throw ValidationError("--k-sweep needs at least one value") }
        return ks
    }

    func run() throws {
        try Cluster.run { try experiment($0) }
    }

    /// Runs the study on `comm`'s ranks (one without MPI): data-parallel training, each evaluation
    /// spread over the ranks' shares of the test set; rank 0 prints and writes the files.
    func experiment(_ comm: any Communicator) throws {
        if let threads { Parallelism.threadCount = threads }
        let folder = URL(fileURLWithPath: folderPath)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let seedValues = try seedList()
        let fs = try fList()
        let ks = try kList()
        let backprop = UnlayeredBackprop.Options(backpropThreshold: backpropThreshold, silentGradientOnlyAtFrameEnd: silentGradientAtFrameEnd)
        let evaluationsPerModel = 1 + 2 * (fs.count + ks.count)
        let totalEvaluations = seedValues.count * Self.models.count * evaluationsPerModel
        var done = 0
        var rows: [Row] = []
        var history: [String: [EpochRecord]] = [:]
        var datasetDescription = "", architecture: [String] = [], sizes: [Int] = [], epochs = 0
        var configDescription = ""
        let started = Date()
        for (si, seed) in seedValues.enumerated() {
            var seededData = data
            seededData.seed = seed
            let loaded = try seededData.load()
            print(loaded.description)
            if si == 0 { datasetDescription = loaded.description + (seedValues.count > 1 ? " (each seed draws the initialisation, the schedulers and, where the dataset has no test split of its own, the split)" : "") }
            let spec = try net.spec(default: seededData.defaultArchitecture(for: loaded), dtMs: seededData.frameMs, inputShape: loaded.train.frameShape)
            try Check.network(spec, fits: loaded.train, source: net.arch.map { "--arch '\($0)'" } ?? "the default architecture for \(data.dataset)")
            try Check.memory(try Check.trainingMemory(spec, frames: loaded.train.timeSteps, batch: training.batchSize),
                             "training \(String(format: "%.3g", try Check.sizes(of: spec).weights)) weights on \(loaded.train.timeSteps) frames in batches of \(training.batchSize)",
                             option: "--arch/--frames/--batch-size")
            architecture = spec.layers.map(\.shortName)
            // Each training keeps its own default loss unless --loss is given: rate-ce for layered BPTT,
            // count-ce for unlayered backprop (rate-ce underfits at finite F; docs/ALGORITHMS.md).
            let config = try training.configuration(seed: seed)
            let unlayeredConfig = try training.configuration(seed: seed, defaultLoss: .countCrossEntropy)
            epochs = config.epochs
            configDescription = "loss \(config.loss.rawValue) (layered) / \(unlayeredConfig.loss.rawValue) (unlayered), lr \(config.learningRate), batch \(training.batchSize)"
            sizes = try AsyncEngine(network: try Network(spec: spec, seed: 0)).populations.map(\.count)

            // 1. Train the three models.
            let trainings: [(String, any GradientComputer)] = [
                ("layered", LayeredBPTT()),
                ("unlayered-random", UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: trainF, scheduler: .random,
                                                                                 refractoryDropout: refractoryDropout, seed: seed,
                                                                                 measuresCurrentsToSpike: false), backpropOptions: backprop)),
                ("unlayered-momentum", UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: trainF, scheduler: .momentum,
                                                                                   refractoryDropout: refractoryDropout, seed: seed,
                                                                                   measuresCurrentsToSpike: false), backpropOptions: backprop)),
            ]
            var models: [(String, Network)] = []
            for (name, computer) in trainings {
                print("== seed \(seed) (\(si + 1)/\(seedValues.count)): training \(name) (\(config.epochs) epochs)")
                var trainer = Trainer(network: try Network(spec: spec, seed: seed), configuration: name == "layered" ? config : unlayeredConfig,
                                      computer: computer)
                let evalOptions = AsyncOptions(forwardGroupSize: trainF, scheduler: name.hasSuffix("random") ? .random : .momentum, seed: seed)
                let key = "\(name) seed \(seed)"
                do {
                    history[key] = try dataParallelTrainLoop(trainer: &trainer, comm: comm, train: loaded.train, test: loaded.test,
                                                             epochs: config.epochs, batchSize: training.batchSize, seed: seed,
                                                             start: TrainingPosition(epoch: 0, batchesDone: 0, step: 0), records: [],
                                                             checkpoint: nil) { network, test in
                        name == "layered" ? try LayeredEvaluation.run(network: network, dataset: test, batchSize: 128, seed: 0).accuracy
                                          : try evaluateAsync(network: network, dataset: test, options: evalOptions, batchSize: 128).metrics.accuracy
                    }.records
                } catch let e as TrainingError {
                    throw CollectiveError(CLIError("\(name), seed \(seed): \(e.description); stopped, no model written (try a lower --lr, or --clip)"))
                }
                var metadata = datasetMetadata(seededData, loaded: loaded)
                metadata.merge(["experiment": "layer-sync", "trainedWith": name, "trainF": String(trainF), "seed": String(seed)]) { $1 }
                if let accuracy = history[key]?.last?.testAccuracy {
                    metadata["testAccuracy"] = String(accuracy)
                    metadata["testAccuracyExecution"] = name == "layered" ? "layered" : "async \(evalOptions.scheduler.kind.rawValue) F=\(trainF) on-spiking-done"
                }
                let file = seedValues.count > 1 ? "\(name)-seed\(seed).snnmodel" : "\(name).snnmodel"
                if comm.isRoot { try ModelFile.write(trainer.network, metadata: metadata, to: folder.appendingPathComponent(file)) }
                models.append((name, trainer.network))
            }

            // 2. Evaluate every model in every execution mode.
            func progress(_ what: String, _ accuracy: Double) {
                done += 1
                let elapsed = Date().timeIntervalSince(started)
                print("[eval \(done)/\(totalEvaluations)] seed \(seed) \(what): accuracy \(format(accuracy * 100, 1))%  (\(format(elapsed, 0)) s)")
                fflush(nil)  // every open output stream: result lines reach a redirected log as they are printed
            }
            for (name, network) in models {
                let layered = try LayeredEvaluation.sharded(comm, network: network, dataset: loaded.test, batchSize: 128)
                rows.append(Row(seed: seed, model: name, execution: "layered", accuracy: layered.accuracy, spikesPerSample: layered.spikesPerSample,
                                spikeDensity: layered.spikesPerSample / Double(sizes.reduce(0, +) * loaded.test.timeSteps),
                                spikesPerSamplePerLayer: layered.spikesPerSamplePerLayer,
                                spikesPerNeuronPerLayer: zip(layered.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) },
                                synapticOperationsPerSample: layered.synapticOperationsPerSample.total))
                progress("\(name), layered", layered.accuracy)
                for scheduler in [Scheduler.random, .momentum] {
                    var settings: [(Int?, StopRule)] = fs.map { ($0, .onSpikingDone) }
                    settings += ks.map { (trainF, .onOutput(k: $0)) }
                    for (f, stop) in settings {
                        let options = AsyncOptions(forwardGroupSize: f, scheduler: scheduler, stopRule: stop, seed: seed)
                        let m = try evaluateAsyncSharded(comm, network: network, dataset: loaded.test, options: options, batchSize: 128).metrics
                        rows.append(Row(seed: seed, model: name, execution: "async", scheduler: scheduler.kind.rawValue, forwardGroupSize: describe(f),
                                        stopRule: stop.description, accuracy: m.accuracy, spikesPerSample: m.spikesPerSample,
                                        spikeDensity: m.spikeDensity, spikesPerSamplePerLayer: m.spikesPerSamplePerLayer,
                                        spikesPerNeuronPerLayer: zip(m.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) },
                                        firstOutputStep: m.firstOutputStep, firstCorrectOutputStep: m.firstCorrectOutputStep,
                                        spikesUntilFirstCorrectOutput: m.spikesUntilFirstCorrectOutput,
                                        forwardStepsPerFrame: m.forwardStepsPerFrame,
                                        synapticOperationsPerSample: m.synapticOperationsPerSample.total,
                                        currentsToSpikeHistogram: m.currentsToSpikeHistogram))
                        progress("\(name), async \(scheduler.kind.rawValue) F=\(describe(f)) \(stop.description)", m.accuracy)
                    }
                }
            }
        }

        // 3. The summary over seeds and the report.
        guard comm.isRoot else { return }  // the other ranks hold only their shares of the evaluations
        let summary = Self.summarise(rows)
        let results = Results(dataset: datasetDescription, architecture: architecture, trainF: trainF, epochs: epochs, seeds: seedValues,
                              training: history, rows: rows, summary: summary,
                              settings: "\(configDescription), seeds \(seedValues.map(String.init).joined(separator: ",")), "
                                + "silent gradient \(silentGradientAtFrameEnd ? "at frame end only" : "at every silent integration"), "
                                + "backprop threshold \(backpropThreshold.map { String($0) } ?? "none"), refractory dropout \(refractoryDropout)",
                              command: CommandLine.arguments.dropFirst().joined(separator: " "), cores: Parallelism.activeCores,
                              seconds: Date().timeIntervalSince(started))
        try writeJSON(results, to: folder.appendingPathComponent("results.json").path)
        try Self.writeReport(results, ks: ks, fs: fs.map(describe), sizes: sizes, to: folder, started: started)
    }

    /// Groups the rows by setting (model, execution, scheduler, F, stop rule), in first-seen order.
    static func summarise(_ rows: [Row]) -> [Summary] {
        var order: [String] = []
        var groups: [String: [Row]] = [:]
        for r in rows {
            if groups[r.setting] == nil { order.append(r.setting) }
            groups[r.setting, default: []].append(r)
        }
        return order.map { key in
            let g = groups[key]!
            let first = g[0]
            let layers = first.spikesPerNeuronPerLayer.indices.map { i in g.map { $0.spikesPerNeuronPerLayer[i] }.reduce(0, +) / Double(g.count) }
            var histogram: [Int]? = nil
            if let h0 = first.currentsToSpikeHistogram {
                histogram = h0.indices.map { i in g.compactMap { $0.currentsToSpikeHistogram?[i] }.reduce(0, +) }
            }
            return Summary(model: first.model, execution: first.execution, scheduler: first.scheduler, forwardGroupSize: first.forwardGroupSize,
                           stopRule: first.stopRule, accuracy: Spread(g.map(\.accuracy))!, spikesPerSample: Spread(g.map(\.spikesPerSample))!,
                           spikeDensity: Spread(g.map(\.spikeDensity))!, spikesPerNeuronPerLayer: layers,
                           firstCorrectOutputStep: Spread(g.compactMap(\.firstCorrectOutputStep)),
                           spikesUntilFirstCorrectOutput: Spread(g.compactMap(\.spikesUntilFirstCorrectOutput)),
                           forwardStepsPerFrame: Spread(g.compactMap(\.forwardStepsPerFrame)),
                           synapticOperationsPerSample: Spread(g.map(\.synapticOperationsPerSample))!,
                           currentsToSpikeHistogram: histogram)
        }
    }

    /// The paper's three claims, per scheduler and F: the unlayered model trained with that scheduler
    /// against the layered model, both run asynchronously with that scheduler (on spiking done).
    static func claims(_ r: Results, fs: [String]) -> MarkdownTable {
        var table = MarkdownTable(header: ["scheduler", "F", "spikes: unlayered vs layered", "first correct output (fwd step): layered / unlayered",
                                           "spikes until first correct: layered / unlayered", "accuracy: unlayered - layered (points)"])
        for scheduler in ["momentum", "random"] {
            for f in fs {
                var spikeChange: [Double] = [], stepRatio: [Double] = [], spikeRatio: [Double] = [], accuracyGain: [Double] = []
                for seed in r.seeds {
                    func row(_ model: String) -> Row? {
                        r.rows.first { $0.seed == seed && $0.model == model && $0.scheduler == scheduler && $0.forwardGroupSize == f && $0.stopRule == "on-spiking-done" }
                    }
                    guard let l = row("layered"), let u = row("unlayered-\(scheduler)") else { continue }
                    if l.spikesPerSample > 0 { spikeChange.append(u.spikesPerSample / l.spikesPerSample - 1) }
                    if let a = l.firstCorrectOutputStep, let b = u.firstCorrectOutputStep, b > 0 { stepRatio.append(a / b) }
                    if let a = l.spikesUntilFirstCorrectOutput, let b = u.spikesUntilFirstCorrectOutput, b > 0 { spikeRatio.append(a / b) }
                    accuracyGain.append((u.accuracy - l.accuracy) * 100)
                }
                table.append([scheduler, f, Spread(spikeChange).map { "\($0.text(1, scale: 100)) %" } ?? "-",
                              Spread(stepRatio).map { "\($0.text(2))x" } ?? "-", Spread(spikeRatio).map { "\($0.text(2))x" } ?? "-",
                              Spread(accuracyGain).map { $0.text(1) } ?? "-"])
            }
        }
        return table
    }

    static func writeReport(_ r: Results, ks: [Int], fs: [String], sizes: [Int], to folder: URL, started: Date = Date()) throws {
        try writeReportFolder(report(r, ks: ks, fs: fs, sizes: sizes, started: started), to: folder)
    }

    /// The report: tables and the data of every plot (see ``ReportFolder``).
    static func report(_ r: Results, ks: [Int], fs: [String], sizes: [Int], started: Date) -> Report {
        let models = Self.models
        let n = r.seeds.count
        var table = MarkdownTable(header: ["model", "execution", "scheduler", "F", "stop", "accuracy %", "spikes/sample",
                                           "first correct output (fwd step)", "spikes until first correct", "fwd steps/frame", "syn. ops/sample"])
        for s in r.summary {
            table.append([s.model, s.execution, s.scheduler ?? "-", s.forwardGroupSize ?? "-", s.stopRule ?? "-",
                          s.accuracy.text(1, scale: 100), s.spikesPerSample.text(1),
                          s.firstCorrectOutputStep?.text(1) ?? "-", s.spikesUntilFirstCorrectOutput?.text(1) ?? "-",
                          s.forwardStepsPerFrame?.text(2) ?? "-", format(s.synapticOperationsPerSample.mean, 0)])
        }
        func summary(_ model: String, _ scheduler: String, f: String, stop: String) -> Summary? {
            r.summary.first { $0.model == model && $0.scheduler == scheduler && $0.forwardGroupSize == f && $0.stopRule == stop }
        }
        var figures: [Figure] = []
        // Plot 1: accuracy against F.
        var fBars: [BarChart.Series] = []
        for model in models {
            for scheduler in ["random", "momentum"] {
                fBars.append(.init(name: "\(model), async \(scheduler)", values: fs.map { summary(model, scheduler, f: $0, stop: "on-spiking-done").map { $0.accuracy.mean * 100 } ?? 0 }))
            }
        }
        figures.append(Figure(file: "accuracy-vs-F", caption: "accuracy vs F", chart: .bars(BarChart(
            title: "Accuracy vs F, spikes per forward step (mean of \(n) seed\(n == 1 ? "" : "s"))", xLabel: "F (spikes emitted per forward step)",
            yLabel: "test accuracy (%)", groups: fs.map { "F=\($0)" }, series: fBars))))
        // Plot 2: accuracy against K (forward steps after the first output spike).
        var series: [LineChart.Series] = []
        for model in models {
            for scheduler in ["random", "momentum"] {
                let points = ks.compactMap { k -> (Double, Double)? in
                    summary(model, scheduler, f: String(r.trainF), stop: "on-output:\(k)").map { (Double(k), $0.accuracy.mean * 100) }
                }
                series.append(.init(name: "\(model), async \(scheduler)", x: points.map(\.0), y: points.map(\.1)))
            }
        }
        figures.append(Figure(file: "accuracy-vs-k", caption: "accuracy vs K", chart: .lines(LineChart(
            title: "Accuracy vs forward steps after the first output spike (F=\(r.trainF), mean of \(n) seed\(n == 1 ? "" : "s"))",
            xLabel: "K (stop rule on-output:K), forward steps", yLabel: "test accuracy (%)", series: series))))
        // Plot 3: spikes per neuron per layer, each model run asynchronously with momentum at the training F.
        let bars = models.compactMap { model -> BarChart.Series? in
            summary(model, "momentum", f: String(r.trainF), stop: "on-spiking-done").map { .init(name: model, values: $0.spikesPerNeuronPerLayer) }
        }
        figures.append(Figure(file: "spikes-per-layer", caption: "spikes per layer", chart: .bars(BarChart(
            title: "Spikes per neuron per sample (async momentum, F=\(r.trainF))", xLabel: "population", yLabel: "spikes / neuron / sample",
            groups: sizes.indices.map { "layer \($0 + 1)" }, series: bars))))
        // Plot 4: histogram of currents integrated before a neuron's first spike in a frame (seeds pooled).
        // The last bin holds every larger count: it is not a point of the curve, so it is left out of the
        // line and given, labelled, in the legend.
        var overflowBin = 0
        let hist = models.compactMap { model -> LineChart.Series? in
            guard let h = summary(model, "momentum", f: String(r.trainF), stop: "on-spiking-done")?.currentsToSpikeHistogram, !h.isEmpty else { return nil }
            let total = Double(max(1, h.reduce(0, +)))
            overflowBin = h.count - 1
            return .init(name: "\(model) (\(h.count - 1)+: \(format(Double(h.last!) / total * 100, 1))%)",
                         x: (0..<(h.count - 1)).map(Double.init), y: h.dropLast().map { Double($0) / total })
        }
        figures.append(Figure(file: "currents-before-spike", caption: "currents before a spike", chart: .lines(LineChart(
            title: "Currents integrated before a spike (async momentum, F=\(r.trainF))",
            xLabel: "currents received before firing (the legend gives the share of \(overflowBin) or more)", yLabel: "fraction of spikes", series: hist))))

        var report = Report(title: "Layer-synchronisation study", provenance: .current(seeds: r.seeds, threads: Parallelism.threadCount, cores: Parallelism.activeCores, startedAt: started))
        report.text("Dataset: \(r.dataset)\n\nArchitecture: \(r.architecture.joined(separator: " | "))")
        report.text("Three models, same architecture, seed and budget (\(r.epochs) epochs): layered BPTT, unlayered backprop with the random scheduler, unlayered backprop with the momentum scheduler (both trained at F = \(r.trainF)). "
            + "Each study ran with \(n) seed\(n == 1 ? "" : "s") (\(r.seeds.map(String.init).joined(separator: ", "))): data split (where the dataset has none), initialisation and schedulers; values are mean ± sample standard deviation over seeds.")
        report.text("Settings: \(r.settings).")
        report.heading("The paper's claims, as measured")
        report.text("The paper: asynchronously trained models use up to 50% fewer spikes, reach their first correct output up to 2x sooner, and are up to 10 points more accurate when run asynchronously. "
            + "Each row compares the unlayered model trained with that scheduler to the layered model, both run asynchronously with that scheduler until spiking is done (negative spike change: fewer spikes; ratio > 1: the unlayered model is sooner).")
        report.table(claims(r, fs: fs))
        report.heading("Final training epoch")
        var trainTable = MarkdownTable(header: ["model", "seed", "train loss", "train acc %", "test acc % (own execution)", "samples/s"])
        for model in models {
            for seed in r.seeds {
                if let last = r.training["\(model) seed \(seed)"]?.last {
                    trainTable.append([model, String(seed), format(Double(last.metrics.loss), 4), format(last.metrics.trainAccuracy * 100, 1),
                                       last.testAccuracy.map { format($0 * 100, 1) } ?? "-", format(last.metrics.samplesPerSecond, 0)])
                }
            }
        }
        report.table(trainTable)
        // Training curves: per model, the mean over seeds of each epoch's loss and test accuracy.
        func curve(_ model: String, _ value: (EpochRecord) -> Double?) -> LineChart.Series {
            let runs = r.seeds.compactMap { r.training["\(model) seed \($0)"] }
            let epochs = runs.map(\.count).min() ?? 0
            let points = (0..<epochs).compactMap { e -> (Double, Double)? in
                let v = runs.compactMap { value($0[e]) }
                return v.isEmpty ? nil : (Double(e + 1), v.reduce(0, +) / Double(v.count))
            }
            return .init(name: model, x: points.map(\.0), y: points.map(\.1))
        }
        report.figure("training-loss", caption: "training loss per epoch", .lines(LineChart(
            title: "Training loss per epoch (mean of \(n) seed\(n == 1 ? "" : "s"))", xLabel: "epoch", yLabel: "loss (mean over batches; each model its own loss, see Settings)",
            series: models.map { curve($0) { Double($0.metrics.loss) } })))
        report.figure("training-accuracy", caption: "test accuracy per epoch", .lines(LineChart(
            title: "Test accuracy per epoch, own execution (mean of \(n) seed\(n == 1 ? "" : "s"))", xLabel: "epoch", yLabel: "test accuracy (%)",
            series: models.map { curve($0) { $0.testAccuracy.map { $0 * 100 } } })))
        report.heading("Every model in every execution mode (test set)")
        report.table(table)
        report.text("`first correct output` is the mean global forward step (counted from the first frame) of the first output spike of the right class, over the samples that had one; `spikes until first correct` counts every spike emitted until then.")
        report.heading("Plots")
        for f in figures { report.blocks.append(.figure(f)) }
        return report
    }
}
