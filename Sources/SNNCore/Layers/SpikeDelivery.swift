import SNNTensor

/// Event-driven delivery of presynaptic values to postsynaptic currents: the one place where a
/// spike (or any non-zero input) is turned into currents, shared by the layered and the
/// asynchronous engines.
///
/// A source with value `v` adds `v * w` to every target it connects to (a row of a linear weight
/// matrix, or the receptive field of a convolution). Each target's current is a sum over sources
/// in the order they are delivered; the layered engine delivers a layer's inputs in ascending
/// index order, and the asynchronous engine at `F = infinity` does the same, which is why the two
/// agree bit for bit.
public enum SpikeDelivery {
    /// Linear layer: `current[j] += value * W[source, j]` for `j < outFeatures` (`W` is `[in, out]`).
    @inlinable @inline(__always)
    public static func linear(value: Float, source: Int, weight: UnsafePointer<Float>, outFeatures o: Int,
                              current: UnsafeMutablePointer<Float>) {
        let row = weight + source * o
        var j = 0
        while j + 8 <= o {
            var c = UnsafeRawPointer(current + j).loadUnaligned(as: SIMD8<Float>.self)
            let w = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            c += value * w
            UnsafeMutableRawPointer(current + j).storeBytes(of: c, as: SIMD8<Float>.self)
            j += 8
        }
        while j < o { current[j] += value * row[j]; j += 1 }
    }

