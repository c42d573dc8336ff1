import Foundation
import SNNCore
import SNNTensor

/// NIR graph -> SNNKit network.
///
/// SNNKit runs feed-forward chains, so the graph must be one path `Input -> ... -> Output` (no
/// branches, merges or cycles). Node by node (docs/NIR.md has the full table):
/// - `Affine` / `Linear` -> linear (weight transposed to `[in, out]`); a non-zero Affine bias becomes
///   the bias current (``InputNormalization/Kind/bias``) of the next population,
/// - `Conv2d` -> conv2d (square kernel, equal strides and paddings, dilation 1, one group); a non-zero
///   bias becomes the per-channel bias current of the next population (through average pooling,
///   which it commutes with, and flatten, which repeats it per position),
/// - `AvgPool2d` -> avg pooling; `SumPool2d` -> avg pooling with the `k*k` factor folded into the
///   nearest synaptic layer (before it when no neuron lies between, else after it),
/// - `Flatten` (all dimensions) -> flatten,
/// - `LIF`, `IF` -> LIF populations, with `beta` from ``NIRDiscretization`` and the input gain folded
///   into the threshold (`theta = v_threshold / gain`),
/// - `CubaLIF` -> a LIF population with a current-based synapse (``SynapticCurrent``, `alpha` from
///   `tau_syn` like `beta` from `tau_mem`; the synaptic gain `w_in` times the discretisation's factor
///   folded into the threshold with the membrane's); `alpha = 0` (Euler with `tau_syn = dt`) is plain LIF,
/// - `Threshold` -> a LIF population with `beta = 0` (memoryless),
/// - `Scale` -> folded into the nearest synaptic layer like SumPool2d's factor; per-element factors right
///   after a Linear/Affine (one per output) or a Conv2d (one per channel) scale its outputs, and
///   per-element factors on spikes scale the input rows of the next Linear/Affine.
public enum NIRImport {
    /// The network of `graph`, and notes on the foldings done. `file` only names the file in errors.
    public static func network(_ graph: NIRGraph, options: NIROptions = NIROptions(), file: String? = nil) throws -> (network: Network, notes: [String]) {
        func fail(_ node: String?, _ p: String) -> NIRError { NIRError(file: file, node: node, p) }
        if let p = options.problem { throw fail(nil, p) }
        let chain = try orderedChain(graph, file: file)
        let dt = options.dt, disc = options.discretization

        // Input shape, without a leading batch dimension of 1.
        let inputNode = chain.first!
        guard let inShapeArray = inputNode.parameters["shape"]?.array else { throw fail(inputNode.name, "Input node has no 'shape' (missing parameter)") }
        var inputShape = try integers(inShapeArray, node: inputNode.name, parameter: "shape", file: file)
        var notes = [String]()
        if (inputShape.count == 2 || inputShape.count == 4) && inputShape[0] == 1 {
            inputShape.removeFirst()
            notes.append("input shape: leading batch dimension of 1 dropped, \(inputShape)")
        }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else { throw fail(inputNode.name, "Input shape \(inputShape) must be positive extents") }

        var layers = [LayerSpec]()
        var weights = [Tensor]()
        var shape = inputShape
        // A scalar factor not yet folded into a synaptic layer (from SumPool2d or a uniform Scale).
        var pending: Double = 1
        var pendingFrom = ""
        // Index of the last synaptic layer when no neuron came after it (a factor can fold backwards).
        var openSynaptic: Int? = nil
        // The bias of the open synaptic layer, per channel of the current shape, until a population takes it.
        var pendingBias: (values: [Double], node: String)? = nil
        // Per-element factors of a Scale node waiting for the next Linear/Affine's input rows.
        var pendingRows: (values: [Double], node: String)? = nil

        func count(_ s: [Int]) -> Int { s.reduce(1, *) }
        func append(_ layer: LayerSpec, _ w: Tensor, node: String) throws {
            switch layer.outputShape(for: shape) {
            case .success(let out): shape = out
            case .failure(let e): throw fail(node, "does not fit its input of shape \(shape): \(e)")
            }
            layers.append(layer)
            weights.append(w)
        }
        func scaleLayer(_ index: Int, by c: Double) {
            for j in weights[index].data.indices { weights[index].data[j] = Float(Double(weights[index].data[j]) * c) }
        }
        /// Folds a scalar factor: backwards into an open synaptic layer, else keeps it pending.
        func fold(_ c: Double, from node: String) {
            guard c != 1 else { return }
            if let k = openSynaptic {
                scaleLayer(k, by: c)
                notes.append("node '\(node)': factor \(c) folded into the weights of layer \(k)" + (pendingBias == nil ? "" : " and its bias"))
                if let b = pendingBias { pendingBias = (b.values.map { $0 * c }, b.node) }
            }
            else { pending *= c; pendingFrom = node }
        }
        func takePending(into index: Int) {
            guard pending != 1 else { return }
            scaleLayer(index, by: pending)
            notes.append("node '\(pendingFrom)': factor \(pending) folded into the weights of layer \(index)")
            pending = 1
        }
        /// A synaptic layer's bias (non-zero values only): kept until the next population takes it.
        func biasArrives(_ values: [Double], node: String) throws {
            if let b = pendingBias {
                throw fail(b.node, "its bias reaches node '\(node)' without a neuron population between them: SNNKit adds a bias to the input current of a population only")
            }
            if values.contains(where: { $0 != 0 }) { pendingBias = (values, node) }
        }
        func neuronArrives(_ node: String) throws {
            if let v = pendingRows {
                throw fail(v.node, "its per-element factors reach neuron node '\(node)' without a Linear/Affine to fold into (SNNKit has no scale layer)")
            }
            guard pending == 1 else {
                throw fail(pendingFrom, "its factor \(pending) has no synaptic layer to fold into before neuron node '\(node)' (SNNKit pools by averaging and has no scale layer)")
            }
            openSynaptic = nil
        }

        for node in chain.dropFirst().dropLast() {
            let name = node.name
            func param(_ key: String) throws -> NIRArray {
                guard let v = node.parameters[key] else { throw fail(name, "\(node.type) has no '\(key)' (missing parameter)") }
                guard let a = v.array else { throw fail(name, "\(node.type) parameter '\(key)' is a string, expected numbers") }
                guard a.values.count == a.shape.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? -1 : $0 * $1 }) else {
                    throw fail(name, "\(node.type) parameter '\(key)' has \(a.values.count) values for shape \(a.shape)")
                }
                guard a.values.allSatisfy(\.isFinite) else { throw fail(name, "\(node.type) parameter '\(key)' holds non-finite values") }
                return a
            }
            func ints(_ key: String) throws -> [Int] { try integers(try param(key), node: name, parameter: key, file: file) }
            /// A pair (height, width) given as one number or two; both must be equal (SNNKit's windows are square).
            func square(_ key: String, _ what: String) throws -> Int {
                let v = try ints(key)
                guard v.count == 1 || (v.count == 2 && v[0] == v[1]) else {
                    throw fail(name, "\(node.type) \(key) \(v) is not the same in height and width (SNNKit's \(what) is square)")
                }
                return v[0]
            }
            /// Per-neuron values (one per neuron, or one for all).
            func perNeuron(_ key: String, default value: Double? = nil) throws -> [Double] {
                let n = count(shape)
                if node.parameters[key] == nil, let value { return [Double](repeating: value, count: n) }
                let a = try param(key)
                if a.count == 1 { return [Double](repeating: a.values[0], count: n) }
                guard a.count == n else {
                    throw fail(name, "\(node.type) parameter '\(key)' has shape \(a.shape) (\(a.count) values) but its input has shape \(shape) (\(n) neurons): mismatched shapes")
                }
                return a.values
            }
            func zeroOrFail(_ values: [Double], _ key: String, _ why: String) throws {
                if let bad = values.first(where: { $0 != 0 }) { throw fail(name, "\(node.type) \(key) = \(bad) is not 0: \(why)") }
            }
            /// A LIF population from per-neuron decays, gains and thresholds: theta = v_threshold / gain must be uniform.
            func population(beta: [Double], gain rawGain: [Double], threshold: [Double], synapticDecay: Double = 0) throws {
                try neuronArrives(name)
                // A gain within 1e-6 of 1 is 1: float32 round-off of snnTorch's r = tau / dt (r dt / tau = 1).
                let gain = rawGain.map { abs($0 - 1) <= 1e-6 ? 1 : $0 }
                if let j = gain.indices.first(where: { !(gain[$0] > 0 && gain[$0].isFinite) }) {
                    throw fail(name, "\(node.type) input gain \(gain[j]) of neuron \(j) is not positive (check r, tau and --dt)")
                }
                if let j = beta.indices.first(where: { !(beta[$0] >= 0 && beta[$0] <= 1) }) {
                    throw fail(name, "\(node.type) decay beta = \(beta[j]) of neuron \(j) is outside [0, 1] with --dt \(dt) and --discretization \(disc.rawValue)" +
                               (disc == .euler ? " (tau < dt: use a smaller --dt or --discretization exact)" : ""))
                }
                let theta = zip(threshold, gain).map { $0 / $1 }
                let t0 = theta[0]
                if let j = theta.indices.first(where: { abs(theta[$0] - t0) > 1e-6 * max(abs(t0), 1e-30) }) {
                    throw fail(name, "\(node.type) effective threshold v_threshold/gain differs between neurons (\(t0) for neuron 0, \(theta[j]) for neuron \(j)): SNNKit has one threshold per population")
                }
                guard t0 > 0, t0.isFinite else { throw fail(name, "\(node.type) threshold \(t0) must be positive (SNNKit spikes when U > theta > 0)") }
                let b0 = beta[0]
                let uniform = beta.allSatisfy { $0 == b0 }
                var p = LIFParameters(beta: Float(b0), threshold: Float(t0), reset: .zero,
                                      perNeuronBeta: uniform ? nil : beta.map { Float($0) },
                                      synapticDecay: synapticDecay == 0 ? nil : Float(synapticDecay))
                if gain.contains(where: { abs($0 - 1) > 1e-6 }) {
                    notes.append("node '\(name)': input gain \(gain[0]) folded into the threshold (theta = \(Float(t0)))")
                }
                var parameters = Tensor(shape: [0])
                if let b = pendingBias {
                    guard b.values.count == shape[0] else {
                        throw fail(b.node, "its bias has \(b.values.count) values but the population '\(name)' it reaches has \(shape[0]) channels (shape \(shape))")
                    }
                    p.normalization = InputNormalization(kind: .bias, channels: shape[0])
                    parameters = Tensor(shape: [1, shape[0]], data: b.values.map { Float($0) })
                    notes.append("node '\(b.node)': bias added to the input current of population '\(name)' (layer \(layers.count))")
                    pendingBias = nil
                }
                try append(.lif(p), parameters, node: name)
            }

