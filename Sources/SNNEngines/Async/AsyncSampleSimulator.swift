import SNNCore
import SNNTensor

/// The state of one sample being run by the asynchronous engine, and the forward-step loop.
///
/// One simulator per worker thread; it runs its samples one after the other, reusing its buffers.
/// Cost of a forward step: the touched units' neurons (integration), the picked spikes (scheduler)
/// and their fan-out (delivery); nothing scans the whole network except the once-per-frame decay.
struct AsyncSampleSimulator {
    let engine: AsyncEngine
    let options: AsyncOptions
    let weights: [UnsafePointer<Float>]
    let neuronCount: Int
    let classCount: Int
    let lastPopulation: Int
    /// Per-connection data of the hot loops, free of reference-counted storage.
    let hot: [HotConnection]
    /// First global unit id of every population.
    let unitOffsets: [Int]
    let hotPopulations: [HotPopulation]
    /// Normalised populations: this frame's folded scale and bias per neuron of a unit (nil elsewhere).
    var frameScale: [UnsafePointer<Float>?]
    var frameBias: [UnsafePointer<Float>?]
    /// Per global unit: 1 while the unit's neurons have not yet integrated this frame's bias current.
    let biasDue: UnsafeMutablePointer<UInt8>
    /// Read-out: its weights `[in, out]`, its current this frame, and every frame's currents. Graded
    /// EM-PF output spikes sum their values into `readoutCurrent` too (``AsyncEngine/outputsAreValues``).
    let readoutWeight: UnsafePointer<Float>?
    let readoutCurrent: UnsafeMutablePointer<Float>
    let outputsAreValues: Bool
    let gradedOutput: Bool
    /// Multiply-accumulates per frame of the binary (EM-PF) layers' scales: one per target neuron.
    let binaryScaleOperations: Double
    /// Max pooling of graded spikes: per pooled cell the largest value passed this frame, and its
    /// value before the current forward step.
    let poolMax: [UnsafeMutablePointer<Float>?]
    let poolPrevious: [UnsafeMutablePointer<Float>?]
    /// `recordSpikeValues` (``AsyncEngine/run(inputs:labels:options:sampleBlocks:recordSpikeValues:frameTapeConsumer:)``): per neuron (global layer-order id) the values it fired this frame.
    let spikeValues: UnsafeMutablePointer<Float>?

    // Per-neuron state (global ids).
    let v: UnsafeMutablePointer<Float>
    let current: UnsafeMutablePointer<Float>
    /// Refractory flags: 0, or -1 (all bits set, a mask for the vectorised integration).
    let refractory: UnsafeMutablePointer<Int32>
    let logged: UnsafeMutablePointer<UInt8>
    let received: UnsafeMutablePointer<UInt32>
    // Touched units (global unit ids) and per-population lists.
    let unitMark: UnsafeMutablePointer<UInt8>
    var touched: [[Int32]]
    var touchedTotal = 0
    /// Units holding a neuron whose decayed membrane is above threshold at frame start, per
    /// population, waiting for the population's wave front (see ``startFrame()``).
    var deferred: [[Int32]]
    /// Number of populations with a non-empty ``deferred`` list.
    var deferredPopulations = 0
    // Folded pooling per connection.
    let poolAccumulator: [UnsafeMutablePointer<Float>?]
    let poolFired: [UnsafeMutablePointer<UInt8>?]
    var poolFiredList: [[Int32]]
    var poolTouched: [Int32] = []
    let inputPooled: UnsafeMutablePointer<Float>?
    /// The events of a frame (positions ascending, values) scanned from a dense frame, for an unpooled
    /// first connection whose batch has no ``InputEvents``.
    let inputEvents: UnsafeMutablePointer<Int32>?
    let inputValues: UnsafeMutablePointer<Float>?

    // The queue.
    var randomQueue = RandomScheduler()
    var momentumQueue = MomentumScheduler()
    let usesHeap: Bool
    var picked: [QueuedSpike] = []
    /// The sources and values of one population's picked spikes, for ``deliverLinearSpikes(connection:picked:sourceOffset:)``.
    var groupIndices: UnsafeMutablePointer<Int32>
    var groupValues: UnsafeMutablePointer<Float>
    var groupCapacity: Int

    // Per-sample accumulators.
    /// Spikes fired this frame per population, and output spikes emitted this frame per class (plain
    /// buffers: an array here was checked for uniqueness at every spike).
    let spikesThisFrame: UnsafeMutablePointer<Int32>
    /// EM-PF networks: the values each population fired this sample (nil for plain networks).
    var valueSums: [Double]?
    let outputsThisFrame: UnsafeMutablePointer<Int32>
    var synapticOperations = SynapticOperations()
    var histogram: [Int]
    var integrationCount: Int32 = 0
    var dropoutRNG = CounterRNG(seed: 0)
    var dropoutStream: UInt64 = 0
    var dropoutCounter: UInt64 = 0
    var tape: AsyncTape?
    /// One forward step's integration records (neuron ids, margins, flags), written eight lanes at a
    /// time and appended to the tape once at the end of the step by ``flushStagedIntegrations()``
    /// (appending each group of eight to the tape's arrays cost a call, a uniqueness check and a small
    /// copy per array). A neuron integrates at most once per step, so `neuronCount` entries suffice.
    let stagedNeuron: UnsafeMutablePointer<Int32>
    let stagedMargin: UnsafeMutablePointer<Float>
    let stagedFlags: UnsafeMutablePointer<UInt8>
    var stagedCount = 0
    /// `tape != nil`, kept as a flag: testing the optional itself copied the whole tape (every array
    /// retained and released) at each forward step.
    var recordsTape = false
    /// Called with the tape at the end of every frame (sample, frame), when a tape is recorded.
    var frameTapeConsumer: ((Int, Int, inout AsyncTape) -> Void)?
    /// With a consumer, which has seen every frame, the tape is not returned: the next sample records
    /// into the same arrays (their storage kept, so they do not grow again from empty every sample).
    var reusesTape: Bool { frameTapeConsumer != nil }
    var traceEvents: [SpikeTrace.Event] = []
    var traceSample: Int32 = 0

