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
    public static func outputCounts(engine: AsyncEngine, tape: AsyncTape, frames: Int, options: Options) -> [Float] {
        let base = engine.populations.last!.offset, classes = engine.classCount
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
    ///   - engine: the engine that recorded the tape (its populations and connections are the graph the
    ///     gradient flows through).
    ///   - input: the sample's frames, `frames x inputSize` values (frame-major).
    ///   - outputGradient: `dL/dcount[frame * classes + class]`.
    ///   - replay: spike values and `U - theta` per integration from ``replaySmooth(engine:tape:input:frames:silentIntegrationsCarryGradient:)``,
    ///     for gradient checks; nil uses the tape's binary spikes and recorded potentials.
    public static func accumulate(engine: AsyncEngine, tape: AsyncTape,
                                  input: UnsafePointer<Float>, frames: Int, outputGradient: [Float],
                                  options: Options, into gradients: inout [Tensor],
                                  replay: SmoothReplay? = nil) {
        let workspace = Workspace(engine: engine)
        workspace.accumulate(tape: tape, input: input, frames: frames, outputGradient: outputGradient, options: options, replay: replay)
        workspace.addGradients(into: &gradients)
    }

    /// A read-only copy of a network's weights, one flat buffer, shared by the workspaces of one step.
    public final class WeightCopy: @unchecked Sendable {
        let offsets: [Int]
        let counts: [Int]
        let total: Int
        let pointer: UnsafeMutablePointer<Float>
        public init(_ network: Network) {
            var offsets: [Int] = [], counts: [Int] = [], total = 0
            for w in network.weights { offsets.append(total); counts.append(w.count); total += w.count }
            self.offsets = offsets; self.counts = counts; self.total = total
            pointer = .allocate(capacity: max(total, 1))
            for (i, w) in network.weights.enumerated() where w.count > 0 {
                w.withUnsafeBufferPointer { (pointer + offsets[i]).initialize(from: $0.baseAddress!, count: w.count) }
            }
        }
        deinit { pointer.deallocate() }

        /// Whether `network`'s weight tensors have the sizes of this copy.
        func fits(_ network: Network) -> Bool { network.weights.map(\.count) == counts }

        /// Copies `network`'s weights in (same sizes, see ``fits(_:)``).
        func update(from network: Network) {
            for (i, w) in network.weights.enumerated() where w.count > 0 {
                w.withUnsafeBufferPointer { (pointer + offsets[i]).update(from: $0.baseAddress!, count: w.count) }
            }
        }
    }

    /// Reusable buffers for the reverse pass of many samples: the gradient accumulators and per-neuron
    /// state, over the engine's own populations and connections (``SNNEngines/AsyncEngine/populations``,
    /// ``SNNEngines/AsyncEngine/connections``), so the gradient follows exactly the graph the forward
    /// pass ran. One workspace is used by one thread at a time.
    public final class Workspace {
        struct Population { var threshold: Float; var reset: ResetMode; var surrogate: Surrogate; var detach: Bool }
        enum PoolKind { case none, average, max }
        struct Connection {
            var isConv: Bool
            var outFeatures: Int
            var outChannels: Int
            var geometry: Conv2DGeometry
            var pool: PoolKind
            var poolKernel: Int, poolStride: Int
            var sourceHeight: Int, sourceWidth: Int, pooledHeight: Int, pooledWidth: Int
            var pooledCount: Int
            var weight: UnsafeMutablePointer<Float>
            var gradient: UnsafeMutablePointer<Float>
        }
        let engine: AsyncEngine
        let weightCopy: WeightCopy
        let gradients: UnsafeMutablePointer<Float>
        var populations: [Population] = []
        var offsets: [Int]
        var perNeuronBeta: [Float]
        var connections: [Connection] = []
        var populationOf: [Int32]
        var dV: [Float]
        var dP: [Float]
        var dS: [Float] = []
        /// The surrogate gradient of each integration of the tape being reversed.
        var surrogateGradients: [Float] = []
        var lastSeenFrame: [Int32]
        /// Max pooling (OR of spikes, once per frame): per connection, the forward step in which each pooled
        /// cell fired in the frame being reversed and the emission that fired it (-1: not fired).
        var cellFireStep: [[Int32]]
        var cellOwner: [[Int32]]
        var cellsFired: [[Int32]]
        /// The pooled input frame (input connection with pooling).
        var pooledInput: [Float]
        /// Per connection, its weight and gradient rows and width when it is plain linear (no pooling, not
        /// conv): its adjoint is ``SNNCore/SpikeDelivery/linearAdjoint(value:source:weight:outFeatures:currentGradient:weightGradient:)``
        /// called directly, without ``emissionAdjoint(_:connection:source:value:emission:silent:step:targetGradient:)``'s
        /// dispatch and copy of the connection.
        let linearConnections: [(weight: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>, outFeatures: Int)?]
        /// One forward step's silent integrations whose gradient goes through a plain linear connection,
        /// queued so that ``SNNCore/SpikeDelivery/silentLinearAdjoints(sources:count:weight:outFeatures:currentGradient:results:)``
        /// takes their sums four rows at a time: the source neuron (in its population), the integration
        /// index and the sum. A neuron integrates at most once per step, so `neuronCount` entries suffice.
        let silentSource: UnsafeMutablePointer<Int32>
        let silentIntegration: UnsafeMutablePointer<Int32>
        let silentSum: UnsafeMutablePointer<Float>
        /// A frame's input events (positions and values) when the input connection is plain linear.
        let inputEventIndex: UnsafeMutablePointer<Int32>
        let inputEventValue: UnsafeMutablePointer<Float>
        /// Whether groups of eight consecutive integrations of a hidden population are reversed in lanes
        /// (``IntegrationLanes``); off, every integration takes the scalar path (the tests compare the two).
        var reversesInLanes = true

        /// A workspace for `engine`'s network; `weights` may be shared with other workspaces.
        public init(engine: AsyncEngine, weights: WeightCopy? = nil) {
            self.engine = engine
            let network = engine.network
            let copy = weights ?? WeightCopy(network)
            weightCopy = copy
            gradients = .allocate(capacity: max(copy.total, 1))
            gradients.initialize(repeating: 0, count: max(copy.total, 1))
            let n = engine.neuronCount
            populationOf = [Int32](repeating: 0, count: n)
            perNeuronBeta = [Float](repeating: 1, count: n)
            dV = [Float](repeating: 0, count: n)
            dP = [Float](repeating: 0, count: n)
            lastSeenFrame = [Int32](repeating: -1, count: n)
            offsets = engine.populations.map(\.offset) + [n]
            for (p, pop) in engine.populations.enumerated() {
                let params = pop.parameters
                populations.append(Population(threshold: params.threshold, reset: params.reset, surrogate: params.surrogate,
                                              detach: params.detachReset))
                for j in pop.offset..<(pop.offset + pop.count) {
                    populationOf[j] = Int32(p)
                    perNeuronBeta[j] = params.perNeuronBeta?[j - pop.offset] ?? params.beta
                }
            }
            for c in engine.connections {
                let li = c.weightLayer
                var conn = Connection(isConv: false, outFeatures: 0, outChannels: 0,
                                      geometry: Conv2DGeometry(inChannels: 1, inHeight: 1, inWidth: 1, kernel: 1),
                                      pool: .none, poolKernel: 0, poolStride: 1,
                                      sourceHeight: c.sourceShape.count == 3 ? c.sourceShape[1] : 1,
                                      sourceWidth: c.sourceShape.count == 3 ? c.sourceShape[2] : 1,
                                      pooledHeight: c.pooledShape.count == 3 ? c.pooledShape[1] : 1,
                                      pooledWidth: c.pooledShape.count == 3 ? c.pooledShape[2] : 1,
                                      pooledCount: c.pooledCount,
                                      weight: copy.pointer + copy.offsets[li], gradient: gradients + copy.offsets[li])
                switch c.pooling {
                case .none: break
                case .average(let k, let s): conn.pool = .average; conn.poolKernel = k; conn.poolStride = s
                case .max(let k, let s): conn.pool = .max; conn.poolKernel = k; conn.poolStride = s
                }
                switch c.synapse {
                case .linear(_, let o): conn.outFeatures = o
                case .conv2d(let g, let co): conn.isConv = true; conn.outChannels = co; conn.geometry = g
                }
                connections.append(conn)
            }
            cellFireStep = connections.map { $0.pool == .max ? [Int32](repeating: -1, count: $0.pooledCount) : [] }
            cellOwner = connections.map { $0.pool == .max ? [Int32](repeating: -1, count: $0.pooledCount) : [] }
            cellsFired = connections.map { _ in [] }
            pooledInput = connections.first.map { $0.pool == .none ? [] : [Float](repeating: 0, count: $0.pooledCount) } ?? []
            linearConnections = connections.map { $0.pool == .none && !$0.isConv ? ($0.weight, $0.gradient, $0.outFeatures) : nil }
            silentSource = .allocate(capacity: max(1, n)); silentIntegration = .allocate(capacity: max(1, n))
            silentSum = .allocate(capacity: max(1, n))
            let inputs = max(1, engine.connections.first?.sourceShape.reduce(1, *) ?? 1)
            inputEventIndex = .allocate(capacity: inputs); inputEventValue = .allocate(capacity: inputs)
        }

        deinit {
            gradients.deallocate(); silentSource.deallocate(); silentIntegration.deallocate(); silentSum.deallocate()
            inputEventIndex.deallocate(); inputEventValue.deallocate()
        }

        /// Whether ``gradients`` is known to be all zeros (``sumGradients(_:into:)`` leaves it so), which
        /// makes ``resetGradients()`` free.
        var gradientsAreZero = true

        /// Zeroes the accumulated gradients (the weights are read from the shared ``WeightCopy``).
        public func resetGradients() {
            if !gradientsAreZero { gradients.update(repeating: 0, count: max(weightCopy.total, 1)) }
            gradientsAreZero = true
        }

        /// Adds the gradients of `workspaces` into `tensors` (shaped like the network's weights) in
        /// workspace order, each element as `t + g_0 + g_1 + ...` (what calling
        /// ``addGradients(into:)`` on each workspace in turn computes), and zeroes the workspaces'
        /// gradients in the same pass. One pass over the buffers instead of a zeroing pass and one
        /// read-modify-write pass of `tensors` per workspace; elements are split over the cores, and
        /// each element's sum keeps the workspace order, so the result does not depend on the thread count.
        public static func sumGradients(_ workspaces: [Workspace], into tensors: inout [Tensor]) {
            guard let first = workspaces.first else { return }
            let copy = first.weightCopy
            precondition(workspaces.allSatisfy { $0.weightCopy.counts == copy.counts }, "workspaces of different networks")
            let sources = workspaces.map(\.gradients)
            for i in tensors.indices where copy.counts[i] > 0 {
                let count = copy.counts[i], offset = copy.offsets[i]
                precondition(tensors[i].count == count, "gradient tensor \(i) has \(tensors[i].count) elements, expected \(count)")
                tensors[i].withUnsafeMutableBufferPointer { d in
                    let out = d.baseAddress!
                    parallelFor(count, minimumChunk: 16_384) { range in
                        var j = range.lowerBound
                        while j + 8 <= range.upperBound {
                            var acc = UnsafeRawPointer(out + j).loadUnaligned(as: SIMD8<Float>.self)
                            for g in sources {
                                let p = g + offset + j
                                acc += UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(p).storeBytes(of: SIMD8<Float>(), as: SIMD8<Float>.self)
                            }
                            UnsafeMutableRawPointer(out + j).storeBytes(of: acc, as: SIMD8<Float>.self)
                            j += 8
                        }
                        while j < range.upperBound {
                            var acc = out[j]
                            for g in sources { acc += g[offset + j]; g[offset + j] = 0 }
                            out[j] = acc
                            j += 1
                        }
                    }
                }
            }
            for w in workspaces { w.gradientsAreZero = true }
        }

        /// Adds the accumulated gradients into `tensors` (shaped like the network's weights).
        public func addGradients(into tensors: inout [Tensor]) {
            for i in tensors.indices where weightCopy.counts[i] > 0 {
                let src = gradients + weightCopy.offsets[i]
                tensors[i].withUnsafeMutableBufferPointer { d in for j in 0..<weightCopy.counts[i] { d[j] += src[j] } }
            }
        }

        /// Adjoint of delivering `value` into pooled cell (or plain source) `cell` of connection `c`: adds
        /// the weight gradient and returns `d(loss)/d(value)`.
        @inline(__always)
        func cellAdjoint(_ c: Connection, cell: Int, value: Float, targetGradient: UnsafePointer<Float>) -> Float {
            if c.isConv {
                return SpikeDelivery.conv2dAdjoint(value: value, source: cell, geometry: c.geometry, outChannels: c.outChannels,
                                                   weight: c.weight, currentGradient: targetGradient, weightGradient: c.gradient)
            }
            return SpikeDelivery.linearAdjoint(value: value, source: cell, weight: c.weight, outFeatures: c.outFeatures,
                                               currentGradient: targetGradient, weightGradient: c.gradient)
        }

        @inline(__always)
        func forEachCell(_ c: Connection, of source: Int, _ body: (Int) -> Void) {
            Pool2D.forEachCell(containing: source, height: c.sourceHeight, width: c.sourceWidth, kernel: c.poolKernel,
                               stride: c.poolStride, pooledHeight: c.pooledHeight, pooledWidth: c.pooledWidth, body)
        }

        /// Whether `source` is the first element (row-major) of pooled cell `cell`'s window: the element
        /// layered max pooling picks when the whole window is silent.
        @inline(__always)
        func isWindowFirst(_ c: Connection, source: Int, cell: Int) -> Bool {
            let plane = c.pooledHeight * c.pooledWidth
            let ch = cell / plane, rest = cell % plane
            let oy = rest / c.pooledWidth, ox = rest % c.pooledWidth
            return source == ch * c.sourceHeight * c.sourceWidth + (oy * c.poolStride) * c.sourceWidth + ox * c.poolStride
        }

        /// Adjoint of an emission of `value` from element `source` of population `p` (`silent`: a
        /// non-firing integration's zero-valued spike at forward step `step`); `emission` is the tape's
        /// emission index for real spikes.
        @inline(__always)
        func emissionAdjoint(_ c: Connection, connection ci: Int, source: Int, value: Float, emission: Int32, silent: Bool,
                             step: Int32, targetGradient: UnsafePointer<Float>) -> Float {
            switch c.pool {
            case .none:
                return cellAdjoint(c, cell: source, value: value, targetGradient: targetGradient)
            case .average:
                let factor = 1 / Float(c.poolKernel * c.poolKernel)
                var total: Float = 0
                forEachCell(c, of: source) { total += factor * cellAdjoint(c, cell: $0, value: value * factor, targetGradient: targetGradient) }
                return total
            case .max:
                // A pooled cell passes the first spike that reaches it in a frame (OR): the gradient of the
                // cell's spike goes to that spike; a silent window passes it to its first element, as
                // layered max pooling does on an all-zero window.
                var total: Float = 0
                forEachCell(c, of: source) { cell in
                    if silent {
                        let fired = cellFireStep[ci][cell]
                        if (fired < 0 || fired > step) && isWindowFirst(c, source: source, cell: cell) {
                            total += cellAdjoint(c, cell: cell, value: value, targetGradient: targetGradient)
                        }
                    } else if cellOwner[ci][cell] == emission {
                        total += cellAdjoint(c, cell: cell, value: value, targetGradient: targetGradient)
                    }
                }
                return total
            }
        }

        /// Forward scan of one recorded frame: which emission fired each max-pooled cell, and when.
        func scanMaxPooling(tape: AsyncTape, frame local: Int, stepBase: Int) {
            for ci in connections.indices where connections[ci].pool == .max {
                for cell in cellsFired[ci] { cellFireStep[ci][Int(cell)] = -1; cellOwner[ci][Int(cell)] = -1 }
                cellsFired[ci].removeAll(keepingCapacity: true)
            }
            for global in Int(tape.frameStepStart[local])..<Int(tape.frameStepStart[local + 1]) {
                let step = global - stepBase
                for e in Int(tape.stepEmissionStart[step])..<Int(tape.stepEmissionStart[step + 1]) {
                    let n = Int(tape.emittedNeuron[e])
                    let p = Int(populationOf[n])
                    guard p + 1 < connections.count, connections[p + 1].pool == .max else { continue }
                    let ci = p + 1
                    forEachCell(connections[ci], of: n - offsets[p]) { cell in
                        if cellFireStep[ci][cell] < 0 {
                            cellFireStep[ci][cell] = Int32(global)
                            cellOwner[ci][cell] = Int32(e)
                            cellsFired[ci].append(Int32(cell))
                        }
                    }
                }
            }
        }

        /// The input connection's frame-start delivery: the values the engine delivered (pooled first when
        /// the connection pools), ascending. Calls `body(cell, value)` for each non-zero one.
        func forEachInputDelivery(_ x: UnsafePointer<Float>, _ body: (Int, Float) -> Void) {
            let c = connections[0]
            guard c.pool != .none else {
                forEachNonZero(x, engine.connections[0].sourceShape.reduce(1, *)) { body($0, x[$0]) }
                return
            }
            let k = c.poolKernel, s = c.poolStride, h = c.sourceHeight, w = c.sourceWidth
            let ho = c.pooledHeight, wo = c.pooledWidth
            let planes = c.pooledCount / (ho * wo)
            let scale = 1 / Float(k * k)
            for pl in 0..<planes {
                let xp = x + pl * h * w
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var value: Float
                        if c.pool == .average {
                            value = 0
                            for ky in 0..<k { for kx in 0..<k { value += xp[(oy * s + ky) * w + ox * s + kx] } }
                            value *= scale
                        } else {
                            value = -Float.infinity
                            for ky in 0..<k { for kx in 0..<k { value = max(value, xp[(oy * s + ky) * w + ox * s + kx]) } }
                        }
                        if value != 0 { body((pl * ho + oy) * wo + ox, value) }
                    }
                }
            }
        }

        /// The reverse pass of one sample; gradients accumulate in the workspace.
        /// `input` holds frame `f` at `input + f * frameStride` (default: frames stored back to back).
        ///
        /// A tape that was compacted with ``AsyncTape/discardRecordedFrames()`` holds frames from
        /// `firstFrame` on; spikes emitted from integrations it no longer holds get no gradient (the
        /// gradient is cut there, as truncation per frame wants).
        public func accumulate(tape: AsyncTape, input: UnsafePointer<Float>, frames: Int, frameStride: Int? = nil,
                               firstFrame: Int = 0, outputGradient: [Float], options: Options, replay: SmoothReplay? = nil) {
            gradientsAreZero = false
            let neuronCount = engine.neuronCount
            let last = populations.count - 1
            let outBase = offsets[last], classes = offsets[last + 1] - outBase
            let offsets = self.offsets
            let inputSize = engine.connections[0].sourceShape.reduce(1, *)
            let recordedFrames = min(frames - firstFrame, tape.frameCount)
            let stepBase = Int(tape.frameStepStart[0])
            let integrationBase = Int(tape.integrationBase)
            let integrationCount = tape.integrationNeuron.count
            if dS.count < integrationCount { dS = [Float](repeating: 0, count: integrationCount) }
            // The surrogate gradient of every integration depends on its margin only: computed up front,
            // eight at a time where every population has the same surrogate (same bits as the scalar formula).
            if surrogateGradients.count < integrationCount { surrogateGradients = [Float](repeating: 0, count: integrationCount) }
            let uniform = populations.allSatisfy { $0.surrogate == populations[0].surrogate }
            surrogateGradients.withUnsafeMutableBufferPointer { sgOut in
                let margins = replay?.margins ?? tape.integrationMargin
                margins.withUnsafeBufferPointer { m in
                    var done = 0
                    if uniform, let first = populations.first {
                        done = SurrogateLanes.gradients(first.surrogate, m.baseAddress!, integrationCount, sgOut.baseAddress!)
                    }
                    tape.integrationNeuron.withUnsafeBufferPointer { iNeuron in
                        for r in done..<integrationCount {
                            sgOut[r] = populations[Int(populationOf[Int(iNeuron[r])])].surrogate.gradient(m[r])
                        }
                    }
                }
            }
            let silent = options.silentIntegrationsCarryGradient
            let onlyAtFrameEnd = options.silentGradientOnlyAtFrameEnd
            let anyMaxPooling = connections.dropFirst().contains { $0.pool == .max }
            for j in 0..<neuronCount { lastSeenFrame[j] = -1 }
            let countAtEmission = options.outputsCountedAtEmission
            let cut = options.backpropThreshold
            let pops = populations, conns = connections, linear = linearConnections
            let lanes = reversesInLanes && replay == nil
            populationOf.withUnsafeBufferPointer { popOf in
            perNeuronBeta.withUnsafeBufferPointer { betas in
            dV.withUnsafeMutableBufferPointer { dV in
            dP.withUnsafeMutableBufferPointer { dPBuffer in
            dS.withUnsafeMutableBufferPointer { dS in
            surrogateGradients.withUnsafeBufferPointer { surrogateGradient in
            lastSeenFrame.withUnsafeMutableBufferPointer { lastSeenFrame in
            tape.integrationNeuron.withUnsafeBufferPointer { iNeuron in
            tape.integrationFlags.withUnsafeBufferPointer { iFlags in
            tape.integrationMargin.withUnsafeBufferPointer { iMargin in
            tape.emittedNeuron.withUnsafeBufferPointer { eNeuron in
            tape.emittedIntegration.withUnsafeBufferPointer { eIntegration in
            outputGradient.withUnsafeBufferPointer { outGrad in
                let dP = dPBuffer.baseAddress!
                /// Adjoint of an emission (or a silent integration's zero spike) of population `p` into connection `p + 1`.
                @inline(__always)
                func adjoint(from p: Int, source: Int, value: Float, emission: Int32, silent: Bool, step: Int32) -> Float {
                    if let lin = linear[p + 1] {
                        return SpikeDelivery.linearAdjoint(value: value, source: source, weight: lin.weight, outFeatures: lin.outFeatures,
                                                           currentGradient: dP + offsets[p + 1], weightGradient: lin.gradient)
                    }
                    return emissionAdjoint(conns[p + 1], connection: p + 1, source: source, value: value, emission: emission, silent: silent,
                                           step: step, targetGradient: dP + offsets[p + 1])
                }
                /// When integrations `r - 7 ... r` (all at or above `lo`) are eight consecutive neurons of one hidden
                /// population (how the simulator records a unit), the first neuron and the population; else nil.
                @inline(__always)
                func hiddenGroup(endingAt r: Int, from lo: Int) -> (neuron: Int, population: Int)? {
                    guard lanes && r - 7 >= lo else { return nil }
                    let n0 = Int(iNeuron[r - 7]), p = Int(popOf[n0])
                    guard p != last && IntegrationLanes.areConsecutive(iNeuron.baseAddress! + r - 7, from: Int32(truncatingIfNeeded: n0))
                        && Int(popOf[n0 + 7]) == p else { return nil }
                    return (n0, p)
                }
                for j in 0..<neuronCount { dV[j] = 0; dP[j] = 0 }
                for j in 0..<integrationCount { dS[j] = 0 }
                for local in stride(from: recordedFrames - 1, through: 0, by: -1) {
                    let f = firstFrame + local
                    if anyMaxPooling { scanMaxPooling(tape: tape, frame: local, stepBase: stepBase) }
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
                                dS[r] += adjoint(from: p, source: n - offsets[p], value: replay?.spikes[r] ?? 1, emission: Int32(e),
                                                 silent: false, step: Int32(global))
                            }
                        }
                        let lo = Int(tape.stepIntegrationStart[step]) - integrationBase
                        let hi = Int(tape.stepIntegrationStart[step + 1]) - integrationBase
                        // Silent integrations of this step, as spikes of value 0 leaving at once (read the targets'
                        // pending-current gradients before this step's integrations overwrite them).
                        if silent {
                            // Through a plain linear connection the zero spike's adjoint is a sum against the
                            // target population's dP, which no silent adjoint changes: such integrations are
                            // queued per population and summed four at a time (same bits as one by one).
                            var queued = 0, queuedPopulation = -1
                            @inline(__always) func flushQueued() {
                                let lin = linear[queuedPopulation + 1]!
                                SpikeDelivery.silentLinearAdjoints(sources: silentSource, count: queued, weight: lin.weight,
                                                                   outFeatures: lin.outFeatures, currentGradient: dP + offsets[queuedPopulation + 1],
                                                                   results: silentSum)
                                for i in 0..<queued { dS[Int(silentIntegration[i])] += silentSum[i] }
                                queued = 0
                            }
                            /// Population `p`'s next `k` silent integrations join the queue: it is summed first if it
                            /// holds another population's or has no room for them.
                            @inline(__always) func makeRoom(for p: Int, adding k: Int) {
                                if (p != queuedPopulation && queued > 0) || queued + k > neuronCount { flushQueued() }
                                queuedPopulation = p
                            }
                            var r = hi - 1
                            while r >= lo {
                                // Eight consecutive neurons of a hidden population behind a plain linear connection
                                // (how the simulator records a unit): which of them carry the gradient is found
                                // without a branch per integration, then they are queued highest first, as below.
                                if let (n0, p) = hiddenGroup(endingAt: r, from: lo), linear[p + 1] != nil {
                                    let rb = r - 7
                                    var carrying: UInt32 = 0
                                    let frame = Int32(f)
                                    for k in 0..<8 {
                                        let lastInFrame: UInt32 = lastSeenFrame[n0 + k] != frame ? 1 : 0
                                        lastSeenFrame[n0 + k] = frame
                                        let quiet: UInt32 = iFlags[rb + k] & (AsyncTape.spikedBit | AsyncTape.refractoryBit) == 0 ? 1 : 0
                                        carrying |= (quiet & (onlyAtFrameEnd ? lastInFrame : 1)) << UInt32(k)
                                    }
                                    if carrying != 0 {
                                        makeRoom(for: p, adding: carrying.nonzeroBitCount)
                                        let source0 = Int32(truncatingIfNeeded: n0 - offsets[p])
                                        while carrying != 0 {
                                            let k = 31 - carrying.leadingZeroBitCount
                                            carrying &= ~(1 << UInt32(k))
                                            silentSource[queued] = source0 + Int32(k); silentIntegration[queued] = Int32(rb + k)
                                            queued += 1
                                        }
                                    }
                                    r -= 8
                                    continue
                                }
                                defer { r -= 1 }
                                let n = Int(iNeuron[r])
                                let lastInFrame = lastSeenFrame[n] != Int32(f)
                                lastSeenFrame[n] = Int32(f)
                                guard iFlags[r] & (AsyncTape.spikedBit | AsyncTape.refractoryBit) == 0 else { continue }
                                if onlyAtFrameEnd && !lastInFrame { continue }
                                let p = Int(popOf[n])
                                if p == last {
                                    dS[r] += outGrad[f * classes + n - outBase]
                                } else if replay == nil && linear[p + 1] != nil {
                                    makeRoom(for: p, adding: 1)
                                    silentSource[queued] = Int32(n - offsets[p]); silentIntegration[queued] = Int32(r)
                                    queued += 1
                                } else {
                                    dS[r] += adjoint(from: p, source: n - offsets[p], value: replay?.spikes[r] ?? 0, emission: -1,
                                                     silent: true, step: Int32(global))
                                }
                            }
                            if queued > 0 { flushQueued() }
                        }
                        // Integrations of this step (independent of each other: a neuron integrates at most once per
                        // step). The simulator records a unit's neurons eight at a time with consecutive ids: such a
                        // group of a hidden population is reversed in eight lanes, each lane the scalar formula below.
                        var r = hi - 1
                        while r >= lo {
                            if let (n0, p) = hiddenGroup(endingAt: r, from: lo) {
                                let rb = r - 7
                                IntegrationLanes.reverse(pops[p], flags: iFlags.baseAddress! + rb, margins: iMargin.baseAddress! + rb,
                                                         surrogateGradients: surrogateGradient.baseAddress! + rb, cut: cut,
                                                         spikeGradients: dS.baseAddress! + rb, membraneGradients: dV.baseAddress! + n0,
                                                         currentGradients: dP + n0)
                                r -= 8
                                continue
                            }
                            defer { r -= 1 }
                            let n = Int(iNeuron[r])
                            let flags = iFlags[r]
                            let spiked = flags & AsyncTape.spikedBit != 0
                            let pop = pops[Int(popOf[n])]
                            if spiked && n >= outBase && !countAtEmission { dS[r] += outGrad[f * classes + n - outBase] }
                            let x = replay?.margins[r] ?? iMargin[r]
                            var sg = surrogateGradient[r]
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
                    if let lin = linear[0] {
                        // Into a plain linear layer: the frame's events compacted as the engine found them, then
                        // each adds its weight-gradient row (the inputs' own gradient is not needed).
                        let events = compactNonZeros(x, inputSize, indices: inputEventIndex, values: inputEventValue)
                        for e in 0..<events {
                            SpikeDelivery.linearWeightGradient(value: inputEventValue[e], source: Int(inputEventIndex[e]),
                                                               outFeatures: lin.outFeatures, currentGradient: dP + offsets[0],
                                                               weightGradient: lin.gradient)
                        }
                    } else {
                        let conn = conns[0]
                        forEachInputDelivery(x) { cell, value in
                            _ = cellAdjoint(conn, cell: cell, value: value, targetGradient: dP + offsets[0])
                        }
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
    /// emitted, refractory flags, which spike passes each max-pooled cell) with the current weights and
    /// smooth spikes `s = surrogate.smoothStep(U - theta)`: an emitted spike delivers its value `s`, and
    /// the reset uses it. The result is a smooth function of the weights whose exact gradient is what
    /// ``accumulate(engine:tape:input:frames:outputGradient:options:into:replay:)`` computes when given
    /// this replay — the basis of the finite-difference check.
    /// With `silentIntegrationsCarryGradient` (the reverse pass's default) a silent integration's
    /// smooth value is delivered at once, in its own forward step, after the step's emissions.
    public static func replaySmooth(engine: AsyncEngine, network: Network, tape: AsyncTape,
                                    input: UnsafePointer<Float>, frames: Int,
                                    silentIntegrationsCarryGradient: Bool = true) -> SmoothReplay {
        let workspace = Workspace(engine: engine, weights: WeightCopy(network))
        let neuronCount = engine.neuronCount
        let pops = engine.populations
        let last = pops.count - 1
        let outBase = pops[last].offset, classes = pops[last].count
        let populationOf = workspace.populationOf.map(Int.init)
        let conns = workspace.connections
        var v = [Float](repeating: 0, count: neuronCount)
        var pending = [Float](repeating: 0, count: neuronCount)
        var replay = SmoothReplay(spikes: [Float](repeating: 0, count: tape.integrationNeuron.count),
                                  margins: [Float](repeating: 0, count: tape.integrationNeuron.count),
                                  outputs: [Float](repeating: 0, count: frames * classes))
        let inputSize = engine.connections[0].sourceShape.reduce(1, *)
        let stepBase = Int(tape.frameStepStart[0])
        pending.withUnsafeMutableBufferPointer { pb in
            let pendingBase = pb.baseAddress!
            /// Delivers `value` from element `source` of population `p` (or a silent value) into the next population.
            func emit(_ p: Int, source: Int, value: Float, emission: Int32, silent: Bool, step: Int32) {
                let ci = p + 1
                let c = conns[ci]
                let target = pendingBase + workspace.offsets[ci]
                func cell(_ index: Int, _ v: Float) {
                    if c.isConv {
                        SpikeDelivery.conv2d(value: v, source: index, geometry: c.geometry, outChannels: c.outChannels, weight: c.weight, current: target)
                    } else {
                        SpikeDelivery.linear(value: v, source: index, weight: c.weight, outFeatures: c.outFeatures, current: target)
                    }
                }
                switch c.pool {
                case .none: cell(source, value)
                case .average:
                    let factor = 1 / Float(c.poolKernel * c.poolKernel)
                    workspace.forEachCell(c, of: source) { cell($0, value * factor) }
                case .max:
                    workspace.forEachCell(c, of: source) { index in
                        if silent {
                            let fired = workspace.cellFireStep[ci][index]
                            if (fired < 0 || fired > step) && workspace.isWindowFirst(c, source: source, cell: index) { cell(index, value) }
                        } else if workspace.cellOwner[ci][index] == emission {
                            cell(index, value)
                        }
                    }
                }
            }
            for f in 0..<min(frames, tape.frameCount) {
                workspace.scanMaxPooling(tape: tape, frame: f, stepBase: stepBase)
                for n in 0..<neuronCount { v[n] *= workspace.perNeuronBeta[n] }
                let x = input + f * inputSize
                let c0 = conns[0]
                workspace.forEachInputDelivery(x) { index, value in
                    if c0.isConv {
                        SpikeDelivery.conv2d(value: value, source: index, geometry: c0.geometry, outChannels: c0.outChannels, weight: c0.weight,
                                             current: pendingBase + workspace.offsets[0])
                    } else {
                        SpikeDelivery.linear(value: value, source: index, weight: c0.weight, outFeatures: c0.outFeatures,
                                             current: pendingBase + workspace.offsets[0])
                    }
                }
                for step in Int(tape.frameStepStart[f])..<Int(tape.frameStepStart[f + 1]) {
                    for r in Int(tape.stepIntegrationStart[step])..<Int(tape.stepIntegrationStart[step + 1]) {
                        let n = Int(tape.integrationNeuron[r])
                        let params = pops[populationOf[n]].parameters
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
                            emit(p, source: n - pops[p].offset, value: value, emission: Int32(e), silent: false, step: Int32(step))
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
                            emit(p, source: n - pops[p].offset, value: replay.spikes[r], emission: -1, silent: true, step: Int32(step))
                        }
                    }
                }
                for d in Int(tape.frameDroppedStart[f])..<Int(tape.frameDroppedStart[f + 1]) { pendingBase[Int(tape.droppedNeuron[d])] = 0 }
            }
        }
        return replay
    }
}

/// The reverse of eight integrations of consecutive neurons of one hidden population, in lanes.
enum IntegrationLanes {
    typealias V = SIMD8<Float>

    /// Whether `ids[0..<8]` are `first, first + 1, ..., first + 7` (integer lane differences OR-ed
    /// together: the standard library's integer lane comparisons become lane-by-lane loops).
    @inline(__always)
    static func areConsecutive(_ ids: UnsafePointer<Int32>, from first: Int32) -> Bool {
        let got = UnsafeRawPointer(ids).loadUnaligned(as: SIMD8<Int32>.self)
        let d = got ^ (SIMD8<Int32>(repeating: first) &+ SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7))
        let h = d.lowHalf | d.highHalf
        let q = h.lowHalf | h.highHalf
        return q[0] | q[1] == 0
    }

    /// For each lane `k` (integration `r + k` of neuron `n + k`), what the scalar reverse of an
    /// integration computes, with the same operations in the same order (so the same bits):
    /// `dU = dS * sg + dV * dV/dU`, then `dP = dV = (refractory ? 0 : dU)`. `sg` is cut to 0 where
    /// the margin is below `cut`.
    @inline(__always)
    static func reverse(_ pop: UnlayeredBackprop.Workspace.Population, flags: UnsafePointer<UInt8>, margins: UnsafePointer<Float>,
                        surrogateGradients: UnsafePointer<Float>, cut: Float?, spikeGradients dS: UnsafePointer<Float>,
                        membraneGradients dV: UnsafeMutablePointer<Float>, currentGradients dP: UnsafeMutablePointer<Float>) {
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func lane(_ b: UInt64, _ k: UInt64) -> Int32 { Int32(truncatingIfNeeded: (b >> (8 * k)) & 0xff) }
        let b = UnsafeRawPointer(flags).loadUnaligned(as: UInt64.self)
        let f = SIMD8<Int32>(lane(b, 0), lane(b, 1), lane(b, 2), lane(b, 3), lane(b, 4), lane(b, 5), lane(b, 6), lane(b, 7))
        // All-ones lanes where the integration fired, and where the neuron was refractory (bit masks, not
        // lane comparisons).
        let spikedBits = SIMD8<Int32>() &- ((f &>> Int32(AsyncTape.spikedBit.trailingZeroBitCount)) & 1)
        let refractoryBits = SIMD8<Int32>() &- ((f &>> Int32(AsyncTape.refractoryBit.trailingZeroBitCount)) & 1)
        let zero = V(repeating: 0), one = V(repeating: 1)
        let x = ld(margins)
        var sg = ld(surrogateGradients)
        if let cut { sg = sg.replacing(with: zero, where: x .< V(repeating: cut)) }
        let theta = V(repeating: pop.threshold)
        let resetDerivative: V
        switch pop.reset {
        case .zero:
            let spike = unsafeBitCast(unsafeBitCast(one, to: SIMD8<Int32>.self) & spikedBits, to: V.self)  // 1 or +0
            resetDerivative = pop.detach ? (one - spike) - zero : (one - spike) - (x + theta) * sg
        case .subtract:
            resetDerivative = pop.detach ? one - zero : one - theta * sg
        }
        let dU = ld(dS) * sg + ld(dV) * resetDerivative
        let dIn = unsafeBitCast(unsafeBitCast(dU, to: SIMD8<Int32>.self) & ~refractoryBits, to: V.self)  // +0 if refractory
        UnsafeMutableRawPointer(dP).storeBytes(of: dIn, as: V.self)
        UnsafeMutableRawPointer(dV).storeBytes(of: dIn, as: V.self)
    }
}
