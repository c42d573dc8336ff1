import Foundation
import Testing
import SNNCore
import SNNTensor
@testable import SNNTraining
import SNNEngines

/// EM-PF: gradients (per-step online, BPTT, straight-through), memory flat in T, folded BN, random feedback.
@Suite struct EMPFTests {
    static func mlp(kind: SpikeKind = .excess, norm: Bool = false, binary: BinaryWeights = .none, perChannel: Bool = false) throws -> EMPFModel {
        let neuron = EMPFNeuronSpec(kind: kind, decay: 0.6, threshold: 0.3, perChannel: perChannel, learnable: true, membraneNorm: norm)
        let spec = try EMPFSpec.parse(norm ? "input=6,fc8:bn,fc4:readout" : "input=6,fc8,fc4:readout", neuron: neuron, binaryWeights: binary)
        return try EMPFModel(spec: spec, seed: 3)
    }

    static func data(steps: Int = 4, batch: Int = 3, features: Int = 6, seed: UInt64 = 5) -> (Tensor, [Int]) {
        let rng = CounterRNG(seed: seed)
        let x = Tensor(shape: [steps, batch, features], data: (0..<(steps * batch * features)).map { rng.uniform(stream: 0, counter: UInt64($0)) * 1.5 })
        return (x, (0..<batch).map { $0 % 4 })
    }

    static func slice(_ x: Tensor, _ t: Int) -> Tensor {
        let batch = x.shape[1], f = x.count / (x.shape[0] * batch)
        return Tensor(shape: [batch, f], data: Array(x.data[(t * batch * f)..<((t + 1) * batch * f)]))
    }

    /// The per-step objective with the membrane entering each step held at `states[t]`.
    static func perStepLoss(_ model: EMPFModel, _ x: Tensor, _ labels: [Int], states: [EMPFState]) throws -> Double {
        let st = try EMPFStepper(model: model)
        let steps = x.shape[0], batch = x.shape[1]
        var total = 0.0
        for t in 0..<steps {
            var s = states[t]
            let r = st.forward(slice(x, t), state: &s, training: true, keepTape: false, step: t)
            total += Double(Loss.softmaxCrossEntropy(r.output, labels, scale: 1).0) / Double(batch * steps)
        }
        return total
    }

    static func statesBeforeEachStep(_ model: EMPFModel, _ x: Tensor) throws -> [EMPFState] {
        let st = try EMPFStepper(model: model)
        var s = st.initialState(batch: x.shape[1])
        var out: [EMPFState] = []
        for t in 0..<x.shape[0] {
            out.append(s)
            _ = st.forward(slice(x, t), state: &s, training: true, keepTape: false, step: t)
        }
        return out
    }

    static func perturbed(_ m: EMPFModel, _ i: Int, _ k: Int, _ j: Int, _ d: Float) -> EMPFModel {
        var m = m; m.parameters[i][k].data[j] += d; return m
    }

    /// Compares `analytic` with central differences of `loss` over every parameter; returns (relative error, cosine).
    static func compare(_ model: EMPFModel, _ analytic: [[Tensor]], eps: Float = 2e-3, loss: (EMPFModel) throws -> Double) throws -> (Double, Double) {
        var num = 0.0, den = 0.0, dot = 0.0, na = 0.0, nf = 0.0
        for i in model.parameters.indices {
            for k in model.parameters[i].indices {
                for j in 0..<model.parameters[i][k].count {
                    let fd = (try loss(perturbed(model, i, k, j, eps)) - loss(perturbed(model, i, k, j, -eps))) / Double(2 * eps)
                    let g = Double(analytic[i][k].data[j])
                    num += (fd - g) * (fd - g); den += fd * fd
                    dot += fd * g; na += g * g; nf += fd * fd
                }
            }
        }
        return ((num / max(den, 1e-30)).squareRoot(), dot / max((na * nf).squareRoot(), 1e-30))
    }

    static func trainer(_ model: EMPFModel, _ method: OnlineMethod, randomFeedback: Bool = false) throws -> OnlineTrainer {
        try OnlineTrainer(model: model, optimizer: Optimizer(.sgd(momentum: 0, weightDecay: 0), learningRate: 0.1),
                          options: OnlineTrainingOptions(method: method, randomFeedback: randomFeedback, seed: 7))
    }