    init(engine: AsyncEngine, options: AsyncOptions, recordSpikeValues: Bool = false) {
        self.engine = engine
        self.options = options
        self.weights = engine.weightStore.pointers.map { UnsafePointer($0) }
        let pops = engine.populations
        unitOffsets = pops.map(\.unitOffset)
        let store = engine.empfStore
        hotPopulations = pops.enumerated().map { p, pop in
            var h = HotPopulation(offset: pop.offset, count: pop.count, unitOffset: pop.unitOffset, unitCount: pop.unitCount,
                                  neuronsPerUnit: pop.neuronsPerUnit, channelsLast: pop.channelsLast,
                                  threshold: pop.parameters.threshold, resetsToZero: pop.parameters.reset == .zero)
            h.leak = pop.parameters.beta
            h.hasFrameParameters = pop.parameters.normalization != nil || pop.parameters.perNeuronBeta != nil
            if let store {
                h.empfMode = store.modes[p]; h.graded = h.empfMode != 2
                h.decay = UnsafePointer(store.decay[p]); h.theta = UnsafePointer(store.theta[p])
                h.gamma = store.gamma[p].map { UnsafePointer($0) }; h.beta = store.beta[p].map { UnsafePointer($0) }
                h.mean = store.mean[p].map { UnsafePointer($0) }; h.invStd = store.invStd[p].map { UnsafePointer($0) }
                h.gain = store.gain[p].map { UnsafePointer($0) }
                h.inputScale = store.inputScale[p].map { UnsafePointer($0) }
            }
            return h
        }
        hot = engine.connections.enumerated().map { ci, c in
            let t = pops[c.target]
            var h = HotConnection(isLinear: true, outFeatures: 0, geometry: Conv2DGeometry(inChannels: 1, inHeight: 1, inWidth: 1, kernel: 1),
                                  outChannels: 0, target: c.target, targetOffset: t.offset,
                                  weight: UnsafePointer(engine.weightStore.pointers[ci]),
                                  fanOut: UnsafePointer(engine.weightStore.fanOuts[ci]))
            h.pools = c.pooling != .none
            h.binary = c.binaryWeights
            switch c.synapse {
            case .linear(_, let o): h.outFeatures = o
            case .conv2d(let g, let co): h.isLinear = false; h.geometry = g; h.outChannels = co
            }
            return h
        }
        neuronCount = pops.last.map { $0.offset + $0.count } ?? 0
        lastPopulation = pops.count - 1
        classCount = engine.classCount
        frameScale = pops.map { _ in nil }
        frameBias = pops.map { _ in nil }
        readoutWeight = engine.readout != nil ? UnsafePointer(engine.weightStore.pointers[engine.connections.count]) : nil
        readoutCurrent = .allocate(capacity: max(1, classCount))
        readoutCurrent.initialize(repeating: 0, count: max(1, classCount))
        outputsAreValues = engine.outputsAreValues
        gradedOutput = engine.readout == nil && outputsAreValues
        binaryScaleOperations = engine.connections.reduce(0.0) { $0 + ($1.binaryWeights ? Double(pops[$1.target].count) : 0) }
            + ((engine.readout?.binaryWeights ?? false) ? Double(engine.readout!.outFeatures) : 0)
        let n = max(1, neuronCount)
        v = .allocate(capacity: n); current = .allocate(capacity: n)
        refractory = .allocate(capacity: n); logged = .allocate(capacity: n); received = .allocate(capacity: n)
        current.initialize(repeating: 0, count: n)
        let units = max(1, pops.last.map { $0.unitOffset + $0.unitCount } ?? 0)
        unitMark = .allocate(capacity: units); unitMark.initialize(repeating: 0, count: units)
        biasDue = .allocate(capacity: units); biasDue.initialize(repeating: 0, count: units)
        touched = pops.map { _ in [] }
        deferred = pops.map { _ in [] }
        var acc: [UnsafeMutablePointer<Float>?] = [], fired: [UnsafeMutablePointer<UInt8>?] = []
        for c in engine.connections {
            switch c.pooling {
            case .average:
                let p = UnsafeMutablePointer<Float>.allocate(capacity: c.pooledCount)
                p.initialize(repeating: 0, count: c.pooledCount); acc.append(p); fired.append(nil)
            case .max:
                let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c.pooledCount)
                p.initialize(repeating: 0, count: c.pooledCount); acc.append(nil); fired.append(p)
            case .none:
                acc.append(nil); fired.append(nil)
            }
        }
        poolAccumulator = acc; poolFired = fired
        var maxima: [UnsafeMutablePointer<Float>?] = [], previous: [UnsafeMutablePointer<Float>?] = []
        for c in engine.connections {
            if case .max = c.pooling, c.source >= 0, pops[c.source].spikeKind?.isGraded ?? false {
                let m = UnsafeMutablePointer<Float>.allocate(capacity: c.pooledCount), q = UnsafeMutablePointer<Float>.allocate(capacity: c.pooledCount)
                m.initialize(repeating: 0, count: c.pooledCount); q.initialize(repeating: 0, count: c.pooledCount)
                maxima.append(m); previous.append(q)
            } else {
                maxima.append(nil); previous.append(nil)
            }
        }
        poolMax = maxima; poolPrevious = previous
        if recordSpikeValues {
            spikeValues = .allocate(capacity: n); spikeValues!.initialize(repeating: 0, count: n)
        } else {
            spikeValues = nil
        }
        poolFiredList = engine.connections.map { _ in [] }
        if let first = engine.connections.first, first.pooling != .none {
            inputPooled = .allocate(capacity: first.pooledCount)
        } else {
            inputPooled = nil
        }
        if let first = engine.connections.first, first.pooling == .none {
            inputEvents = .allocate(capacity: max(1, first.pooledCount))
            inputValues = .allocate(capacity: max(1, first.pooledCount))
        } else {
            inputEvents = nil
            inputValues = nil
        }
        usesHeap = options.scheduler.kind == .momentum && options.forwardGroupSize != nil
        spikesThisFrame = .allocate(capacity: max(1, pops.count))
        spikesThisFrame.initialize(repeating: 0, count: max(1, pops.count))
        valueSums = engine.empf != nil ? [Double](repeating: 0, count: pops.count) : nil
        outputsThisFrame = .allocate(capacity: max(1, classCount))
        outputsThisFrame.initialize(repeating: 0, count: max(1, classCount))
        histogram = [Int](repeating: 0, count: options.currentsToSpikeBins)
        stagedNeuron = .allocate(capacity: n); stagedMargin = .allocate(capacity: n); stagedFlags = .allocate(capacity: n)
        groupCapacity = n
        groupIndices = .allocate(capacity: n); groupValues = .allocate(capacity: n)
    }

    func deallocate() {
        v.deallocate(); current.deallocate(); refractory.deallocate(); logged.deallocate(); received.deallocate()
        unitMark.deallocate(); biasDue.deallocate(); readoutCurrent.deallocate()
        for p in poolMax + poolPrevious { p?.deallocate() }
        spikeValues?.deallocate()
        for p in poolAccumulator { p?.deallocate() }
        for p in poolFired { p?.deallocate() }
        inputPooled?.deallocate()
        inputEvents?.deallocate()
        inputValues?.deallocate()
        stagedNeuron.deallocate(); stagedMargin.deallocate(); stagedFlags.deallocate()
        groupIndices.deallocate(); groupValues.deallocate()
        spikesThisFrame.deallocate(); outputsThisFrame.deallocate()
    }

    var queueCount: Int { usesHeap ? momentumQueue.count : randomQueue.count }

    // MARK: - One sample

    /// Runs sample `b` of a time-major batch `[T, batch, frameSize]`.
    mutating func run(sample b: Int, inputs: UnsafePointer<Float>, events: InputEvents?, steps: Int, batch: Int, frameSize: Int,
                      label: Int?) -> (AsyncSampleResult, AsyncTape?, [SpikeTrace.Event]) {
        let pops = engine.populations
        let globalIndex = UInt64(options.sampleIndexOffset + b)
        let rng = CounterRNG(seed: options.seed)
        // Reset.
        v.update(repeating: 0, count: max(1, neuronCount))
        current.update(repeating: 0, count: max(1, neuronCount))
        for p in pops.indices {
            for u in touched[p] { unitMark[pops[p].unitOffset + Int(u)] = 0 }
            touched[p].removeAll(keepingCapacity: true)
            deferred[p].removeAll(keepingCapacity: true)
        }
        touchedTotal = 0
        deferredPopulations = 0
        randomQueue.reset(rng: rng, stream: globalIndex &* 2)
        momentumQueue.reset(noise: options.scheduler.noise, rng: rng, stream: globalIndex &* 2)
        dropoutRNG = rng; dropoutStream = globalIndex &* 2 &+ 1; dropoutCounter = 0
        synapticOperations = SynapticOperations()
        if valueSums != nil { for p in pops.indices { valueSums![p] = 0 } }
        for i in histogram.indices { histogram[i] = 0 }
        integrationCount = 0
        if options.recordTape && reusesTape && tape != nil {
            tape!.removeAllKeepingCapacity()
        } else {
            tape = options.recordTape ? AsyncTape() : nil
            tape?.populationBeta = pops.map { $0.parameters.beta }
        }
        recordsTape = options.recordTape
        traceEvents.removeAll(keepingCapacity: true)
        traceSample = Int32(truncatingIfNeeded: options.sampleIndexOffset + b)

        var outputCounts: [[Int32]] = []
        var readoutPerFrame: [[Float]] = []
        var spikesPerFrame: [[Int32]] = []
        var valuesPerFrame: [[Float]] = []
        var stepsPerFrame: [Int32] = []
        outputCounts.reserveCapacity(steps); spikesPerFrame.reserveCapacity(steps); stepsPerFrame.reserveCapacity(steps)
        var framesStoppedEarly = 0
        var emittedTotal = 0
        var globalStep = 0
        var firstOutputStep: Int?, firstOutputFrame: Int?, spikesUntilFirstOutput: Int?
        var firstCorrectStep: Int?, spikesUntilFirstCorrect: Int?
        var queueSum = 0.0, queueMax = 0
        let limit = options.forwardGroupSize

        for t in 0..<steps {
            startFrame(t)
            if let events {
                let e = events.events(ofFrame: t * batch + b)
                deliverInputEvents(indices: e.indices, values: e.values, count: e.count)
            } else {
                deliverInput(inputs + (t * batch + b) * frameSize)
            }
            var stepInFrame = 0
            var firstOutputInFrame: Int?
            var stopped = false
            while true {
                if touchedTotal == 0 && queueCount == 0 && deferredPopulations == 0 { break }
                if options.dropsPendingNegativeCurrentsOnStop && queueCount == 0 && deferredPopulations == 0
                    && !anyPositivePendingCurrent() {
                    dropPendingCurrents()
                    break
                }
                stepInFrame += 1; globalStep += 1
                if deferredPopulations > 0 { releaseDeferred(throughPopulation: stepInFrame - 1) }
                integrateTouched()
                if recordsTape { tape!.stepIntegrationStart.append(integrationCount) }
                let q = queueCount
                queueSum += Double(q); queueMax = max(queueMax, q)
                picked.removeAll(keepingCapacity: true)
                if usesHeap { momentumQueue.pick(limit, into: &picked) } else { randomQueue.pick(limit, into: &picked) }
                QueuedSpike.sortForDelivery(&picked)
                emittedTotal += picked.count
                let outputs = emitPicked(frame: t, globalStep: globalStep, label: label)
                if outputs.any {
                    if firstOutputInFrame == nil { firstOutputInFrame = stepInFrame }
                    if firstOutputStep == nil {
                        firstOutputStep = globalStep; firstOutputFrame = t; spikesUntilFirstOutput = emittedTotal
                    }
                    if firstCorrectStep == nil, outputs.label {
                        firstCorrectStep = globalStep; spikesUntilFirstCorrect = emittedTotal
                    }
                }
                if options.stopRule.stops(afterStep: stepInFrame, firstOutputStep: firstOutputInFrame),
                   touchedTotal > 0 || queueCount > 0 || deferredPopulations > 0 {
                    stopped = true
                    // Neurons still waiting for their wave front carry over like pending currents.
                    if deferredPopulations > 0 { releaseDeferred(throughPopulation: hotPopulations.count - 1) }
                    if options.dropsPendingNegativeCurrentsOnStop { dropPendingCurrents() }
                    break
                }
            }
            if stopped { framesStoppedEarly += 1 }
            stepsPerFrame.append(Int32(stepInFrame))
            outputCounts.append(Array(UnsafeBufferPointer(start: outputsThisFrame, count: classCount)))
            if let alpha = engine.empfStore?.readoutScale {
                for j in 0..<classCount { readoutCurrent[j] = alpha[j] * readoutCurrent[j] }
            }
            if outputsAreValues {
                readoutPerFrame.append(Array(UnsafeBufferPointer(start: readoutCurrent, count: classCount)))
                readoutCurrent.update(repeating: 0, count: classCount)
            }
            if let sv = spikeValues { valuesPerFrame.append(Array(UnsafeBufferPointer(start: sv, count: neuronCount))) }
            spikesPerFrame.append(Array(UnsafeBufferPointer(start: spikesThisFrame, count: hotPopulations.count)))
            if recordsTape {
                tape!.frameStepStart.append(Int32(globalStep))
                tape!.frameDroppedStart.append(Int32(tape!.droppedNeuron.count))
                tape!.stoppedEarly.append(stopped)
                frameTapeConsumer?(b, t, &tape!)
            }
        }

        var prediction = 0
        if outputsAreValues {
            // The layered engine's summed output and argmax: frames added in order, first maximum on ties.
            var summed = readoutPerFrame.first ?? [Float](repeating: 0, count: classCount)
            for f in readoutPerFrame.dropFirst() { for j in 0..<classCount { summed[j] += f[j] } }
            var best = -Float.infinity
            for j in 0..<classCount where summed[j] > best { best = summed[j]; prediction = j }
        } else {
            var summed = [Int](repeating: 0, count: classCount)
            for f in outputCounts { for j in 0..<classCount { summed[j] += Int(f[j]) } }
            var best = Int.min
            for j in 0..<classCount where summed[j] > best { best = summed[j]; prediction = j }
        }
        var result = AsyncSampleResult(
            prediction: prediction, label: label, outputCounts: outputCounts, spikesPerFrame: spikesPerFrame,
            emittedSpikes: emittedTotal, spikesLeftInQueue: queueCount, forwardStepsPerFrame: stepsPerFrame,
            framesStoppedEarly: framesStoppedEarly, firstOutputStep: firstOutputStep, firstOutputFrame: firstOutputFrame,
            spikesUntilFirstOutput: spikesUntilFirstOutput, firstCorrectOutputStep: firstCorrectStep,
            spikesUntilFirstCorrectOutput: spikesUntilFirstCorrect,
            currentsToSpikeHistogram: options.measuresCurrentsToSpike ? histogram : [],
            queueLengthSum: queueSum, queueLengthMax: queueMax, synapticOperations: synapticOperations)
        if outputsAreValues { result.readoutPerFrame = readoutPerFrame }
        if spikeValues != nil { result.spikeValuesPerFrame = valuesPerFrame }
        result.spikeValueSums = valueSums
        return (result, reusesTape ? nil : tape, traceEvents)
    }

    // MARK: - Frame start

    /// Decay every neuron, clear refractory flags, `P` (the momentum keys) and the per-frame counters;
    /// select frame `t`'s folded normalisation and make its bias current due.
    mutating func startFrame(_ t: Int) {
        for p in hotPopulations.indices {
            let hp = hotPopulations[p]
            if hp.decay != nil || hp.hasFrameParameters {
                startFrameGeneral(population: p, t)
                continue
            }
            // A plain LIF population: decay eight neurons at a time and list the units holding a neuron
            // above threshold, which wait for the wave front (the general path's `v * beta` and
            // `v - theta > 0`, lane by lane; see ``startFrameGeneral(population:_:)`` for why they wait).
            let vp = v + hp.offset, n = hp.count, perUnit = hp.neuronsPerUnit
            let betaV = SIMD8<Float>(repeating: hp.leak), thetaV = SIMD8<Float>(repeating: hp.threshold)
            let zero = SIMD8<Float>(repeating: 0)
            var last = -1
            var j = 0
            while j + 8 <= n {
                let x = UnsafeRawPointer(vp + j).loadUnaligned(as: SIMD8<Float>.self) * betaV
                UnsafeMutableRawPointer(vp + j).storeBytes(of: x, as: SIMD8<Float>.self)
                var above = laneBits((x - thetaV) .> zero)
                while above != 0 {
                    let unit = (j + above.trailingZeroBitCount) / perUnit
                    above &= above &- 1
                    if unit != last { deferred[p].append(Int32(unit)); last = unit }
                }
                j += 8
            }
            while j < n {
                vp[j] = vp[j] * hp.leak
                if vp[j] - hp.threshold > 0 {
                    let unit = j / perUnit
                    if unit != last { deferred[p].append(Int32(unit)); last = unit }
                }
                j += 1
            }
            if !deferred[p].isEmpty { deferredPopulations += 1 }
            spikesThisFrame[p] = 0
        }
        let n = max(1, neuronCount)
        refractory.update(repeating: 0, count: n)
        if options.measuresCurrentsToSpike {
            logged.update(repeating: 0, count: n)
            received.update(repeating: 0, count: n)
        }
        for j in 0..<classCount { outputsThisFrame[j] = 0 }
        for c in poolFiredList.indices where !poolFiredList[c].isEmpty {
            let fired = poolFired[c]!
            for cell in poolFiredList[c] { fired[Int(cell)] = 0 }
            if let m = poolMax[c] { for cell in poolFiredList[c] { m[Int(cell)] = 0 } }
            poolFiredList[c].removeAll(keepingCapacity: true)
        }
        // Binary layers: one multiplication by alpha per target neuron per frame (the evaluator's count).
        synapticOperations.multiplyAccumulates += binaryScaleOperations
        spikeValues?.update(repeating: 0, count: max(1, neuronCount))
        if usesHeap { momentumQueue.resetKeys() }
    }

    /// ``startFrame(_:)`` for population `p` when it is EM-PF, normalised or has per-neuron leaks.
    mutating func startFrameGeneral(population p: Int, _ t: Int) {
        let pop = engine.populations[p]
        if let norm = pop.parameters.normalization {
            let set = norm.statisticSet(step: t) * pop.neuronsPerUnit
            frameScale[p] = UnsafePointer(engine.normalizationStore.scales[p]! + set)
            frameBias[p] = UnsafePointer(engine.normalizationStore.biases[p]! + set)
        }
        let beta = pop.parameters.beta, theta = pop.parameters.threshold
        let vp = v + pop.offset
        let hp = hotPopulations[p]
        if let decay = hp.decay {
            // EM-PF: `lambda v` per neuron (the product the evaluator forms in `lambda v + I`). A membrane
            // normalised population integrates every neuron every frame (its norm moves even a neuron
            // without input): all units are due at the wave front, the first integration normalises.
            // Otherwise a neuron whose decayed membrane is above its threshold waits for the wave front.
            for j in 0..<pop.count { vp[j] = vp[j] * decay[j] }
            if hp.gamma != nil {
                deferred[p].removeAll(keepingCapacity: true)
                for u in 0..<pop.unitCount { deferred[p].append(Int32(u)) }
                (biasDue + pop.unitOffset).update(repeating: 1, count: pop.unitCount)
            } else {
                let th = hp.theta!
                var last = -1
                for j in 0..<pop.count where vp[j] > th[j] {
                    let unit = j / pop.neuronsPerUnit
                    if unit != last { deferred[p].append(Int32(unit)); last = unit }
                }
            }
            if !deferred[p].isEmpty { deferredPopulations += 1 }
            spikesThisFrame[p] = 0
            return
        }
        if let perNeuron = pop.parameters.perNeuronBeta {
            for j in 0..<pop.count { vp[j] = vp[j] * perNeuron[pop.layerIndex(ofStorage: j)] }
        } else {
            for j in 0..<pop.count { vp[j] = vp[j] * beta }
        }
        // A neuron whose decayed membrane is above threshold fires without input (possible with reset by
        // subtraction, where one integration can leave more than theta). It must be evaluated even if no
        // current reaches it, and it is evaluated at its population's wave front: forward step p + 1 of the
        // frame, the earliest step at which anything of this frame can reach population p (one
        // population per forward step at most). At F = infinity that is the step at which the whole
        // population integrates, which is what layered execution does; evaluated earlier, it would fire
        // before its inputs arrive and integrate twice in the frame.
        // A normalised population's bias current reaches every neuron: all its units wait for the wave front.
        if pop.parameters.normalization != nil {
            deferred[p].removeAll(keepingCapacity: true)
            for u in 0..<pop.unitCount { deferred[p].append(Int32(u)) }
            (biasDue + pop.unitOffset).update(repeating: 1, count: pop.unitCount)
        } else {
            var last = -1
            for j in 0..<pop.count where vp[j] - theta > 0 {
                let unit = j / pop.neuronsPerUnit
                if unit != last { deferred[p].append(Int32(unit)); last = unit }
            }
        }
        if !deferred[p].isEmpty { deferredPopulations += 1 }
        spikesThisFrame[p] = 0
    }

    /// Touches the deferred units of populations `0 ... p` (their wave front has been reached).
    mutating func releaseDeferred(throughPopulation p: Int) {
        for q in 0...min(p, deferred.count - 1) where !deferred[q].isEmpty {
            for u in deferred[q] { touch(population: q, unit: Int(u)) }
            deferred[q].removeAll(keepingCapacity: true)
            deferredPopulations -= 1
        }
    }

    // MARK: - Delivery

    @inline(__always)
    mutating func touch(population p: Int, unit: Int) {
        let g = unitOffsets[p] + unit
        if unitMark[g] == 0 {
            unitMark[g] = 1
            touched[p].append(Int32(unit))
            touchedTotal += 1
        }
    }

    /// Delivers one presynaptic element (pooled index `source`, value `value`) through connection `ci`.
    @inline(__always)
    mutating func deliver(connection ci: Int, value: Float, source: Int) {
        let h = hot[ci]
        let cur = current + h.targetOffset
        let fan = Double(h.fanOut[source])
        if h.binary || value == 1 || value == -1 { synapticOperations.accumulates += fan } else { synapticOperations.multiplyAccumulates += fan }
        if h.isLinear {
            let o = h.outFeatures
            SpikeDelivery.linear(value: value, source: source, weight: h.weight, outFeatures: o, current: cur)
            touch(population: h.target, unit: 0)
            if options.measuresCurrentsToSpike {
                let r = received + h.targetOffset
                for j in 0..<o { r[j] &+= 1 }
            }
        } else {
            deliverConv(h, value: value, source: source)
        }
    }

    /// Convolution into a channels-last population: for every output position whose receptive
    /// field holds `source`, the contiguous `O` currents get `value * W[o, c, ky, kx]` (weights stored
    /// `[C, k, k, O]`). Per current this is the same `current += value * w` as
    /// ``SNNCore/SpikeDelivery/conv2d(value:source:geometry:outChannels:weight:current:)``, in the
    /// same source order, so the sums are bit-identical to the layered engine's.
    @inline(__always)
    mutating func deliverConv(_ h: HotConnection, value: Float, source: Int) {
        let co = h.outChannels, k = h.geometry.kernelHeight
        let measure = options.measuresCurrentsToSpike
        let cur = current + h.targetOffset
        let vv = SIMD8<Float>(repeating: value)
        h.geometry.forEachReceptiveTarget(of: source) { c, pos, tap in
            let w = h.weight + (c * k * k + tap) * co
            let out = cur + pos * co
            var o = 0
            while o + 8 <= co {
                var acc = UnsafeRawPointer(out + o).loadUnaligned(as: SIMD8<Float>.self)
                acc += vv * UnsafeRawPointer(w + o).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(out + o).storeBytes(of: acc, as: SIMD8<Float>.self)
                o += 8
            }
            while o < co { out[o] += value * w[o]; o += 1 }
            touch(population: h.target, unit: pos)
            if measure {
                let r = received + h.targetOffset + pos * co
                for j in 0..<co { r[j] &+= 1 }
            }
        }
    }

    /// Frame start through an unpooled first connection: the frame's events (positions ascending, with
    /// their values; from ``InputEvents`` or scanned by ``deliverInput(_:)``), at once, in that order.
    /// Into a linear layer the currents are held in registers over all events, so the weight rows of
    /// successive events load in parallel instead of each waiting behind a mispredicted branch.
    mutating func deliverInputEvents(indices idx: UnsafePointer<Int32>, values: UnsafePointer<Float>, count: Int) {
        guard engine.connections.first != nil else { return }
        let h = hot[0]
        guard h.isLinear else {
            for e in 0..<count { deliver(connection: 0, value: values[e], source: Int(idx[e])) }
            return
        }
        deliverLinearEvents(connection: 0, indices: idx, values: values, count: count)
    }

    /// Delivers `count` events (sources `indices`, values `values`, in that order) through the linear
    /// connection `ci`, with the currents held in registers over all of them
    /// (``SNNCore/SpikeDelivery/linearEvents(indices:count:values:weight:outFeatures:current:)``: the bits
    /// of one ``deliver(connection:value:source:)`` per event, in the same order).
    @inline(__always)
    mutating func deliverLinearEvents(connection ci: Int, indices idx: UnsafePointer<Int32>, values: UnsafePointer<Float>, count: Int) {
        let h = hot[ci]
        let o = h.outFeatures, cur = current + h.targetOffset
        SpikeDelivery.linearEvents(indices: idx, count: count, values: values, weight: h.weight, outFeatures: o, current: cur)
        // Accumulates (binary weights or unit values) and multiply-accumulates, without a branch per
        // event (event counts of 1 and 2 mix unpredictably in N-MNIST frames). The counts are whole
        // numbers, so one addition of their sum gives the same Double as one addition per event.
        var ac = 0, mac = 0
        let binary = h.binary
        for e in 0..<count {
            let value = values[e]
            let unit = (binary || value == 1 || value == -1) ? 1 : 0
            let fan = Int(h.fanOut[Int(idx[e])])
            ac &+= fan &* unit
            mac &+= fan &* (1 &- unit)
        }
        synapticOperations.accumulates += Double(ac)
        synapticOperations.multiplyAccumulates += Double(mac)
        if count > 0 {
            touch(population: h.target, unit: 0)
            if options.measuresCurrentsToSpike {
                let events = UInt32(truncatingIfNeeded: count)
                let r = received + h.targetOffset
                for j in 0..<o { r[j] &+= events }
            }
        }
    }

    /// Delivers the picked spikes `range` (all of one population, in delivery order) through the
    /// unpooled linear connection `ci` at once: their sources and values are gathered, then
    /// ``deliverLinearEvents(connection:indices:values:count:)``.
    mutating func deliverLinearSpikes(connection ci: Int, picked range: Range<Int>, sourceOffset: Int) {
        let n = range.count
        if n > groupCapacity {
            groupIndices.deallocate(); groupValues.deallocate()
            groupCapacity = max(n, 2 * groupCapacity)
            groupIndices = .allocate(capacity: groupCapacity); groupValues = .allocate(capacity: groupCapacity)
        }
        let (gi, gv) = (groupIndices, groupValues)
        picked.withUnsafeBufferPointer { s in
            for e in 0..<n {
                let spike = s[range.lowerBound + e]
                gi[e] = spike.neuron &- Int32(truncatingIfNeeded: sourceOffset)
                gv[e] = spike.value
            }
        }
        deliverLinearEvents(connection: ci, indices: gi, values: gv, count: n)
    }

    /// Frame start: every non-zero element of the input frame, at once, ascending (pooled first when
    /// the input connection pools, with the layered pooling's summation order).
    mutating func deliverInput(_ x: UnsafePointer<Float>) {
        guard let conn = engine.connections.first else { return }
        switch conn.pooling {
        case .none:
            // The frame's events first, without a branch per input, then delivered in that order.
            let count = compactNonZeros(x, conn.pooledCount, indices: inputEvents!, values: inputValues!)
            deliverInputEvents(indices: inputEvents!, values: inputValues!, count: count)
        case .average(let k, let s), .max(let k, let s):
            let isAverage: Bool = { if case .average = conn.pooling { return true } else { return false } }()
            let c = conn.sourceShape[0], h = conn.sourceShape[1], w = conn.sourceShape[2]
            let ho = conn.pooledShape[1], wo = conn.pooledShape[2]
            let scale = 1 / Float(k * k)
            let y = inputPooled!
            for pl in 0..<c {
                let xp = x + pl * h * w, yp = y + pl * ho * wo
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        if isAverage {
                            var acc: Float = 0
                            for ky in 0..<k { for kx in 0..<k { acc += xp[(oy * s + ky) * w + ox * s + kx] } }
                            yp[oy * wo + ox] = acc * scale
                        } else {
                            var best = -Float.infinity
                            for ky in 0..<k { for kx in 0..<k { let e = xp[(oy * s + ky) * w + ox * s + kx]; if e > best { best = e } } }
                            yp[oy * wo + ox] = best
                        }
                    }
                }
            }
            for i in 0..<conn.pooledCount where y[i] != 0 { deliver(connection: 0, value: y[i], source: i) }
        }
    }

    // MARK: - Forward step

    /// Every touched neuron integrates its pending current and checks its threshold; spikes join the queue.
    ///
    /// Units of contiguous neurons are integrated eight lanes at a time (with or without a tape); the
    /// lanes compute exactly what ``LIFDynamics`` computes.
    mutating func integrateTouched() {
        guard touchedTotal > 0 else { return }
        let recording = recordsTape
        for p in 0..<hotPopulations.count where !touched[p].isEmpty {
            let pop = hotPopulations[p]
            if pop.empfMode >= 0 { integrateEMPF(p); continue }
            let theta = pop.threshold, reset: ResetMode = pop.resetsToZero ? .zero : .subtract
            let units = touched[p]
            let scale = frameScale[p], bias = frameBias[p]
            for u32 in units {
                let u = Int(u32)
                unitMark[pop.unitOffset + u] = 0
                let unitStart = pop.offset + u * pop.neuronsPerUnit
                if let scale {
                    // Folded normalisation: I = s x (+ b with the frame's first integration), the layered
                    // engine's `s * x + b` when the whole frame's input arrives at once.
                    let cur = current + unitStart
                    if biasDue[pop.unitOffset + u] != 0 {
                        biasDue[pop.unitOffset + u] = 0
                        for k in 0..<pop.neuronsPerUnit { cur[k] = scale[k] * cur[k] + bias![k] }
                    } else {
                        for k in 0..<pop.neuronsPerUnit { cur[k] = scale[k] * cur[k] }
                    }
                }
                var n = unitStart
                var remaining = pop.neuronsPerUnit
                do {
                    let thetaV = SIMD8<Float>(repeating: theta)
                    let zero = SIMD8<Float>(repeating: 0)
                    while remaining >= 8 {
                        let vv = UnsafeRawPointer(v + n).loadUnaligned(as: SIMD8<Float>.self)
                        let ii = UnsafeRawPointer(current + n).loadUnaligned(as: SIMD8<Float>.self)
                        let rr = UnsafeRawPointer(refractory + n).loadUnaligned(as: SIMD8<Int32>.self)
                        // Refractory flags are all-ones bit masks: U = (V + I) with every bit cleared (+0).
                        let uu = unsafeBitCast(unsafeBitCast(vv + ii, to: SIMD8<Int32>.self) & ~rr, to: SIMD8<Float>.self)
                        let margin = uu - thetaV
                        let spikes = margin .> zero
                        UnsafeMutableRawPointer(current + n).storeBytes(of: zero, as: SIMD8<Float>.self)
                        // The spike flags of the eight lanes, one byte each (lane l in bits 8l..<8l+8).
                        var spikeFlags: UInt64 = 0
                        var fired = laneBits(spikes)
                        if fired != 0 {
                            let newV = uu.replacing(with: pop.resetsToZero ? zero : margin, where: spikes)
                            UnsafeMutableRawPointer(v + n).storeBytes(of: newV, as: SIMD8<Float>.self)
                            while fired != 0 {
                                let lane = fired.trailingZeroBitCount
                                fired &= fired &- 1
                                let f = handleSpike(neuron: n + lane, id: pop.layerId(n + lane), population: p,
                                                    integration: integrationCount &+ Int32(lane), potential: uu[lane])
                                spikeFlags |= UInt64(f) << (8 * lane)
                            }
                        } else {
                            UnsafeMutableRawPointer(v + n).storeBytes(of: uu, as: SIMD8<Float>.self)
                        }
                        if recording {
                            // The scalar path's tape entries (same ids, margins and flags), eight at a time.
                            let k = stagedCount
                            if pop.channelsLast {
                                for lane in 0..<8 { stagedNeuron[k + lane] = pop.layerId(n + lane) }
                            } else {
                                let ids = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: n)) &+ SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
                                UnsafeMutableRawPointer(stagedNeuron + k).storeBytes(of: ids, as: SIMD8<Int32>.self)
                            }
                            UnsafeMutableRawPointer(stagedMargin + k).storeBytes(of: margin, as: SIMD8<Float>.self)
                            // Refractory lanes are all ones (the flag's bit survives the mask), others zero: one AND,
                            // not `rr .!= 0`, which compiled to a lane-by-lane loop (more than half of this function).
                            let refractoryBytes = SIMD8<UInt8>(truncatingIfNeeded: rr & SIMD8<Int32>(repeating: Int32(AsyncTape.refractoryBit)))
                            let flags = unsafeBitCast(refractoryBytes, to: UInt64.self) | spikeFlags
                            UnsafeMutableRawPointer(stagedFlags + k).storeBytes(of: flags, as: UInt64.self)
                            stagedCount = k + 8
                        }
                        integrationCount &+= 8
                        n += 8
                        remaining -= 8
                    }
                }
                while remaining > 0 {
                    let input = current[n]
                    current[n] = 0
                    let wasRefractory = refractory[n] != 0
                    var vv = v[n]
                    let r = LIFDynamics.integrate(v: &vv, current: input, refractory: wasRefractory, threshold: theta, reset: reset)
                    v[n] = vv
                    let seq = integrationCount
                    integrationCount &+= 1
                    var flags: UInt8 = wasRefractory ? AsyncTape.refractoryBit : 0
                    let id = pop.layerId(n)
                    if r.spiked { flags |= handleSpike(neuron: n, id: id, population: p, integration: seq, potential: r.u) }
                    if recording {
                        stagedNeuron[stagedCount] = id; stagedMargin[stagedCount] = r.u - theta; stagedFlags[stagedCount] = flags
                        stagedCount += 1
                    }
                    n += 1
                    remaining -= 1
                }
            }
            touched[p].removeAll(keepingCapacity: true)
        }
        touchedTotal = 0
        if recording { flushStagedIntegrations() }
    }

    /// Appends the staged integration records to the tape (three appends per forward step).
    mutating func flushStagedIntegrations() {
        guard stagedCount > 0 else { return }
        tape!.integrationNeuron.append(contentsOf: UnsafeBufferPointer(start: stagedNeuron, count: stagedCount))
        tape!.integrationMargin.append(contentsOf: UnsafeBufferPointer(start: stagedMargin, count: stagedCount))
        tape!.integrationFlags.append(contentsOf: UnsafeBufferPointer(start: stagedFlags, count: stagedCount))
        stagedCount = 0
    }

    /// The touched units of EM-PF population `p` integrate (docs/ALGORITHMS.md, "EM-PF in the
    /// asynchronous engine"): `u = v + x` (`v` already decayed at frame start), with membrane batch norm
    /// `u = BN(v + x)` at the unit's first integration of the frame and `u = v + gain x` after it; then
    /// ``SNNCore/EMPFNeuronRule/fire(_:theta:mode:)``. Graded neurons have no refractory period (a
    /// neuron that fired keeps integrating and may fire again in the frame); the LIF kind follows the
    /// engine's LIF rule (`U = 0` while refractory).
    mutating func integrateEMPF(_ p: Int) {
        let pop = hotPopulations[p]
        let mode = pop.empfMode
        let theta = pop.theta!
        for u32 in touched[p] {
            let u = Int(u32)
            unitMark[pop.unitOffset + u] = 0
            var first = false
            if pop.gamma != nil, biasDue[pop.unitOffset + u] != 0 { biasDue[pop.unitOffset + u] = 0; first = true }
            let start = pop.offset + u * pop.neuronsPerUnit
            for n in start..<(start + pop.neuronsPerUnit) {
                // Binary weights: the sign-selected sum times alpha, the packed kernel's `alpha * sum(±x)`.
                let x = pop.inputScale.map { $0[n - pop.offset] * current[n] } ?? current[n]
                current[n] = 0
                var uu: Float
                if let gamma = pop.gamma {
                    let j = n - pop.offset
                    uu = first ? EMPFNeuronRule.normalise(v[n] + x, mean: pop.mean![j], invStd: pop.invStd![j], gamma: gamma[j], beta: pop.beta![j])
                               : v[n] + pop.gain![j] * x
                } else {
                    uu = v[n] + x
                }
                if mode == 2 && refractory[n] != 0 { uu = 0 }
                let th = theta[n - pop.offset]
                let r = EMPFNeuronRule.fire(uu, theta: th, mode: mode)
                v[n] = r.membrane
                let seq = integrationCount
                integrationCount &+= 1
                if uu > th {
                    _ = handleSpike(neuron: n, id: pop.layerId(n), population: p, integration: seq, potential: uu,
                                    value: r.spike, refractory: mode == 2)
                }
            }
        }
        touched[p].removeAll(keepingCapacity: true)
    }

    /// A neuron fired: count it, set its refractory flag (unless refractory dropout skips it, or the
    /// neuron is graded: `refractory: false`), log the currents it received, queue the spike with its
    /// value. Returns the tape flags of the spike.
    @inline(__always)
    mutating func handleSpike(neuron n: Int, id: Int32, population p: Int, integration seq: Int32, potential u: Float,
                              value: Float = 1, refractory canBeRefractory: Bool = true) -> UInt8 {
        var flags = AsyncTape.spikedBit
        spikesThisFrame[p] &+= 1
        spikeValues?[Int(id)] += value
        if valueSums != nil { valueSums![p] += Double(value) }
        var setsRefractory = canBeRefractory
        let dropout = options.refractoryDropout
        if dropout > 0 && canBeRefractory {
            if dropoutRNG.uniform(stream: dropoutStream, counter: dropoutCounter) < dropout { setsRefractory = false }
            dropoutCounter &+= 1
        }
        if setsRefractory { refractory[n] = -1; flags |= AsyncTape.setsRefractoryBit }  // all-ones mask
        if options.measuresCurrentsToSpike && logged[n] == 0 {
            logged[n] = 1
            histogram[min(Int(received[n]), histogram.count - 1)] += 1
        }
        if usesHeap {
            momentumQueue.push(neuron: id, integration: seq, potential: u, value: value)
        } else {
            randomQueue.push(QueuedSpike(neuron: id, integration: seq, key: u, value: value))
        }
        return flags
    }

    /// Emits the picked spikes (sorted in delivery order): output spikes are counted, the others
    /// deliver their fan-out. Returns whether output spikes left, and whether one of them is of class `label`.
    mutating func emitPicked(frame: Int, globalStep: Int, label: Int?) -> (any: Bool, label: Bool) {
        let pops = hotPopulations
        var anyOutput = false, labelOutput = false
        let labelClass = label ?? -1
        var i = 0
        var p = 0
        let count = picked.count
        while i < count {
            let first = Int(picked[i].neuron)
            while first >= pops[p].offset + pops[p].count { p += 1 }
            let pop = pops[p]
            var j = i
            while j < count && Int(picked[j].neuron) < pop.offset + pop.count { j += 1 }
            if options.recordTrace {
                for k in i..<j {
                    traceEvents.append(SpikeTrace.Event(sample: traceSample, frame: Int32(frame),
                                                        step: Int32(globalStep), population: Int32(p),
                                                        neuron: picked[k].neuron - Int32(pop.offset)))
                }
            }
            if p == lastPopulation, let w = readoutWeight {
                // Into the non-spiking read-out (not output spikes).
                let fan = engine.readout!.fanOut
                let binary = engine.readout!.binaryWeights
                for k in i..<j {
                    let source = Int(picked[k].neuron) - pop.offset
                    let value = picked[k].value
                    SpikeDelivery.linear(value: value, source: source, weight: w, outFeatures: classCount, current: readoutCurrent)
                    if binary || value == 1 || value == -1 {
                        synapticOperations.accumulates += Double(fan[source])
                    } else {
                        synapticOperations.multiplyAccumulates += Double(fan[source])
                    }
                }
            } else if p == lastPopulation {
                for k in i..<j {
                    let cls = Int(picked[k].neuron) - pop.offset
                    outputsThisFrame[cls] &+= 1
                    if gradedOutput { readoutCurrent[cls] += picked[k].value }
                    anyOutput = true
                    if cls == labelClass { labelOutput = true }
                }
            } else {
                let ci = p + 1
                if !hot[ci].pools {
                    if hot[ci].isLinear {
                        deliverLinearSpikes(connection: ci, picked: i..<j, sourceOffset: pop.offset)
                    } else {
                        for k in i..<j { deliver(connection: ci, value: picked[k].value, source: Int(picked[k].neuron) - pop.offset) }
                    }
                    i = j
                    continue
                }
                let conn = engine.connections[ci]
                switch conn.pooling {
                case .none:
                    break
                case .average(let kk, _):
                    let acc = poolAccumulator[ci]!
                    for k in i..<j {
                        let value = picked[k].value
                        conn.forEachPooledCell(of: Int(picked[k].neuron) - pop.offset) { cell in
                            if acc[cell] == 0 { poolTouched.append(Int32(cell)) }
                            acc[cell] += value
                        }
                    }
                    if poolTouched.count > 1 { poolTouched.sort() }
                    let scale = 1 / Float(kk * kk)
                    for cell in poolTouched {
                        let c = Int(cell)
                        let value = acc[c] * scale
                        acc[c] = 0
                        deliver(connection: ci, value: value, source: c)
                    }
                    poolTouched.removeAll(keepingCapacity: true)
                case .max where poolMax[ci] != nil:
                    // Graded spikes: a pooled cell passes the increase of its window's largest value this
                    // frame, once per forward step; the values it passed sum to the layered max (at F =
                    // infinity one event carrying the max itself).
                    let fired = poolFired[ci]!, mx = poolMax[ci]!, before = poolPrevious[ci]!
                    for k in i..<j {
                        let value = picked[k].value
                        conn.forEachPooledCell(of: Int(picked[k].neuron) - pop.offset) { cell in
                            if fired[cell] != 2 {
                                if fired[cell] == 0 { poolFiredList[ci].append(Int32(cell)) }
                                fired[cell] = 2
                                before[cell] = mx[cell]
                                poolTouched.append(Int32(cell))
                            }
                            if value > mx[cell] { mx[cell] = value }
                        }
                    }
                    if poolTouched.count > 1 { poolTouched.sort() }
                    for cell in poolTouched {
                        let c = Int(cell)
                        fired[c] = 1
                        let increase = mx[c] - before[c]
                        if increase != 0 { deliver(connection: ci, value: increase, source: c) }
                    }
                    poolTouched.removeAll(keepingCapacity: true)
                case .max:
                    let fired = poolFired[ci]!
                    for k in i..<j {
                        conn.forEachPooledCell(of: Int(picked[k].neuron) - pop.offset) { cell in
                            if fired[cell] == 0 {
                                fired[cell] = 1
                                poolFiredList[ci].append(Int32(cell))
                                poolTouched.append(Int32(cell))
                            }
                        }
                    }
                    if poolTouched.count > 1 { poolTouched.sort() }
                    for cell in poolTouched { deliver(connection: ci, value: 1, source: Int(cell)) }
                    poolTouched.removeAll(keepingCapacity: true)
                }
            }
            i = j
        }
        if recordsTape {
            for s in picked {
                tape!.emittedNeuron.append(s.neuron)
                tape!.emittedIntegration.append(s.integration)
            }
            tape!.stepEmissionStart.append(Int32(tape!.emittedNeuron.count))
        }
        return (anyOutput, labelOutput)
    }

    // MARK: - Reference compatibility

    func anyPositivePendingCurrent() -> Bool {
        let pops = hotPopulations
        for p in pops.indices {
            let pop = pops[p]
            for u in touched[p] {
                let start = pop.offset + Int(u) * pop.neuronsPerUnit
                for n in start..<(start + pop.neuronsPerUnit) where current[n] > 0 { return true }
            }
        }
        return false
    }

    mutating func dropPendingCurrents() {
        let pops = hotPopulations
        for p in pops.indices {
            let pop = pops[p]
            for u in touched[p] {
                unitMark[pop.unitOffset + Int(u)] = 0
                let start = pop.offset + Int(u) * pop.neuronsPerUnit
                for n in start..<(start + pop.neuronsPerUnit) {
                    if recordsTape && current[n] != 0 { tape!.droppedNeuron.append(pop.layerId(n)) }
                    current[n] = 0
                }
            }
            touched[p].removeAll(keepingCapacity: true)
        }
        touchedTotal = 0
    }
}

