import Foundation
import SNNCore
import SNNEngines
import SNNHDF5
import SNNNIR
import SNNTensor
import Testing

#if HDF5
/// NIR files through libhdf5: round trips, bad files, graphs written by Python's `nir` and by
/// snnTorch (spikes compared), and the files the Python checker reads (Tests/NIR/check_export.py).
@Suite struct NIRFileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NIR/fixtures")

    func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("snnnir-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// A recorded case: inputs `[T, B] + inputShape` and the reference's output spikes `[T, B, n]`.
    struct Case: Codable {
        var name: String?
        var nir: String?
        var dt: Double
        var discretization: String
        var producer: String? = nil
        var input_shape: [Int]
        var steps: Int
        var batch: Int
        var inputs: [Float]
        var spikes: [Float]
    }

    struct Cases: Codable { var cases: [Case] }

    /// Imports `file` and runs it on the case's inputs; returns SNNKit's output spikes, flattened `[T, B, n]`.
    func run(_ file: URL, _ c: Case) throws -> [Float] {
        let graph = try NIRFile.read(from: file)
        let opts = NIROptions(dt: c.dt, discretization: NIRDiscretization(rawValue: c.discretization)!,
                              producer: c.producer.flatMap(NIRProducer.init(rawValue:)) ?? .nir)
        let (net, _) = try NIRImport.network(graph, options: opts, file: file.path)
        #expect(net.spec.inputShape.reduce(1, *) == c.input_shape.reduce(1, *))
        let engine = try LayeredEngine(network: net)
        let r = engine.run(inputs: Tensor(shape: [c.steps, c.batch] + net.spec.inputShape, data: c.inputs))
        return r.outputs.flatMap(\.data)
    }

    func compare(_ got: [Float], _ want: [Float], _ what: String) {
        #expect(got.count == want.count, "\(what): \(got.count) outputs, reference \(want.count)")
        let differ = zip(got, want).filter { $0 != $1 }.count
        #expect(differ == 0, "\(what): \(differ) of \(want.count) spikes differ from the reference")
        #expect(want.contains(1), "\(what): the reference never spikes (a vacuous comparison)")
    }

    @Test func graphsWrittenByPythonNIRGiveTheNumpyReferenceSpikes() throws {
        // CI regenerates the graphs with the current `nir` (Tests/NIR/make_graphs.py) and points here;
        // without it, the committed copies.
        let dir = ProcessInfo.processInfo.environment["SNNKIT_NIR_CASES"].map { URL(fileURLWithPath: $0) }
            ?? Self.fixtures.appendingPathComponent("python")
        let cases = try JSONDecoder().decode(Cases.self, from: Data(contentsOf: dir.appendingPathComponent("cases.json"))).cases
        #expect(cases.count >= 6)
        for c in cases {
            compare(try run(dir.appendingPathComponent(c.nir!), c), c.spikes, c.name ?? "?")
        }
    }

    @Test(arguments: ["snntorch_mlp", "snntorch_conv", "snntorch_mlp_bias", "snntorch_conv_bias", "snntorch_synaptic"])
    func graphsExportedBySnnTorchGiveSnnTorchsSpikes(name: String) throws {
        let dir = Self.fixtures.appendingPathComponent("snntorch")
        let c = try JSONDecoder().decode(Case.self, from: Data(contentsOf: dir.appendingPathComponent(name + ".json")))
        compare(try run(dir.appendingPathComponent(name + ".nir"), c), c.spikes, name)
    }

    /// A network exported by Norse 1.1's own `to_nir` (LIF and CubaLIF; Tests/NIR/make_norse_fixture.py) gives
    /// Norse's spikes when read with its conventions (`--from norse`), and not when read as NIR's equations.
    @Test func graphExportedByNorseGivesNorsesSpikes() throws {
        let dir = Self.fixtures.appendingPathComponent("norse")
        let c = try JSONDecoder().decode(Case.self, from: Data(contentsOf: dir.appendingPathComponent("norse_mlp.json")))
        #expect(c.producer == "norse")
        compare(try run(dir.appendingPathComponent("norse_mlp.nir"), c), c.spikes, "norse_mlp")
        var plain = c
        plain.producer = nil
        do {
            let spikes = try run(dir.appendingPathComponent("norse_mlp.nir"), plain)
            #expect(spikes != c.spikes, "read as NIR's equations, Norse's file should not give Norse's spikes")
        } catch {
            // Read as NIR's equations the time constants are dt times too short: an error naming --dt is right too.
            #expect("\(error)".contains("--dt"), "\(error)")
        }
    }

    @Test func fileRoundTripKeepsNodesEdgesAndValues() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (g, _) = try NIRExport.graph(try NIRConversionTests.conv())
        let url = dir.appendingPathComponent("conv.nir")
        try NIRFile.write(g, to: url)
        let back = try NIRFile.read(from: url)
        #expect(back.version == NIRGraph.writtenVersion)
        #expect(Set(back.edges) == Set(g.edges) && back.edges.count == g.edges.count)
        for node in g.nodes {
            let b = back.node(node.name)
            #expect(b?.type == node.type)
            for (k, v) in node.parameters { #expect(b?.parameters[k]?.array == v.array, "\(node.name).\(k)") }
        }
        // Nothing but the file is left in the folder (the atomic write's temporary file is gone).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["conv.nir"])
    }

    func expectFileError(_ url: URL, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do { _ = try NIRFile.read(from: url); Issue.record("expected '\(fragment)'", sourceLocation: sourceLocation) } catch let e as NIRError {
            #expect(e.description.contains(fragment) && e.description.contains(url.lastPathComponent), "\(e)", sourceLocation: sourceLocation)
        } catch { Issue.record("\(error)", sourceLocation: sourceLocation) }
    }

    @Test func badFilesNameTheFileAndTheProblem() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = dir.appendingPathComponent("text.nir")
        try Data("not hdf5 at all\n".utf8).write(to: text)
        expectFileError(text, "not an HDF5 file")
        expectFileError(dir.appendingPathComponent("absent.nir"), "no such file")
        // A valid HDF5 file without the NIR layout.
        let other = dir.appendingPathComponent("other.h5")
        try SHDWriter.write(url: other, samples: [([0.001], [3])], labels: [1])
        expectFileError(other, "no group 'node'")
        // A truncated NIR file.
        let (g, _) = try NIRExport.graph(try NIRConversionTests.mlp())
        let good = dir.appendingPathComponent("good.nir")
        try NIRFile.write(g, to: good)
        let bytes = try Data(contentsOf: good)
        let cut = dir.appendingPathComponent("cut.nir")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        do { _ = try NIRFile.read(from: cut); Issue.record("a truncated file read") } catch let e as NIRError {
            #expect(e.description.contains("cut.nir"), "\(e)")
        }
    }

    // MARK: files for the Python checker

    static func pattern(_ n: Int, _ salt: Int) -> [Float] {
        (0..<n).map { Float((($0 * 7 + salt * 5 + 3) % 17) - 8) / 16 }
    }

    static func exportNetworks() throws -> [(String, Network)] {
        let mlp = try Network(spec: NetworkSpec(inputShape: [6], layers: [
            .linear(inFeatures: 6, outFeatures: 8), .lif(LIFParameters(beta: 0.75, threshold: 0.5 + 1.0 / 128)), .dropout(rate: 0.1),
            .linear(inFeatures: 8, outFeatures: 3), .lif(.integrateAndFire(threshold: 0.25 + 1.0 / 256)),
        ]), weights: [Tensor(shape: [6, 8], data: pattern(48, 1)), Tensor(shape: [0]), Tensor(shape: [0]),
                      Tensor(shape: [8, 3], data: pattern(24, 2)), Tensor(shape: [0])])
        let conv = try Network(spec: NetworkSpec(inputShape: [1, 6, 6], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .lif(LIFParameters(beta: 0.5, threshold: 0.25 + 1.0 / 128)),
            .avgPool2d(kernel: 2, stride: 2), .flatten, .linear(inFeatures: 18, outFeatures: 3),
            .lif(LIFParameters(beta: 0.5, threshold: 0.125 + 1.0 / 256, perNeuronBeta: [0.5, 0.75, 0.875])),
        ]), weights: [Tensor(shape: [2, 1, 3, 3], data: pattern(18, 3).map { $0 * 2 }), Tensor(shape: [0]), Tensor(shape: [0]), Tensor(shape: [0]),
                      Tensor(shape: [18, 3], data: pattern(54, 4)), Tensor(shape: [0])])
        // Biases: a conv's per channel (through average pooling) and a linear's per output.
        let biased = try Network(spec: NetworkSpec(inputShape: [1, 6, 6], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .avgPool2d(kernel: 2, stride: 2),
            .lif(LIFParameters(beta: 0.5, threshold: 0.25 + 1.0 / 128, normalization: InputNormalization(kind: .bias, channels: 2))),
            .flatten, .linear(inFeatures: 18, outFeatures: 3),
            .lif(LIFParameters(beta: 0.75, threshold: 0.125 + 1.0 / 256, normalization: InputNormalization(kind: .bias, channels: 3))),
        ]), weights: [Tensor(shape: [2, 1, 3, 3], data: pattern(18, 5).map { $0 * 2 }), Tensor(shape: [0]), Tensor(shape: [1, 2], data: [0.125, -0.0625]),
                      Tensor(shape: [0]), Tensor(shape: [18, 3], data: pattern(54, 6)), Tensor(shape: [1, 3], data: [0.0625, -0.125, 0.1875])])
        // A current-based synapse (CubaLIF) on the hidden population.
        let cuba = try Network(spec: NetworkSpec(inputShape: [6], layers: [
            .linear(inFeatures: 6, outFeatures: 8), .lif(LIFParameters(beta: 0.5, threshold: 0.375 + 1.0 / 128, synapticDecay: 0.75)),
            .linear(inFeatures: 8, outFeatures: 3), .lif(LIFParameters(beta: 0.75, threshold: 0.25 + 1.0 / 256)),
        ]), weights: [Tensor(shape: [6, 8], data: pattern(48, 7)), Tensor(shape: [0]), Tensor(shape: [8, 3], data: pattern(24, 8)), Tensor(shape: [0])])
        return [("export_mlp", mlp), ("export_conv", conv), ("export_bias", biased), ("export_cubalif", cuba)]
    }

    /// The SNNKit side of the layers, in SNNKit's own terms, for the checker to convert on its own.
    struct LayerRecord: Codable {
        var kind: String
        var shape: [Int]? = nil
        var weight: [Float]? = nil
        var stride: Int? = nil
        var padding: Int? = nil
        var kernel: Int? = nil
        var beta: [Float]? = nil
        var threshold: Float? = nil
        var bias: [Float]? = nil
        var alpha: Float? = nil
    }

    struct ExportRecord: Codable {
        var nir: String
        var dt: Double
        var input_shape: [Int]
        var layers: [LayerRecord]
        var steps: Int
        var batch: Int
        var inputs: [Float]
        var spikes: [Float]
    }

    @Test func writesFilesForThePythonChecker() throws {
        let env = ProcessInfo.processInfo.environment["SNNKIT_NIR_EXPORT_DIR"]
        let dir = env.map { URL(fileURLWithPath: $0) } ?? tempDir()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if env == nil { try? FileManager.default.removeItem(at: dir) } }
        var records = [ExportRecord]()
        let dt = 1e-4
        for (name, net) in try Self.exportNetworks() {
            let (g, _) = try NIRExport.graph(net, options: NIROptions(dt: dt))
            let url = dir.appendingPathComponent(name + ".nir")
            try NIRFile.write(g, to: url)
            let shapes = try net.spec.shapes()
            var layers = [LayerRecord]()
            for (i, l) in net.spec.layers.enumerated() {
                switch l {
                case .linear(let a, let b): layers.append(LayerRecord(kind: "linear", shape: [a, b], weight: net.weights[i].data))
                case .conv2d(let ci, let co, let k, let s, let p):
                    layers.append(LayerRecord(kind: "conv2d", shape: [co, ci, k, k], weight: net.weights[i].data, stride: s, padding: p))
                case .avgPool2d(let k, let s): layers.append(LayerRecord(kind: "avgpool", stride: s, kernel: k))
                case .flatten: layers.append(LayerRecord(kind: "flatten", shape: shapes[i]))
                case .dropout: layers.append(LayerRecord(kind: "dropout"))
                case .lif(let p):
                    layers.append(LayerRecord(kind: "lif", shape: shapes[i], beta: p.perNeuronBeta ?? [p.beta], threshold: p.threshold, alpha: p.synapticDecay))
                    // A bias current belongs to the synaptic layer before it in NIR (through pooling and dropout).
                    if p.normalization?.kind == .bias, let k = layers.lastIndex(where: { $0.kind == "linear" || $0.kind == "conv2d" }) {
                        layers[k].bias = net.weights[i].data
                    }
                default: Issue.record("unexpected layer")
                }
            }
            let (steps, batch) = (8, 2)
            let n = steps * batch * net.spec.inputShape.reduce(1, *)
            let inputs = (0..<n).map { Float(($0 * 37 + 11) % 5 < 2 ? 1 : 0) }
            let r = try LayeredEngine(network: net).run(inputs: Tensor(shape: [steps, batch] + net.spec.inputShape, data: inputs))
            let spikes = r.outputs.flatMap(\.data)
            #expect(spikes.contains(1), "\(name): SNNKit's output never spikes on the checker's inputs")
            records.append(ExportRecord(nir: name + ".nir", dt: dt, input_shape: net.spec.inputShape, layers: layers,
                                        steps: steps, batch: batch, inputs: inputs, spikes: spikes))
            // Read back by SNNKit itself: the same network.
            let (back, _) = try NIRImport.network(try NIRFile.read(from: url), options: NIROptions(dt: dt))
            #expect(back.weights.filter { $0.count > 0 } == net.weights.filter { $0.count > 0 })
        }
        try JSONEncoder().encode(["cases": records]).write(to: dir.appendingPathComponent("export_cases.json"))
    }
}
#endif
