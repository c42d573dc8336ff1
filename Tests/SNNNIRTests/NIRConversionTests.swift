import Foundation
import SNNCore
import SNNEngines
import SNNNIR
import SNNTensor
import Testing

/// NIR graph <-> SNNKit network conversions (no file I/O: these run without the HDF5 trait).
@Suite struct NIRConversionTests {
    static func mlp(beta: Float = 0.75, reset: ResetMode = .zero) throws -> Network {
        let spec = NetworkSpec(inputShape: [3], layers: [
            .linear(inFeatures: 3, outFeatures: 2), .dropout(rate: 0.2), .lif(LIFParameters(beta: beta, threshold: 0.5, reset: reset)),
            .linear(inFeatures: 2, outFeatures: 2), .lif(.integrateAndFire(threshold: 1)),
        ])
        return try Network(spec: spec, weights: [
            Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6]), Tensor(shape: [0]), Tensor(shape: [0]),
            Tensor(shape: [2, 2], data: [0.5, -0.25, 0.125, 1]), Tensor(shape: [0]),
        ])
    }

    static func conv() throws -> Network {
        let spec = NetworkSpec(inputShape: [1, 6, 6], layers: [
            .conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1), .lif(LIFParameters(beta: 0.5, threshold: 0.25)),
            .avgPool2d(kernel: 2, stride: 2), .flatten, .linear(inFeatures: 18, outFeatures: 3), .lif(LIFParameters(beta: 0.9, threshold: 1)),
        ])
        return try Network(spec: spec, seed: 3)
    }

    @Test func exportWritesTheNodesAndTransposesLinearWeights() throws {
        let (g, notes) = try NIRExport.graph(try Self.mlp(), options: NIROptions(dt: 1e-3))
        #expect(g.nodes.map(\.type) == ["Input", "Linear", "LIF", "Linear", "IF", "Output"])
        #expect(g.edges.count == 5 && g.edges.first == NIREdge("input", g.nodes[1].name) && g.edges.last?.to == "output")
        #expect(notes.contains { $0.contains("dropout") })
        // SNNKit stores [in, out] = [[1,2],[3,4],[5,6]]; NIR [out, in] = [[1,3,5],[2,4,6]].
        let w = g.nodes[1].parameters["weight"]!.array!
        #expect(w.shape == [2, 3] && w.values == [1, 3, 5, 2, 4, 6])
        // beta 0.75, dt 1 ms, Euler: tau = dt / (1 - beta) = 4 ms, r = tau / dt = 4.
        let lif = g.nodes[2].parameters
        #expect(abs(lif["tau"]!.array!.values[0] - 4e-3) < 1e-12 && abs(lif["r"]!.array!.values[0] - 4) < 1e-9)
        #expect(lif["v_threshold"]!.array!.values == [0.5, 0.5] && lif["v_leak"]!.array!.values == [0, 0] && lif["v_reset"]!.array!.values == [0, 0])
        #expect(g.nodes[4].parameters["r"]!.array!.values == [1, 1] && g.nodes[4].parameters["v_threshold"]!.array!.values == [1, 1])
        #expect(g.nodes[0].parameters["shape"]!.array!.values == [3] && g.nodes[5].parameters["shape"]!.array!.values == [2])
    }

    @Test(arguments: NIRDiscretization.allCases)
    func roundTripGivesTheSameNetwork(discretization: NIRDiscretization) throws {
        for net in [try Self.mlp(), try Self.conv()] {
            let opts = NIROptions(dt: 1e-4, discretization: discretization)
            let (g, _) = try NIRExport.graph(net, options: opts)
            let (back, _) = try NIRImport.network(g, options: opts)
            let expected = net.spec.layers.filter { if case .dropout = $0 { return false } else { return true } }
            #expect(back.spec.inputShape == net.spec.inputShape)
            #expect(back.spec.layers.count == expected.count)
            for (a, b) in zip(back.spec.layers, expected) {
                if case .lif(let p) = a, case .lif(let q) = b {
                    #expect(abs(p.beta - q.beta) < 1e-6 && p.threshold == q.threshold && p.reset == q.reset)
                } else { #expect(a == b) }
            }
            #expect(back.weights.filter { $0.count > 0 } == net.weights.filter { $0.count > 0 })
        }
    }

    @Test func conventionsGiveTheDocumentedDecays() {
        // tau = 10 ms, dt = 1 ms: Euler 0.9, exact exp(-0.1).
        #expect(abs(NIRDiscretization.euler.beta(tau: 0.01, dt: 0.001) - 0.9) < 1e-12)
        #expect(abs(NIRDiscretization.exact.beta(tau: 0.01, dt: 0.001) - exp(-0.1)) < 1e-12)
        // snnTorch writes r = tau/dt: gain r dt / tau = 1; Norse writes r = 1: gain dt / tau.
        #expect(abs(NIRDiscretization.euler.gain(tau: 0.01, r: 10, dt: 0.001) - 1) < 1e-12)
        #expect(abs(NIRDiscretization.euler.gain(tau: 0.01, r: 1, dt: 0.001) - 0.1) < 1e-12)
        for d in NIRDiscretization.allCases {
            let c = d.timeConstant(beta: 0.8, dt: 0.002)!
            #expect(abs(d.beta(tau: c.tau, dt: 0.002) - 0.8) < 1e-12 && abs(d.gain(tau: c.tau, r: c.r, dt: 0.002) - 1) < 1e-12)
        }
    }

    @Test func norseStyleGainFoldsIntoTheThreshold() throws {
        // r = 1, tau = 4 ms, dt = 1 ms: beta 0.75, gain 0.25, theta = 0.5 / 0.25 = 2.
        let g = Self.chain([
            NIRNode(name: "fc", type: "Linear", parameters: ["weight": .float32(NIRArray(shape: [2, 2], values: [1, 0, 0, 1]))]),
            NIRNode(name: "lif", type: "LIF", parameters: ["tau": .float64(NIRArray([4e-3, 4e-3])), "r": .float64(NIRArray([1, 1])),
                                                           "v_leak": .float64(NIRArray([0, 0])), "v_threshold": .float64(NIRArray([0.5, 0.5]))]),
        ], input: [2], output: [2])
        let (net, notes) = try NIRImport.network(g, options: NIROptions(dt: 1e-3))
        guard case .lif(let p) = net.spec.layers[1] else { Issue.record("no lif"); return }
        #expect(abs(p.beta - 0.75) < 1e-7 && abs(p.threshold - 2) < 1e-6 && p.reset == .zero)
        #expect(notes.contains { $0.contains("gain") })
        // With --discretization exact: beta = exp(-0.25), gain 1 - exp(-0.25).
        let (net2, _) = try NIRImport.network(g, options: NIROptions(dt: 1e-3, discretization: .exact))
        guard case .lif(let q) = net2.spec.layers[1] else { Issue.record("no lif"); return }
        #expect(abs(Double(q.beta) - exp(-0.25)) < 1e-7 && abs(Double(q.threshold) - 0.5 / (1 - exp(-0.25))) < 1e-5)
    }

    @Test func sumPoolFactorFoldsIntoTheNextSynapticLayer() throws {
        let g = Self.chain([
            NIRNode(name: "if0", type: "IF", parameters: ["r": .float64(NIRArray([1])), "v_threshold": .float64(NIRArray([1]))]),
            NIRNode(name: "pool", type: "SumPool2d", parameters: ["kernel_size": .int64(NIRArray([2, 2])), "stride": .int64(NIRArray([2, 2])), "padding": .int64(NIRArray([0, 0]))]),
            NIRNode(name: "flat", type: "Flatten", parameters: ["start_dim": .int64(NIRArray(0)), "end_dim": .int64(NIRArray(-1))]),
            NIRNode(name: "fc", type: "Affine", parameters: ["weight": .float32(NIRArray(shape: [1, 1], values: [0.5])), "bias": .float32(NIRArray([0]))]),
        ], input: [1, 2, 2], output: [1])
        let (net, _) = try NIRImport.network(g)
        #expect(net.spec.layers == [.lif(.integrateAndFire(threshold: 1)), .avgPool2d(kernel: 2, stride: 2), .flatten, .linear(inFeatures: 1, outFeatures: 1)])
        #expect(net.weights[3].data == [2])
    }

    // MARK: bad graphs: an error naming the node and the problem

    static func chain(_ middle: [NIRNode], input: [Int], output: [Int]) -> NIRGraph {
        let nodes = [NIRNode(name: "input", type: "Input", parameters: ["shape": .int64(NIRArray(input.map(Double.init)))])] + middle +
            [NIRNode(name: "output", type: "Output", parameters: ["shape": .int64(NIRArray(output.map(Double.init)))])]
        return NIRGraph(nodes: nodes, edges: zip(nodes, nodes.dropFirst()).map { NIREdge($0.name, $1.name) })
    }

    static func lifNode(_ name: String, _ n: Int, tau: Double = 1e-3) -> NIRNode {
        NIRNode(name: name, type: "LIF", parameters: [
            "tau": .float64(NIRArray([Double](repeating: tau, count: n))), "r": .float64(NIRArray([Double](repeating: 10, count: n))),
            "v_leak": .float64(NIRArray([Double](repeating: 0, count: n))), "v_threshold": .float64(NIRArray([Double](repeating: 1, count: n))),
        ])
    }

    static func linearNode(_ name: String, out: Int, in nIn: Int) -> NIRNode {
        NIRNode(name: name, type: "Linear", parameters: ["weight": .float32(NIRArray(shape: [out, nIn], values: [Double](repeating: 0.5, count: out * nIn)))])
    }

    func expectError(_ g: NIRGraph, node: String?, _ fragment: String, options: NIROptions = NIROptions(), sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try NIRImport.network(g, options: options, file: "x.nir")
            Issue.record("expected an error containing '\(fragment)'", sourceLocation: sourceLocation)
        } catch let e as NIRError {
            #expect(e.node == node, "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
            #expect(e.description.contains("x.nir"), sourceLocation: sourceLocation)
        } catch { Issue.record("unexpected \(error)", sourceLocation: sourceLocation) }
    }

    @Test func unknownNodeType() {
        expectError(Self.chain([NIRNode(name: "weird", type: "Banana")], input: [2], output: [2]), node: "weird", "unknown node type 'Banana'")
        expectError(Self.chain([NIRNode(name: "d", type: "Delay", parameters: ["delay": .float64(NIRArray([1]))])], input: [2], output: [2]), node: "d", "not supported")
    }

    @Test func cycles() {
        var g = Self.chain([Self.linearNode("fc", out: 2, in: 2), Self.lifNode("lif", 2), Self.linearNode("rec", out: 2, in: 2)], input: [2], output: [2])
        g.edges = [NIREdge("input", "fc"), NIREdge("fc", "lif"), NIREdge("lif", "rec"), NIREdge("rec", "lif"), NIREdge("lif", "output")]
        expectError(g, node: "lif", "cycle (lif -> rec -> lif)")
    }

    @Test func branchesMergesAndLooseNodes() {
        var g = Self.chain([Self.linearNode("a", out: 2, in: 2), Self.linearNode("b", out: 2, in: 2)], input: [2], output: [2])
        g.edges = [NIREdge("input", "a"), NIREdge("input", "b"), NIREdge("a", "output"), NIREdge("b", "output")]
        expectError(g, node: "input", "2 outgoing edges")
        g.edges = [NIREdge("input", "a"), NIREdge("a", "output")]
        expectError(g, node: "b", "not on the path")
        g.edges = [NIREdge("input", "a"), NIREdge("a", "nowhere")]
        expectError(g, node: nil, "names node 'nowhere'")
        g.edges = [NIREdge("input", "a")]
        expectError(g, node: "a", "no outgoing edge")
    }

    @Test func missingParameters() {
        var lif = Self.lifNode("lif", 2)
        lif.parameters["tau"] = nil
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 2), lif], input: [2], output: [2]), node: "lif", "no 'tau' (missing parameter)")
        expectError(Self.chain([NIRNode(name: "fc", type: "Affine", parameters: ["weight": .float32(NIRArray(shape: [1, 2], values: [1, 1]))])], input: [2], output: [1]),
                    node: "fc", "no 'bias'")
        var g = Self.chain([Self.linearNode("fc", out: 2, in: 2)], input: [2], output: [2])
        g.nodes[0].parameters["shape"] = nil
        expectError(g, node: "input", "no 'shape'")
    }

    @Test func mismatchedShapes() {
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 3)], input: [2], output: [2]), node: "fc", "mismatched shapes")
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 2), Self.lifNode("lif", 3)], input: [2], output: [2]), node: "lif", "mismatched shapes")
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 2)], input: [2], output: [5]), node: "output", "mismatched shapes")
        let conv = NIRNode(name: "conv", type: "Conv2d", parameters: [
            "weight": .float32(NIRArray(shape: [2, 3, 3, 3], values: [Double](repeating: 0.1, count: 54))),
            "stride": .int64(NIRArray([1, 1])), "padding": .int64(NIRArray([0, 0])), "bias": .float32(NIRArray([0, 0])),
        ])
        expectError(Self.chain([conv], input: [1, 8, 8], output: [72]), node: "conv", "mismatched shapes")
        var withShape = conv
        withShape.parameters["input_shape"] = .int64(NIRArray([5, 5]))
        expectError(Self.chain([withShape], input: [3, 8, 8], output: [72]), node: "conv", "input_shape [5, 5]")
    }

    @Test func thingsSNNKitCannotHold() {
        // A bias must reach a population: not the output, not another synaptic layer.
        let biased = NIRNode(name: "fc", type: "Affine", parameters: ["weight": .float32(NIRArray(shape: [1, 1], values: [1])), "bias": .float32(NIRArray([0.5]))])
        expectError(Self.chain([biased], input: [1], output: [1]), node: "fc", "reaches the Output node without a neuron population")
        expectError(Self.chain([biased, Self.linearNode("fc2", out: 1, in: 1), Self.lifNode("lif", 1)], input: [1], output: [1]),
                    node: "fc", "reaches node 'fc2' without a neuron population")
        var leak = Self.lifNode("lif", 1)
        leak.parameters["v_leak"] = .float64(NIRArray([0.1]))
        expectError(Self.chain([Self.linearNode("fc", out: 1, in: 1), leak], input: [1], output: [1]), node: "lif", "v_leak")
        // tau = 1 ms with dt = 0.1 ms under Euler is fine; with dt = 2 ms beta = -1: an error naming --dt.
        expectError(Self.chain([Self.linearNode("fc", out: 1, in: 1), Self.lifNode("lif", 1)], input: [1], output: [1]), node: "lif", "--dt", options: NIROptions(dt: 2e-3))
        // CubaLIF: a synaptic time constant below the frame under Euler, or one that differs between neurons.
        let fast = NIRNode(name: "cuba", type: "CubaLIF", parameters: [
            "tau_syn": .float64(NIRArray([5e-5])), "tau_mem": .float64(NIRArray([1e-2])), "r": .float64(NIRArray([1])),
            "v_leak": .float64(NIRArray([0])), "v_threshold": .float64(NIRArray([1])), "w_in": .float64(NIRArray([1])),
        ])
        expectError(Self.chain([Self.linearNode("fc", out: 1, in: 1), fast], input: [1], output: [1]), node: "cuba", "--dt")
        let mixed = NIRNode(name: "cuba", type: "CubaLIF", parameters: [
            "tau_syn": .float64(NIRArray([5e-3, 1e-3])), "tau_mem": .float64(NIRArray([1e-2, 1e-2])), "r": .float64(NIRArray([1, 1])),
            "v_leak": .float64(NIRArray([0, 0])), "v_threshold": .float64(NIRArray([1, 1])), "w_in": .float64(NIRArray([1, 1])),
        ])
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 2), mixed], input: [2], output: [2]), node: "cuba", "one synaptic decay per population")
        let pool = NIRNode(name: "pool", type: "SumPool2d", parameters: ["kernel_size": .int64(NIRArray([2, 2])), "stride": .int64(NIRArray([2, 2]))])
        expectError(Self.chain([Self.lifNode("lif", 16), pool], input: [1, 4, 4], output: [1, 2, 2]), node: "pool", "no synaptic layer")
        var uneven = Self.lifNode("lif", 2)
        uneven.parameters["v_threshold"] = .float64(NIRArray([1, 2]))
        expectError(Self.chain([Self.linearNode("fc", out: 2, in: 2), uneven], input: [2], output: [2]), node: "lif", "one threshold per population")
        var sub = NIRNode(name: "g", type: "NIRGraph")
        sub.parameters = [:]
        expectError(Self.chain([sub], input: [2], output: [2]), node: "g", "nested graph")
    }

    /// An Affine / Conv2d bias becomes the bias current of the next population (through sum pooling,
    /// which scales it, and flatten, which repeats it per position): the imported network computes
    /// `U = W x + b` with `b` from the file, and exports back as Affine / Conv2d with that bias.
    @Test func biasesBecomeBiasCurrentsAndExportBack() throws {
        let affine = NIRNode(name: "fc", type: "Affine", parameters: [
            "weight": .float32(NIRArray(shape: [2, 2], values: [1, 0, 0, 1])), "bias": .float32(NIRArray([0.75, -0.25])),
        ])
        let (net, notes) = try NIRImport.network(Self.chain([affine, Self.lifNode("lif", 2)], input: [2], output: [2]), options: NIROptions(dt: 1e-4))
        #expect(notes.contains { $0.contains("bias added") })
        guard case .lif(let p) = net.spec.layers[1], let norm = p.normalization else { Issue.record("no bias on the population"); return }
        #expect(norm.kind == .bias && net.weights[1].data == [0.75, -0.25])
        // With no input the bias alone drives the membrane: U_1 = 0.75 (neuron 0), -0.25 (neuron 1), before any threshold.
        let run = try LayeredEngine(network: net).run(inputs: Tensor(shape: [1, 1, 2]), tape: true)
        #expect(run.tape!.preReset[0][1]!.data == [0.75, -0.25])
        let (g, _) = try NIRExport.graph(net, options: NIROptions(dt: 1e-4))
        #expect(g.nodes.map(\.type) == ["Input", "Affine", "LIF", "Output"])
        #expect(g.nodes[1].parameters["bias"]!.array!.values == [0.75, -0.25])
        // Conv bias through SumPool2d (x4, folded with the weights) and Flatten (repeated per position).
        let conv = NIRNode(name: "conv", type: "Conv2d", parameters: [
            "weight": .float32(NIRArray(shape: [2, 1, 1, 1], values: [1, 1])), "bias": .float32(NIRArray([0.5, -1])),
            "stride": .int64(NIRArray([1, 1])), "padding": .int64(NIRArray([0, 0])),
        ])
        let pool = NIRNode(name: "pool", type: "SumPool2d", parameters: ["kernel_size": .int64(NIRArray([2, 2])), "stride": .int64(NIRArray([2, 2]))])
        let flat = NIRNode(name: "flat", type: "Flatten", parameters: ["start_dim": .int64(NIRArray(0)), "end_dim": .int64(NIRArray(-1))])
        let (cnet, _) = try NIRImport.network(Self.chain([conv, pool, flat, Self.lifNode("lif", 8)], input: [1, 4, 4], output: [8]), options: NIROptions(dt: 1e-4))
        let last = cnet.spec.layers.count - 1
        #expect(cnet.spec.layers[last].normalization?.kind == .bias)
        #expect(cnet.weights[last].data == [2, 2, 2, 2, -4, -4, -4, -4])
        #expect(cnet.weights[0].data == [4, 4])
    }

    /// CubaLIF: `alpha = 1 - dt/tau_syn`, `beta = 1 - dt/tau_mem`, `theta = v_threshold / (w_in dt/tau_syn * r dt/tau_mem)`
    /// (Euler), computed by hand; the layered engine then runs `I_t = alpha I_{t-1} + x_t`, `U_t = beta V + I_t`;
    /// export writes CubaLIF back with gains 1, and the round trip keeps alpha, beta and theta.
    @Test func cubaLIFImportsAsASynapticCurrentAndExportsBack() throws {
        let cuba = NIRNode(name: "cuba", type: "CubaLIF", parameters: [
            "tau_syn": .float64(NIRArray([5e-3])), "tau_mem": .float64(NIRArray([1e-2])), "r": .float64(NIRArray([2])),
            "v_leak": .float64(NIRArray([0])), "v_threshold": .float64(NIRArray([1.2e-3])), "w_in": .float64(NIRArray([5])),
        ])
        let (net, _) = try NIRImport.network(Self.chain([Self.linearNode("fc", out: 1, in: 1), cuba], input: [1], output: [1]), options: NIROptions(dt: 1e-4))
        guard case .lif(let p) = net.spec.layers[1] else { Issue.record("no population"); return }
        #expect(abs(p.synapticDecay! - 0.98) < 1e-7 && abs(p.beta - 0.99) < 1e-7)
        // gains: w_in dt/tau_syn = 5 * 0.02 = 0.1; r dt/tau_mem = 2 * 0.01 = 0.02; theta = 1.2e-3 / 0.002 = 0.6.
        #expect(abs(p.threshold - 0.6) < 1e-6, "\(p.threshold)")
        // Hand-run with the weight w (the linear node's) and input 1, 0, 0: I = w, 0.98 w, 0.98^2 w; U_t = 0.99 U_{t-1} + I_t.
        let w = net.weights[0].data[0]
        let run = try LayeredEngine(network: net).run(inputs: Tensor(shape: [3, 1, 1], data: [1, 0, 0]), tape: true)
        var u: Float = 0, i: Float = 0
        for t in 0..<3 {
            i = 0.98 * i + (t == 0 ? w : 0)
            u = p.beta * u + i
            #expect(abs(run.tape!.preReset[t][1]!.data[0] - u) < 1e-6, "step \(t)")
            if u > p.threshold { u = 0 }
        }
        let (g, _) = try NIRExport.graph(net, options: NIROptions(dt: 1e-4))
        #expect(g.nodes.map(\.type) == ["Input", "Linear", "CubaLIF", "Output"])
        let (back, _) = try NIRImport.network(g, options: NIROptions(dt: 1e-4))
        guard case .lif(let q) = back.spec.layers[1] else { Issue.record("no population after the round trip"); return }
        #expect(abs(q.synapticDecay! - p.synapticDecay!) < 1e-6 && abs(q.beta - p.beta) < 1e-6 && abs(q.threshold - p.threshold) < 1e-5)
    }

    /// Per-element Scale nodes: after a Linear they scale its output columns (and bias), on spikes the next
    /// Linear's input rows; anywhere else they are an error naming the node.
    @Test func perElementScalesFoldIntoTheNearestLinear() throws {
        func scale(_ name: String, _ v: [Double]) -> NIRNode { NIRNode(name: name, type: "Scale", parameters: ["scale": .float64(NIRArray(v))]) }
        let fc = NIRNode(name: "fc", type: "Affine", parameters: [
            "weight": .float32(NIRArray(shape: [2, 2], values: [1, 2, 3, 4])), "bias": .float32(NIRArray([1, 1])),
        ])
        let (net, _) = try NIRImport.network(Self.chain([fc, scale("s", [2, 0.5]), Self.lifNode("lif", 2)], input: [2], output: [2]))
        // NIR [out, in] = [[1, 2], [3, 4]] -> SNNKit [in, out] = [[1, 3], [2, 4]]; column o times s[o].
        #expect(net.weights[0].data == [2, 1.5, 4, 2])
        #expect(net.weights[1].data == [2, 0.5])  // the bias current, scaled too
        let (rows, _) = try NIRImport.network(Self.chain([Self.linearNode("a", out: 2, in: 2), Self.lifNode("l1", 2), scale("s", [3, 0.25]),
                                                          Self.linearNode("b", out: 2, in: 2), Self.lifNode("l2", 2)], input: [2], output: [2]))
        #expect(rows.weights[2].data == [1.5, 1.5, 0.125, 0.125])  // row i times s[i]
        expectError(Self.chain([Self.lifNode("l", 2), scale("s", [1, 2])], input: [2], output: [2]), node: "s", "no Linear/Affine after them")
        expectError(Self.chain([Self.linearNode("a", out: 2, in: 2), Self.lifNode("l1", 2), scale("s", [1, 2]), Self.lifNode("l2", 2)], input: [2], output: [2]),
                    node: "s", "without a Linear/Affine")
        let conv = NIRNode(name: "conv", type: "Conv2d", parameters: [
            "weight": .float32(NIRArray(shape: [1, 1, 1, 1], values: [1])), "stride": .int64(NIRArray([1, 1])), "padding": .int64(NIRArray([0, 0])),
        ])
        expectError(Self.chain([conv, scale("s", [1, 2, 3, 4]), Self.lifNode("lif", 4)], input: [1, 2, 2], output: [1, 2, 2]), node: "s", "within a channel")
    }

    @Test func exportRefusesWhatNIRCannotHold() throws {
        func expectExportError(_ net: Network, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do { _ = try NIRExport.graph(net); Issue.record("expected '\(fragment)'", sourceLocation: sourceLocation) } catch let e as NIRError {
                #expect(e.description.contains(fragment) && e.node != nil, "\(e)", sourceLocation: sourceLocation)
            } catch { Issue.record("\(error)", sourceLocation: sourceLocation) }
        }
        expectExportError(try Self.mlp(reset: .subtract), "reset by subtraction")
        let pooled = try Network(spec: NetworkSpec(inputShape: [1, 4, 4], layers: [
            .conv2d(inChannels: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0), .maxPool2d(kernel: 2, stride: 2),
        ]))
        expectExportError(pooled, "max pooling")
        let bntt = try Network(spec: NetworkSpec(inputShape: [2], layers: [
            .linear(inFeatures: 2, outFeatures: 2),
            .lif(LIFParameters(beta: 0.5, threshold: 1, normalization: InputNormalization(kind: .bntt, channels: 2, steps: 4))),
        ]))
        expectExportError(bntt, "normalisation")
    }
}
