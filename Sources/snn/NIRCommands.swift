import ArgumentParser
import Foundation
import SNNCore
import SNNNIR

/// The frame length and discretisation options of `snn export --nir` and `snn import --nir`.
struct NIRConversionOptions: ParsableArguments {
    @Option(help: "Frame length in seconds that NIR's time constants are discretised with (snnTorch exports with 1e-4; Norse integrates with 1e-3).")
    var dt: Double = NIROptions.defaultDt

    @Option(help: "Time constant <-> decay: euler (beta = 1 - dt/tau, snnTorch's convention) or exact (beta = exp(-dt/tau)).")
    var discretization: String = NIRDiscretization.euler.rawValue

    @Option(help: "Import: whose conventions the file follows: nir (NIR's equations; snnTorch, Python's nir) or norse (Norse 1.1's to_nir: time constants written times dt, CubaLIF input as a current jump; use with --dt 0.001, Norse's default).")
    var from: String = NIRProducer.nir.rawValue

    func options() throws -> NIROptions {
        try Check.finite(dt, "--dt", above: 0, hint: " (seconds)")
        guard let d = NIRDiscretization(rawValue: discretization) else {
            throw ValidationError("--discretization must be one of \(NIRDiscretization.allCases.map(\.rawValue).joined(separator: ", ")), got '\(discretization)'")
        }
        guard let producer = NIRProducer(rawValue: from) else {
            throw ValidationError("--from must be one of \(NIRProducer.allCases.map(\.rawValue).joined(separator: ", ")), got '\(from)'")
        }
        return NIROptions(dt: dt, discretization: d, producer: producer)
    }
}

/// `snn export --nir MODEL OUT.nir`: a model file as a NIR graph (HDF5).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model as a NIR graph (Neuromorphic Intermediate Representation, HDF5), for snnTorch, Norse, Lava and others.",
        discussion: """
        LIF populations become NIR LIF nodes (IF when beta = 1) with tau and r from --dt and --discretization; \
        linear layers Linear, convolutions Conv2d, average pooling AvgPool2d. Dropout is left out. Max pooling, \
        normalised populations (BNTT, tdBN) and reset by subtraction cannot be carried: an error names the layer. \
        Needs a build with --traits HDF5. See docs/NIR.md.
        """)

    @Flag(help: "Write NIR (the only export format).")
    var nir = false

    @Argument(help: "The model file (.snnmodel).")
    var model: String

    @Argument(help: "The NIR file to write (.nir); written atomically.")
    var output: String

    @OptionGroup var conversion: NIRConversionOptions

    func run() throws {
        guard nir else { throw ValidationError("choose the format: --nir (the only export format)") }
        let options = try conversion.options()
        guard options.producer == .nir else { throw ValidationError("--from applies to snn import (whose conventions a file follows); snn export writes NIR's equations") }
        guard NIRFile.available else { throw ValidationError("NIR files need libhdf5: rebuild with `swift build -c release --traits HDF5` (Debian: apt-get install libhdf5-dev)") }
        try Check.writableFile(output, "the NIR output")
        let (network, _) = try ModelFile.read(from: URL(fileURLWithPath: model))
        let (graph, notes) = try NIRExport.graph(network, options: options)
        try NIRFile.write(graph, to: URL(fileURLWithPath: output))
        for n in notes { print("note: \(n)") }
        print("wrote \(output): \(graph.nodes.count) nodes (\(graph.nodes.map(\.type).joined(separator: " -> "))), dt \(options.dt) s, \(options.discretization.rawValue) discretisation")
    }
}

/// `snn import --nir IN.nir --out MODEL.snnmodel`: a NIR graph as an SNNKit model file.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read a NIR graph (HDF5, as snnTorch, Norse, nir.write make it) into an SNNKit model file.",
        discussion: """
        The graph must be a chain Input -> ... -> Output of Affine/Linear (zero bias), Conv2d, AvgPool2d, \
        SumPool2d, Flatten, LIF, IF, CubaLIF, Threshold and Scale nodes (files from Norse: --from norse --dt 0.001). Time constants become \
        decays with --dt and --discretization; input gains fold into thresholds. The model file is written \
        only when the whole graph converted. Needs a build with --traits HDF5. See docs/NIR.md.
        """)

    @Option(name: .customLong("nir"), help: "The NIR file to read.")
    var input: String

    @Option(help: "The model file to write (.snnmodel); written atomically, only when the import succeeds.")
    var out: String

    @OptionGroup var conversion: NIRConversionOptions

    func run() throws {
        let options = try conversion.options()
        guard NIRFile.available else { throw ValidationError("NIR files need libhdf5: rebuild with `swift build -c release --traits HDF5` (Debian: apt-get install libhdf5-dev)") }
        try Check.writableFile(out, "--out")
        let url = URL(fileURLWithPath: input)
        let graph = try NIRFile.read(from: url)
        let (network, notes) = try NIRImport.network(graph, options: options, file: input)
        try ModelFile.write(network, metadata: [
            "source": "NIR \(URL(fileURLWithPath: input).lastPathComponent) (nir \(graph.version.isEmpty ? "?" : graph.version))",
            "nir.dt": "\(options.dt)", "nir.discretization": options.discretization.rawValue, "nir.from": options.producer.rawValue,
        ], to: URL(fileURLWithPath: out))
        for n in notes { print("note: \(n)") }
        let shapes = try network.spec.shapes()
        print("input \(network.spec.inputShape)")
        for (i, layer) in network.spec.layers.enumerated() { print(String(format: "%3d  %@ -> %@", i, layer.shortName, "\(shapes[i + 1])")) }
        print("wrote \(out): \(network.spec.layers.count) layers, \(network.parameterCount) weights")
    }
}
