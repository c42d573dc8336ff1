import ArgumentParser
import Foundation
import SNNCore

/// `snn info MODEL`: what a model file holds.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Print a model file's architecture, neuron parameters, weight counts and metadata (plain networks, and EM-PF networks: format version 3).")

    @Argument(help: "The model file (.snnmodel).")
    var model: String

    func run() throws {
        if EMPFModelFile.isEMPFFile(URL(fileURLWithPath: model)) { return try describeEMPFModel(model) }
        let (network, metadata) = try ModelFile.read(from: URL(fileURLWithPath: model))
        let shapes = try network.spec.shapes()
        print("model \(model) (format version \(ModelFile.version))")
        print("input \(network.spec.inputShape)")
        for (i, layer) in network.spec.layers.enumerated() {
            let w = network.weights[i].count
            print(String(format: "%3d  %-44@ -> %@%@", i, layer.shortName as NSString, "\(shapes[i + 1])" as NSString,
                         (w > 0 ? "  (\(w) weights)" : "") as NSString))
        }
        print("neurons \(try network.spec.neuronCount()), weights \(network.parameterCount)")
        for key in metadata.keys.sorted() { print("\(key): \(metadata[key]!)") }
    }
}
