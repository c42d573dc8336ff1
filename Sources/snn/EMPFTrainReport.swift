import Foundation
import SNNCore
import SNNData
import SNNReports
import SNNTensor
import SNNTraining

/// The report folder of `snn train --method ... --report DIR`: the epoch table, training curves,
/// peak training memory per epoch, the final test evaluation with its operation counts (accumulates
/// against multiply-accumulates) and the confusion matrix of the EM-PF (or LIF) network.
struct EMPFTrainReport {
    var datasetDescription: String
    var architecture: String
    var settings: String
    var record: EMPFRun.Record
    var seed: UInt64

    func build(model: EMPFModel, test: any FrameDataset, started: Date) throws -> Report {
        var r = Report(title: "Training on \(datasetDescription.split(separator: ":").first ?? "data") with \(record.method) (\(record.spike) spikes)",
                       provenance: .current(seeds: [seed], threads: Parallelism.threadCount, cores: Parallelism.activeCores, startedAt: started))
        let weights = model.parameters.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        r.text("Dataset: \(datasetDescription)\n\nNetwork: \(architecture) (\(weights) parameters). Training: \(settings).")

        r.heading("Training")
        let history = record.epochs
        var table = MarkdownTable(header: ["epoch", "loss", "train accuracy %", "test accuracy %", "peak training memory (MiB)", "seconds"])
        for h in history {
            table.append([format(h["epoch"] ?? 0, 0), format(h["loss"] ?? 0, 4), format((h["trainAccuracy"] ?? 0) * 100, 1),
                          format((h["testAccuracy"] ?? 0) * 100, 2), format((h["peakBytes"] ?? 0) / 1_048_576, 3), format(h["seconds"] ?? 0, 1)])
        }
        r.table(table)
        let xs = history.map { $0["epoch"] ?? 0 }
        r.figure("training-loss", caption: "training loss per epoch", .lines(LineChart(
            title: "Training loss", xLabel: "epoch", yLabel: "loss (cross-entropy per step, mean)",
            series: [.init(name: "train loss", x: xs, y: history.map { $0["loss"] ?? 0 })])))
        r.figure("training-accuracy", caption: "train and test accuracy per epoch", .lines(LineChart(
            title: "Accuracy per epoch", xLabel: "epoch", yLabel: "accuracy (%)",
            series: [.init(name: "train accuracy", x: xs, y: history.map { ($0["trainAccuracy"] ?? 0) * 100 }),
                     .init(name: "test accuracy", x: xs, y: history.map { ($0["testAccuracy"] ?? 0) * 100 })])))
        r.figure("training-memory", caption: "peak training memory per epoch", .lines(LineChart(
            title: "Peak training memory (\(record.method), T = \(record.steps))", xLabel: "epoch", yLabel: "peak training memory (MiB)",
            series: [.init(name: "peak bytes held by a training step", x: xs, y: history.map { ($0["peakBytes"] ?? 0) / 1_048_576 })])))

        r.heading("Test set")
        var confusion = [[Double]](repeating: [Double](repeating: 0, count: test.classCount), count: test.classCount)
        let loader = BatchLoader(dataset: test, batchSize: 128, shuffle: false, seed: 0)
        try loader.forEachBatch { batch in
            let predictions = EMPFEvaluation.predictions(try EMPFEvaluation.run(model, inputs: batch.inputs).outputs)
            for (p, l) in zip(predictions, batch.labels) where l >= 0 && l < test.classCount && p >= 0 && p < test.classCount { confusion[l][p] += 1 }
        }
        if let e = loader.lastError { throw e }
        var final = MarkdownTable(header: ["test samples", "accuracy %", "accumulates / sample", "multiply-accumulates / sample"])
        final.append([String(test.count), format(record.testAccuracy * 100, 2), format(record.accumulatesPerSample, 0),
                      format(record.multiplyAccumulatesPerSample, 0)])
        r.table(final)
        r.text("Accumulates: binary spikes, or any spike into binary weights (a sign-selected addition). Multiply-accumulates: graded spikes into float weights, and the one multiplication by alpha per output of a binary layer.")
        let classes = (0..<test.classCount).map(String.init)
        r.figure("confusion-matrix", caption: "confusion matrix (test set)", .heatmap(HeatmapChart(
            title: "Confusion matrix (\(test.count) test samples)", xLabel: "predicted class", yLabel: "true class",
            columns: classes, rows: classes, values: confusion, shadeLabel: "share of the true class")))
        return r
    }
}
