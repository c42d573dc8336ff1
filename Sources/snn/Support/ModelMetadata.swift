import ArgumentParser
import Foundation
import SNNCore
import SNNData

/// What a model file records about the data it was trained on (in its metadata dictionary):
/// `dataset`, `classes`, `inputShape` (e.g. `2x34x34`), `frames`, `encoding` and `dtMs`.
func datasetMetadata(_ data: DatasetOptions, loaded: DatasetOptions.Loaded) -> [String: String] {
    [
        "dataset": data.dataset,
        "classes": String(loaded.train.classCount),
        "inputShape": loaded.train.frameShape.map(String.init).joined(separator: "x"),
        "frames": String(loaded.train.timeSteps),
        "encoding": data.encoding,
        "dtMs": String(data.frameMs),
    ]
}

/// `snn eval`'s dataset settings: the options given on the command line, the model's recorded
/// settings for those left out. A given option that disagrees with the model is refused unless
/// `allowMismatch`.
func datasetOptions(_ given: DatasetOptions, matching metadata: [String: String], model: String,
                    givenOptions: Set<String>, allowMismatch: Bool) throws -> (options: DatasetOptions, adopted: [String]) {
    var d = given
    var adopted: [String] = [], mismatches: [String] = []
    if var name = metadata["dataset"] {
        if name == "nmnist-small" { name = "nmnist" }  // older demo models
        if givenOptions.contains("--dataset") {
            if d.dataset != name { mismatches.append("--dataset \(d.dataset) (model: \(name))") }
        } else if d.dataset != name { d.dataset = name; adopted.append("--dataset \(name)") }
    }
    if let f = metadata["frames"].flatMap({ Int($0) }), f > 0 {
        if givenOptions.contains("--frames") {
            if d.frames != f { mismatches.append("--frames \(d.frames.map(String.init) ?? "-") (model: \(f))") }
        } else { d.frames = f; adopted.append("--frames \(f)") }
    }
    if let e = metadata["encoding"] {
        if givenOptions.contains("--encoding") {
            if d.encoding != e { mismatches.append("--encoding \(d.encoding) (model: \(e))") }
        } else if d.encoding != e { d.encoding = e; adopted.append("--encoding \(e)") }
    }
    if let t = metadata["dtMs"].flatMap({ Double($0) }), t.isFinite, t > 0 {
        if givenOptions.contains("--dt-ms") {
            if d.frameMs != t { mismatches.append("--dt-ms \(d.frameMs) (model: \(t))") }
        } else if d.frameMs != t { d.dtMs = t; adopted.append("--dt-ms \(t)") }
    }
    if !mismatches.isEmpty && !allowMismatch {
        throw ValidationError("model \(model) was trained with other data settings: \(mismatches.joined(separator: ", ")); leave these options out to use the model's, or add --allow-mismatch")
    }
    return (d, adopted)
}

/// Checks the model's recorded classes and input shape against the loaded dataset.
func checkRecorded(_ metadata: [String: String], model: String, against data: any FrameDataset) throws {
    if let c = metadata["classes"].flatMap({ Int($0) }), c != data.classCount {
        throw CLIError("model \(model) was trained on \(c) classes, but the dataset has \(data.classCount)")
    }
    if let shape = metadata["inputShape"], shape != data.frameShape.map(String.init).joined(separator: "x") {
        throw CLIError("model \(model) was trained on frames \(shape), but the dataset's frames are \(data.frameShape.map(String.init).joined(separator: "x"))")
    }
}
