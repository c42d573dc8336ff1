import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// EM-PF networks on the asynchronous engine (docs/ALGORITHMS.md, "EM-PF in the asynchronous engine").
///
/// At F = infinity the engine reproduces the step-by-step evaluator in exact event order
/// (``EMPFStepper/exactEventOrder``) bit for bit: every population's spike values per frame, the
/// outputs per frame, predictions and operation counts, over spike kinds, binary weights, per-channel
/// and per-neuron parameters, membrane batch norm, MLP and conv + pooling stacks and both schedulers.
/// The evaluator's fast path gives the same bits without convolutions (the packed binary kernel sums
/// signs in event order) and agrees to float tolerance with them (im2col GEMM). At finite F the
/// first population is still exact, and excess neurons driven by non-negative currents emit, per frame,
/// what the layered evaluation emits (to rounding) whatever the order of their inputs.
struct AsyncEMPFTests {
    static let kinds: [SpikeKind] = [.excess, .membrane, .lif(.atan(alpha: 2))]

    /// `NORM` becomes `:bn` or nothing.
    static let architectures: [(name: String, text: String)] = [
        ("mlp + readout", "input=40,fc24NORM,fc16NORM,fc5:readout"),
        ("mlp, spiking output", "input=40,fc20NORM,fc6NORM"),
        ("conv + avg + max + readout", "input=2x8x8,conv4k3p1NORM,avg2,conv6k3p1NORM,max2,fc12NORM,fc5:readout"),
    ]

    /// A model with random decays (0.2...1), thresholds (0.2...1), batch-norm parameters (gamma of both
    /// signs) and running statistics, and weights scaled by `gain`.
    static func model(_ arch: String, kind: SpikeKind, binary: BinaryWeights, perChannel: Bool, norm: Bool,
                      seed: UInt64, gain: Float = 1.5, nonNegative: Bool = false) throws -> EMPFModel {
        let neuron = EMPFNeuronSpec(kind: kind, decay: 0.5, threshold: 0.5, perChannel: perChannel)
        let spec = try EMPFSpec.parse(arch.replacingOccurrences(of: "NORM", with: norm ? ":bn" : ""), neuron: neuron, binaryWeights: binary)
        var model = try EMPFModel(spec: spec, seed: seed)
        var rng = CounterRNG(seed: seed).generator(stream: 77)
        for (i, layer) in spec.layers.enumerated() {
            switch layer {
            case .synaptic(let l) where l.hasWeights:
                for j in model.parameters[i][0].data.indices {
                    let w = model.parameters[i][0].data[j] * gain
                    model.parameters[i][0].data[j] = nonNegative ? abs(w) : w
                }
            case .neuron(let n):
                if case .lif = n.kind {} else {
                    for j in model.parameters[i][0].data.indices { model.parameters[i][0].data[j] = 0.2 + 0.8 * rng.uniform() }
                    for j in model.parameters[i][1].data.indices { model.parameters[i][1].data[j] = 0.2 + 0.8 * rng.uniform() }
                }
                if n.membraneNorm {
                    for j in model.parameters[i][2].data.indices {
                        let g = 0.5 + rng.uniform()
                        model.parameters[i][2].data[j] = j % 4 == 3 ? -g : g
                        model.parameters[i][3].data[j] = 0.6 * (rng.uniform() - 0.5)
                        model.statistics[i][0].data[j] = rng.uniform() - 0.5
                        model.statistics[i][1].data[j] = 0.2 + 2 * rng.uniform()
                    }
                }
            default: break
            }
        }
        return model
    }

    /// The evaluator in exact event order: per frame, per sample, every population's spikes (layer order,
    /// populations one after the other) and the last layer's output; and the operations of the batch.
    static func layered(_ model: EMPFModel, inputs: Tensor) throws -> (spikes: [[[Float]]], outputs: [[[Float]]], operations: SynapticOperations) {
        let stepper = try EMPFStepper(model: model, exactEventOrder: true)
        let steps = inputs.shape[0], batch = inputs.shape[1], frame = inputs.count / (steps * batch)
        var state = stepper.initialState(batch: batch)
        var ops: SynapticOperations? = SynapticOperations()
        var spikes: [[[Float]]] = [], outputs: [[[Float]]] = []
        for t in 0..<steps {
            let x = Tensor(shape: [batch] + model.spec.inputShape, data: Array(inputs.data[(t * batch * frame)..<((t + 1) * batch * frame)]))
            var perSample = [[Float]](repeating: [], count: batch)
            let r = stepper.forward(x, state: &state, training: false, keepTape: false, step: t, operations: &ops) { i, y in
                guard case .neuron = model.spec.layers[i] else { return }
                let n = y.count / batch
                for b in 0..<batch { perSample[b] += y.data[(b * n)..<((b + 1) * n)] }
            }
            spikes.append(perSample)
            let k = r.output.count / batch
            outputs.append((0..<batch).map { b in Array(r.output.data[(b * k)..<((b + 1) * k)]) })
        }
        return (spikes, outputs, ops!)
    }

