import SNNCore
import SNNTensor

/// Asynchronous, unlayered, event-driven execution of a spiking network (SPEC section 3).
///
/// The network is compiled into **populations** (its `.lif` layers, one network-wide pool of
/// neurons, ``AsyncPopulation``) and **connections** (the stateless layers between two populations,
/// ``AsyncConnection``). Per sample and per frame (time step):
///
/// 1. every neuron decays (`V <- beta V`, or `perNeuronBeta`), its refractory flag `R` and
///    pre-spike potential `P` are cleared; then the frame's input events (the non-zero input
///    values, with their value, ascending index) are delivered at once;
/// 2. forward steps repeat until quiescence: the neurons that received current since the last
///    forward step integrate it (``SNNCore/LIFDynamics/integrate(v:current:refractory:threshold:reset:)``,
///    the same update as the layered engine) and check their threshold; new spikes join the
///    sample's queue (a neuron that fires again before its queued spike left is queued twice); the
///    ``Scheduler`` picks at most `F` queued spikes, which are emitted in ascending neuron order and
///    deliver their fan-out (``SNNCore/SpikeDelivery``) as currents to be integrated at the next
///    forward step. Spikes emitted by the last population are the output spikes.
/// 3. the frame ends when the queue is empty and no current is pending, or earlier by the
///    ``StopRule`` (queued spikes and pending currents carry over to the next frame).
///
/// A spike sets `R` (unless refractory dropout skips it); a refractory neuron that receives current
/// integrates to `U = 0`. Prediction: argmax of the output spike counts summed over frames (first
/// maximum on ties), as the layered engine.
///
/// **Normalised populations** (BNTT, BN, tdBN: ``SNNCore/InputNormalization``) run in their evaluation
/// form folded per frame `t` into a per-channel affine map of the input current, `I = s_t[c] x + b_t[c]`
/// (``SNNCore/InputNormalization/folded(parameters:statistics:threshold:step:)``): every current that
/// reaches a neuron is scaled by `s_t[c]` when it is integrated, and the bias `b_t[c]` is a current
/// injected at the start of the frame, integrated with the neuron's first integration of the frame. As a
/// bias reaches every neuron, a normalised population is evaluated in full at its wave front (forward
/// step `p + 1` of the frame), where at F = infinity all its inputs arrive: it integrates `s x + b` once,
/// the layered engine's arithmetic.
///
/// **A non-spiking read-out** (a trailing linear layer without neurons, `fc10:readout`) accumulates the
/// currents that the last population's emitted spikes deliver, per frame; the prediction is the argmax of
/// these currents summed over frames (first maximum on ties), as in the layered engine. Output-spike
/// measurements (first output step, the `on-output` stop rule) do not apply to such a network.
///
/// **EM-PF networks** (``init(empf:)``, ``AsyncEMPF``): spikes are graded, so every queued spike carries its
/// value and delivers `value * w`; populations follow the EM-PF neuron rule (learnable decay and threshold,
/// membrane batch norm at the first integration of a frame, no refractory period for graded spikes); binary
/// layers deliver `±value` and their targets multiply by alpha when they integrate. At F = infinity this is
/// the step-by-step evaluator in exact event order, bit for bit.
///
/// **F = infinity is layered execution**, bit for bit: every queued spike leaves at once, so one
/// population advances per forward step, and emitted spikes (and folded pooled cells) are
/// delivered in ascending index, the order in which the layered engine sums a layer's inputs.
///
/// Samples of a batch run in parallel over ``SNNTensor/Parallelism/threadCount`` workers; each
/// sample's state and random streams are its own, so results do not depend on the thread count.
/// The engine copies the weights when it is made: make a new engine after the weights change.
public struct AsyncEngine: Sendable {
    /// The network being run.
    public let network: Network
    /// Per-sample shapes before and after each layer.
    public let shapes: [[Int]]
    /// The populations, input side first.
    public let populations: [AsyncPopulation]
    /// `connections[i]` feeds population `i` (connection 0 comes from the input).
    public let connections: [AsyncConnection]
    /// The non-spiking read-out behind the last population, if the network ends with one.
    public let readout: AsyncReadout?
    let weightStore: AsyncWeightStore
    /// Folded normalisation per population (nil for plain populations).
    let normalizationStore: AsyncNormalizationStore
    /// The EM-PF model this engine was compiled from (``init(empf:)``), nil for a plain network.
    public let empf: EMPFModel?
    /// EM-PF neuron parameters per population, in storage order (nil for plain networks).
    let empfStore: AsyncEMPFStore?
    /// Whether the outputs are real numbers summed per frame (a read-out's currents, or the values of
    /// graded EM-PF output spikes) rather than output spike counts.
    public var outputsAreValues: Bool {
        readout != nil || (populations.last?.spikeKind?.isGraded ?? false)
    }