    @Test(arguments: [false, true])
    func onlineGradientMatchesFiniteDifferencesOfPerStepObjective(norm: Bool) throws {
        let model = try Self.mlp(norm: norm)
        let (x, labels) = Self.data()
        let online = try Self.trainer(model, .empfOnline).gradients(inputs: x, labels: labels).gradients
        let states = try Self.statesBeforeEachStep(model, x)
        let (err, cos) = try Self.compare(model, online) { try Self.perStepLoss($0, x, labels, states: states) }
        #expect(err < 0.03, "relative error \(err)")
        #expect(cos > 0.999)
    }

    @Test(arguments: [SpikeKind.excess, .membrane])
    func bpttGradientMatchesFiniteDifferencesOfFullLoss(kind: SpikeKind) throws {
        let model = try Self.mlp(kind: kind)
        let (x, labels) = Self.data()
        let t = try Self.trainer(model, .bptt)
        let bptt = try t.gradients(inputs: x, labels: labels)
        // Membrane reading: the straight-through ds/du = H drops the jump's delta, exact almost everywhere.
        let (err, cos) = try Self.compare(model, bptt.gradients) { try Self.trainer($0, .bptt).gradients(inputs: x, labels: labels).loss.double }
        #expect(err < 0.03, "relative error \(err)")
        #expect(cos > 0.999)
        // The cross-step terms matter here: online differs from BPTT, and BPTT with them removed is online.
        let online = try Self.trainer(model, .empfOnline).gradients(inputs: x, labels: labels).gradients
        var diff: Float = 0
        for (a, b) in zip(online.flatMap { $0 }, bptt.gradients.flatMap { $0 }) {
            for j in 0..<a.count { diff = max(diff, abs(a.data[j] - b.data[j])) }
        }
        #expect(diff > 1e-4)
        let stepper = try EMPFStepper(model: model)
        var state = stepper.initialState(batch: 3)
        var grads = t.zeroGradients()
        for step in 0..<4 {
            let r = stepper.forward(Self.slice(x, step), state: &state, training: true, keepTape: true, step: step)
            let g = Loss.softmaxCrossEntropy(r.output, labels, scale: 1 / 12).1
            var carry: [Tensor?]? = model.spec.layers.map { _ in nil }   // BPTT's backward, carry dropped every step
            stepper.backward(r.tape!, outputGradient: g, gradients: &grads, carry: &carry)
        }
        #expect(t.finish(grads) == online)
    }

    @Test func straightThroughGradientOfTheNeuron() throws {
        // One population, excess reading: ds/du = H(u - theta), ds/dtheta = -H, v = min(u, theta).
        let spec = EMPFSpec(inputShape: [4], layers: [.neuron(EMPFNeuronSpec(decay: 0.5, threshold: 0.4, perChannel: false))])
        let model = try EMPFModel(spec: spec)
        let stepper = try EMPFStepper(model: model)
        var state = stepper.initialState(batch: 1)
        let x = Tensor(shape: [1, 4], data: [0.1, 0.5, 1.2, -0.3])
        let r = stepper.forward(x, state: &state, training: true, keepTape: true)
        let expectedSpikes: [Float] = [0, 0.5 - 0.4, 1.2 - 0.4, 0]
        #expect(r.output.data == expectedSpikes)
        let wantV: [Float] = [0.1, 0.4, 0.4, -0.3]
        #expect(state.membranes[0]!.data == wantV)
        var grads = model.parameters.map { $0.map { Tensor(shape: $0.shape) } }
        var carry: [Tensor?]? = nil
        let g = Tensor(shape: [1, 4], data: [1, 2, 3, 4])
        stepper.backward(r.tape!, outputGradient: g, gradients: &grads, carry: &carry)
        let wantT: [Float] = [0, -2, -3, 0]
        #expect(grads[0][1].data == wantT)
        // The membrane reading: s = u H, the threshold gets no gradient.
        var m2 = model; m2.spec.layers = [.neuron(EMPFNeuronSpec(kind: .membrane, decay: 0.5, threshold: 0.4, perChannel: false))]
        let s2 = try EMPFStepper(model: m2)
        var st2 = s2.initialState(batch: 1)
        let wantM: [Float] = [0, 0.5, 1.2, 0]
        #expect(s2.forward(x, state: &st2, training: true, keepTape: false).output.data == wantM)
    }

