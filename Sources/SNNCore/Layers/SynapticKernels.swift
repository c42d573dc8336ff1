import SNNTensor

/// Forward and backward passes of the stateless layers (linear, conv2d, pooling, flatten, dropout)
/// on one time step of a batch. Inputs and outputs are `[batch, features...]` flat buffers.
///
/// Both engines and all training modes call these, so there is one implementation of each layer.
public enum SynapticKernels {
    /// What a stateless layer keeps from its forward pass for the backward pass.
    public struct Cache: Sendable {
        /// The layer's input (linear and conv need it for the weight gradient). Setting it drops ``events``.
        public var input: Tensor? { didSet { events = nil } }
        /// A conv layer's non-zero inputs as its event kernel sorted them (when it ran), read again by the
        /// weight gradient; they describe ``input`` and go when it is replaced.
        public var events: ConvEventLists?
        /// Winning positions of max pooling.
        public var argmax: [Int32]?
        /// Dropout keep mask scaled by `1 / (1 - rate)`.
        public var mask: [Float]?
        public init(input: Tensor? = nil, argmax: [Int32]? = nil, mask: [Float]? = nil) {
            self.input = input; self.argmax = argmax; self.mask = mask
        }
    }

    /// Runs a stateless layer forward. `dropoutKey` seeds the dropout mask (training only);
    /// `dropoutFirstSample` is the batch's position in a larger batch (data parallelism: each
    /// process's share draws the masks the whole batch would).
    /// `exactEventOrder: false` lets dense conv inputs use the im2col GEMM (see ``SpikeDelivery/forward(_:inShape:outShape:input:weight:exactEventOrder:)``).
    public static func forward(_ layer: LayerSpec, weight: Tensor, input: Tensor, inShape: [Int], outShape: [Int],
                               training: Bool, dropoutKey: (rng: CounterRNG, stream: UInt64)? = nil,
                               keepCache: Bool, exactEventOrder: Bool = true, dropoutFirstSample: Int = 0) -> (output: Tensor, cache: Cache) {
        let batch = input.shape[0]
        let inSize = inShape.reduce(1, *), outSize = outShape.reduce(1, *)
        // Every kernel below writes all of its output: no zero fill.
        var out = Tensor(shape: [0])
        var cache = Cache()
        switch layer {
        case .linear, .conv2d:
            // Event-driven: only non-zero inputs are delivered (see SpikeDelivery).
            var events: ConvEventLists?
            if keepCache, case .conv2d(let ci, _, let k, let s, let p) = layer {
                events = ConvEventLists(geometry: Conv2DGeometry(inChannels: ci, inHeight: inShape[1], inWidth: inShape[2], kernel: k,
                                                                 stride: s, padding: p), batch: batch)
            }
            out = SpikeDelivery.forward(layer, inShape: inShape, outShape: outShape, input: input, weight: weight,
                                        exactEventOrder: exactEventOrder, events: events)
            if keepCache {
                cache.input = input
                if let events, events.isComplete { cache.events = events }
            }
        case .avgPool2d(let k, let s):
            out = Tensor(shape: [batch] + outShape) { _ in }
            input.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { y in
                    Pool2D.averageForward(x.baseAddress!, batch: batch, channels: inShape[0], height: inShape[1], width: inShape[2],
                                          kernel: k, stride: s, output: y.baseAddress!)
                }
            }
        case .maxPool2d(let k, let s):
            var arg = [Int32](repeating: 0, count: batch * outSize)
            out = Tensor(shape: [batch] + outShape) { _ in }
            input.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { y in
                    arg.withUnsafeMutableBufferPointer { a in
                        Pool2D.maxForward(x.baseAddress!, batch: batch, channels: inShape[0], height: inShape[1], width: inShape[2],
                                          kernel: k, stride: s, output: y.baseAddress!, argmax: a.baseAddress!)
                    }
                }
            }
            if keepCache { cache.argmax = arg }
        case .flatten:
            out = input.reshaped([batch] + outShape)
        case .dropout(let rate):
            guard training, rate > 0, let key = dropoutKey else { return (input.reshaped([batch] + outShape), cache) }
            let scale = 1 / (1 - rate)
            var mask = [Float](repeating: 0, count: batch * inSize)
            let first = dropoutFirstSample * inSize
            for j in 0..<mask.count where key.rng.uniform(stream: key.stream, counter: UInt64(first + j)) >= rate { mask[j] = scale }
            out = input.reshaped([batch] + outShape)
            for j in 0..<mask.count { out.data[j] *= mask[j] }
            if keepCache { cache.mask = mask }
        case .lif:
            preconditionFailure("SynapticKernels.forward called on a neuron layer")
        }
        return (out, cache)
    }

    /// Backward pass: returns the input gradient (when `needInputGradient`) and *adds* the weight
    /// gradient into `weightGradient` (linear, conv).
    ///
    /// A conv layer also takes its output gradient position-major (`transposedOutputGradient`,
    /// `[batch, Ho*Wo, O]`, the same values), as batch norm's backward pass can write it; `dy` may then be
    /// empty (`[batch, 0]`) when no input gradient is needed.
    public static func backward(_ layer: LayerSpec, weight: Tensor, cache: Cache, outputGradient dy: Tensor,
                                transposedOutputGradient dyT: Tensor? = nil,
                                inShape: [Int], outShape: [Int], needInputGradient: Bool,
                                weightGradient: inout Tensor) -> Tensor? {
        let batch = dy.shape[0]
        precondition(dyT == nil || (dyT!.count == dy.shape[0] * outShape.reduce(1, *) && (dy.count > 0 || !needInputGradient)),
                     "SynapticKernels.backward: the position-major output gradient must hold the whole batch, and the input gradient needs the channel-major one")
        let inSize = inShape.reduce(1, *)
        switch layer {
        case .linear(let i, let o):
            let x = cache.input!
            x.withUnsafeBufferPointer { xp in
                dy.withUnsafeBufferPointer { g in
                    weightGradient.withUnsafeMutableBufferPointer { dw in
                        // dW[i, o] += x^T dY (zero spikes skipped)
                        gemm(m: i, n: o, k: batch, a: xp.baseAddress!, lda: i, transA: true, b: g.baseAddress!, ldb: o,
                             c: dw.baseAddress!, ldc: o, beta: 1)
                    }
                }
            }
            guard needInputGradient else { return nil }
            var dx = Tensor(shape: [batch] + inShape) { _ in }  // the GEMM (beta 0) writes every value
            dy.withUnsafeBufferPointer { g in
                weight.withUnsafeBufferPointer { w in
                    dx.withUnsafeMutableBufferPointer { d in
                        gemm(m: batch, n: i, k: o, a: g.baseAddress!, lda: o, b: w.baseAddress!, ldb: o, transB: true,
                             c: d.baseAddress!, ldc: i)
                    }
                }
            }
            return dx
        case .conv2d(let ci, let co, let k, let s, let p):
            let g = Conv2DGeometry(inChannels: ci, inHeight: inShape[1], inWidth: inShape[2], kernel: k, stride: s, padding: p)
            // conv2dBackward overwrites the input gradient.
            var dx = needInputGradient ? Tensor(shape: [batch] + inShape) { _ in } : Tensor(shape: [0])
            let transposed = dyT ?? Tensor(shape: [0])
            cache.input!.withUnsafeBufferPointer { xp in
                weight.withUnsafeBufferPointer { w in
                    dy.withUnsafeBufferPointer { gp in
                    transposed.withUnsafeBufferPointer { tp in
                        weightGradient.withUnsafeMutableBufferPointer { dw in
                            dx.withUnsafeMutableBufferPointer { d in
                                conv2dBackward(input: xp.baseAddress!, batch: batch, weight: w.baseAddress!, outChannels: co, geometry: g,
                                               outputGradient: dy.count > 0 ? gp.baseAddress : nil,
                                               transposedOutputGradient: dyT != nil ? tp.baseAddress : nil,
                                               weightGradient: dw.baseAddress!, inputGradient: needInputGradient ? d.baseAddress! : nil,
                                               events: cache.events)
                            }
                        }
                    }}
                }
            }
            return needInputGradient ? dx : nil
        case .avgPool2d(let k, let s):
            guard needInputGradient else { return nil }
            var dx = Tensor(shape: [batch] + inShape) { _ in }  // overwritten by the pooling kernel
            dy.withUnsafeBufferPointer { gp in
                dx.withUnsafeMutableBufferPointer { d in
                    Pool2D.averageBackward(gp.baseAddress!, batch: batch, channels: inShape[0], height: inShape[1], width: inShape[2],
                                           kernel: k, stride: s, inputGradient: d.baseAddress!)
                }
            }
            return dx
        case .maxPool2d(let k, let s):
            guard needInputGradient else { return nil }
            var dx = Tensor(shape: [batch] + inShape) { _ in }  // overwritten by the pooling kernel
            dy.withUnsafeBufferPointer { gp in
                cache.argmax!.withUnsafeBufferPointer { a in
                    dx.withUnsafeMutableBufferPointer { d in
                        Pool2D.maxBackward(gp.baseAddress!, argmax: a.baseAddress!, batch: batch, channels: inShape[0],
                                           height: inShape[1], width: inShape[2], kernel: k, stride: s, inputGradient: d.baseAddress!)
                    }
                }
            }
            return dx
        case .flatten:
            return needInputGradient ? dy.reshaped([batch] + inShape) : nil
        case .dropout:
            guard needInputGradient else { return nil }
            var dx = dy.reshaped([batch] + inShape)
            if let mask = cache.mask { for j in 0..<(batch * inSize) { dx.data[j] *= mask[j] } }
            return dx
        case .lif:
            preconditionFailure("SynapticKernels.backward called on a neuron layer")
        }
    }
}