    static func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

    static func inputs(_ model: EMPFModel, frames: Int, batch: Int, seed: UInt64) -> Tensor {
        AsyncTestSupport.inputs(frames: frames, batch: batch, shape: model.spec.inputShape, density: 0.3, counts: true, seed: seed)
    }

    @Test("F = infinity equals exact-order EM-PF evaluation bit for bit",
          arguments: kinds, [BinaryWeights.none, .perLayer, .perChannel])
    func equalsLayered(kind: SpikeKind, binary: BinaryWeights) throws {
        for arch in Self.architectures {
            for perChannel in [true, false] {
                for norm in [false, true] {
                    let seed: UInt64 = norm ? 11 : 12
                    let model = try Self.model(arch.text, kind: kind, binary: binary, perChannel: perChannel, norm: norm, seed: seed)
                    let x = Self.inputs(model, frames: 4, batch: 3, seed: seed)
                    let labels = [0, 1, 2]
                    let reference = try Self.layered(model, inputs: x)
                    let evaluated = try EMPFEvaluation.run(model, inputs: x, exactEventOrder: true)
                    let engine = try AsyncEngine(empf: model)
                    let label = "\(arch.name) \(kind.name) binary \(binary) perChannel \(perChannel) bn \(norm)"
                    // Every population fires somewhere, so the comparison is not one of silent networks.
                    for p in engine.populations.indices {
                        let lo = engine.populations[p].offset, hi = lo + engine.populations[p].count
                        let fired = reference.spikes.contains { f in f.contains { s in s[lo..<hi].contains { $0 != 0 } } }
                        #expect(fired, "\(label): population \(p) silent")
                    }
                    for scheduler in [Scheduler.random, .momentum] {
                        let run = engine.run(inputs: x, labels: labels, options: AsyncOptions(forwardGroupSize: nil, scheduler: scheduler, seed: seed),
                                             recordSpikeValues: true)
                        var operations = SynapticOperations()
                        for (b, sample) in run.samples.enumerated() {
                            for t in 0..<4 {
                                #expect(Self.bits(sample.spikeValuesPerFrame![t]) == Self.bits(reference.spikes[t][b]), "\(label) \(scheduler) frame \(t) sample \(b)")
                                if engine.outputsAreValues {
                                    #expect(Self.bits(sample.readoutPerFrame![t]) == Self.bits(reference.outputs[t][b]), "\(label) outputs")
                                } else {
                                    #expect(sample.outputCounts[t].map(Float.init) == reference.outputs[t][b], "\(label) output counts")
                                }
                            }
                            for pop in engine.populations {
                                let want = (0..<4).reduce(0.0) { acc, t in acc + reference.spikes[t][b][pop.offset..<(pop.offset + pop.count)].reduce(0.0) { $0 + Double($1) } }
                                let got = sample.spikeValueSums![engine.populations.firstIndex(of: pop)!]
                                #expect(abs(got - want) <= 1e-9 * (1 + abs(want)), "\(label) value sum: \(got) vs \(want)")
                            }
                            operations.accumulates += sample.synapticOperations.accumulates
                            operations.multiplyAccumulates += sample.synapticOperations.multiplyAccumulates
                        }
                        #expect(run.predictions == EMPFEvaluation.predictions(evaluated.outputs), "\(label) predictions")
                        #expect(operations == reference.operations, "\(label) operations")
                    }
                    // The fast path (packed binary kernel, conv im2col GEMM): without convolutions the same bits
                    // (the packed kernel is a sign-selected sum in event order); with them, the same predictions
                    // and outputs to float tolerance.
                    let fast = try EMPFEvaluation.run(model, inputs: x)
                    if !arch.text.contains("conv") {
                        #expect(Self.bits(fast.outputs.data) == Self.bits(evaluated.outputs.data), "\(label): fast path")
                    }
                    #expect(EMPFEvaluation.predictions(fast.outputs) == EMPFEvaluation.predictions(evaluated.outputs), "\(label) fast predictions")
                    for j in 0..<fast.outputs.count {
                        let a = fast.outputs.data[j], e = evaluated.outputs.data[j]
                        #expect(abs(a - e) <= 1e-4 * (1 + abs(e)), "\(label) fast output \(j): \(a) vs \(e)")
                    }
                    #expect(fast.operations == evaluated.operations, "\(label) fast operations")
                }
            }
        }
    }