    /// Total number of neurons.
    public var neuronCount: Int { populations.last.map { $0.offset + $0.count } ?? 0 }
    /// Number of outputs (classes): output neurons, or read-out currents.
    public var classCount: Int { readout?.outFeatures ?? populations.last?.count ?? 0 }

    /// Compiles the network. Throws when a layer cannot run asynchronously (two pooling layers or no
    /// synaptic layer between populations, a network that ends neither with a `.lif` population nor
    /// with a linear read-out behind one).
    public init(network: Network) throws {
        try self.init(network: network, empf: nil)
    }

    /// Compiles `network`; with `empf`, `network` is its plain form (``AsyncEMPF/plainNetwork(_:)``)
    /// and the populations run EM-PF neurons.
    init(network: Network, empf: EMPFModel?) throws {
        self.network = network
        self.empf = empf
        let spec = network.spec
        try AsyncCompatibility.check(spec)
        let shapes = try spec.shapes()
        self.shapes = shapes
        guard spec.layers.contains(where: \.isNeuron) else {
            throw AsyncEngineError("async execution needs at least one LIF population")
        }
        // Group layers: [stateless..., synaptic] lif
        var populations: [AsyncPopulation] = []
        var connections: [AsyncConnection] = []
        var pending: [Int] = []  // stateless layer indices since the last population
        var neuronOffset = 0, unitOffset = 0
        var weights: [[Float]] = []
        var folded: [(scale: [Float], bias: [Float])?] = []
        for (i, layer) in spec.layers.enumerated() {
            guard case .lif(let params) = layer else { pending.append(i); continue }
            // Compile the connection from `pending`.
            let source = populations.count - 1
            let sourceShape = pending.first.map { shapes[$0] } ?? shapes[i]
            var pooling = AsyncConnection.Pooling.none
            var pooledShape = sourceShape
            var synapse: AsyncConnection.Synapse?
            var weightLayer = -1
            for li in pending {
                let l = spec.layers[li]
                if synapse != nil {
                    throw AsyncEngineError("layer \(li) (\(l.shortName)) follows the synaptic layer \(weightLayer) before the LIF layer \(i): async connections are [pooling] [flatten] [dropout] then one linear or conv2d layer")
                }
                switch l {
                case .avgPool2d(let k, let s), .maxPool2d(let k, let s):
                    guard pooling == .none else {
                        throw AsyncEngineError("layer \(li) (\(l.shortName)): only one pooling layer per connection is supported in async mode")
                    }
                    if case .avgPool2d = l { pooling = .average(kernel: k, stride: s) } else { pooling = .max(kernel: k, stride: s) }
                    pooledShape = shapes[li + 1]
                case .flatten, .dropout:
                    break  // identity on indices (dropout is off at evaluation)
                case .linear(let inF, let outF):
                    synapse = .linear(inFeatures: inF, outFeatures: outF); weightLayer = li
                case .conv2d(let ci, let co, let k, let s, let p):
                    let inShape = shapes[li]
                    synapse = .conv2d(geometry: Conv2DGeometry(inChannels: ci, inHeight: inShape[1], inWidth: inShape[2],
                                                               kernel: k, stride: s, padding: p), outChannels: co)
                    weightLayer = li
                case .lif:
                    break
                }
            }
            guard let synapse else {
                throw AsyncEngineError("LIF layer \(i) has no linear or conv2d layer in front of it: async connections need synapses")
            }
            let fan = SynapticFanOut.perInput(spec.layers[weightLayer], inShape: shapes[weightLayer]) ?? []
            var connection = AsyncConnection(source: source, target: populations.count, sourceShape: sourceShape,
                                             pooling: pooling, pooledShape: pooledShape, synapse: synapse,
                                             weightLayer: weightLayer, fanOut: fan)
            connection.binaryWeights = empf?.isBinary(weightLayer) ?? false
            connections.append(connection)
            switch synapse {
            case .linear:
                weights.append(network.weights[weightLayer].data)
            case .conv2d(let g, let co):
                // [O, C, k, k] -> [C, k, k, O]: a receptive-field position's weights over the output
                // channels are contiguous, like the channels-last currents they are added to.
                let w = network.weights[weightLayer].data
                let kk = g.kernelHeight * g.kernelWidth, ci = g.inChannels
                var t = [Float](repeating: 0, count: w.count)
                for o in 0..<co { for c in 0..<ci { for r in 0..<kk { t[(c * kk + r) * co + o] = w[(o * ci + c) * kk + r] } } }
                weights.append(t)
            }
            let shape = shapes[i + 1]
            let count = shape.reduce(1, *)
            if let pn = params.perNeuronBeta, pn.count != count {
                throw AsyncEngineError("LIF layer \(i): perNeuronBeta has \(pn.count) values for \(count) neurons")
            }
            let unitCount: Int, perUnit: Int, channelsLast: Bool
            switch synapse {
            case .linear: unitCount = 1; perUnit = count; channelsLast = false
            case .conv2d(let g, let co): unitCount = g.outPositions; perUnit = co; channelsLast = true
            }
            if let norm = params.normalization {
                // The normalised channel is the first axis of the population: a conv unit's neurons (its
                // channels), or a linear population's neurons one by one.
                guard norm.channels == perUnit else {
                    throw AsyncEngineError("LIF layer \(i): \(norm.kind.rawValue) over \(norm.channels) channels does not match the population's \(perUnit) neurons per position")
                }
                var scales: [Float] = [], biases: [Float] = []
                for t in 0..<norm.statisticSets {
                    let f = norm.folded(parameters: network.weights[i], statistics: network.runningStatistics[i],
                                        threshold: params.threshold, step: t)
                    scales += f.scale; biases += f.bias
                }
                folded.append((scales, biases))
            } else {
                folded.append(nil)
            }
            var population = AsyncPopulation(layerIndex: i, offset: neuronOffset, count: count, shape: shape, parameters: params,
                                             unitCount: unitCount, neuronsPerUnit: perUnit, channelsLast: channelsLast,
                                             unitOffset: unitOffset)
            if let empf, case .neuron(let n) = empf.spec.layers[i] { population.spikeKind = n.kind }
            populations.append(population)
            neuronOffset += count
            unitOffset += unitCount
            pending = []
        }
        // Layers after the last population: a non-spiking read-out ([flatten] [dropout] linear).
        var readout: AsyncReadout?
        if !pending.isEmpty {
            for li in pending.dropLast() {
                switch spec.layers[li] {
                case .flatten, .dropout: continue
                default:
                    throw AsyncEngineError("layer \(li) (\(spec.layers[li].shortName)) is in front of the read-out: async read-outs are [flatten] [dropout] then one linear layer")
                }
            }
            let li = pending.last!
            guard case .linear(let inF, let outF) = spec.layers[li] else {
                throw AsyncEngineError("the network ends with \(spec.layers[li].shortName) after its last LIF population: async execution needs output neurons or a linear read-out")
            }
            readout = AsyncReadout(weightLayer: li, inFeatures: inF, outFeatures: outF,
                                   fanOut: SynapticFanOut.perInput(spec.layers[li], inShape: shapes[li]) ?? [])
            readout!.binaryWeights = empf?.isBinary(li) ?? false
            weights.append(network.weights[li].data)
        }
        self.readout = readout
        self.populations = populations
        self.connections = connections
        self.weightStore = AsyncWeightStore(weights, fanOuts: connections.map(\.fanOut) + (readout.map { [$0.fanOut] } ?? []))
        self.normalizationStore = AsyncNormalizationStore(folded)
        self.empfStore = try empf.map { try AsyncEMPFStore(model: $0, populations: populations, connections: connections, readout: readout) }
    }

