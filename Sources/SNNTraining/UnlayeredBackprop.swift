import SNNCore
import SNNEngines
import SNNTensor

/// Reverse mode through an asynchronous run: the gradient follows the forward steps in the order
/// the scheduler actually chose, and an emitted spike's gradient flows only through the weights of
/// the targets it really reached.
///
/// Quantities (per sample; `n` a neuron, `r` one of its integrations, `e` an emitted spike):
/// - integration `r`: `U_r = (V + I_r)(1 - R_r)`, `s_r = H(U_r - theta)`, post-reset `V = reset(U_r, s_r)`;
/// - an emission `e` of a spike that fired in `r` adds `W[n, j]` (through its connection) to the pending
///   current of every target `j`, integrated at `j`'s next integration.
///
/// Reverse pass, forward steps latest first; in a step, emissions first, then integrations:
/// - emission `e`: `dL/ds_r += sum_j W[n, j] dL/dI_j` and `dL/dW[n, j] += dL/dI_j`, where `dL/dI_j` is
///   the gradient of `j`'s pending current (set by `j`'s next integration); output spikes add
///   `dL/dcount` of their class and frame;
/// - an integration that did not fire counts as a spike of value 0 emitted at once (same routing), so
///   its surrogate gradient is fed ("silent integrations", on by default);
/// - integration `r`: `dL/dU_r = dL/ds_r * sg(U_r - theta) + dL/dV * dV/dU_r`; then
///   `dL/dI = dL/dV_before = dL/dU_r * (1 - R_r)`;
/// - frame start: the input values add `x_i dL/dI_j` to the first connection's weight gradient, and every
///   membrane's gradient is multiplied by the frame's decay `beta`.
/// The schedule, the refractory flags and `P` are constants.
public enum UnlayeredBackprop {
    /// Options of the reverse pass.
    public struct Options: Sendable, Hashable {
        /// Neurons whose `U - theta` is below this get zero surrogate gradient (nil: no cut).
        public var backpropThreshold: Float?
        /// Cut the gradient between frames (membranes and pending currents), trading accuracy for memory.
        public var truncatePerFrame: Bool
        /// Count output spikes when they are emitted (true) or when they fire (false); must match the engine.
        public var outputsCountedAtEmission: Bool
        /// Treat every integration that did not fire as a spike of value 0 emitted in the same forward
        /// step, so that its surrogate gradient receives `sum_j W[n, j] dL/dI_j` (or `dL/dcount` for an
        /// output neuron). This is what makes silent neurons learn, and what makes the gradient equal
        /// layered BPTT's at F = infinity. Off: only real emissions carry gradient.
        public var silentIntegrationsCarryGradient: Bool
        /// With ``silentIntegrationsCarryGradient``: only a neuron's last integration in a frame, when
        /// silent, carries that gradient (one surrogate path per neuron and frame, as in layered
        /// execution), instead of every silent integration.
        public var silentGradientOnlyAtFrameEnd: Bool
        public init(backpropThreshold: Float? = nil, truncatePerFrame: Bool = false, outputsCountedAtEmission: Bool = true,
                    silentIntegrationsCarryGradient: Bool = true, silentGradientOnlyAtFrameEnd: Bool = false) {
            self.backpropThreshold = backpropThreshold; self.truncatePerFrame = truncatePerFrame
            self.outputsCountedAtEmission = outputsCountedAtEmission
            self.silentIntegrationsCarryGradient = silentIntegrationsCarryGradient
            self.silentGradientOnlyAtFrameEnd = silentGradientOnlyAtFrameEnd
        }
    }

