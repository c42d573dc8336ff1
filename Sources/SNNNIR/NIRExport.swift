import Foundation
import SNNCore
import SNNTensor

/// SNNKit network -> NIR graph.
///
/// A chain `input -> layer 0 -> ... -> output`. Linear layers become `Linear` (weight transposed to
/// NIR's `[out, in]`), or `Affine` when the next population has a bias current
/// (``InputNormalization/Kind/bias``), convolutions `Conv2d` (with that bias, else zero; dilation 1,
/// one group), average pooling
/// `AvgPool2d`, flatten `Flatten`, LIF populations `LIF` (or `IF` when `beta = 1`, `CubaLIF` with a
/// current-based synapse: `tau_syn`, `w_in` from its decay like `tau`, `r` from beta), with `tau` and `r`
/// from ``NIRDiscretization/timeConstant(beta:dt:)``, `v_leak = 0`, `v_reset = 0`. Dropout is left out
/// (identity at inference). What NIR cannot hold is an error naming the layer: max pooling,
/// normalised populations (BNTT, BN, tdBN: per-step statistics), reset by subtraction.
public enum NIRExport {
    /// The graph of `network`, and notes on what was left out (training-only settings).
    public static func graph(_ network: Network, options: NIROptions = NIROptions()) throws -> (graph: NIRGraph, notes: [String]) {
        if let p = options.problem { throw NIRError(p) }
        let spec = network.spec
        let shapes = try spec.shapes()
        var nodes = [NIRNode(name: "input", type: "Input", parameters: ["shape": .int64(NIRArray(spec.inputShape.map(Double.init)))])]
        var notes = [String]()
        var surrogateNoted = false
        func ints(_ v: [Int]) -> NIRValue { .int64(NIRArray(v.map(Double.init))) }
        // Populations with a bias current give it to the synaptic layer before them (through dropout
        // and average pooling, which a per-channel constant passes unchanged).
        var biases = [Int: [Double]]()
        for (i, layer) in spec.layers.enumerated() {
            guard case .lif(let p) = layer, let norm = p.normalization, norm.kind == .bias else { continue }
            var j = i - 1
            while j >= 0, { switch spec.layers[j] { case .dropout, .avgPool2d: return true; default: return false } }() { j -= 1 }
            guard j >= 0, spec.layers[j].hasWeights else {
                throw NIRError(node: "layer \(i) (\(layer.shortName))", "its bias current has no linear or conv layer right before it (through dropout or average pooling) to carry it in NIR")
            }
            biases[j] = network.weights[i].data.map(Double.init)
        }
        for (i, layer) in spec.layers.enumerated() {
            let name = "\(i)_\(layer.shortName.prefix { $0.isLetter || $0.isNumber })"
            func fail(_ p: String) -> NIRError { NIRError(node: "layer \(i) (\(layer.shortName))", p) }
            let inShape = shapes[i]
            switch layer {
            case .linear(let nIn, let nOut):
                let w = network.weights[i].data
                var t = [Double](repeating: 0, count: nIn * nOut)
                for r in 0..<nIn { for c in 0..<nOut { t[c * nIn + r] = Double(w[r * nOut + c]) } }
                var parameters: [String: NIRValue] = ["weight": .float32(NIRArray(shape: [nOut, nIn], values: t))]
                if let b = biases[i] { parameters["bias"] = .float32(NIRArray(b)) }
                nodes.append(NIRNode(name: name, type: biases[i] == nil ? "Linear" : "Affine", parameters: parameters))
            case .conv2d(let ci, let co, let k, let s, let p):
                nodes.append(NIRNode(name: name, type: "Conv2d", parameters: [
                    "weight": .float32(NIRArray(shape: [co, ci, k, k], values: network.weights[i].data.map(Double.init))),
                    "bias": .float32(NIRArray(biases[i] ?? [Double](repeating: 0, count: co))),
                    "stride": ints([s, s]), "padding": ints([p, p]), "dilation": ints([1, 1]),
                    "groups": .int64(NIRArray(1)), "input_shape": ints([inShape[1], inShape[2]]),
                ]))
            case .avgPool2d(let k, let s):
                nodes.append(NIRNode(name: name, type: "AvgPool2d", parameters: [
                    "kernel_size": ints([k, k]), "stride": ints([s, s]), "padding": ints([0, 0]),
                ]))
            case .maxPool2d:
                throw fail("max pooling cannot be carried: NIR has no max-pooling node (retrain with avg pooling)")
            case .flatten:
                nodes.append(NIRNode(name: name, type: "Flatten", parameters: [
                    "start_dim": .int64(NIRArray(0)), "end_dim": .int64(NIRArray(-1)), "input_type": ints(inShape),
                ]))
            case .dropout:
                notes.append("layer \(i) (dropout) left out: identity at inference")
                continue
            case .lif(let p):
                if let norm = p.normalization, norm.kind != .bias {
                    throw fail("input normalisation (BNTT/shared BN/tdBN) cannot be carried: NIR has no batch-normalisation node and per-step running statistics cannot fold into one set of weights")
                }
                if p.reset == .subtract {
                    throw fail("reset by subtraction cannot be carried: NIR's LIF and IF reset to v_reset (use a model trained with --reset zero)")
                }
                if !surrogateNoted {
                    notes.append("surrogate gradients and detach-reset are training settings: not written")
                    surrogateNoted = true
                }
                let n = inShape.reduce(1, *)
                let betas = p.perNeuronBeta.map { $0.map(Double.init) } ?? [Double](repeating: Double(p.beta), count: n)
                let shape = inShape
                func arr(_ v: [Double]) -> NIRValue { .float64(NIRArray(shape: shape, values: v)) }
                let theta = [Double](repeating: Double(p.threshold), count: n)
                let zeros = [Double](repeating: 0, count: n)
                if let alpha = p.synapticDecay {
                    // Current-based synapse: CubaLIF with both gains 1 (w_in and r from the time constants).
                    guard let syn = options.discretization.timeConstant(beta: Double(alpha), dt: options.dt) else {
                        throw fail("synaptic decay alpha \(alpha) has no finite time constant under --discretization \(options.discretization.rawValue)")
                    }
                    var tau = [Double](), r = [Double]()
                    for b in betas {
                        guard let c = options.discretization.timeConstant(beta: b, dt: options.dt) else {
                            throw fail("decay beta \(b) has no finite time constant under --discretization \(options.discretization.rawValue) (CubaLIF needs a leaky membrane)")
                        }
                        tau.append(c.tau); r.append(c.r)
                    }
                    nodes.append(NIRNode(name: name, type: "CubaLIF", parameters: [
                        "tau_syn": arr([Double](repeating: syn.tau, count: n)), "w_in": arr([Double](repeating: syn.r, count: n)),
                        "tau_mem": arr(tau), "r": arr(r), "v_leak": arr(zeros), "v_threshold": arr(theta), "v_reset": arr(zeros),
                    ]))
                } else if betas.allSatisfy({ $0 == 1 }) {
                    nodes.append(NIRNode(name: name, type: "IF", parameters: [
                        "r": arr([Double](repeating: 1, count: n)), "v_threshold": arr(theta), "v_reset": arr(zeros),
                    ]))
                } else {
                    var tau = [Double](), r = [Double]()
                    for b in betas {
                        guard let c = options.discretization.timeConstant(beta: b, dt: options.dt) else {
                            throw fail("decay beta \(b) has no finite time constant under --discretization \(options.discretization.rawValue)" +
                                       (b == 1 ? " (non-leaky neurons mixed with leaky ones in one population)" : ""))
                        }
                        tau.append(c.tau); r.append(c.r)
                    }
                    nodes.append(NIRNode(name: name, type: "LIF", parameters: [
                        "tau": arr(tau), "r": arr(r), "v_leak": arr(zeros), "v_threshold": arr(theta), "v_reset": arr(zeros),
                    ]))
                }
            }
        }
        nodes.append(NIRNode(name: "output", type: "Output", parameters: ["shape": ints(shapes.last!)]))
        let edges = zip(nodes, nodes.dropFirst()).map { NIREdge($0.name, $1.name) }
        return (NIRGraph(nodes: nodes, edges: edges), notes)
    }
}