    /// Runs a batch of inputs `[T, batch] + inputShape` (time-major, as ``LayeredEngine``).
    ///
    /// - Parameters:
    ///   - labels: one label per sample (for accuracy and the first-correct-output measurements).
    ///   - options: `F`, scheduler, stop rule, refractory dropout, recording.
    ///
    /// With `options.recordTape`, `frameTapeConsumer(worker, sample, frame, &tape)` is called at the end
    /// of every frame of every sample, on the thread `worker` (`0 ..< min(threads, batch)`) that runs it;
    /// it may process the frame and call ``AsyncTape/discardRecordedFrames()`` to keep memory at one frame.
    /// The tapes are then not returned (``AsyncRun/tapes`` is nil): each worker records every sample
    /// into the same arrays.
    ///
    /// With `recordSpikeValues` every sample's result holds, per frame, the values each neuron fired
    /// (``AsyncSampleResult/spikeValuesPerFrame``; a binary spike is 1).
    ///
    /// With `sampleBlocks` the batch is cut into that many contiguous blocks (``sampleBlock(_:batch:blocks:)``)
    /// and each block runs on one worker, its samples in order: a consumer that accumulates per block
    /// then sees the same sequence of calls per block at any thread count.
    public func run(inputs: Tensor, labels: [Int]? = nil, options: AsyncOptions = AsyncOptions(), sampleBlocks: Int? = nil,
                    recordSpikeValues: Bool = false,
                    frameTapeConsumer: ((_ worker: Int, _ sample: Int, _ frame: Int, _ tape: inout AsyncTape) -> Void)? = nil) -> AsyncRun {
        // The engine refuses options that cannot run (F < 1 never ends a frame): fatalError, since
        // release builds (-Ounchecked) drop preconditions. The CLI checks the same before any work.
        if let problem = options.problem { fatalError("AsyncEngine.run: \(problem)") }
        let spec = network.spec
        let frameSize = spec.inputShape.reduce(1, *)
        precondition(inputs.rank >= 2 && inputs.count == inputs.shape[0] * inputs.shape[1] * frameSize,
                     "AsyncEngine: inputs \(inputs.shape) do not match [T, batch] + \(spec.inputShape)")
        let steps = inputs.shape[0], batch = inputs.shape[1]
        for p in populations {
            if let norm = p.parameters.normalization, norm.kind == .bntt, steps > norm.steps {
                fatalError("AsyncEngine: population \(p.layerIndex) has BNTT statistics for \(norm.steps) time steps, the inputs have \(steps)")
            }
        }
        if empf != nil && options.recordTape {
            fatalError("AsyncEngine: EM-PF networks are evaluated only; no tape is recorded for them (unlayered backprop does not train them)")
        }
        if readout != nil, case .onOutput = options.stopRule {
            fatalError("AsyncEngine: the on-output stop rule needs output spikes; this network has a non-spiking read-out")
        }
        precondition(labels == nil || labels!.count == batch, "AsyncEngine: \(labels!.count) labels for \(batch) samples")
        var results = [AsyncSampleResult?](repeating: nil, count: batch)
        var tapes = [AsyncTape?](repeating: nil, count: batch)
        var traces = [[SpikeTrace.Event]](repeating: [], count: batch)
        let blocks = sampleBlocks.map { max(1, min($0, batch)) }
        let workers = Parallelism.workerCount(forBlocks: blocks ?? batch)
        inputs.withUnsafeBufferPointer { xp in
            results.withUnsafeMutableBufferPointer { rp in
                tapes.withUnsafeMutableBufferPointer { tp in
                    traces.withUnsafeMutableBufferPointer { ep in
                        let x = xp.baseAddress!
                        let r = rp.baseAddress!, tpp = tp.baseAddress!, e = ep.baseAddress!
                        // Unpooled input: every frame's events found first, in one pass in memory order.
                        let listed = connections.first.map { $0.pooling == .none } == true
                            ? InputEvents(x, frames: steps * batch, frameSize: frameSize, runs: workers) : nil
                        let events = listed?.isComplete == true ? listed : nil
                        concurrentPerform(workers) { w in
                            var sim = AsyncSampleSimulator(engine: self, options: options, recordSpikeValues: recordSpikeValues)
                            defer { sim.deallocate() }
                            if let frameTapeConsumer {
                                sim.frameTapeConsumer = { sample, frame, tape in frameTapeConsumer(w, sample, frame, &tape) }
                            }
                            func runSample(_ b: Int) {
                                let out = sim.run(sample: b, inputs: x, events: events, steps: steps, batch: batch,
                                                  frameSize: frameSize, label: labels?[b])
                                r[b] = out.0
                                tpp[b] = out.1
                                if options.recordTrace { e[b] = out.2 }
                            }
                            if let blocks {
                                var k = w
                                while k < blocks {
                                    for b in Self.sampleRange(ofBlock: k, batch: batch, blocks: blocks) { runSample(b) }
                                    k += workers
                                }
                            } else {
                                var b = w
                                while b < batch { runSample(b); b += workers }
                            }
                        }
                    }
                }
            }
        }
        var run = AsyncRun(options: options, frames: steps,
                           populationSizes: populations.map(\.count),
                           samples: results.map { $0! })
        if options.recordTape && frameTapeConsumer == nil { run.tapes = tapes.map { $0! } }
        if options.recordTrace { run.trace = SpikeTrace(populationSizes: populations.map(\.count), events: traces.flatMap { $0 }) }
        return run
    }
}