    @Test("the first population is exact at any F (its input arrives at once)", arguments: [1, 3])
    func firstPopulationExactAtAnyF(f: Int) throws {
        for norm in [false, true] {
            let model = try Self.model(Self.architectures[2].text, kind: .excess, binary: .perChannel, perChannel: true, norm: norm, seed: 5)
            let x = Self.inputs(model, frames: 4, batch: 2, seed: 5)
            let reference = try Self.layered(model, inputs: x)
            let engine = try AsyncEngine(empf: model)
            let first = engine.populations[0].count
            for scheduler in [Scheduler.random, .momentum] {
                let run = engine.run(inputs: x, options: AsyncOptions(forwardGroupSize: f, scheduler: scheduler, seed: 3), recordSpikeValues: true)
                for (b, sample) in run.samples.enumerated() {
                    for t in 0..<4 {
                        #expect(Self.bits(Array(sample.spikeValuesPerFrame![t][0..<first])) == Self.bits(Array(reference.spikes[t][b][0..<first])))
                    }
                }
            }
        }
    }

    /// An excess neuron fed non-negative currents emits `max(0, lambda v + sum x - theta)` per frame and
    /// keeps `min(lambda v + sum x, theta)`, however the sum is cut into events: at any F, every
    /// population's values per frame equal the layered ones to rounding (graded neurons have no
    /// refractory period, so nothing of a frame's input is dropped).
    @Test("excess neurons with non-negative currents emit the layered values at any F", arguments: [1, 2, 5])
    func excessConservesValue(f: Int) throws {
        for arch in [Self.architectures[0].text, Self.architectures[1].text] {
            let model = try Self.model(arch, kind: .excess, binary: .none, perChannel: true, norm: false, seed: 8, gain: 0.6, nonNegative: true)
            let x = Self.inputs(model, frames: 4, batch: 2, seed: 8)
            let reference = try Self.layered(model, inputs: x)
            let engine = try AsyncEngine(empf: model)
            for scheduler in [Scheduler.random, .momentum] {
                let run = engine.run(inputs: x, options: AsyncOptions(forwardGroupSize: f, scheduler: scheduler, seed: 2), recordSpikeValues: true)
                var multiple = false
                for (b, sample) in run.samples.enumerated() {
                    multiple = multiple || sample.forwardStepsPerFrame.contains { $0 > Int32(engine.populations.count + 1) }
                    for t in 0..<4 {
                        let got = sample.spikeValuesPerFrame![t], want = reference.spikes[t][b]
                        for j in got.indices { #expect(abs(got[j] - want[j]) <= 1e-4 * (1 + abs(want[j])), "\(arch) F=\(f) \(scheduler) frame \(t) neuron \(j)") }
                        let out = sample.readoutPerFrame![t], wantOut = reference.outputs[t][b]
                        for j in out.indices { #expect(abs(out[j] - wantOut[j]) <= 1e-4 * (1 + abs(wantOut[j]))) }
                    }
                }
                #expect(multiple, "F=\(f): spikes were spread over more forward steps than populations")
            }
        }
    }

    @Test func channelAttentionIsRefusedNamingTheLayer() throws {
        let spec = try EMPFSpec.parse("input=1x6x6,conv3k3p1,fc4:readout", neuron: EMPFNeuronSpec(), attentionKernel: 3)
        let model = try EMPFModel(spec: spec, seed: 1)
        do {
            _ = try AsyncEngine(empf: model)
            Issue.record("channel attention ran")
        } catch let e as AsyncEngineError {
            #expect(e.description.contains("layer 2 (eca k3)"), "\(e.description)")
            #expect(e.description.contains("channel attention"))
        }
        let readout = try EMPFSpec.parse("input=6,fc8,fc4:readout", neuron: EMPFNeuronSpec())
        #expect(throws: AsyncEngineError.self) { try AsyncCompatibility.check(readout, stopRule: .onOutput(k: 1)) }
        try AsyncCompatibility.check(readout, stopRule: .maxForwardSteps(3))
    }

    /// Binary layers count every event as an accumulate and one multiply-accumulate per target neuron per
    /// frame; graded events into float layers are multiply-accumulates.
    @Test func binaryLayersCountAccumulates() throws {
        let binary = try Self.model("input=40,fc20,fc5:readout", kind: .excess, binary: .perChannel, perChannel: true, norm: false, seed: 4)
        let float = try Self.model("input=40,fc20,fc5:readout", kind: .excess, binary: .none, perChannel: true, norm: false, seed: 4)
        let x = Self.inputs(binary, frames: 3, batch: 1, seed: 4)
        let b = try AsyncEngine(empf: binary).run(inputs: x, options: AsyncOptions(forwardGroupSize: 2, scheduler: .random, seed: 1)).samples[0]
        let f = try AsyncEngine(empf: float).run(inputs: x, options: AsyncOptions(forwardGroupSize: 2, scheduler: .random, seed: 1)).samples[0]
        #expect(b.synapticOperations.multiplyAccumulates == Double(3 * (20 + 5)))
        #expect(b.synapticOperations.accumulates > 0)
        #expect(f.synapticOperations.multiplyAccumulates > 0)  // graded spikes into float weights
    }
}
