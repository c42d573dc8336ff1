import ArgumentParser
import Foundation
import SNNCore

/// Neuron and architecture options shared by the commands that build a network.
struct NetworkOptions: ParsableArguments {
    @Option(help: "Architecture: sizes like 2312-64-64-64-10, a conv stack like input=2x34x34,conv8k3s2,conv16k3s2p1,conv32k3s2p1,fc10 (suffixes :bntt, :bn, :tdbn on conv/fc items normalise their input, :bias adds a learnable bias current; :readout on the last fc drops its neurons), a preset (vgg5, vgg9: BNTT's VGGs with a read-out; see --norm), or a JSON file with a NetworkSpec. Default depends on the dataset.")
    var arch: String?

    @Option(help: "Input normalisation of the presets' populations: bntt, bn, tdbn, bias (a plain bias, no normalisation) or none.")
    var norm: String = "bntt"

    @Option(help: "Membrane time constant tau_m in ms (leak beta = exp(-dt/tau_m)). Ignored when --beta is given.")
    var tauMs: Double = 1

    @Option(help: "Leak per time step, beta in [0, 1] (1 = IF neuron). Overrides --tau-ms.")
    var beta: Float?

    @Option(help: "Firing threshold theta.")
    var threshold: Float = 0.3

    @Option(help: "Reset after a spike: zero (hard) or subtract.")
    var reset: String = "zero"

    @Option(help: "Surrogate gradient: atan[:alpha], fast-sigmoid[:slope], sigmoid[:slope], triangle[:height].")
    var surrogate: String = "atan:2"

    @Flag(help: "Treat the reset as a constant in backprop.")
    var detachReset = false

    @Option(help: "Current-based synapses (snnTorch's Synaptic, NIR's CubaLIF): the current into every population decays by alpha per time step, I_t = alpha I_{t-1} + x_t, alpha in [0, 1). Layered execution and training only.")
    var alpha: Float?

    /// Checks every neuron option (the same rules ``ModelFile`` applies on load).
    func validate() throws {
        guard ResetMode(rawValue: reset) != nil else { throw ValidationError("--reset must be zero or subtract, got '\(reset)'") }
        guard let sg = Surrogate(parsing: surrogate) else {
            throw ValidationError("--surrogate '\(surrogate)' is not atan[:alpha], fast-sigmoid[:slope], sigmoid[:slope] or triangle[:height]")
        }
        if let problem = sg.problem { throw ValidationError("--surrogate '\(surrogate)': \(problem)") }
        try Check.finite(threshold, "--threshold", above: 0)
        if let beta { try Check.finite(beta, "--beta", min: 0, max: 1) } else { try Check.finite(tauMs, "--tau-ms", above: 0) }
        if let alpha { try Check.finite(alpha, "--alpha", min: 0, below: 1) }
        if let arch, arch.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--arch needs an architecture, e.g. 2312-64-10") }
    }

    func neuron(dtMs: Double) throws -> LIFParameters {
        try validate()
        guard let mode = ResetMode(rawValue: reset), let sg = Surrogate(parsing: surrogate) else { throw ValidationError("--reset or --surrogate is invalid") }
        let b = beta ?? Float(exp(-dtMs / tauMs))
        let p = LIFParameters(beta: b, threshold: threshold, reset: mode, surrogate: sg, detachReset: detachReset, synapticDecay: alpha)
        if let problem = p.problem { throw ValidationError("--beta/--tau-ms/--threshold: \(problem)") }
        return p
    }

    /// The `--norm` kind (nil for none).
    func normalizationKind() throws -> InputNormalization.Kind? {
        if norm == "none" { return nil }
        guard let k = InputNormalization.Kind(rawValue: norm) else { throw ValidationError("--norm must be bntt, bn, tdbn, bias or none, not '\(norm)'") }
        return k
    }

    /// Checks `--arch`, `--norm` and the neuron options that need no data (call before loading data).
    func validateEarly() throws {
        _ = try normalizationKind()
        if let arch, Self.isPresetName(arch), !NetworkPresets.names.contains(arch) {
            throw ValidationError("unknown --arch preset '\(arch)' (presets: \(NetworkPresets.names.joined(separator: ", ")); or a layer string or a .json file)")
        }
        _ = try neuron(dtMs: 10)
    }

    /// Whether `--arch` (or the default) names a preset rather than a layer string or a file.
    static func isPresetName(_ s: String) -> Bool {
        s.first?.isLetter == true && !s.contains("=") && !s.contains(",") && !s.hasSuffix(".json")
    }

    /// The network description. `neuronOverride` replaces the neuron options (e.g. BNTT's recipe);
    /// `classes` and `timeSteps` serve presets and BNTT layers.
    func spec(default text: String, dtMs: Double, inputShape: [Int], classes: Int = 10, timeSteps: Int? = nil,
              neuronOverride: LIFParameters? = nil) throws -> NetworkSpec {
        let source = arch ?? text
        let neuronParameters = try neuronOverride ?? neuron(dtMs: dtMs)
        if Self.isPresetName(source) {
            guard NetworkPresets.names.contains(source) else {
                throw ValidationError("unknown --arch preset '\(source)' (presets: \(NetworkPresets.names.joined(separator: ", ")); or a layer string or a .json file)")
            }
            do {
                return try NetworkPresets.spec(source, inputShape: inputShape, classes: classes, neuron: neuronParameters,
                                               normalization: try normalizationKind(), timeSteps: timeSteps ?? 1)
            } catch let e as ShapeError { throw ValidationError("--arch \(source): \(e.description)") }
        }
        if source.hasSuffix(".json") {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: source)) } catch {
                throw ValidationError("architecture file \(source) cannot be read: \(error.localizedDescription)")
            }
            let spec: NetworkSpec
            do { spec = try JSONDecoder().decode(NetworkSpec.self, from: data) } catch {
                throw ValidationError("architecture file \(source) is not a NetworkSpec JSON ({\"inputShape\": [...], \"layers\": [...]}): \(error)")
            }
            do { _ = try spec.shapes() } catch { throw ValidationError("architecture file \(source): \(error)") }
            if let problem = spec.problem { throw ValidationError("architecture file \(source): \(problem)") }
            return spec
        }
        var spec: NetworkSpec
        do { spec = try NetworkSpec.parse(source, neuron: neuronParameters, timeSteps: timeSteps) } catch let e as ShapeError {
            throw ValidationError("--arch '\(source)': \(e.description)")
        }
        if let problem = spec.problem { throw ValidationError("--arch '\(source)': \(problem) (add layers, e.g. input=2x34x34,conv8k3s2,fc10)") }
        // An MLP string fed with image-shaped frames: flatten them.
        if spec.inputShape.count == 1, inputShape.count > 1, spec.inputShape[0] == inputShape.reduce(1, *) {
            spec = NetworkSpec(inputShape: inputShape, layers: [.flatten] + spec.layers)
        }
        return spec
    }
}