/// The per-connection constants the delivery loop reads (trivial types only, so reading one costs
/// no reference counting).
struct HotConnection {
    var isLinear: Bool
    var outFeatures: Int
    var geometry: Conv2DGeometry
    var outChannels: Int
    var target: Int
    var targetOffset: Int
    var weight: UnsafePointer<Float>
    var fanOut: UnsafePointer<Int32>
    var pools = false
    /// EM-PF binary weights: every event is an accumulate.
    var binary = false
}

/// The per-population constants of the hot loops.
struct HotPopulation {
    var offset: Int
    var count: Int
    var unitOffset: Int
    var unitCount: Int
    var neuronsPerUnit: Int
    var channelsLast: Bool
    var threshold: Float
    var resetsToZero: Bool
    /// The leak (LIF populations) and whether the population has per-neuron leaks or a folded
    /// normalisation (the frame start's general path).
    var leak: Float = 1
    var hasFrameParameters = false
    /// EM-PF populations: ``SNNCore/EMPFNeuronRule``'s mode (-1: LIF), whether spikes are graded, and
    /// the per-neuron parameters in storage order (``AsyncEMPFStore``; batch norm ones nil without it).
    var empfMode = -1
    var graded = false
    var decay: UnsafePointer<Float>? = nil
    var theta: UnsafePointer<Float>? = nil
    var gamma: UnsafePointer<Float>? = nil
    var beta: UnsafePointer<Float>? = nil
    var mean: UnsafePointer<Float>? = nil
    var invStd: UnsafePointer<Float>? = nil
    var gain: UnsafePointer<Float>? = nil
    /// Behind a binary layer: `alpha` per neuron, applied to the pending current (a sum of `±value`).
    var inputScale: UnsafePointer<Float>? = nil

    /// Global layer-order id of storage index `n` (see ``AsyncPopulation``).
    @inline(__always)
    func layerId(_ n: Int) -> Int32 {
        guard channelsLast else { return Int32(n) }
        let local = n - offset
        return Int32(offset + (local % neuronsPerUnit) * unitCount + local / neuronsPerUnit)
    }
}
