/// The architecture of a spiking network: the shape of one input frame and the layer sequence.
///
/// Written as JSON inside model files, and parsed from the CLI's short form
/// (``NetworkSpec/parse(_:neuron:)``).
public struct NetworkSpec: Codable, Hashable, Sendable {
    /// One sample's input at one time step, e.g. `[2, 34, 34]` for N-MNIST frames or `[64]`.
    public var inputShape: [Int]
    /// The layers, input side first.
    public var layers: [LayerSpec]

    public init(inputShape: [Int], layers: [LayerSpec]) {
        self.inputShape = inputShape
        self.layers = layers
    }

    /// The per-sample shape after every layer (`shapes[0]` is the input, `shapes[i+1]` follows layer i).
    public func shapes() throws -> [[Int]] {
        var shapes = [inputShape]
        for (i, layer) in layers.enumerated() {
            switch layer.outputShape(for: shapes.last!) {
            case .success(let s): shapes.append(s)
            case .failure(let e): throw ShapeError("layer \(i) (\(layer.shortName)): \(e.description)")
            }
        }
        return shapes
    }

    /// Number of output classes (elements of the last layer's output).
    public func outputCount() throws -> Int { try shapes().last!.reduce(1, *) }

    /// Indices of the LIF populations.
    public var neuronLayerIndices: [Int] { layers.indices.filter { layers[$0].isNeuron } }

    /// Total number of spiking neurons.
    public func neuronCount() throws -> Int {
        let s = try shapes()
        return neuronLayerIndices.reduce(0) { $0 + s[$1 + 1].reduce(1, *) }
    }