extension AsyncEngine {
    /// The samples of block `k` when a batch of `batch` samples is cut into `blocks` contiguous blocks.
    public static func sampleRange(ofBlock k: Int, batch: Int, blocks: Int) -> Range<Int> {
        (batch * k / blocks)..<(batch * (k + 1) / blocks)
    }

    /// The block that sample `b` belongs to (see ``sampleRange(ofBlock:batch:blocks:)``).
    public static func sampleBlock(_ b: Int, batch: Int, blocks: Int) -> Int {
        var k = min(blocks - 1, b * blocks / max(batch, 1))
        while b < sampleRange(ofBlock: k, batch: batch, blocks: blocks).lowerBound { k -= 1 }
        while b >= sampleRange(ofBlock: k, batch: batch, blocks: blocks).upperBound { k += 1 }
        return k
    }
}

/// A non-spiking read-out: the linear layer after the last population, whose currents (summed over
/// frames) are the outputs.
public struct AsyncReadout: Sendable, Hashable {
    /// Index of the linear layer in the network's layer list.
    public let weightLayer: Int
    /// Inputs (the last population's neurons, in layer order) and outputs (classes).
    public let inFeatures: Int
    public let outFeatures: Int
    /// NeuroBench fan-out of every input.
    public let fanOut: [Int32]
    /// EM-PF binary weights (see ``AsyncConnection/binaryWeights``).
    public internal(set) var binaryWeights = false
}

