import Foundation
import SNNCore
import SNNData
import SNNEngines
import SNNReports
import SNNTensor
import SNNTraining

/// The report folder of `snn train --report DIR`: training curves, the final evaluation, the
/// confusion matrix, spike rasters over time steps and forward steps, accuracy against forward steps
/// after the first output spike, spikes per neuron per layer, currents integrated before a spike and
/// membrane traces of chosen neurons.
struct TrainReport {
    var title: String
    var datasetDescription: String
    var architecture: String
    var settings: String
    var mode: String
    var frameMs: Double
    var seed: UInt64
    var records: [EpochRecord]
    /// Test spikes per sample after each epoch (the execution trained for).
    var testSpikes: [Double?]
    var lossName: String
    /// Options of the asynchronous pictures (the test options of an async-trained model, else
    /// momentum at F = 8).
    var asyncOptions: AsyncOptions
    /// Neurons whose membrane is drawn: (population from 0, neuron); empty: chosen automatically.
    var chosenNeurons: [(population: Int, neuron: Int)]
    /// Test samples used by the asynchronous evaluations of the report (the first ones).
    static let asyncSampleLimit = 1000

    func build(network: Network, test: any FrameDataset, final: LayeredEvaluation, started: Date, threads: Int) throws -> Report {
        var r = Report(title: title, provenance: Provenance(command: [], seeds: [], version: "", cores: 0, threads: 0, seconds: 0, finished: ""))
        let spec = network.spec
        let populations = spec.neuronLayerIndices
        let engine = try LayeredEngine(network: network)
        let sizes = populations.map { engine.shapes[$0 + 1].reduce(1, *) }
        // The last population is the output unless a non-spiking read-out follows it.
        let spikingOutput = populations.last == spec.layers.count - 1
        let names = populations.indices.map { k in k == populations.count - 1 && spikingOutput ? "output" : "layer \(k + 1)" }
        let stepLabel = "time step (dt = \(SVGPlot.label(frameMs)) ms)"
        r.text("Dataset: \(datasetDescription)\n\nNetwork: \(architecture) (\(network.parameterCount) weights). Training: \(mode) (\(settings)).")

        // 1. Training curves.
        r.heading("Training")
        var epochs = MarkdownTable(header: ["epoch", "loss", "train accuracy %", "test accuracy %", "test spikes/sample", "samples/s", "lr"])
        for (e, rec) in records.enumerated() {
            epochs.append([String(e + 1), format(Double(rec.metrics.loss), 4), format(rec.metrics.trainAccuracy * 100, 1),
                           rec.testAccuracy.map { format($0 * 100, 1) } ?? "-", testSpikes[e].map { format($0, 1) } ?? "-",
                           format(rec.metrics.samplesPerSecond, 0), "\(rec.metrics.learningRate)"])
        }
        r.table(epochs)
        let xs = records.indices.map { Double($0 + 1) }
        r.figure("training-loss", caption: "training loss per epoch", .lines(LineChart(
            title: "Training loss", xLabel: "epoch", yLabel: "loss (\(lossName), mean over batches)",
            series: [.init(name: "train loss", x: xs, y: records.map { Double($0.metrics.loss) })])))
        var accuracy: [LineChart.Series] = [.init(name: "train accuracy", x: xs, y: records.map { $0.metrics.trainAccuracy * 100 })]
        let tested = records.indices.filter { records[$0].testAccuracy != nil }
        if !tested.isEmpty {
            accuracy.append(.init(name: "test accuracy", x: tested.map { Double($0 + 1) }, y: tested.map { records[$0].testAccuracy! * 100 }))
        }
        r.figure("training-accuracy", caption: "train and test accuracy per epoch", .lines(LineChart(
            title: "Accuracy per epoch", xLabel: "epoch", yLabel: "accuracy (%)", series: accuracy)))
        let spiking = testSpikes.indices.filter { testSpikes[$0] != nil }
        if !spiking.isEmpty {
            r.figure("training-spikes", caption: "test spikes per sample per epoch", .lines(LineChart(
                title: "Spikes per sample per epoch (test set, \(mode) execution)", xLabel: "epoch", yLabel: "spikes / sample",
                series: [.init(name: "spikes per sample", x: spiking.map { Double($0 + 1) }, y: spiking.map { testSpikes[$0]! })])))
        }

        // 2. Final evaluation and confusion matrix (layered execution, whole test set).
        r.heading("Test set")
        var confusion = [[Double]](repeating: [Double](repeating: 0, count: test.classCount), count: test.classCount)
        let loader = BatchLoader(dataset: test, batchSize: 128, shuffle: false, seed: 0)
        try loader.forEachBatch { batch in
            for (p, l) in zip(engine.run(inputs: batch.inputs).predictions, batch.labels) where l >= 0 && l < test.classCount && p >= 0 && p < test.classCount {
                confusion[l][p] += 1
            }
        }
        var asyncMetrics: AsyncMetrics? = nil
        var asyncNote = ""
        let asyncTest = test.count > Self.asyncSampleLimit ? SubsetDataset(test, indices: Array(0..<Self.asyncSampleLimit)) : test
        do {
            try AsyncCompatibility.check(spec)
            asyncMetrics = try evaluateAsync(network: network, dataset: asyncTest, options: asyncOptions, batchSize: 128, progressTitle: "report: async").metrics
        } catch {
            asyncNote = "The asynchronous pictures are left out: \(error)."
        }
        let asyncName = "async \(asyncOptions.scheduler.kind.rawValue) F=\(describe(asyncOptions.forwardGroupSize))"
        let subsetNote = asyncTest.count < test.count ? " (first \(asyncTest.count) test samples)" : ""
        var finalTable = MarkdownTable(header: ["execution", "test samples", "accuracy %", "spikes/sample", "syn. ops/sample"])
        finalTable.append(["layered", String(final.samples), format(final.accuracy * 100, 2), format(final.spikesPerSample, 1),
                           format(final.synapticOperationsPerSample.total, 0)])
        if let m = asyncMetrics {
            finalTable.append(["\(asyncName) \(m.stopRule)", String(m.samples), format(m.accuracy * 100, 2), format(m.spikesPerSample, 1),
                               format(m.synapticOperationsPerSample.total, 0)])
        }
        r.table(finalTable)
        if !asyncNote.isEmpty { r.text(asyncNote) }
        let classes = (0..<test.classCount).map(String.init)
        r.figure("confusion-matrix", caption: "confusion matrix (layered execution, test set)", .heatmap(HeatmapChart(
            title: "Confusion matrix (layered, \(test.count) test samples)", xLabel: "predicted class", yLabel: "true class",
            columns: classes, rows: classes, values: confusion, shadeLabel: "share of the true class")))

        // 3. Spikes per neuron per layer.
        r.heading("Spikes")
        var spikeBars: [BarChart.Series] = [.init(name: "layered", values: zip(final.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) })]
        if let m = asyncMetrics {
            spikeBars.append(.init(name: asyncName + subsetNote, values: zip(m.spikesPerSamplePerLayer, sizes).map { $0 / Double($1) }))
        }
        r.figure("spikes-per-neuron", caption: "spikes per neuron per layer", .bars(BarChart(
            title: "Spikes per neuron per sample, by layer (test set)", xLabel: "population (neurons)", yLabel: "spikes / neuron / sample",
            groups: zip(names, sizes).map { "\($0) (\($1))" }, series: spikeBars)))