    /// Parses a short architecture string.
    ///
    /// - `2312-64-64-64-10`: an MLP; the first number is the input size, every later number a
    ///   `linear` layer followed by `lif`.
    /// - Conv stacks, comma-separated, with `input=CxHxW` first:
    ///   `input=2x34x34,conv8k3s2,conv16k3s2p1,conv32k3s2p1,fc10` where `convOkKsSpP` is a conv with
    ///   `O` output channels (kernel K, stride S, padding P; defaults k3 s1 p0), `avgN`/`maxN` pooling
    ///   with window and stride N, `fcN` a linear layer, `dropP` dropout. Every conv and fc gets a
    ///   `lif` population after it.
    /// - Suffixes on a conv or fc item: `:bntt`, `:bn`, `:tdbn` normalise the current into its population
    ///   (``InputNormalization``; `:bntt` needs `timeSteps`), `:readout` drops the population (a
    ///   non-spiking read-out: the layer's currents are the output; use it on the last fc).
    public static func parse(_ text: String, neuron: LIFParameters, timeSteps: Int? = nil) throws -> NetworkSpec {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if !trimmed.contains(","), !trimmed.contains("=") {
            // Fix: keep empty pieces so that "2312--10" or "-5-3" are errors instead of silently parsing.
            let sizes = trimmed.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw ShapeError("architecture '\(text)': expected sizes like 2312-64-10 or a conv stack like input=2x34x34,conv8k3s2,fc10")
            }
            let s = sizes.map { $0! }
            var layers: [LayerSpec] = []
            for i in 1..<s.count { layers += [.linear(inFeatures: s[i - 1], outFeatures: s[i]), .lif(neuron)] }
            return NetworkSpec(inputShape: [s[0]], layers: layers)
        }
        var items = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let first = items.first, first.hasPrefix("input=") else {
            throw ShapeError("architecture '\(text)': a conv stack starts with input=CxHxW")
        }
        items.removeFirst()
        // Fix: every piece must be a number ("input=2xAx34" used to become [2, 34]).
        let dims = first.dropFirst(6).split(separator: "x", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        guard !dims.isEmpty, dims.allSatisfy({ $0 > 0 }) else { throw ShapeError("architecture: bad input shape '\(first)'") }
        var spec = NetworkSpec(inputShape: dims, layers: [])
        for whole in items {
            var shape = try spec.shapes().last!
            let pieces = whole.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let item = pieces[0]
            var normalization: InputNormalization.Kind? = nil
            var readout = false
            for suffix in pieces.dropFirst() {
                if suffix == "readout" { readout = true; continue }
                guard let kind = InputNormalization.Kind(rawValue: suffix) else {
                    throw ShapeError("architecture: unknown suffix ':\(suffix)' on '\(whole)' (bntt, bn, tdbn, bias, readout)")
                }
                guard normalization == nil else { throw ShapeError("architecture: '\(whole)' has two normalisations") }
                normalization = kind
            }
            if (normalization != nil || readout) && !(item.hasPrefix("conv") || item.hasPrefix("fc")) {
                throw ShapeError("architecture: suffixes apply to conv and fc items only ('\(whole)')")
            }
            if normalization != nil && readout { throw ShapeError("architecture: a :readout layer has no population to normalise ('\(whole)')") }
            if normalization == .bntt, (timeSteps ?? 0) <= 0 {
                throw ShapeError("architecture: '\(whole)' (BNTT) needs the number of time steps")
            }
            /// The population after a synaptic layer with `channels` output channels.
            func population(_ channels: Int) -> [LayerSpec] {
                if readout { return [] }
                var p = neuron
                if let kind = normalization { p.normalization = InputNormalization(kind: kind, channels: channels, steps: timeSteps ?? 1) }
                return [.lif(p)]
            }
            func number(after letter: Character, default d: Int) throws -> Int {
                guard let r = item.firstIndex(of: letter) else { return d }
                let digits = item[item.index(after: r)...].prefix { $0.isNumber }
                guard let v = Int(digits) else { throw ShapeError("architecture: '\(item)' has no number after '\(letter)'") }
                return v
            }
            if item.hasPrefix("conv") {
                let out = Int(item.dropFirst(4).prefix { $0.isNumber }) ?? 0
                guard out > 0 else { throw ShapeError("architecture: '\(item)' needs output channels, e.g. conv16k3s1p1") }
                guard shape.count == 3 else { throw ShapeError("architecture: '\(item)' needs a [C,H,W] input, got \(shape)") }
                spec.layers += [.conv2d(inChannels: shape[0], outChannels: out, kernel: try number(after: "k", default: 3),
                                        stride: try number(after: "s", default: 1), padding: try number(after: "p", default: 0))]
                spec.layers += population(out)
            } else if item.hasPrefix("fc") {
                guard let out = Int(item.dropFirst(2)), out > 0 else { throw ShapeError("architecture: bad '\(item)'; use fcN") }
                if shape.count > 1 { spec.layers.append(.flatten); shape = [shape.reduce(1, *)] }
                spec.layers += [.linear(inFeatures: shape[0], outFeatures: out)] + population(out)
            } else if item.hasPrefix("avg") || item.hasPrefix("max") {
                guard let k = Int(item.dropFirst(3)), k > 0 else { throw ShapeError("architecture: bad '\(item)'; use avg2 or max2") }
                spec.layers.append(item.hasPrefix("avg") ? .avgPool2d(kernel: k, stride: k) : .maxPool2d(kernel: k, stride: k))
            } else if item.hasPrefix("drop") {
                guard let p = Float(item.dropFirst(4)), p >= 0, p < 1 else { throw ShapeError("architecture: bad '\(item)'; use drop0.2") }
                spec.layers.append(.dropout(rate: p))
            } else {
                throw ShapeError("architecture: unknown item '\(item)' (conv, fc, avg, max, drop)")
            }
        }
        _ = try spec.shapes()
        return spec
    }
}

extension LayerSpec {
    /// A compact human-readable name (`linear 2312->64`, `conv 2->8 k3 s2 p0`, `lif beta=0.9 theta=0.3`).
    public var shortName: String {
        switch self {
        case .linear(let i, let o): return "linear \(i)->\(o)"
        case .conv2d(let i, let o, let k, let s, let p): return "conv \(i)->\(o) k\(k) s\(s) p\(p)"
        case .avgPool2d(let k, let s): return "avgpool k\(k) s\(s)"
        case .maxPool2d(let k, let s): return "maxpool k\(k) s\(s)"
        case .flatten: return "flatten"
        case .dropout(let r): return "dropout \(r)"
        case .lif(let p):
            return "lif beta=\(p.beta) theta=\(p.threshold) reset=\(p.reset.rawValue)" + (p.synapticDecay.map { " alpha=\($0)" } ?? "")
                + (p.normalization.map { " +\($0.kind.rawValue)" } ?? "")
        }
    }
}

import Foundation
