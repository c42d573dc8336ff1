import Foundation
import SNNCore
import SNNTensor

extension OnlineTrainer {
    /// The online gradient (``gradients(inputs:labels:meter:)`` with an online method) computed layer by
    /// layer over all time steps at once ("parallel computation over time steps"): every synaptic layer
    /// and channel attention runs the `T * batch` rows of all steps in one call; only the populations
    /// step through time (their membrane is sequential), and with the membrane a constant between steps
    /// their backward needs no carry either. Same gradient as step by step up to the order of the sums;
    /// memory grows with T (every step's activations are alive at once). OTTT is not supported (its
    /// traces are sequential in the synaptic layers).
    public func parallelGradients(inputs: Tensor, labels: [Int], meter: ByteMeter? = nil) throws
        -> (gradients: [[Tensor]], loss: Float, correct: Int, statistics: [[Int: ([Float], [Float])]]) {
        guard options.method == .empfOnline || options.method == .sltt else {
            throw ShapeError("parallel computation over time steps applies to empf-online and sltt, not \(options.method.rawValue)")
        }
        let stepper = try EMPFStepper(model: model)
        let steps = inputs.shape[0], batch = inputs.shape[1], rows = steps * batch
        let spec = model.spec, shapes = stepper.shapes
        var grads = zeroGradients()
        meter?.alloc(grads.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count * 4 } })
        var state = stepper.initialState(batch: batch)
        meter?.alloc(state.bytes)
        var h = inputs.reshaped([rows] + spec.inputShape)
        var tapes = [[EMPFStepTape.Layer]](repeating: [], count: spec.layers.count)   // one entry (stacked) or T (populations)
        var stats = [[Int: ([Float], [Float])]](repeating: [:], count: steps)
        let rng = CounterRNG(seed: dropoutSeed)
        func rowsOf(_ x: Tensor, _ t: Int) -> Tensor {
            let per = x.count / rows
            return Tensor(shape: [batch] + Array(x.shape.dropFirst()), data: Array(x.data[(t * batch * per)..<((t + 1) * batch * per)]))
        }
        for (i, layer) in spec.layers.enumerated() {
            switch layer {
            case .synaptic(.dropout(let rate)):
                // Step by step, with the keys and sample positions the step-by-step path uses: the same masks.
                var out = [Float](), mask = [Float]()
                out.reserveCapacity(h.count); mask.reserveCapacity(h.count)
                for t in 0..<steps {
                    let (y, cache) = SynapticKernels.forward(.dropout(rate: rate), weight: stepper.weights[i], input: rowsOf(h, t),
                                                             inShape: shapes[i], outShape: shapes[i + 1], training: true,
                                                             dropoutKey: (rng, UInt64(t) << 32 | UInt64(i)), keepCache: true,
                                                             dropoutFirstSample: firstSample)
                    out += y.data
                    mask += cache.mask ?? [Float](repeating: 1, count: y.count)
                }
                var L = EMPFStepTape.Layer(); L.cache = SynapticKernels.Cache(mask: mask)
                tapes[i] = [L]
                h = Tensor(shape: [rows] + shapes[i + 1], data: out)
            case .synaptic(let l):
                let (y, cache) = SynapticKernels.forward(l, weight: stepper.weights[i], input: h, inShape: shapes[i], outShape: shapes[i + 1],
                                                         training: true, keepCache: true)
                var L = EMPFStepTape.Layer(); L.cache = cache
                tapes[i] = [L]
                h = y
            case .neuron(let n):
                var out = [Float]()
                out.reserveCapacity(h.count)
                for t in 0..<steps {
                    var L = EMPFStepTape.Layer()
                    let (s, st) = stepper.neuronForward(i, spec: n, current: rowsOf(h, t).reshaped([batch, h.count / rows]), state: &state,
                                                        training: true, keepTape: true, tape: &L)
                    if let st { stats[t][i] = st }
                    tapes[i].append(L)
                    out += s.data
                }
                h = Tensor(shape: [rows] + shapes[i + 1], data: out)
            case .channelAttention:
                var L = EMPFStepTape.Layer()
                h = stepper.attentionForward(i, input: h, keepTape: true, tape: &L)
                tapes[i] = [L]
            }
            meter?.alloc(EMPFStepTape(layers: tapes[i], batch: batch).bytes)
        }
        let k = h.count / rows
        var g = Tensor(shape: [rows, k])
        var loss: Float = 0
        var summed = [Float](repeating: 0, count: batch * k)
        for t in 0..<steps {
            let o = rowsOf(h, t).reshaped([batch, k])
            let (l, gt) = Loss.softmaxCrossEntropy(o, labels, scale: 1 / Float(rows))
            loss += l / Float(rows)
            for j in 0..<(batch * k) { g.data[t * batch * k + j] = gt.data[j]; summed[j] += o.data[j] }
        }
        meter?.alloc(g)
        let firstWeighted = spec.layers.firstIndex { if case .synaptic(let l) = $0 { return l.hasWeights } else { return false } } ?? 0
        var dy = g.reshaped([rows] + shapes.last!)
        for i in stride(from: spec.layers.count - 1, through: 0, by: -1) {
            switch spec.layers[i] {
            case .synaptic(let l):
                let need = i > firstWeighted
                let w = (l.hasWeights ? feedback?[i] : nil) ?? stepper.weights[i]
                var gw = l.hasWeights ? grads[i][0] : Tensor(shape: [0])
                let dx = SynapticKernels.backward(l, weight: w, cache: tapes[i][0].cache, outputGradient: dy, inShape: shapes[i],
                                                  outShape: shapes[i + 1], needInputGradient: need, weightGradient: &gw)
                if l.hasWeights { grads[i][0] = gw }
                guard let dx else { break }
                meter?.alloc(dx); meter?.free(dy)
                dy = dx
            case .neuron(let n):
                var out = [Float]()
                out.reserveCapacity(dy.count)
                for t in 0..<steps {
                    let r = stepper.neuronBackward(i, spec: n, layer: tapes[i][t], gs: rowsOf(dy, t).reshaped([batch, dy.count / rows]), gv: nil,
                                                   gradients: &grads[i], wantCarry: false)
                    out += r.input.data
                }
                dy = Tensor(shape: [rows] + shapes[i], data: out)
            case .channelAttention:
                dy = stepper.attentionBackward(i, layer: tapes[i][0], dout: dy, gradient: &grads[i][0])
            }
            if i <= firstWeighted { break }
        }
        var correct = 0
        for b in 0..<batch {
            var best = 0
            for c in 1..<k where summed[b * k + c] > summed[b * k + best] { best = c }
            if best == labels[b] { correct += 1 }
        }
        return (finish(grads), loss, correct, stats)
    }
}