        // 4. One sample: layered raster over time steps and membrane traces.
        let sample = try test.frames(0)
        let steps = test.timeSteps
        let input = Tensor(shape: [steps, 1] + test.frameShape, data: sample.data)
        let run = engine.run(inputs: input, tape: true)
        guard let tape = run.tape else { throw CLIError("report: the layered engine kept no tape") }
        let shown = sizes.map { min($0, 1024) }
        var rs: [Int] = [], rb: [Int] = [], rn: [Int] = []
        for t in 0..<steps {
            for (k, layer) in populations.enumerated() {
                guard let s = tape.spikes[t][layer] else { continue }
                for n in 0..<shown[k] where s.data[n] != 0 { rs.append(t + 1); rb.append(k); rn.append(n) }
            }
        }
        let bands = zip(names, zip(sizes, shown)).map { name, ns in
            RasterChart.Band(name: ns.1 < ns.0 ? "\(name) (first \(ns.1))" : name, neurons: ns.1)
        }
        let label = test.label(0)
        r.text("Test sample 0 (class \(label)): its spikes, layer by layer, and the membrane of chosen neurons.")
        r.figure("raster-time-steps", caption: "spike raster per layer over time steps (layered)", .raster(RasterChart(
            title: "Spikes of test sample 0 (class \(label)), layered execution: \(rs.count) spikes", xLabel: stepLabel,
            bands: bands, first: 1, last: steps, step: rs, band: rb, neuron: rn)))
        var chosen = chosenNeurons
        if chosen.isEmpty {
            // Default: the most active neuron of the first layer; in the output layer the true class's
            // neuron and the strongest other one.
            func total(_ k: Int, _ n: Int) -> Float { (0..<steps).reduce(0) { $0 + (tape.preReset[$1][populations[k]]?.data[n] ?? 0) } }
            func spikes(_ k: Int, _ n: Int) -> Float { (0..<steps).reduce(0) { $0 + (tape.spikes[$1][populations[k]]?.data[n] ?? 0) } }
            if populations.count > 1, let best = (0..<sizes[0]).max(by: { spikes(0, $0) < spikes(0, $1) || (spikes(0, $0) == spikes(0, $1) && $0 > $1) }) {
                chosen.append((0, best))
            }
            let out = populations.count - 1
            if spikingOutput && label >= 0 && label < sizes[out] {
                chosen.append((out, label))
                if let other = (0..<sizes[out]).filter({ $0 != label }).max(by: { total(out, $0) < total(out, $1) || (total(out, $0) == total(out, $1) && $0 > $1) }) {
                    chosen.append((out, other))
                }
            } else if let best = (0..<sizes[out]).max(by: { spikes(out, $0) < spikes(out, $1) || (spikes(out, $0) == spikes(out, $1) && $0 > $1) }) {
                chosen.append((out, best))
            }
        }
        var membrane: [LineChart.Series] = []
        var thresholds: [Float] = []
        let tx = (1...steps).map(Double.init)
        for (k, n) in chosen where k < populations.count && n < sizes[k] {
            membrane.append(.init(name: "\(names[k]) neuron \(n)\(spikingOutput && k == populations.count - 1 && n == label ? " (true class)" : "")", x: tx,
                                  y: (0..<steps).map { Double(tape.preReset[$0][populations[k]]?.data[n] ?? 0) }))
            if case .lif(let p) = spec.layers[populations[k]], !thresholds.contains(p.threshold) { thresholds.append(p.threshold) }
        }
        for th in thresholds {
            membrane.append(.init(name: "threshold \(SVGPlot.label(Double(th)))", x: [1, Double(steps)], y: [Double(th), Double(th)], dashed: true, markers: false))
        }
        if !membrane.isEmpty {
            r.figure("membrane", caption: "membrane potential of chosen neurons (layered, before reset)", .lines(LineChart(
                title: "Membrane potential before reset, test sample 0 (layered)", xLabel: stepLabel, yLabel: "membrane potential U before reset",
                series: membrane)))
        }

