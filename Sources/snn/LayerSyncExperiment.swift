import ArgumentParser
import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor
import SNNTraining

/// `snn experiment layer-sync`: the layer-synchronisation study. Trains a layered model (BPTT) and two
/// unlayered ones (random and momentum scheduling), runs each in every execution mode, and writes a
/// report.
struct LayerSyncExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layer-sync",
        abstract: "Layered vs unlayered training, evaluated layered and asynchronously (F sweep, stop rules).",
        discussion: """
        Trains three models with the same architecture, seed and budget: layered BPTT; unlayered backprop \
        with the random scheduler; unlayered backprop with the momentum scheduler (both at --train-F). Each is \
        evaluated layer by layer and asynchronously with both schedulers for every F of --F-sweep ("on spiking \
        done"), and with "on output:K" for every K of --k-sweep (at --train-F). Writes report.md, results.json \
        and SVG plots into --out.
        Example: snn experiment layer-sync --dataset nmnist --epochs 15
        """
    )

    @OptionGroup var data: DatasetOptions
    @OptionGroup var net: NetworkOptions
    @OptionGroup var training: TrainingOptions

    @Option(name: .customLong("train-F"), help: "F used by unlayered training.")
    var trainF: Int = 8

    @Option(name: .customLong("F-sweep"), help: "F values evaluated (comma list, inf allowed).")
    var fSweep: String = "inf,32,8,2"

    @Option(help: "K values of the on-output:K stop rule evaluated (comma list).")
    var kSweep: String = "0,1,2,4,8,16"

    @Option(help: "Probability that a spike does not set the refractory flag during unlayered training.")
    var refractoryDropout: Float = 0

    @Flag(help: "Unlayered backprop: only a neuron's last integration in a frame passes the silent gradient.")
    var silentGradientAtFrameEnd = false

    @Option(help: "Unlayered backprop: zero surrogate gradient where U - theta is below this value.")
    var backpropThreshold: Float?

    @Option(help: "Report folder (default runs/layer-sync-DATASET).")
    var out: String?

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    struct Row: Codable {
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
    }

    struct Results: Codable {
        var dataset: String
        var architecture: [String]
        var trainF: Int
        var epochs: Int
        var training: [String: [EpochRecord]]
        var rows: [Row]
        var settings: String
    }

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        let folder = URL(fileURLWithPath: out ?? "runs/layer-sync-\(data.dataset)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let loaded = try data.load()
        print(loaded.description)
        let spec = try net.spec(default: data.defaultArchitecture(for: loaded), dtMs: data.frameMs, inputShape: loaded.train.frameShape)
        let config = try training.configuration(seed: data.seed)
        let sizes = try AsyncEngine(network: try Network(spec: spec, seed: 0)).populations.map(\.count)
        let fs = try AsyncModeOptions.parse(["--F", fSweep]).groupSizes()
        let ks = try kSweep.split(separator: ",").map { s -> Int in
            guard let k = Int(s.trimmingCharacters(in: .whitespaces)), k >= 0 else { throw ValidationError("--k-sweep takes integers") }
            return k
        }

        // 1. Train the three models.
        let backprop = UnlayeredBackprop.Options(backpropThreshold: backpropThreshold, silentGradientOnlyAtFrameEnd: silentGradientAtFrameEnd)
        let trainings: [(String, any GradientComputer)] = [
            ("layered", LayeredBPTT()),
            ("unlayered-random", UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: trainF, scheduler: .random,
                                                                             refractoryDropout: refractoryDropout, seed: data.seed,
                                                                             measuresCurrentsToSpike: false), backpropOptions: backprop)),
            ("unlayered-momentum", UnlayeredTraining(asyncOptions: AsyncOptions(forwardGroupSize: trainF, scheduler: .momentum,
                                                                               refractoryDropout: refractoryDropout, seed: data.seed,
                                                                               measuresCurrentsToSpike: false), backpropOptions: backprop)),
        ]
        var models: [(String, Network)] = []
        var history: [String: [EpochRecord]] = [:]
        for (name, computer) in trainings {
            print("== training \(name) (\(config.epochs) epochs)")
            var trainer = Trainer(network: try Network(spec: spec, seed: data.seed), configuration: config, computer: computer)
            let evalOptions = AsyncOptions(forwardGroupSize: trainF, scheduler: name.hasSuffix("random") ? .random : .momentum, seed: data.seed)
            history[name] = try trainLoop(trainer: &trainer, train: loaded.train, test: loaded.test, epochs: config.epochs,
                                          batchSize: training.batchSize, seed: data.seed) { network, test in
                name == "layered" ? try LayeredEvaluation.run(network: network, dataset: test, batchSize: 128, seed: 0).accuracy
                                  : try evaluateAsync(network: network, dataset: test, options: evalOptions, batchSize: 128).metrics.accuracy
            }
            try ModelFile.write(trainer.network, metadata: ["experiment": "layer-sync", "trainedWith": name, "trainF": String(trainF),
                                                            "dataset": data.dataset, "seed": String(data.seed)],
                                to: folder.appendingPathComponent("\(name).snnmodel"))
            models.append((name, trainer.network))
        }

        // 2. Evaluate every model in every execution mode.
        var rows: [Row] = []
        for (name, network) in models {
            print("== evaluating \(name)")
            let layered = try LayeredEvaluation.run(network: network, dataset: loaded.test, batchSize: 128, seed: 0)
            rows.append(Row(model: name, execution: "layered", accuracy: layered.accuracy, spikesPerSample: layered.spikesPerSample,
                            spikeDensity: layered.spikesPerSample / Double(sizes.reduce(0, +) * loaded.test.timeSteps),
                            spikesPerSamplePerLayer: layered.spikesPerSamplePerLayer,
                            spikesPerNeuronPerLayer: zip(layered.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) },
                            synapticOperationsPerSample: layered.synapticOperationsPerSample.total))
            for scheduler in [Scheduler.random, .momentum] {
                var settings: [(Int?, StopRule)] = fs.map { ($0, .onSpikingDone) }
                settings += ks.map { (trainF, .onOutput(k: $0)) }
                for (f, stop) in settings {
                    let options = AsyncOptions(forwardGroupSize: f, scheduler: scheduler, stopRule: stop, seed: data.seed)
                    let m = try evaluateAsync(network: network, dataset: loaded.test, options: options, batchSize: 128).metrics
                    rows.append(Row(model: name, execution: "async", scheduler: scheduler.kind.rawValue, forwardGroupSize: describe(f),
                                    stopRule: stop.description, accuracy: m.accuracy, spikesPerSample: m.spikesPerSample,
                                    spikeDensity: m.spikeDensity, spikesPerSamplePerLayer: m.spikesPerSamplePerLayer,
                                    spikesPerNeuronPerLayer: zip(m.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) },
                                    firstOutputStep: m.firstOutputStep, firstCorrectOutputStep: m.firstCorrectOutputStep,
                                    spikesUntilFirstCorrectOutput: m.spikesUntilFirstCorrectOutput,
                                    forwardStepsPerFrame: m.forwardStepsPerFrame,
                                    synapticOperationsPerSample: m.synapticOperationsPerSample.total,
                                    currentsToSpikeHistogram: m.currentsToSpikeHistogram))
                }
            }
        }

        // 3. The report.
        let results = Results(dataset: loaded.description, architecture: spec.layers.map(\.shortName), trainF: trainF,
                              epochs: config.epochs, training: history, rows: rows,
                              settings: "loss \(config.loss.rawValue), lr \(config.learningRate), batch \(training.batchSize), seed \(data.seed), "
                                + "silent gradient \(silentGradientAtFrameEnd ? "at frame end only" : "at every silent integration"), "
                                + "backprop threshold \(backpropThreshold.map { String($0) } ?? "none"), refractory dropout \(refractoryDropout)")
        try writeJSON(results, to: folder.appendingPathComponent("results.json").path)
        try writeReport(results, models: models.map(\.0), ks: ks, sizes: sizes, to: folder)
        print("report written to \(folder.path)/report.md")
    }

    func writeReport(_ r: Results, models: [String], ks: [Int], sizes: [Int], to folder: URL) throws {
        var table = MarkdownTable(header: ["model", "execution", "scheduler", "F", "stop", "accuracy %", "spikes/sample",
                                           "spike density", "first correct output (fwd step)", "syn. ops/sample"])
        for row in r.rows {
            table.append([row.model, row.execution, row.scheduler ?? "-", row.forwardGroupSize ?? "-", row.stopRule ?? "-",
                          format(row.accuracy * 100, 1), format(row.spikesPerSample, 1), format(row.spikeDensity, 4),
                          row.firstCorrectOutputStep.map { format($0, 1) } ?? "-", format(row.synapticOperationsPerSample, 0)])
        }
        // Plot 1: accuracy against K (forward steps after the first output spike).
        var series: [SVGPlot.Series] = []
        for model in models {
            for scheduler in ["random", "momentum"] {
                let points = ks.compactMap { k -> (x: Double, y: Double)? in
                    r.rows.first { $0.model == model && $0.scheduler == scheduler && $0.stopRule == "on-output:\(k)" }
                        .map { (Double(k), $0.accuracy * 100) }
                }
                series.append(.init(name: "\(model), async \(scheduler)", points: points))
            }
        }
        let accuracyPlot = SVGPlot(title: "Accuracy vs forward steps after the first output spike (F=\(r.trainF))",
                                   xLabel: "K (stop rule on-output:K)", yLabel: "test accuracy (%)").lines(series)
        try accuracyPlot.write(to: folder.appendingPathComponent("accuracy-vs-k.svg"), atomically: true, encoding: .utf8)
        // Plot 2: spikes per neuron per layer, each model run asynchronously with momentum at the training F.
        let layerNames = sizes.indices.map { "layer \($0 + 1)" }
        let bars = models.compactMap { model -> (name: String, values: [Double])? in
            r.rows.first { $0.model == model && $0.scheduler == "momentum" && $0.forwardGroupSize == String(r.trainF) && $0.stopRule == "on-spiking-done" }
                .map { (model, $0.spikesPerNeuronPerLayer) }
        }
        try SVGPlot(title: "Spikes per neuron per sample (async momentum, F=\(r.trainF))", xLabel: "population", yLabel: "spikes / neuron / sample")
            .bars(groups: layerNames, series: bars).write(to: folder.appendingPathComponent("spikes-per-layer.svg"), atomically: true, encoding: .utf8)
        // Plot 3: histogram of currents integrated before a neuron's first spike in a frame.
        let hist = models.compactMap { model -> SVGPlot.Series? in
            guard let h = r.rows.first(where: { $0.model == model && $0.scheduler == "momentum" && $0.forwardGroupSize == String(r.trainF) && $0.stopRule == "on-spiking-done" })?.currentsToSpikeHistogram else { return nil }
            let total = Double(max(1, h.reduce(0, +)))
            return .init(name: model, points: h.enumerated().map { (Double($0), Double($1) / total) })
        }
        try SVGPlot(title: "Currents integrated before a spike (async momentum, F=\(r.trainF))", xLabel: "currents received before firing", yLabel: "fraction of spikes")
            .lines(hist).write(to: folder.appendingPathComponent("currents-before-spike.svg"), atomically: true, encoding: .utf8)

        var md = "# Layer-synchronisation study\n\n"
        md += "Dataset: \(r.dataset)\n\nArchitecture: \(r.architecture.joined(separator: " | "))\n\n"
        md += "Three models, same architecture, seed and budget (\(r.epochs) epochs): layered BPTT, unlayered backprop with the random scheduler, unlayered backprop with the momentum scheduler (both trained at F = \(r.trainF)).\n\n"
        md += "Settings: \(r.settings).\n\n"
        md += "## Final training epoch\n\n"
        var trainTable = MarkdownTable(header: ["model", "train loss", "train acc %", "test acc % (own execution)", "samples/s"])
        for model in models {
            if let last = r.training[model]?.last {
                trainTable.append([model, format(Double(last.metrics.loss), 4), format(last.metrics.trainAccuracy * 100, 1),
                                   last.testAccuracy.map { format($0 * 100, 1) } ?? "-", format(last.metrics.samplesPerSecond, 0)])
            }
        }
        md += trainTable.text + "\n## Every model in every execution mode (test set)\n\n" + table.text
        md += "\n`first correct output` is the mean global forward step (counted from the first frame) of the first output spike of the right class, over the samples that had one.\n\n"
        md += "## Plots\n\n![accuracy vs K](accuracy-vs-k.svg)\n\n![spikes per layer](spikes-per-layer.svg)\n\n![currents before a spike](currents-before-spike.svg)\n"
        try md.write(to: folder.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
    }
}