    /// The straight-through pass written out per neuron: `du = fired ? gs : gv`; the threshold gradient
    /// per element in place, or per conv channel each sample's run in 16 lanes (lane `q % 16` below the
    /// last full block, silent neurons adding `+0`), folded `j + (j+8)`, halves, pair, plus the tail chain.
    @Test("straight-through pass: du and the threshold gradient's documented order", arguments: [
        (2, 3, 37, true), (3, 2, 16, true), (2, 4, 5, true), (4, 6, 1, true), (2, 3, 37, false), (3, 5, 1, false)])
    func straightThroughOrder(batch: Int, channels: Int, spatial: Int, perChannel: Bool) {
        var seed: UInt64 = UInt64(batch * 1000 + channels * 100 + spatial)
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 997
        }
        let n = batch * channels * spatial
        let u = (0..<n).map { _ in next() }, gs = (0..<n).map { _ in next() }, gv = (0..<n).map { _ in next() }
        let thetaCount = perChannel || spatial == 1 ? channels : channels * spatial
        let theta = (0..<thetaCount).map { _ in next() * 0.5 }
        let start = (0..<thetaCount).map { _ in next() }
        for carried in [true, false] {
            var du = [Float](repeating: .nan, count: n), dTheta = start
            EMPFNeuronLanes.straightThrough(u: u, gs: gs, gv: carried ? gv : nil, du: &du, theta: theta, dTheta: &dTheta,
                                            batch: batch, channels: channels, spatial: spatial, perChannel: perChannel)
            var want = start
            for b in 0..<batch {
                for c in 0..<channels {
                    var lanes = [Float](repeating: 0, count: 16), tail: Float = 0
                    let full = spatial / 16 * 16
                    for q in 0..<spatial {
                        let i = (b * channels + c) * spatial + q
                        let k = spatial == 1 ? c : (perChannel ? c : c * spatial + q)
                        let fired = u[i] > theta[k]
                        let cv: Float = carried ? gv[i] : 0
                        #expect(du[i].bitPattern == (fired ? gs[i] : cv).bitPattern, "du \(i)")
                        if spatial > 1 && perChannel {
                            if q < full { lanes[q % 16] += fired ? cv - gs[i] : 0 } else if fired { tail += cv - gs[i] }
                        } else if fired {
                            want[k] += cv - gs[i]
                        }
                    }
                    if spatial > 1 && perChannel {
                        let h = (0..<8).map { lanes[$0] + lanes[$0 + 8] }, q4 = (0..<4).map { h[$0] + h[$0 + 4] }
                        let r = (0..<2).map { q4[$0] + q4[$0 + 2] }
                        want[c] += (r[0] + r[1]) + tail
                    }
                }
            }
            #expect(dTheta.map(\.bitPattern) == want.map(\.bitPattern), "carried \(carried)")
        }
    }

    @Test func binaryWeightsStraightThroughIsClipped() throws {
        var model = try Self.mlp(binary: .perChannel)
        model.parameters[0][0].data[0] = 1.5   // outside the clip range: no gradient
        let (x, labels) = Self.data()
        let g = try Self.trainer(model, .empfOnline).gradients(inputs: x, labels: labels).gradients
        // Same network with float weights equal to alpha * sign(W): its weight gradient is the forward weight's gradient.
        var float = model
        float.spec.binaryWeights = .none
        for i in float.spec.layers.indices where model.isBinary(i) { float.parameters[i][0] = model.effectiveWeight(i) }
        let gf = try Self.trainer(float, .empfOnline).gradients(inputs: x, labels: labels).gradients
        #expect(g[0][0].data[0] == 0)
        #expect(gf[0][0].data[0] != 0)
        #expect(Array(g[0][0].data.dropFirst()) == Array(gf[0][0].data.dropFirst()))
        #expect(g[2][0] == gf[2][0])
        // Forward weights: alpha per output channel = mean |W| of that column, times the sign.
        let w = model.parameters[0][0], e = model.effectiveWeight(0)
        let col0 = stride(from: 0, to: w.count, by: 8).map { abs(w.data[$0]) }
        var total = 0.0
        for v in col0 { total += Double(v) }
        let alpha = max(Float(total / Double(col0.count)), 1e-8)
        #expect(abs(e.data[0] - alpha) < 1e-6)
    }

    @Test func randomFeedbackUsesTheFixedMatrices() throws {
        let model = try Self.mlp()
        let (x, labels) = Self.data(steps: 1)
        let rb = try Self.trainer(model, .empfOnline, randomFeedback: true)
        let b2 = rb.feedback![2]!
        #expect(b2 != model.parameters[2][0])
        let got = try rb.gradients(inputs: x, labels: labels).gradients
        // By hand: dI1 = (dy B2^T) * H(u > theta); dW1 = x^T dI1.
        let stepper = try EMPFStepper(model: model)
        var state = stepper.initialState(batch: 3)
        let r = stepper.forward(Self.slice(x, 0), state: &state, training: true, keepTape: true)
        let dy = Loss.softmaxCrossEntropy(r.output, labels, scale: 1 / 3).1
        let u = r.tape!.layers[1].u!
        var expected = [Float](repeating: 0, count: 6 * 8)
        let x0 = Self.slice(x, 0)
        for b in 0..<3 {
            for h in 0..<8 {
                var ds: Float = 0
                for o in 0..<4 { ds += dy.data[b * 4 + o] * b2.data[h * 4 + o] }
                let di = u.data[b * 8 + h] > 0.3 ? ds : 0
                for i in 0..<6 { expected[i * 8 + h] += x0.data[b * 6 + i] * di }
            }
        }
        for j in 0..<expected.count { #expect(abs(got[0][0].data[j] - expected[j]) < 1e-5) }
        let normal = try Self.trainer(model, .empfOnline).gradients(inputs: x, labels: labels).gradients
        #expect(normal[0][0] != got[0][0])
        #expect(normal[2][0] == got[2][0])   // the last layer's own gradient does not go through feedback
    }

    @Test func foldedBatchNormEqualsUnfolded() throws {
        var model = try Self.mlp(norm: true, perChannel: true)
        let rng = CounterRNG(seed: 11)
        for c in 0..<8 {
            model.statistics[1][0].data[c] = rng.uniform(stream: 1, counter: UInt64(c)) - 0.5
            model.statistics[1][1].data[c] = rng.uniform(stream: 2, counter: UInt64(c)) + 0.2
            model.parameters[1][2].data[c] = rng.uniform(stream: 3, counter: UInt64(c)) + 0.5
            model.parameters[1][3].data[c] = rng.uniform(stream: 4, counter: UInt64(c)) - 0.5
        }
        let stepper = try EMPFStepper(model: model)
        let (x, _) = Self.data(steps: 5)
        var state = stepper.initialState(batch: 3)
        var folded = state.membranes[1]!
        for t in 0..<5 {
            var one = state
            _ = stepper.forward(Self.slice(x, t), state: &one, training: false, keepTape: false)
            // The current into the population: the first layer alone.
            let current = SynapticKernels.forward(.linear(inFeatures: 6, outFeatures: 8), weight: stepper.weights[0], input: Self.slice(x, t),
                                                  inShape: [6], outShape: [8], training: false, keepCache: false).output
            var s = state
            let ops: SynapticOperations? = nil
            _ = ops
            let unfoldedSpikes = { () -> Tensor in
                var st = s
                let r = stepper.forward(Self.slice(x, t), state: &st, training: false, keepTape: true)
                s = st
                return r.tape!.layers[2].cache.input!
            }()
            let f = stepper.foldedNeuronStep(1, current: current, membrane: folded)
            for j in 0..<f.spikes.count {
                #expect(abs(f.spikes.data[j] - unfoldedSpikes.data[j]) <= 1e-5 * max(1, abs(unfoldedSpikes.data[j])))
                #expect((f.spikes.data[j] > 0) == (unfoldedSpikes.data[j] > 0))
            }
            folded = f.membrane
            state = one
            for j in 0..<folded.count { #expect(abs(folded.data[j] - state.membranes[1]!.data[j]) <= 1e-5 * max(1, abs(folded.data[j]))) }
            folded = state.membranes[1]!
        }
    }

    @Test func onlineMemoryIsFlatInTimeStepsAndBPTTGrows() throws {
        for kind in [SpikeKind.excess, .lif(.default)] {
            let neuron = EMPFNeuronSpec(kind: kind, decay: 0.5, threshold: 0.5)
            let spec = try EMPFSpec.parse("input=1x8x8,conv4k3p1:bn,avg2,fc10", neuron: neuron, binaryWeights: .perChannel)
            let model = try EMPFModel(spec: spec, seed: 1)
            func peak(_ method: OnlineMethod, _ steps: Int) throws -> Int {
                var t = try OnlineTrainer(model: model, optimizer: .referenceAdam(), options: OnlineTrainingOptions(method: method))
                let (x, labels) = Self.data(steps: steps, batch: 4, features: 64)
                return try t.trainBatch(inputs: x, labels: labels.map { $0 % 10 }).peakBytes
            }
            let online: [OnlineMethod] = kind.isGraded ? [.empfOnline] : [.sltt, .ottt]
            for m in online {
                let p2 = try peak(m, 2), p16 = try peak(m, 16)
                #expect(p2 > 0)
                #expect(abs(Double(p16 - p2)) <= 0.01 * Double(p2), "\(m): \(p2) vs \(p16) bytes")
            }
            let b2 = try peak(.bptt, 2), b16 = try peak(.bptt, 16)
            #expect(Double(b16) > 4 * Double(b2), "bptt: \(b2) vs \(b16) bytes")
        }
    }

    @Test func gradedSpikesGoThroughTheEventKernels() throws {
        // Linear and conv delivery multiply each non-zero input by its value.
        let w = Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        let x = Tensor(shape: [1, 3], data: [0.5, 0, 2])
        let y = SpikeDelivery.forward(.linear(inFeatures: 3, outFeatures: 2), inShape: [3], outShape: [2], input: x, weight: w)
        let want: [Float] = [10.5, 13]
        #expect(y.data == want)
        let conv = LayerSpec.conv2d(inChannels: 1, outChannels: 1, kernel: 1, stride: 1, padding: 0)
        let yc = SpikeDelivery.forward(conv, inShape: [1, 1, 3], outShape: [1, 1, 3], input: Tensor(shape: [1, 1, 1, 3], data: [0.25, 0, 3]),
                                       weight: Tensor(shape: [1, 1, 1, 1], data: [2]))
        let wantC: [Float] = [0.5, 0, 6]
        #expect(yc.data == wantC)
    }

    @Test func denseGradedInputTakesTheGEMMOutsideExactEventOrder() throws {
        // A dense graded input (more than a quarter non-zero, e.g. pooled EM-PF spikes) goes through the
        // dense GEMM unless the event order is asked for: the same sums up to rounding; a sparse input
        // takes the event kernel either way, bit for bit.
        let inF = 300, outF = 10, batch = 4
        let rng = CounterRNG(seed: 9)
        let w = Tensor(shape: [inF, outF], data: (0..<(inF * outF)).map { rng.uniform(stream: 1, counter: UInt64($0)) - 0.5 })
        let layer = LayerSpec.linear(inFeatures: inF, outFeatures: outF)
        for density: Float in [0.9, 0.05] {
            let x = Tensor(shape: [batch, inF], data: (0..<(batch * inF)).map {
                rng.uniform(stream: 2, counter: UInt64($0)) < density ? rng.uniform(stream: 3, counter: UInt64($0)) * 2 : 0
            })
            let exact = SpikeDelivery.forward(layer, inShape: [inF], outShape: [outF], input: x, weight: w, exactEventOrder: true)
            let fast = SpikeDelivery.forward(layer, inShape: [inF], outShape: [outF], input: x, weight: w, exactEventOrder: false)
            // Reference in Double.
            for b in 0..<batch {
                for o in 0..<outF {
                    var ref: Double = 0
                    for i in 0..<inF { ref += Double(x.data[b * inF + i]) * Double(w.data[i * outF + o]) }
                    #expect(abs(Double(fast.data[b * outF + o]) - ref) < 1e-4, "density \(density) [\(b), \(o)]")
                    #expect(abs(Double(exact.data[b * outF + o]) - ref) < 1e-4, "density \(density) [\(b), \(o)]")
                }
            }
            if density < 0.25 { #expect(fast.data == exact.data) }
        }
    }

    @Test func binaryScalesFollowTheOutputChannelOfEachLayout() throws {
        // Linear [in, out]: channel = column. Hand values: columns (1, -3, 5) and (-2, 4, -6) -> 3 and 4.
        let lin = Tensor(shape: [3, 2], data: [1, -2, -3, 4, 5, -6])
        let linear = LayerSpec.linear(inFeatures: 3, outFeatures: 2)
        #expect(BinaryWeightMath.scales(of: lin, perChannel: true, layer: linear) == [3, 4])
        #expect(BinaryWeightMath.scales(of: lin, perChannel: false, layer: linear) == [3.5])
        #expect(BinaryWeightMath.binarised(lin, scales: [3, 4], layer: linear).data == [3, -4, -3, 4, 3, -4])
        // Conv [O, C, k, k] with O = 2, C = 1, k = 2: channel = a block of C k k = 4 weights.
        let conv = LayerSpec.conv2d(inChannels: 1, outChannels: 2, kernel: 2, stride: 1, padding: 0)
        let cw = Tensor(shape: [2, 1, 2, 2], data: [1, -1, 2, 0, 0, 0, 0, 0])
        // The second channel is all zero: it keeps the tiny positive scale; sign(0) = +1.
        #expect(BinaryWeightMath.scales(of: cw, perChannel: true, layer: conv) == [1, 1e-8])
        #expect(BinaryWeightMath.binarised(cw, scales: [1, 1e-8], layer: conv).data == [1, -1, 1, 1, 1e-8, 1e-8, 1e-8, 1e-8])
    }

    @Test func channelAttentionGradientMatchesFiniteDifferences() throws {
        let neuron = EMPFNeuronSpec(decay: 0.6, threshold: 0.2)
        let spec = try EMPFSpec.parse("input=1x4x4,conv3k3p1,fc4:readout", neuron: neuron, attentionKernel: 3)
        #expect(spec.layers.contains(.channelAttention(kernel: 3)))
        let model = try EMPFModel(spec: spec, seed: 2)
        let (x, labels) = Self.data(steps: 3, batch: 2, features: 16)
        let g = try Self.trainer(model, .empfOnline).gradients(inputs: x, labels: labels).gradients
        let states = try Self.statesBeforeEachStep(model, x)
        let (err, cos) = try Self.compare(model, g) { try Self.perStepLoss($0, x, labels, states: states) }
        #expect(err < 0.03, "relative error \(err)")
        #expect(cos > 0.999)
    }

    @Test func trainingLowersTheLoss() throws {
        let model = try Self.mlp(binary: .perLayer)
        let (x, labels) = Self.data(steps: 4, batch: 8)
        var t = try OnlineTrainer(model: model, optimizer: Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0), learningRate: 0.02),
                                  options: OnlineTrainingOptions(method: .empfOnline))
        let first = try t.trainBatch(inputs: x, labels: labels).loss
        var last = first
        for _ in 0..<40 { last = try t.trainBatch(inputs: x, labels: labels).loss }
        #expect(last < first * 0.85, "\(first) -> \(last)")
    }
}