    /// Per-frame output spike counts of a tape, `[frames * classes]`.
    public static func outputCounts(graph: PopulationGraph, tape: AsyncTape, frames: Int, options: Options) -> [Float] {
        let last = graph.neurons.count - 1
        let base = graph.offsets[last], classes = graph.offsets[last + 1] - base
        var counts = [Float](repeating: 0, count: frames * classes)
        for f in 0..<min(frames, tape.frameCount) {
            for step in Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1]) {
                if options.outputsCountedAtEmission {
                    for e in Int(tape.stepEmissionStart[step])..<Int(tape.stepEmissionStart[step + 1]) {
                        let n = Int(tape.emittedNeuron[e])
                        if n >= base { counts[f * classes + n - base] += 1 }
                    }
                } else {
                    for r in Int(tape.stepIntegrationStart[step])..<Int(tape.stepIntegrationStart[step + 1]) {
                        let n = Int(tape.integrationNeuron[r])
                        if tape.integrationFlags[r] & AsyncTape.spikedBit != 0 && n >= base { counts[f * classes + n - base] += 1 }
                    }
                }
            }
        }
        return counts
    }

    /// Adds one sample's weight gradients into `gradients` (one tensor per layer, shaped like the weights).
    ///
    /// - Parameters:
    ///   - input: the sample's frames, `frames x inputSize` values (frame-major).
    ///   - outputGradient: `dL/dcount[frame * classes + class]`.
    ///   - replay: spike values and `U - theta` per integration from ``replaySmooth(graph:network:tape:input:frames:silentIntegrationsCarryGradient:)``,
    ///     for gradient checks; nil uses the tape's binary spikes and recorded potentials.
    public static func accumulate(graph: PopulationGraph, network: Network, tape: AsyncTape,
                                  input: UnsafePointer<Float>, frames: Int, outputGradient: [Float],
                                  options: Options, into gradients: inout [Tensor],
                                  replay: SmoothReplay? = nil) {
        let workspace = Workspace(graph: graph, network: network)
        workspace.accumulate(tape: tape, input: input, frames: frames, outputGradient: outputGradient, options: options, replay: replay)
        workspace.addGradients(into: &gradients)
    }

    /// Reusable buffers and flattened network description for the reverse pass of many samples
    /// (one per thread): a private copy of the weights, the gradient accumulators, and per-neuron state.
    public final class Workspace {
        struct Population { var threshold: Float; var reset: ResetMode; var surrogate: Surrogate; var detach: Bool; var beta: Float }
        struct Connection {
            var isConv: Bool
            var outFeatures: Int
            var outChannels: Int
            var geometry: Conv2DGeometry
            var poolKernel: Int, poolStride: Int
            var sourceHeight: Int, sourceWidth: Int, pooledHeight: Int, pooledWidth: Int
            var weight: UnsafeMutablePointer<Float>
            var gradient: UnsafeMutablePointer<Float>
        }
        let graph: PopulationGraph
        let layerOffsets: [Int]
        let layerCounts: [Int]
        let weights: UnsafeMutablePointer<Float>
        let gradients: UnsafeMutablePointer<Float>
        let totalWeights: Int
        var populations: [Population] = []
        var perNeuronBeta: [Float]
        var connections: [Connection] = []
        var populationOf: [Int32]
        var dV: [Float]
        var dP: [Float]
        var dS: [Float] = []
        var lastSeenFrame: [Int32]

        public init(graph: PopulationGraph, network: Network) {
            self.graph = graph
            var offsets: [Int] = [], counts: [Int] = [], total = 0
            for w in network.weights { offsets.append(total); counts.append(w.count); total += w.count }
            layerOffsets = offsets; layerCounts = counts; totalWeights = total
            let weightCopy = UnsafeMutablePointer<Float>.allocate(capacity: max(total, 1))
            for (i, w) in network.weights.enumerated() {
                w.withUnsafeBufferPointer { (weightCopy + offsets[i]).initialize(from: $0.baseAddress!, count: w.count) }
            }
            weights = weightCopy
            gradients = .allocate(capacity: max(total, 1))
            gradients.initialize(repeating: 0, count: max(total, 1))
            let n = graph.neuronCount
            populationOf = [Int32](repeating: 0, count: n)
            perNeuronBeta = [Float](repeating: 1, count: n)
            dV = [Float](repeating: 0, count: n)
            dP = [Float](repeating: 0, count: n)
            lastSeenFrame = [Int32](repeating: -1, count: n)
            for (p, params) in graph.neurons.enumerated() {
                populations.append(Population(threshold: params.threshold, reset: params.reset, surrogate: params.surrogate,
                                              detach: params.detachReset, beta: params.beta))
                for j in graph.offsets[p]..<graph.offsets[p + 1] {
                    populationOf[j] = Int32(p)
                    perNeuronBeta[j] = params.perNeuronBeta?[j - graph.offsets[p]] ?? params.beta
                }
            }
            for c in graph.incoming {
                let li = c.synapticLayer
                var conn = Connection(isConv: false, outFeatures: 0, outChannels: 0,
                                      geometry: Conv2DGeometry(inChannels: 1, inHeight: 1, inWidth: 1, kernel: 1),
                                      poolKernel: c.pool?.kernel ?? 0, poolStride: c.pool?.stride ?? 1,
                                      sourceHeight: c.sourceShape.count == 3 ? c.sourceShape[1] : 1,
                                      sourceWidth: c.sourceShape.count == 3 ? c.sourceShape[2] : 1,
                                      pooledHeight: c.synapticInShape.count == 3 ? c.synapticInShape[1] : 1,
                                      pooledWidth: c.synapticInShape.count == 3 ? c.synapticInShape[2] : 1,
                                      weight: weights + offsets[li], gradient: gradients + offsets[li])
                switch c.layer {
                case .linear(_, let o): conn.outFeatures = o
                case .conv2d(_, let co, _, _, _): conn.isConv = true; conn.outChannels = co; conn.geometry = c.geometry!
                default: break
                }
                connections.append(conn)
            }
        }

        deinit {
            weights.deallocate()
            gradients.deallocate()
        }

        /// Adds the accumulated gradients into `tensors` (shaped like the network's weights).
        public func addGradients(into tensors: inout [Tensor]) {
            for i in tensors.indices where layerCounts[i] > 0 {
                let src = gradients + layerOffsets[i]
                tensors[i].withUnsafeMutableBufferPointer { d in for j in 0..<layerCounts[i] { d[j] += src[j] } }
            }
        }

        /// Adjoint of delivering `value` from `source` through connection `c`: adds the weight gradient
        /// and returns `d(loss)/d(value)`.
        @inline(__always)
        func deliverAdjoint(_ c: Connection, source: Int, value: Float, targetGradient: UnsafePointer<Float>) -> Float {
            @inline(__always) func cell(_ index: Int, _ factor: Float) -> Float {
                if c.isConv {
                    return factor * SpikeDelivery.conv2dAdjoint(value: value * factor, source: index, geometry: c.geometry, outChannels: c.outChannels,
                                                                weight: c.weight, currentGradient: targetGradient, weightGradient: c.gradient)
                }
                return factor * SpikeDelivery.linearAdjoint(value: value * factor, source: index, weight: c.weight, outFeatures: c.outFeatures,
                                                            currentGradient: targetGradient, weightGradient: c.gradient)
            }
            if c.poolKernel == 0 { return cell(source, 1) }
            let factor = 1 / Float(c.poolKernel * c.poolKernel)
            var total: Float = 0
            Pool2D.forEachCell(containing: source, height: c.sourceHeight, width: c.sourceWidth, kernel: c.poolKernel,
                               stride: c.poolStride, pooledHeight: c.pooledHeight, pooledWidth: c.pooledWidth) {
                total += cell($0, factor)
            }
            return total
        }

        /// The reverse pass of one sample; gradients accumulate in the workspace.
        /// `input` holds frame `f` at `input + f * frameStride` (default: frames stored back to back).
        ///
        /// A tape that was compacted with ``AsyncTape/discardRecordedFrames()`` holds frames from
        /// `firstFrame` on; spikes emitted from integrations it no longer holds get no gradient (the
        /// gradient is cut there, as truncation per frame wants).
        public func accumulate(tape: AsyncTape, input: UnsafePointer<Float>, frames: Int, frameStride: Int? = nil,
                               firstFrame: Int = 0, outputGradient: [Float], options: Options, replay: SmoothReplay? = nil) {
            let neuronCount = graph.neuronCount
            let last = populations.count - 1
            let outBase = graph.offsets[last], classes = graph.offsets[last + 1] - outBase
            let offsets = graph.offsets
            let inputSize = graph.incoming[0].sourceShape.reduce(1, *)
            let recordedFrames = min(frames - firstFrame, tape.frameCount)
            let stepBase = Int(tape.frameStepStart[0])
            let integrationBase = Int(tape.integrationBase)
            let integrationCount = tape.integrationNeuron.count
            if dS.count < integrationCount { dS = [Float](repeating: 0, count: integrationCount) }
            let silent = options.silentIntegrationsCarryGradient
            let onlyAtFrameEnd = options.silentGradientOnlyAtFrameEnd
            for j in 0..<neuronCount { lastSeenFrame[j] = -1 }
            let countAtEmission = options.outputsCountedAtEmission
            let cut = options.backpropThreshold
            populations.withUnsafeBufferPointer { pops in
            connections.withUnsafeBufferPointer { conns in
            populationOf.withUnsafeBufferPointer { popOf in
            perNeuronBeta.withUnsafeBufferPointer { betas in
            dV.withUnsafeMutableBufferPointer { dV in
            dP.withUnsafeMutableBufferPointer { dPBuffer in
            dS.withUnsafeMutableBufferPointer { dS in
            tape.integrationNeuron.withUnsafeBufferPointer { iNeuron in
            tape.integrationFlags.withUnsafeBufferPointer { iFlags in
            tape.integrationMargin.withUnsafeBufferPointer { iMargin in
            tape.emittedNeuron.withUnsafeBufferPointer { eNeuron in
            tape.emittedIntegration.withUnsafeBufferPointer { eIntegration in
            outputGradient.withUnsafeBufferPointer { outGrad in
                let dP = dPBuffer.baseAddress!
                for j in 0..<neuronCount { dV[j] = 0; dP[j] = 0 }
                for j in 0..<integrationCount { dS[j] = 0 }
                for local in stride(from: recordedFrames - 1, through: 0, by: -1) {
                    let f = firstFrame + local
                    // Currents dropped at the end of this frame never reached an integration.
                    for d in Int(tape.frameDroppedStart[local])..<Int(tape.frameDroppedStart[local + 1]) { dP[Int(tape.droppedNeuron[d])] = 0 }
                    for global in stride(from: Int(tape.frameStepStart[local + 1]) - 1, through: Int(tape.frameStepStart[local]), by: -1) {
                        let step = global - stepBase
                        // Emissions of this step (their currents were integrated later).
                        for e in stride(from: Int(tape.stepEmissionStart[step + 1]) - 1, through: Int(tape.stepEmissionStart[step]), by: -1) {
                            let n = Int(eNeuron[e])
                            let p = Int(popOf[n])
                            let r = Int(eIntegration[e]) - integrationBase
                            if r < 0 { continue }  // fired in a frame the tape no longer holds: truncated
                            if p == last {
                                if countAtEmission { dS[r] += outGrad[f * classes + n - outBase] }
                            } else {
                                dS[r] += deliverAdjoint(conns[p + 1], source: n - offsets[p], value: replay?.spikes[r] ?? 1,
                                                        targetGradient: dP + offsets[p + 1])
                            }
                        }
                        let lo = Int(tape.stepIntegrationStart[step]) - integrationBase
                        let hi = Int(tape.stepIntegrationStart[step + 1]) - integrationBase
                        // Silent integrations of this step, as spikes of value 0 leaving at once (read the targets'
                        // pending-current gradients before this step's integrations overwrite them).
                        if silent {
                            for r in stride(from: hi - 1, through: lo, by: -1) {
                                let n = Int(iNeuron[r])
                                let lastInFrame = lastSeenFrame[n] != Int32(f)
                                lastSeenFrame[n] = Int32(f)
                                guard iFlags[r] & (AsyncTape.spikedBit | AsyncTape.refractoryBit) == 0 else { continue }
                                if onlyAtFrameEnd && !lastInFrame { continue }
                                let p = Int(popOf[n])
                                if p == last {
                                    dS[r] += outGrad[f * classes + n - outBase]
                                } else {
                                    dS[r] += deliverAdjoint(conns[p + 1], source: n - offsets[p], value: replay?.spikes[r] ?? 0,
                                                            targetGradient: dP + offsets[p + 1])
                                }
                            }
                        }
                        // Integrations of this step.
                        for r in stride(from: hi - 1, through: lo, by: -1) {
                            let n = Int(iNeuron[r])
                            let flags = iFlags[r]
                            let spiked = flags & AsyncTape.spikedBit != 0
                            let pop = pops[Int(popOf[n])]
                            if spiked && n >= outBase && !countAtEmission { dS[r] += outGrad[f * classes + n - outBase] }
                            let x = replay?.margins[r] ?? iMargin[r]
                            var sg = pop.surrogate.gradient(x)
                            if let cut, x < cut { sg = 0 }
                            let dU = dS[r] * sg + dV[n] * LIFDynamics.resetDerivative(
                                u: x + pop.threshold, spike: replay?.spikes[r] ?? (spiked ? 1 : 0), surrogateGradient: sg,
                                threshold: pop.threshold, reset: pop.reset, detach: pop.detach)
                            let dIn: Float = flags & AsyncTape.refractoryBit != 0 ? 0 : dU
                            dP[n] = dIn
                            dV[n] = dIn
                        }
                    }
                    // Frame start: the input values were delivered before any integration of the frame.
                    let x = input + f * (frameStride ?? inputSize)
                    let conn = conns[0]
                    for i in 0..<inputSize where x[i] != 0 {
                        _ = deliverAdjoint(conn, source: i, value: x[i], targetGradient: dP + offsets[0])
                    }
                    if options.truncatePerFrame {
                        for n in 0..<neuronCount { dV[n] = 0; dP[n] = 0 }
                    } else {
                        // V at the start of frame f is beta * V at the end of frame f - 1.
                        for n in 0..<neuronCount { dV[n] *= betas[n] }
                    }
                }
            }}}}}}}}}}}}}
        }
    }

    /// A forward pass replayed on a recorded schedule with smooth spikes (gradient checks only).
    public struct SmoothReplay: Sendable {
        /// Spike value `smoothStep(U - theta)` of every integration.
        public var spikes: [Float]
        /// `U - theta` of every integration.
        public var margins: [Float]
        /// Output per frame and class, `[frames * classes]`: the sum of the emitted output spikes' values.
        public var outputs: [Float]
    }

    /// Replays the tape's schedule (which neurons integrate at each forward step, which spikes are
    /// emitted, refractory flags) with the current weights and smooth spikes
    /// `s = surrogate.smoothStep(U - theta)`: an emitted spike delivers its value `s`, and the reset
    /// uses it. The result is a smooth function of the weights whose exact gradient is what
    /// ``accumulate(graph:network:tape:input:frames:outputGradient:options:into:replay:)`` computes
    /// when given this replay — the basis of the finite-difference check.
    /// With `silentIntegrationsCarryGradient` (the reverse pass's default) a silent integration's
    /// smooth value is delivered at once, in its own forward step, after the step's emissions.
    public static func replaySmooth(graph: PopulationGraph, network: Network, tape: AsyncTape,
                                    input: UnsafePointer<Float>, frames: Int,
                                    silentIntegrationsCarryGradient: Bool = true) -> SmoothReplay {
        let neuronCount = graph.neuronCount
        let last = graph.neurons.count - 1
        let outBase = graph.offsets[last], classes = graph.offsets[last + 1] - outBase
        var populationOf = [Int](repeating: 0, count: neuronCount)
        for p in 0..<graph.neurons.count { for n in graph.offsets[p]..<graph.offsets[p + 1] { populationOf[n] = p } }
        var v = [Float](repeating: 0, count: neuronCount)
        var pending = [Float](repeating: 0, count: neuronCount)
        var replay = SmoothReplay(spikes: [Float](repeating: 0, count: tape.integrationNeuron.count),
                                  margins: [Float](repeating: 0, count: tape.integrationNeuron.count),
                                  outputs: [Float](repeating: 0, count: frames * classes))
        let inputSize = graph.incoming[0].sourceShape.reduce(1, *)
        pending.withUnsafeMutableBufferPointer { pb in
            let pendingBase = pb.baseAddress!
            for f in 0..<min(frames, tape.frameCount) {
                for p in 0..<graph.neurons.count {
                    for n in graph.offsets[p]..<graph.offsets[p + 1] { v[n] *= graph.neurons[p].perNeuronBeta?[n - graph.offsets[p]] ?? graph.neurons[p].beta }
                }
                let x = input + f * inputSize
                for i in 0..<inputSize where x[i] != 0 {
                    deliver(conn: graph.incoming[0], network: network, source: i, value: x[i], into: pendingBase + graph.offsets[0])
                }
                for step in Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1]) {
                    for r in Int(tape.stepIntegrationStart[step])..<Int(tape.stepIntegrationStart[step + 1]) {
                        let n = Int(tape.integrationNeuron[r])
                        let params = graph.neurons[populationOf[n]]
                        let refractory = tape.integrationFlags[r] & AsyncTape.refractoryBit != 0
                        let u: Float = refractory ? 0 : v[n] + pendingBase[n]
                        pendingBase[n] = 0
                        let s = params.surrogate.smoothStep(u - params.threshold)
                        v[n] = params.reset == .zero ? u * (1 - s) : u - params.threshold * s
                        replay.spikes[r] = s
                        replay.margins[r] = u - params.threshold
                    }
                    for e in Int(tape.stepEmissionStart[step])..<Int(tape.stepEmissionStart[step + 1]) {
                        let n = Int(tape.emittedNeuron[e])
                        let p = populationOf[n]
                        let value = replay.spikes[Int(tape.emittedIntegration[e])]
                        if p == last {
                            replay.outputs[f * classes + n - outBase] += value
                        } else {
                            deliver(conn: graph.incoming[p + 1], network: network, source: n - graph.offsets[p], value: value,
                                    into: pendingBase + graph.offsets[p + 1])
                        }
                    }
                    guard silentIntegrationsCarryGradient else { continue }
                    for r in Int(tape.stepIntegrationStart[step])..<Int(tape.stepIntegrationStart[step + 1]) {
                        let flags = tape.integrationFlags[r]
                        guard flags & AsyncTape.spikedBit == 0, flags & AsyncTape.refractoryBit == 0 else { continue }
                        let n = Int(tape.integrationNeuron[r])
                        let p = populationOf[n]
                        if p == last {
                            replay.outputs[f * classes + n - outBase] += replay.spikes[r]
                        } else {
                            deliver(conn: graph.incoming[p + 1], network: network, source: n - graph.offsets[p], value: replay.spikes[r],
                                    into: pendingBase + graph.offsets[p + 1])
                        }
                    }
                }
                for d in Int(tape.frameDroppedStart[f])..<Int(tape.frameDroppedStart[f + 1]) { pendingBase[Int(tape.droppedNeuron[d])] = 0 }
            }
        }
        return replay
    }

    /// Delivers `value` from `source` through `conn` (pooling folded in) into the target currents.
    static func deliver(conn: PopulationGraph.Connection, network: Network, source: Int, value: Float,
                        into current: UnsafeMutablePointer<Float>) {
        let geometry = conn.geometry
        network.weights[conn.synapticLayer].withUnsafeBufferPointer { wb in
            conn.forEachPooledCell(of: source) { cell, factor in
                switch conn.layer {
                case .linear(_, let o):
                    SpikeDelivery.linear(value: value * factor, source: cell, weight: wb.baseAddress!, outFeatures: o, current: current)
                case .conv2d(_, let co, _, _, _):
                    SpikeDelivery.conv2d(value: value * factor, source: cell, geometry: geometry!, outChannels: co,
                                         weight: wb.baseAddress!, current: current)
                default:
                    preconditionFailure("connection through \(conn.layer.shortName)")
                }
            }
        }
    }

    /// Adjoint of delivering `value` from `source` through `conn`: adds the weight gradient and returns
    /// `d(loss)/d(value)`.
    @inline(__always)
    static func deliverAdjoint(conn: PopulationGraph.Connection, network: Network, source: Int, value: Float,
                               targetGradient: UnsafePointer<Float>, gradients: inout [Tensor]) -> Float {
        let li = conn.synapticLayer
        let geometry = conn.geometry
        return network.weights[li].withUnsafeBufferPointer { wb in
            gradients[li].withUnsafeMutableBufferPointer { gb in
                var total: Float = 0
                conn.forEachPooledCell(of: source) { cell, factor in
                    switch conn.layer {
                    case .linear(_, let o):
                        total += factor * SpikeDelivery.linearAdjoint(value: value * factor, source: cell, weight: wb.baseAddress!,
                                                                      outFeatures: o, currentGradient: targetGradient,
                                                                      weightGradient: gb.baseAddress!)
                    case .conv2d(_, let co, _, _, _):
                        total += factor * SpikeDelivery.conv2dAdjoint(value: value * factor, source: cell, geometry: geometry!, outChannels: co,
                                                                      weight: wb.baseAddress!, currentGradient: targetGradient,
                                                                      weightGradient: gb.baseAddress!)
                    default:
                        preconditionFailure("connection through \(conn.layer.shortName)")
                    }
                }
                return total
            }
        }
    }
}