    /// Many events into one linear layer: for `e` in `0..<count`, with `i = indices[e]`, adds
    /// `values[e] * W[i, :]` to `current`, in that order, with separate multiply and add: the bits of
    /// calling ``linear(value:source:weight:outFeatures:current:)`` once per event. The currents are
    /// held in registers over all events (64, then 32, then 8 columns at a time), so the weight rows of
    /// successive events are loaded in parallel.
    @inlinable
    public static func linearEvents(indices: UnsafePointer<Int32>, count: Int, values: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, outFeatures o: Int, current: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func ld(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func st(_ p: UnsafeMutablePointer<Float>, _ v: V) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        guard count > 0 else { return }
        var j = 0
        while j + 64 <= o {
            let c = current + j
            var c0 = ld(c), c1 = ld(c + 8), c2 = ld(c + 16), c3 = ld(c + 24)
            var c4 = ld(c + 32), c5 = ld(c + 40), c6 = ld(c + 48), c7 = ld(c + 56)
            for e in 0..<count {
                let i = Int(indices[e])
                let v = V(repeating: values[e]), r = weight + i * o + j
                c0 += v * ld(r); c1 += v * ld(r + 8); c2 += v * ld(r + 16); c3 += v * ld(r + 24)
                c4 += v * ld(r + 32); c5 += v * ld(r + 40); c6 += v * ld(r + 48); c7 += v * ld(r + 56)
            }
            st(c, c0); st(c + 8, c1); st(c + 16, c2); st(c + 24, c3)
            st(c + 32, c4); st(c + 40, c5); st(c + 48, c6); st(c + 56, c7)
            j += 64
        }
        while j + 32 <= o {
            let c = current + j
            var c0 = ld(c), c1 = ld(c + 8), c2 = ld(c + 16), c3 = ld(c + 24)
            for e in 0..<count {
                let i = Int(indices[e])
                let v = V(repeating: values[e]), r = weight + i * o + j
                c0 += v * ld(r); c1 += v * ld(r + 8); c2 += v * ld(r + 16); c3 += v * ld(r + 24)
            }
            st(c, c0); st(c + 8, c1); st(c + 16, c2); st(c + 24, c3)
            j += 32
        }
        while j + 8 <= o {
            var c0 = ld(current + j)
            for e in 0..<count {
                let i = Int(indices[e])
                c0 += V(repeating: values[e]) * ld(weight + i * o + j)
            }
            st(current + j, c0)
            j += 8
        }
        while j < o {
            var c0 = current[j]
            for e in 0..<count {
                let i = Int(indices[e])
                c0 += values[e] * weight[i * o + j]
            }
            current[j] = c0
            j += 1
        }
    }

    /// Convolution: adds `value * W[o, c, ky, kx]` to every output `(o, oy, ox)` whose receptive field
    /// holds the source `(c, iy, ix)` (flat index `source` of a `[C, H, W]` map). `W` is `[O, C, k, k]`;
    /// `current` is the `[O, Ho, Wo]` map of one sample.
    @inlinable
    public static func conv2d(value: Float, source: Int, geometry g: Conv2DGeometry, outChannels: Int,
                              weight: UnsafePointer<Float>, current: UnsafeMutablePointer<Float>) {
        let kk = g.kernelHeight * g.kernelWidth, cStride = g.inChannels * kk, plane = g.outPositions
        g.forEachReceptiveTarget(of: source) { c, position, tap in
            let wBase = weight + c * kk + tap
            let out = current + position
            for o in 0..<outChannels { out[o * plane] += value * wBase[o * cStride] }
        }
    }

    /// Delivers every non-zero element of one sample's input `x` (ascending index) through a synaptic
    /// layer into `current` (which is *added to*). Returns the number of non-zero sources.
    @discardableResult
    public static func deliverAll(_ layer: LayerSpec, inShape: [Int], input x: UnsafePointer<Float>, count n: Int,
                                  weight: UnsafePointer<Float>, current: UnsafeMutablePointer<Float>) -> Int {
        var sources = 0
        switch layer {
        case .linear(_, let o):
            for i in 0..<n where x[i] != 0 {
                linear(value: x[i], source: i, weight: weight, outFeatures: o, current: current); sources += 1
            }
        case .conv2d(let ci, let co, let k, let s, let p):
            let g = Conv2DGeometry(inChannels: ci, inHeight: inShape[1], inWidth: inShape[2], kernel: k, stride: s, padding: p)
            for i in 0..<n where x[i] != 0 {
                conv2d(value: x[i], source: i, geometry: g, outChannels: co, weight: weight, current: current); sources += 1
            }
        default:
            preconditionFailure("SpikeDelivery.deliverAll on \(layer.shortName)")
        }
        return sources
    }

    /// A whole batch `[batch, inSize]` through a synaptic layer into a zeroed `[batch, outSize]` current.
    ///
    /// Uses the batched event kernels of SNNTensor (`spikeGatherAdd` for linear layers,
    /// `conv2dForwardEvents` for convolutions), which produce exactly the bits of delivering every
    /// sample's non-zero inputs one by one in ascending index order with
    /// ``deliverAll(_:inShape:input:count:weight:current:)``, only faster.
    ///
    /// With `exactEventOrder: false` a dense input (more than a quarter non-zero, e.g. graded EM-PF
    /// spikes after average pooling) goes through the dense GEMM (conv: im2col) instead: faster, but
    /// not the bits of event-by-event delivery; 3x3 convolutions with stride 1 and padding 1 then take Winograd's
    /// F(2x2, 3x3) where their maps allow it (see ``SNNTensor/conv2dForward(input:batch:weight:outChannels:geometry:output:events:fastDense:)``).
    /// Sparse inputs take the event kernels either way.
    /// Convolutions whose patch (`C * k * k`) fits one GEMM depth block (``gemmKC``) take the im2col
    /// GEMM for dense inputs in both modes: there it gives the event order's bits (finite weights).
    ///
    /// `events` (conv layers): receives the non-zero inputs when an event kernel ran (``SNNTensor/ConvEventLists``).
    public static func forward(_ layer: LayerSpec, inShape: [Int], outShape: [Int], input: Tensor, weight: Tensor,
                               exactEventOrder: Bool = true, events: ConvEventLists? = nil) -> Tensor {
        let batch = input.shape[0]
        let inSize = inShape.reduce(1, *)
        // Only the event gather adds into its output; the other kernels overwrite theirs.
        var out: Tensor
        if exactEventOrder, case .linear = layer { out = Tensor(shape: [batch] + outShape) } else { out = Tensor(shape: [batch] + outShape) { _ in } }
        input.withUnsafeBufferPointer { xp in
            weight.withUnsafeBufferPointer { wp in
                out.withUnsafeMutableBufferPointer { op in
                    let x = xp.baseAddress!, w = wp.baseAddress!, y = op.baseAddress!
                    switch layer {
                    case .linear(_, let o):
                        if exactEventOrder {
                            spikeGatherAdd(m: batch, n: o, k: inSize, a: x, lda: inSize, b: w, ldb: o, c: y, ldc: o)
                        } else {
                            // Chooses the event (row gather) kernel up to a quarter non-zero, the dense one above.
                            gemm(m: batch, n: o, k: inSize, a: x, lda: inSize, b: w, ldb: o, c: y, ldc: o)
                        }
                    case .conv2d(let ci, let co, let k, let s, let p):
                        let g = Conv2DGeometry(inChannels: ci, inHeight: inShape[1], inWidth: inShape[2], kernel: k, stride: s, padding: p)
                        if exactEventOrder && g.patchSize > gemmKC {
                            conv2dForwardEvents(input: x, batch: batch, weight: w, outChannels: co, geometry: g, output: y,
                                                events: events)
                        } else {
                            // Up to one GEMM depth block (patch <= gemmKC) the im2col GEMM sums each output over
                            // the patch in ascending input index with separate multiply and add, starting from 0:
                            // the event order's bits (zero inputs add +-0, which changes no sum), so dense
                            // inputs may take it even when the event order is asked for.
                            conv2dForward(input: x, batch: batch, weight: w, outChannels: co, geometry: g, output: y, events: events,
                                          fastDense: !exactEventOrder)
                        }
                    default:
                        preconditionFailure("SpikeDelivery.forward on \(layer.shortName)")
                    }
                }
            }
        }
        return out
    }

    // MARK: Adjoint delivery (backprop through emitted spikes)

    /// The weight-gradient half of ``linearAdjoint(value:source:weight:outFeatures:currentGradient:weightGradient:)``
    /// for a non-zero `value`: adds `value * dCurrent[j]` to `dWeight[source, :]` with its operations (the
    /// same bits), without the gradient of the source's value (not needed for network inputs).
    @inlinable @inline(__always)
    public static func linearWeightGradient(value: Float, source: Int, outFeatures o: Int,
                                            currentGradient dCurrent: UnsafePointer<Float>,
                                            weightGradient dWeight: UnsafeMutablePointer<Float>) {
        let drow = dWeight + source * o
        var j = 0
        while j + 8 <= o {
            let g = UnsafeRawPointer(dCurrent + j).loadUnaligned(as: SIMD8<Float>.self)
            let d = UnsafeRawPointer(drow + j).loadUnaligned(as: SIMD8<Float>.self) + value * g
            UnsafeMutableRawPointer(drow + j).storeBytes(of: d, as: SIMD8<Float>.self)
            j += 8
        }
        while j < o { drow[j] += value * dCurrent[j]; j += 1 }
    }

    /// Adjoint of ``linear(value:source:weight:outFeatures:current:)``: given the gradient of the loss
    /// with respect to the targets' currents `dCurrent`, returns the gradient with respect to the
    /// source's value, `sum_j W[source, j] * dCurrent[j]`, and adds `value * dCurrent[j]` to the
    /// weight gradient row `dWeight[source, :]`.
    @inlinable @inline(__always)
    public static func linearAdjoint(value: Float, source: Int, weight: UnsafePointer<Float>, outFeatures o: Int,
                                     currentGradient dCurrent: UnsafePointer<Float>,
                                     weightGradient dWeight: UnsafeMutablePointer<Float>) -> Float {
        let row = weight + source * o, drow = dWeight + source * o
        var acc8 = SIMD8<Float>()
        var j = 0
        if value == 0 {
            // A silent neuron: only the gradient of its (zero) value is needed.
            while j + 8 <= o {
                acc8 += UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
                    * UnsafeRawPointer(dCurrent + j).loadUnaligned(as: SIMD8<Float>.self)
                j += 8
            }
        } else {
            while j + 8 <= o {
                let g = UnsafeRawPointer(dCurrent + j).loadUnaligned(as: SIMD8<Float>.self)
                acc8 += UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self) * g
                let d = UnsafeRawPointer(drow + j).loadUnaligned(as: SIMD8<Float>.self) + value * g
                UnsafeMutableRawPointer(drow + j).storeBytes(of: d, as: SIMD8<Float>.self)
                j += 8
            }
        }
        var acc = acc8.sum()
        while j < o {
            let g = dCurrent[j]
            acc += row[j] * g
            drow[j] += value * g
            j += 1
        }
        return acc
    }

