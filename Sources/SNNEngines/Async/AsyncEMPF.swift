import SNNCore
import SNNTensor

/// EM-PF networks (``SNNCore/EMPFModel``) on the asynchronous engine (docs/ALGORITHMS.md, "EM-PF in the
/// asynchronous engine").
///
/// An EM-PF model compiles into the engine's one representation: its synaptic layers become the
/// connections of a plain ``Network`` (``plainNetwork(_:)``, the signs `±1` where binary) and every EM-PF
/// population becomes an ``AsyncPopulation`` whose neurons follow the EM-PF rule (``AsyncEMPFStore``;
/// ``AsyncPopulation/spikeKind``). An event carries its spike's value `s`; its targets receive `s * w`
/// (binary layers: `±s`, a sign-selected addition; the target multiplies what it received by `alpha` when
/// it integrates).
public enum AsyncEMPF {
    /// The plain network with the model's layers: synaptic layers as they are, with their latent weights,
    /// or for binary layers their signs (``SNNCore/EMPFModel/signWeight(_:)``: the scales are applied by
    /// the target neurons), each population as a LIF placeholder (the engine reads the EM-PF parameters
    /// from the model). Throws for channel attention.
    public static func plainNetwork(_ model: EMPFModel) throws -> Network {
        try AsyncCompatibility.check(model.spec)
        var layers: [LayerSpec] = [], weights: [Tensor] = []
        for (i, layer) in model.spec.layers.enumerated() {
            switch layer {
            case .synaptic(let l):
                layers.append(l)
                weights.append(!l.hasWeights ? Tensor(shape: [0]) : model.isBinary(i) ? model.signWeight(i) : model.effectiveWeight(i))
            case .neuron:
                layers.append(.lif(LIFParameters(beta: 1, threshold: 1)))
                weights.append(Tensor(shape: [0]))
            case .channelAttention:
                throw AsyncEngineError("layer \(i) (\(layer.shortName)): channel attention is not run asynchronously")
            }
        }
        return try Network(spec: NetworkSpec(inputShape: model.spec.inputShape, layers: layers), weights: weights)
    }
}

extension AsyncEngine {
    /// Compiles an EM-PF model for the asynchronous engine. Throws for what it cannot run: channel
    /// attention (see ``AsyncCompatibility``), a population without synapses
    /// in front of it, and the structural limits of ``init(network:)``.
    public init(empf model: EMPFModel) throws {
        try self.init(network: try AsyncEMPF.plainNetwork(model), empf: model)
    }
}

/// The EM-PF neuron parameters of every population, expanded to one value per neuron in the engine's
/// storage order (channels-last behind convolutions), in stable memory.
///
/// Per neuron: decay `lambda`, threshold `theta` (per channel or per neuron in the model), and with
/// membrane batch norm the channel's `gamma`, `beta`, running mean, `1 / sqrt(var + eps)` and the gain
/// `gamma / sqrt(var + eps)` that scales a current integrated after the frame's first integration; behind a
/// binary layer the scale `alpha` of the neuron's output channel, by which its pending current (a sum of
/// `±value`) is multiplied when it integrates.
final class AsyncEMPFStore: @unchecked Sendable {
    /// Per population: ``SNNCore/EMPFNeuronRule/fire(_:theta:mode:)``'s mode.
    let modes: [Int]
    let decay: [UnsafeMutablePointer<Float>]
    let theta: [UnsafeMutablePointer<Float>]
    /// Membrane batch norm (nil for populations without).
    let gamma: [UnsafeMutablePointer<Float>?]
    let beta: [UnsafeMutablePointer<Float>?]
    let mean: [UnsafeMutablePointer<Float>?]
    let invStd: [UnsafeMutablePointer<Float>?]
    let gain: [UnsafeMutablePointer<Float>?]
    /// Binary weights into the population (nil otherwise): `alpha` per neuron.
    let inputScale: [UnsafeMutablePointer<Float>?]
    /// Binary read-out: `alpha` per class (nil otherwise).
    let readoutScale: UnsafeMutablePointer<Float>?

    init(model: EMPFModel, populations: [AsyncPopulation], connections: [AsyncConnection], readout: AsyncReadout?) throws {
        func buffer(_ values: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
            p.initialize(from: values, count: values.count)
            return p
        }
        var modes: [Int] = [], decay: [UnsafeMutablePointer<Float>] = [], theta: [UnsafeMutablePointer<Float>] = []
        var gamma: [UnsafeMutablePointer<Float>?] = [], beta = gamma, mean = gamma, inv = gamma, gain = gamma, scale = gamma
        for (number, pop) in populations.enumerated() {
            guard case .neuron(let n) = model.spec.layers[pop.layerIndex] else {
                throw AsyncEngineError("layer \(pop.layerIndex) is not an EM-PF population")
            }
            let p = model.parameters[pop.layerIndex]
            let channels = EMPFLayer.channels(pop.shape), spatial = pop.count / max(channels, 1)
            // Storage index -> (channel, parameter index).
            let index: [(c: Int, k: Int)] = (0..<pop.count).map { s in
                let j = pop.layerIndex(ofStorage: s), c = j / spatial
                return (c, n.perChannel ? c : j)
            }
            for k in 0..<p[1].count where !(p[1].data[k].isFinite && p[1].data[k] > 0) {
                throw AsyncEngineError("layer \(pop.layerIndex): threshold \(p[1].data[k]) of neuron/channel \(k) is not positive")
            }
            modes.append(EMPFNeuronRule.mode(n.kind))
            decay.append(buffer(index.map { p[0].data[$0.k] }))
            theta.append(buffer(index.map { p[1].data[$0.k] }))
            if n.membraneNorm {
                let stats = model.statistics[pop.layerIndex]
                let channelInv = stats[1].data.map { EMPFNeuronRule.invStd(variance: $0, epsilon: EMPFNeuronRule.epsilon) }
                gamma.append(buffer(index.map { p[2].data[$0.c] }))
                beta.append(buffer(index.map { p[3].data[$0.c] }))
                mean.append(buffer(index.map { stats[0].data[$0.c] }))
                inv.append(buffer(index.map { channelInv[$0.c] }))
                gain.append(buffer(index.map { p[2].data[$0.c] * channelInv[$0.c] }))
            } else {
                gamma.append(nil); beta.append(nil); mean.append(nil); inv.append(nil); gain.append(nil)
            }
            if let alpha = model.binaryScales(connections[number].weightLayer) {
                // Output channel of a target neuron: a linear layer's neuron, a conv layer's feature map.
                let perChannel = pop.count / alpha.count
                scale.append(buffer((0..<pop.count).map { s in alpha.count == 1 ? alpha[0] : alpha[pop.layerIndex(ofStorage: s) / perChannel] }))
            } else {
                scale.append(nil)
            }
        }
        self.modes = modes; self.decay = decay; self.theta = theta
        self.gamma = gamma; self.beta = beta; self.mean = mean; self.invStd = inv; self.gain = gain
        self.inputScale = scale
        self.readoutScale = readout.flatMap { model.binaryScales($0.weightLayer) }.map { alpha in
            buffer((0..<readout!.outFeatures).map { alpha.count == 1 ? alpha[0] : alpha[$0] })
        }
    }

    deinit {
        for p in decay + theta { p.deallocate() }
        for p in gamma + beta + mean + invStd + gain + inputScale { p?.deallocate() }
        readoutScale?.deallocate()
    }
}