/// Folded normalisation of the normalised populations, in stable memory: per population, per statistic
/// set `t` (BNTT: the frame; else one), `scale[t * C + c]` and `bias[t * C + c]`.
final class AsyncNormalizationStore: @unchecked Sendable {
    let scales: [UnsafeMutablePointer<Float>?]
    let biases: [UnsafeMutablePointer<Float>?]
    init(_ folded: [(scale: [Float], bias: [Float])?]) {
        func copy(_ a: [Float]) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, a.count))
            p.initialize(from: a, count: a.count)
            return p
        }
        scales = folded.map { $0.map { copy($0.scale) } }
        biases = folded.map { $0.map { copy($0.bias) } }
    }
    deinit {
        for p in scales { p?.deallocate() }
        for p in biases { p?.deallocate() }
    }
}

/// The weights of the connections, copied into stable memory when the engine is made (linear:
/// `[in, out]` as in the network; conv: transposed to `[C, k, k, O]`); the read-out's last.
final class AsyncWeightStore: @unchecked Sendable {
    let pointers: [UnsafeMutablePointer<Float>]
    let fanOuts: [UnsafeMutablePointer<Int32>]
    init(_ weights: [[Float]], fanOuts fans: [[Int32]]) {
        pointers = weights.map { w in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, w.count))
            p.initialize(from: w, count: w.count)
            return p
        }
        fanOuts = fans.map { f in
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, f.count))
            p.initialize(from: f, count: f.count)
            return p
        }
    }
    deinit {
        for p in pointers { p.deallocate() }
        for p in fanOuts { p.deallocate() }
    }
}