    /// ``linearAdjoint(value:source:weight:outFeatures:currentGradient:weightGradient:)`` of a silent
    /// (zero-valued) spike for many sources at once against the same `dCurrent`: writes to
    /// `results[i]` the value that call returns for `sources[i]` (bit for bit: every row's sum is taken
    /// in the same lanes and order), and adds nothing to the weight gradient. Four rows share each load
    /// of `dCurrent` and run four independent chains, where one call per row waited on one chain.
    @inlinable
    public static func silentLinearAdjoints(sources: UnsafePointer<Int32>, count: Int, weight: UnsafePointer<Float>,
                                            outFeatures o: Int, currentGradient dCurrent: UnsafePointer<Float>,
                                            results: UnsafeMutablePointer<Float>) {
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
        let vectorEnd = o & ~7
        var i = 0
        while i + 4 <= count {
            let r0 = weight + Int(sources[i]) * o, r1 = weight + Int(sources[i + 1]) * o
            let r2 = weight + Int(sources[i + 2]) * o, r3 = weight + Int(sources[i + 3]) * o
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var j = 0
            while j < vectorEnd {
                let g = load(dCurrent + j)
                a0 += load(r0 + j) * g; a1 += load(r1 + j) * g
                a2 += load(r2 + j) * g; a3 += load(r3 + j) * g
                j += 8
            }
            var s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum()
            while j < o {
                let g = dCurrent[j]
                s0 += r0[j] * g; s1 += r1[j] * g; s2 += r2[j] * g; s3 += r3[j] * g
                j += 1
            }
            results[i] = s0; results[i + 1] = s1; results[i + 2] = s2; results[i + 3] = s3
            i += 4
        }
        while i < count {
            let row = weight + Int(sources[i]) * o
            var a = SIMD8<Float>()
            var j = 0
            while j < vectorEnd { a += load(row + j) * load(dCurrent + j); j += 8 }
            var sum = a.sum()
            while j < o { sum += row[j] * dCurrent[j]; j += 1 }
            results[i] = sum
            i += 1
        }
    }

    /// Adjoint of ``conv2d(value:source:geometry:outChannels:weight:current:)`` over the source's
    /// receptive field (see ``linearAdjoint(value:source:weight:outFeatures:currentGradient:weightGradient:)``).
    @inlinable
    public static func conv2dAdjoint(value: Float, source: Int, geometry g: Conv2DGeometry, outChannels: Int,
                                     weight: UnsafePointer<Float>, currentGradient dCurrent: UnsafePointer<Float>,
                                     weightGradient dWeight: UnsafeMutablePointer<Float>) -> Float {
        let kk = g.kernelHeight * g.kernelWidth, cStride = g.inChannels * kk, plane = g.outPositions
        var acc: Float = 0
        g.forEachReceptiveTarget(of: source) { c, position, tap in
            let off = c * kk + tap
            let dc = dCurrent + position
            for o in 0..<outChannels {
                let gr = dc[o * plane]
                acc += weight[off + o * cStride] * gr
                dWeight[off + o * cStride] += value * gr
            }
        }
        return acc
    }
}