        // 5. Asynchronous pictures.
        if let m = asyncMetrics {
            r.heading("Asynchronous execution (\(asyncName))")
            var o = asyncOptions
            o.recordTrace = true
            let traced = try AsyncEngine(network: network).run(inputs: input, labels: [label], options: o)
            if let trace = traced.trace {
                var fs: [Int] = [], fb: [Int] = [], fn: [Int] = []
                var frameStart: [Int: Int] = [:]
                for e in trace.events {
                    frameStart[Int(e.frame)] = min(frameStart[Int(e.frame)] ?? .max, Int(e.step))
                    guard Int(e.population) < shown.count, Int(e.neuron) < shown[Int(e.population)] else { continue }
                    fs.append(Int(e.step)); fb.append(Int(e.population)); fn.append(Int(e.neuron))
                }
                let lastStep = trace.events.map { Int($0.step) }.max() ?? 1
                let markers = frameStart.sorted { $0.key < $1.key }.filter { $0.key > 0 }.map { RasterChart.Marker(x: Double($0.value), label: "frame \($0.key + 1)") }
                r.figure("raster-forward-steps", caption: "spike raster per layer over forward steps (asynchronous)", .raster(RasterChart(
                    title: "Spikes of test sample 0 (class \(label)), \(asyncName): \(trace.events.count) spikes",
                    xLabel: "forward step (\(o.forwardGroupSize.map { "up to \($0) spikes" } ?? "every ready neuron") per step; dashed: frame starts)",
                    bands: bands, first: 1, last: max(1, lastStep), step: fs, band: fb, neuron: fn, markers: markers)))
            }
            // Accuracy against K, the forward steps run after the first output spike.
            let ks = [0, 1, 2, 4, 8, 16]
            var ky: [Double] = []
            for k in ks {
                var ok = asyncOptions
                ok.stopRule = .onOutput(k: k)
                ok.measuresCurrentsToSpike = false
                ky.append(try evaluateAsync(network: network, dataset: asyncTest, options: ok, batchSize: 128, progressTitle: "report: on-output:\(k)").metrics.accuracy * 100)
            }
            r.figure("accuracy-vs-k", caption: "accuracy against forward steps after the first output spike", .lines(LineChart(
                title: "Accuracy vs forward steps after the first output spike (\(asyncName))",
                xLabel: "K: forward steps run after the first output spike (stop rule on-output:K)", yLabel: "test accuracy (%)\(subsetNote)",
                series: [.init(name: "on-output:K", x: ks.map(Double.init), y: ky),
                         .init(name: "until spiking is done", x: [0, Double(ks.last!)], y: [m.accuracy * 100, m.accuracy * 100], dashed: true, markers: false)],
                yFromZero: false)))
            let h = m.currentsToSpikeHistogram
            if h.count > 1 {
                let total = Double(max(1, h.reduce(0, +)))
                r.figure("currents-before-spike", caption: "currents integrated before a spike", .lines(LineChart(
                    title: "Currents integrated before a spike (\(asyncName))",
                    xLabel: "input currents a neuron received in a frame before its first spike of the frame", yLabel: "fraction of spikes",
                    series: [.init(name: "\(asyncName) (\(h.count - 1)+: \(format(Double(h.last!) / total * 100, 1))%)",
                                   x: (0..<(h.count - 1)).map(Double.init), y: h.dropLast().map { Double($0) / total })])))
            }
        }
        r.provenance = .current(seeds: [seed], threads: threads, cores: Parallelism.activeCores, startedAt: started)
        return r
    }
}