extension Float { var double: Double { Double(self) } }

@Suite struct EMPFParallelTimeTests {
    @Test(arguments: ["input=6,fc8:bn,fc4:readout", "input=1x4x4,conv3k3p1:bn,avg2,fc4:readout"])
    func parallelOverTimeGivesTheOnlineGradient(arch: String) throws {
        let spec = try EMPFSpec.parse(arch, neuron: EMPFNeuronSpec(decay: 0.6, threshold: 0.3), binaryWeights: .perChannel,
                                      attentionKernel: arch.contains("conv") ? 3 : nil)
        let model = try EMPFModel(spec: spec, seed: 3)
        let (x, labels) = EMPFTests.data(steps: 5, batch: 3, features: spec.inputShape.reduce(1, *))
        let t = try EMPFTests.trainer(model, .empfOnline)
        let a = try t.gradients(inputs: x, labels: labels)
        let b = try t.parallelGradients(inputs: x, labels: labels)
        #expect(abs(a.loss - b.loss) < 1e-5)
        #expect(a.correct == b.correct)
        for (ga, gb) in zip(a.gradients.flatMap { $0 }, b.gradients.flatMap { $0 }) {
            for j in 0..<ga.count { #expect(abs(ga.data[j] - gb.data[j]) <= 1e-5 * max(1, abs(ga.data[j]))) }
        }
        // Memory grows with T in the parallel form.
        let (x2, _) = EMPFTests.data(steps: 2, batch: 3, features: spec.inputShape.reduce(1, *))
        let (x16, _) = EMPFTests.data(steps: 16, batch: 3, features: spec.inputShape.reduce(1, *))
        let m2 = ByteMeter(), m16 = ByteMeter()
        _ = try t.parallelGradients(inputs: x2, labels: labels, meter: m2)
        _ = try t.parallelGradients(inputs: x16, labels: labels, meter: m16)
        #expect(m16.peak > 2 * m2.peak)
    }
}

@Suite struct OTTTTraceTests {
    /// OTTT: each weighted layer's weight gradient at step t uses the presynaptic trace a[t] = lambda a[t-1] + x[t].
    @Test func weightGradientsUseEligibilityTraces() throws {
        let spec = try EMPFSpec.parse("input=3,fc4,fc2:readout", neuron: EMPFNeuronSpec(kind: .lif(.default), decay: 0.5, threshold: 0.2, learnable: false))
        let model = try EMPFModel(spec: spec, seed: 1)
        let x = Tensor(shape: [2, 1, 3], data: [1, 0, 0.5, 0, 1, 1])
        let labels = [1]
        let ottt = try EMPFTests.trainer(model, .ottt).gradients(inputs: x, labels: labels).gradients
        // By hand from SLTT's per-step backward: replace x[t] by the trace in dW0 = sum_t a[t]^T dI[t].
        let stepper = try EMPFStepper(model: model)
        var state = stepper.initialState(batch: 1)
        var expected = [Float](repeating: 0, count: 12)
        var trace = [Float](repeating: 0, count: 3)
        for t in 0..<2 {
            let xt = EMPFTests.slice(x, t)
            for i in 0..<3 { trace[i] = 0.5 * trace[i] + xt.data[i] }
            let r = stepper.forward(xt, state: &state, training: true, keepTape: true, step: t)
            let dy = Loss.softmaxCrossEntropy(r.output, labels, scale: 1 / 2).1
            var g = model.parameters.map { $0.map { Tensor(shape: $0.shape) } }
            var carry: [Tensor?]? = nil
            // The input gradient of layer 0's output: take it from a backward with a zero input and a unit input.
            var tape = r.tape!
            for i in 0..<3 {
                var unit = Tensor(shape: [1, 3]); unit.data[i] = 1
                tape.layers[0].cache.input = unit
                g = model.parameters.map { $0.map { Tensor(shape: $0.shape) } }
                stepper.backward(tape, outputGradient: dy, gradients: &g, carry: &carry)
                for o in 0..<4 { expected[i * 4 + o] += trace[i] * g[0][0].data[i * 4 + o] }
            }
        }
        for j in 0..<12 { #expect(abs(ottt[0][0].data[j] - expected[j]) < 1e-6, "\(j): \(ottt[0][0].data[j]) vs \(expected[j])") }
        let sltt = try EMPFTests.trainer(model, .sltt).gradients(inputs: x, labels: labels).gradients
        #expect(sltt[0][0] != ottt[0][0])
    }
}

/// The asynchronous engine runs EM-PF networks (AsyncEMPFTests) except channel attention.
@Suite struct EMPFAsyncRefusalTests {
    @Test func asyncEngineRefusesChannelAttentionOnly() throws {
        try AsyncCompatibility.check(try EMPFSpec.parse("4-3", neuron: EMPFNeuronSpec()))
        let eca = try EMPFSpec.parse("input=1x4x4,conv3k3p1,fc4:readout", neuron: EMPFNeuronSpec(), attentionKernel: 3)
        #expect { try AsyncCompatibility.check(eca) } throws: { "\($0)".contains("layer 2 (eca k3)") && "\($0)".contains("channel attention") }
    }
}