            switch node.type {
            case "Affine", "Linear":
                let w = try param("weight")
                guard w.shape.count == 2 else { throw fail(name, "\(node.type) weight has shape \(w.shape), expected [out, in]") }
                let (nOut, nIn) = (w.shape[0], w.shape[1])
                guard shape.count == 1 else {
                    throw fail(name, "\(node.type) gets an input of shape \(shape); it needs a flat input (a Flatten node before it)")
                }
                guard nIn == shape[0] else {
                    throw fail(name, "\(node.type) weight is [\(nOut), \(nIn)] (\(nIn) inputs) but its input has shape \(shape): mismatched shapes")
                }
                if node.type == "Affine" {
                    let b = try param("bias")
                    guard b.count == nOut else { throw fail(name, "Affine bias has \(b.count) values for \(nOut) outputs: mismatched shapes") }
                    try biasArrives(b.values, node: name)
                } else { try biasArrives([], node: name) }
                var t = [Float](repeating: 0, count: nIn * nOut)
                for o in 0..<nOut { for i in 0..<nIn { t[i * nOut + o] = Float(w.values[o * nIn + i]) } }
                if let v = pendingRows {
                    guard v.values.count == nIn else { throw fail(v.node, "its \(v.values.count) factors do not match the \(nIn) inputs of node '\(name)': mismatched shapes") }
                    for i in 0..<nIn { for o in 0..<nOut { t[i * nOut + o] = Float(Double(w.values[o * nIn + i]) * v.values[i]) } }
                    notes.append("node '\(v.node)': per-element factors folded into the input rows of node '\(name)'")
                    pendingRows = nil
                }
                try append(.linear(inFeatures: nIn, outFeatures: nOut), Tensor(shape: [nIn, nOut], data: t), node: name)
                takePending(into: layers.count - 1)
                openSynaptic = layers.count - 1
            case "Conv2d":
                let w = try param("weight")
                guard w.shape.count == 4 else { throw fail(name, "Conv2d weight has shape \(w.shape), expected [out, in, kh, kw]") }
                let (co, ci, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
                guard kh == kw else { throw fail(name, "Conv2d kernel \(kh)x\(kw) is not square (SNNKit's convolutions are)") }
                guard shape.count == 3, shape[0] == ci else {
                    throw fail(name, "Conv2d expects [\(ci), H, W] but its input has shape \(shape): mismatched shapes")
                }
                if node.parameters["input_shape"] != nil {
                    let hw = try ints("input_shape")
                    guard hw == [shape[1], shape[2]] else {
                        throw fail(name, "Conv2d input_shape \(hw) does not match its input [\(shape[1]), \(shape[2])]: mismatched shapes")
                    }
                }
                let stride = try square("stride", "stride")
                let padding: Int
                if case .string(let s)? = node.parameters["padding"] {
                    switch s {
                    case "valid": padding = 0
                    case "same" where kh % 2 == 1 && stride == 1: padding = kh / 2
                    default: throw fail(name, "Conv2d padding '\(s)' is not supported (numbers, 'valid', or 'same' with an odd kernel and stride 1)")
                    }
                } else { padding = try square("padding", "padding") }
                if node.parameters["dilation"] != nil {
                    let d = try ints("dilation")
                    guard d.allSatisfy({ $0 == 1 }) else { throw fail(name, "Conv2d dilation \(d) is not 1 (SNNKit has no dilated convolution)") }
                }
                if node.parameters["groups"] != nil {
                    let g = try ints("groups")
                    guard g.allSatisfy({ $0 == 1 }) else { throw fail(name, "Conv2d groups \(g) is not 1 (SNNKit has no grouped convolution)") }
                }
                if node.parameters["bias"] != nil {
                    let b = try param("bias")
                    guard b.count == co || b.count == 1 else { throw fail(name, "Conv2d bias has \(b.count) values for \(co) channels: mismatched shapes") }
                    try biasArrives(b.count == 1 ? [Double](repeating: b.values[0], count: co) : b.values, node: name)
                } else { try biasArrives([], node: name) }
                guard stride > 0, padding >= 0 else { throw fail(name, "Conv2d stride \(stride) / padding \(padding) must be positive / non-negative") }
                if let v = pendingRows {
                    throw fail(v.node, "its per-element factors reach Conv2d '\(name)': they fold into a Linear/Affine's input rows only")
                }
                try append(.conv2d(inChannels: ci, outChannels: co, kernel: kh, stride: stride, padding: padding),
                           Tensor(shape: [co, ci, kh, kh], data: w.values.map { Float($0) }), node: name)
                takePending(into: layers.count - 1)
                openSynaptic = layers.count - 1
            case "AvgPool2d", "SumPool2d":
                if let v = pendingRows { throw fail(v.node, "its per-element factors reach pooling node '\(name)': they fold into a Linear/Affine's input rows only") }
                let k = try square("kernel_size", "pooling window")
                let s = node.parameters["stride"] == nil ? k : try square("stride", "pooling stride")
                if node.parameters["padding"] != nil {
                    let p = try ints("padding")
                    guard p.allSatisfy({ $0 == 0 }) else { throw fail(name, "\(node.type) padding \(p) is not 0 (SNNKit pools without padding)") }
                }
                guard shape.count == 3 else { throw fail(name, "\(node.type) expects [C, H, W] but its input has shape \(shape): mismatched shapes") }
                try append(.avgPool2d(kernel: k, stride: s), Tensor(shape: [0]), node: name)
                if node.type == "SumPool2d" { fold(Double(k * k), from: name) }
            case "Flatten":
                let rank = shape.count
                let start = try ints("start_dim").first ?? 0
                let end = try ints("end_dim").first ?? -1
                let s0 = start < 0 ? start + rank : start, e0 = end < 0 ? end + rank : end
                if node.parameters["input_type"] != nil {
                    let it = try ints("input_type")
                    guard it.reduce(1, *) == count(shape) else {
                        throw fail(name, "Flatten input_type \(it) does not match its input \(shape): mismatched shapes")
                    }
                }
                guard s0 == 0, e0 == rank - 1 else {
                    throw fail(name, "Flatten start_dim \(start), end_dim \(end) flattens only part of its input \(shape) (SNNKit flattens all dimensions)")
                }
                if rank > 1 {
                    // A per-channel bias becomes one value per position of the flat population.
                    if let b = pendingBias, b.values.count == shape[0] {
                        let per = count(shape) / shape[0]
                        pendingBias = (b.values.flatMap { [Double](repeating: $0, count: per) }, b.node)
                    }
                    try append(.flatten, Tensor(shape: [0]), node: name)
                }
            case "LIF":
                let tau = try perNeuron("tau").map(options.timeConstant), r = try perNeuron("r")
                let vLeak = try perNeuron("v_leak", default: 0), vReset = try perNeuron("v_reset", default: 0)
                let vth = try perNeuron("v_threshold")
                if let bad = tau.first(where: { !($0 > 0) }) { throw fail(name, "LIF tau \(bad) must be positive (seconds)") }
                try zeroOrFail(vLeak, "v_leak", "SNNKit's membranes leak towards 0")
                try zeroOrFail(vReset, "v_reset", "SNNKit resets to 0")
                try population(beta: tau.map { disc.beta(tau: $0, dt: dt) },
                               gain: zip(tau, r).map { disc.gain(tau: $0, r: $1, dt: dt) }, threshold: vth)
            case "IF":
                let r = try perNeuron("r"), vth = try perNeuron("v_threshold")
                try zeroOrFail(try perNeuron("v_reset", default: 0), "v_reset", "SNNKit resets to 0")
                // dv/dt = r I integrated per frame as v += r I (snnTorch's and Norse's reading): gain r.
                try population(beta: [Double](repeating: 1, count: r.count), gain: r, threshold: vth)
            case "CubaLIF":
                let tauSyn = try perNeuron("tau_syn").map(options.timeConstant), tauMem = try perNeuron("tau_mem").map(options.timeConstant)
                let r = try perNeuron("r")
                let wIn = try perNeuron("w_in", default: 1)
                try zeroOrFail(try perNeuron("v_leak", default: 0), "v_leak", "SNNKit's membranes leak towards 0")
                try zeroOrFail(try perNeuron("v_reset", default: 0), "v_reset", "SNNKit resets to 0")
                let vth = try perNeuron("v_threshold")
                if let bad = tauSyn.first(where: { !($0 > 0) }) { throw fail(name, "CubaLIF tau_syn \(bad) must be positive (seconds)") }
                if let bad = tauMem.first(where: { !($0 > 0) }) { throw fail(name, "CubaLIF tau_mem \(bad) must be positive (seconds)") }
                // I_t = alpha I_{t-1} + g_syn w_in x_t, v_t = beta v_{t-1} + g_mem r I_t: SNNKit keeps I / (g_syn w_in) and
                // v / (g_syn w_in g_mem r), so both gains fold into the threshold.
                var alpha = tauSyn.map { disc.beta(tau: $0, dt: dt) }
                alpha = alpha.map { abs($0) <= 1e-9 ? 0 : $0 }  // float round-off of tau_syn = dt
                if let j = alpha.indices.first(where: { !(alpha[$0] >= 0 && alpha[$0] < 1) }) {
                    throw fail(name, "CubaLIF synaptic decay alpha = \(alpha[j]) (tau_syn = \(tauSyn[j]) s) is outside [0, 1) with --dt \(dt) and --discretization \(disc.rawValue)" +
                               (disc == .euler ? " (tau_syn < dt: use a smaller --dt or --discretization exact)" : ""))
                }
                if let j = alpha.indices.first(where: { abs(alpha[$0] - alpha[0]) > 1e-7 }) {
                    throw fail(name, "CubaLIF synaptic decay differs between neurons (\(alpha[0]) for neuron 0, \(alpha[j]) for neuron \(j)): SNNKit has one synaptic decay per population")
                }
                try population(beta: tauMem.map { disc.beta(tau: $0, dt: dt) },
                               // Norse: the input jumps into the current, gain w_in.
                               gain: tauMem.indices.map { disc.gain(tau: tauMem[$0], r: r[$0], dt: dt)
                                   * (options.producer == .norse ? wIn[$0] : disc.gain(tau: tauSyn[$0], r: wIn[$0], dt: dt)) },
                               threshold: vth, synapticDecay: alpha[0])
            case "Threshold":
                let th = try perNeuron("threshold")
                try population(beta: [Double](repeating: 0, count: th.count), gain: [Double](repeating: 1, count: th.count), threshold: th)
            case "Scale":
                let s = try perNeuron("scale")
                if s.allSatisfy({ $0 == s[0] }) { fold(s[0], from: name); break }
                // Per-element factors: the outputs of the synaptic layer just before (weights and bias) ...
                if let k = openSynaptic, k == layers.count - 1 {
                    switch layers[k] {
                    case .linear(let nIn, let nOut):
                        for i in 0..<nIn { for o in 0..<nOut { weights[k].data[i * nOut + o] = Float(Double(weights[k].data[i * nOut + o]) * s[o]) } }
                        if let b = pendingBias { pendingBias = (zip(b.values, s).map { $0 * $1 }, b.node) }
                    case .conv2d(_, let co, _, _, _):
                        let per = s.count / co
                        let factors = (0..<co).map { s[$0 * per] }
                        guard (0..<s.count).allSatisfy({ s[$0] == factors[$0 / per] }) else {
                            throw fail(name, "Scale factors differ within a channel of the Conv2d before it: only one factor per output channel folds into a convolution")
                        }
                        let size = weights[k].count / co
                        for o in 0..<co { for j in 0..<size { weights[k].data[o * size + j] = Float(Double(weights[k].data[o * size + j]) * factors[o]) } }
                        if let b = pendingBias { pendingBias = (b.values.indices.map { b.values[$0] * factors[$0] }, b.node) }
                    default: break
                    }
                    notes.append("node '\(name)': per-element factors folded into the outputs of layer \(k)")
                } else if openSynaptic == nil, pending == 1, pendingRows == nil {
                    // ... or the spikes reaching the next Linear/Affine (its input rows).
                    pendingRows = (s, name)
                } else {
                    throw fail(name, "Scale with per-element factors here cannot be folded (right after a Linear/Affine or Conv2d, or on spikes before a Linear/Affine; SNNKit has no scale layer)")
                }
            case "Input":
                throw fail(name, "a second Input node in the chain")
            case "NIRGraph":
                throw fail(name, "nested graph (subgraph) not supported: SNNKit imports flat feed-forward chains (recurrent snnTorch layers export as subgraphs)")
            case "Conv1d", "Delay", "I", "LI", "CubaLI":
                throw fail(name, "node type '\(node.type)' is not supported by SNNKit (supported: Affine, Linear, Conv2d, AvgPool2d, SumPool2d, Flatten, LIF, IF, CubaLIF, Threshold, Scale)")
            default:
                throw fail(name, "unknown node type '\(node.type)'")
            }
        }
        let outputNode = chain.last!
        if let b = pendingBias {
            throw fail(b.node, "its bias reaches the Output node without a neuron population after it: SNNKit adds a bias to the input current of a population only")
        }
        if let v = pendingRows {
            throw fail(v.node, "its per-element factors have no Linear/Affine after them to fold into (SNNKit has no scale layer)")
        }
        if pending != 1 {
            throw fail(pendingFrom, "its factor \(pending) has no synaptic layer after it to fold into (SNNKit pools by averaging and has no scale layer)")
        }
        if let o = outputNode.parameters["shape"]?.array {
            let os = try integers(o, node: outputNode.name, parameter: "shape", file: file)
            guard os.reduce(1, *) == count(shape) else {
                throw fail(outputNode.name, "Output shape \(os) does not match the shape reaching it, \(shape): mismatched shapes")
            }
        }
        let spec = NetworkSpec(inputShape: inputShape, layers: layers)
        if let p = spec.problem { throw fail(nil, "the imported network cannot run: \(p)") }
        do {
            return (try Network(spec: spec, weights: weights), notes)
        } catch { throw fail(nil, "the imported network is inconsistent: \(error)") }
    }

    /// Whole numbers from `a` (error naming the node and parameter otherwise).
    static func integers(_ a: NIRArray, node: String, parameter: String, file: String?) throws -> [Int] {
        try a.values.map { v in
            guard v.isFinite, v == v.rounded(), abs(v) < 1e12 else {
                throw NIRError(file: file, node: node, "parameter '\(parameter)' holds \(v), expected whole numbers")
            }
            return Int(v)
        }
    }

    /// The nodes from the Input node to the Output node, or an error naming the node that breaks the
    /// chain (unknown edge endpoints, cycles, branches, merges, unreachable nodes).
    static func orderedChain(_ graph: NIRGraph, file: String?) throws -> [NIRNode] {
        func fail(_ node: String?, _ p: String) -> NIRError { NIRError(file: file, node: node, p) }
        var byName = [String: NIRNode]()
        for n in graph.nodes {
            guard byName[n.name] == nil else { throw fail(n.name, "two nodes have this name") }
            byName[n.name] = n
        }
        let inputs = graph.nodes.filter { $0.type == "Input" }
        let outputs = graph.nodes.filter { $0.type == "Output" }
        guard inputs.count == 1 else { throw fail(nil, "the graph has \(inputs.count) Input nodes (\(inputs.map(\.name))); SNNKit imports graphs with exactly one") }
        guard outputs.count == 1 else { throw fail(nil, "the graph has \(outputs.count) Output nodes (\(outputs.map(\.name))); SNNKit imports graphs with exactly one") }
        var seen = Set<NIREdge>()
        var edges = [NIREdge]()
        for (i, e) in graph.edges.enumerated() {
            for end in [e.from, e.to] where byName[end] == nil {
                throw fail(nil, "edge \(i) (\(e.from) -> \(e.to)) names node '\(end)', which the graph does not have")
            }
            if seen.insert(e).inserted { edges.append(e) }
        }
        var succ = [String: [String]](), pred = [String: [String]]()
        for e in edges { succ[e.from, default: []].append(e.to); pred[e.to, default: []].append(e.from) }
        // Cycles first (Kahn's algorithm; what is left lies on or behind a cycle).
        var indegree = [String: Int]()
        for n in graph.nodes { indegree[n.name] = pred[n.name]?.count ?? 0 }
        var queue = graph.nodes.map(\.name).filter { indegree[$0] == 0 }
        var done = 0
        while let n = queue.popLast() {
            done += 1
            for m in succ[n] ?? [] {
                indegree[m]! -= 1
                if indegree[m] == 0 { queue.append(m) }
            }
        }
        if done < graph.nodes.count {
            // Walk predecessors among the remaining nodes until a name repeats: that is a cycle.
            var n = graph.nodes.map(\.name).first { indegree[$0]! > 0 }!
            var path = [n]
            while true {
                n = (pred[n] ?? []).first { indegree[$0]! > 0 }!
                if let k = path.firstIndex(of: n) {
                    let cycle = [n] + Array(path[k...].reversed())  // forward order
                    throw fail(cycle[0], "is on a cycle (\(cycle.joined(separator: " -> "))): SNNKit runs feed-forward chains only (recurrent connections cannot be imported)")
                }
                path.append(n)
            }
        }
        for n in graph.nodes {
            let out = succ[n.name] ?? [], inc = pred[n.name] ?? []
            if out.count > 1 { throw fail(n.name, "\(n.type) has \(out.count) outgoing edges (to \(out.joined(separator: ", "))): SNNKit imports chains (no branches)") }
            if inc.count > 1 { throw fail(n.name, "\(n.type) has \(inc.count) incoming edges (from \(inc.joined(separator: ", "))): SNNKit imports chains (no merges or skip connections)") }
        }
        var chain = [inputs[0]]
        var current = inputs[0].name
        while current != outputs[0].name {
            guard let next = succ[current]?.first else {
                throw fail(current, "has no outgoing edge: the chain from '\(inputs[0].name)' ends before the Output node '\(outputs[0].name)'")
            }
            chain.append(byName[next]!)
            current = next
        }
        if chain.count < graph.nodes.count {
            let on = Set(chain.map(\.name))
            let off = graph.nodes.first { !on.contains($0.name) }!
            throw fail(off.name, "\(off.type) is not on the path from '\(inputs[0].name)' to '\(outputs[0].name)'")
        }
        return chain
    }
}
