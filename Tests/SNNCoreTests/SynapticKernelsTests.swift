import Foundation
import Testing
import SNNCore
import SNNTensor

/// Event-driven delivery (``SpikeDelivery``, used by ``SynapticKernels``) against naive dense references.
struct SynapticKernelsTests {
    /// Random input with the given density of non-zeros; `binary` gives 0/1 spikes, else values in (-2, 2).
    static func input(_ count: Int, density: Float, binary: Bool, rng: inout StreamRNG) -> [Float] {
        (0..<count).map { _ in
            guard rng.uniform() < density else { return 0 }
            return binary ? 1 : (rng.uniform() * 4 - 2)
        }
    }

    static func naiveLinear(_ x: [Float], batch: Int, _ w: [Float], inF: Int, outF: Int) -> [Double] {
        var y = [Double](repeating: 0, count: batch * outF)
        for b in 0..<batch { for o in 0..<outF { for i in 0..<inF { y[b * outF + o] += Double(x[b * inF + i]) * Double(w[i * outF + o]) } } }
        return y
    }

    static func naiveConv(_ x: [Float], batch: Int, c: Int, h: Int, w: Int, _ wt: [Float], o: Int, k: Int, s: Int, p: Int) -> [Double] {
        let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
        var y = [Double](repeating: 0, count: batch * o * ho * wo)
        for b in 0..<batch {
            for oc in 0..<o {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var acc: Double = 0
                        for ic in 0..<c {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let iy = oy * s - p + ky, ix = ox * s - p + kx
                                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                    acc += Double(x[((b * c + ic) * h + iy) * w + ix]) * Double(wt[((oc * c + ic) * k + ky) * k + kx])
                                }
                            }
                        }
                        y[((b * o + oc) * ho + oy) * wo + ox] = acc
                    }
                }
            }
        }
        return y
    }

    static func close(_ a: [Float], _ b: [Double], scale: Double) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= 1e-5 * scale + 1e-5 * abs($1) }
    }

    @Test func linearMatchesDense() {
        var rng = CounterRNG(seed: 42).generator(stream: 1)
        for trial in 0..<40 {
            let batch = 1 + Int(rng.next() % 4), inF = 1 + Int(rng.next() % 70), outF = 1 + Int(rng.next() % 37)
            let density: Float = [0, 0.05, 0.3, 1][trial % 4]
            let binary = trial % 3 == 0
            let x = Self.input(batch * inF, density: density, binary: binary, rng: &rng)
            let w = (0..<(inF * outF)).map { _ in rng.uniform() * 2 - 1 }
            let layer = LayerSpec.linear(inFeatures: inF, outFeatures: outF)
            let (y, cache) = SynapticKernels.forward(layer, weight: Tensor(shape: [inF, outF], data: w),
                                                     input: Tensor(shape: [batch, inF], data: x), inShape: [inF], outShape: [outF],
                                                     training: false, keepCache: true)
            #expect(y.shape == [batch, outF])
            #expect(cache.input?.data == x)
            let ref = Self.naiveLinear(x, batch: batch, w, inF: inF, outF: outF)
            #expect(Self.close(y.data, ref, scale: Double(inF)), "trial \(trial): batch \(batch) \(inF)->\(outF) density \(density)")
        }
    }

    @Test func convMatchesDense() {
        var rng = CounterRNG(seed: 7).generator(stream: 2)
        var checked = 0
        for trial in 0..<60 {
            let batch = 1 + Int(rng.next() % 3), c = 1 + Int(rng.next() % 4), o = 1 + Int(rng.next() % 5)
            let h = 1 + Int(rng.next() % 11), w = 1 + Int(rng.next() % 11)
            let k = 1 + Int(rng.next() % 5), s = 1 + Int(rng.next() % 3), p = Int(rng.next() % 3)
            let layer = LayerSpec.conv2d(inChannels: c, outChannels: o, kernel: k, stride: s, padding: p)
            guard let outShape = try? layer.outputShape(for: [c, h, w]).get() else { continue }
            checked += 1
            let density: Float = [0.02, 0.2, 0.6, 1][trial % 4]
            let x = Self.input(batch * c * h * w, density: density, binary: trial % 2 == 0, rng: &rng)
            let wt = (0..<(o * c * k * k)).map { _ in rng.uniform() * 2 - 1 }
            let (y, _) = SynapticKernels.forward(layer, weight: Tensor(shape: [o, c, k, k], data: wt),
                                                 input: Tensor(shape: [batch, c, h, w], data: x), inShape: [c, h, w], outShape: outShape,
                                                 training: false, keepCache: false)
            #expect(y.shape == [batch] + outShape)
            let ref = Self.naiveConv(x, batch: batch, c: c, h: h, w: w, wt, o: o, k: k, s: s, p: p)
            #expect(Self.close(y.data, ref, scale: Double(c * k * k)),
                    "trial \(trial): [\(batch),\(c),\(h),\(w)] conv \(o) k\(k) s\(s) p\(p) density \(density)")
        }
        #expect(checked > 30)
    }

    /// Padding larger than the kernel reach and 1x1 kernels with stride: corners of the geometry.
    @Test func convEdgeGeometries() {
        var rng = CounterRNG(seed: 9).generator(stream: 3)
        for (c, h, w, o, k, s, p) in [(1, 1, 1, 1, 1, 1, 0), (2, 5, 3, 3, 1, 2, 0), (1, 4, 4, 2, 3, 1, 2), (3, 7, 5, 2, 2, 3, 1),
                                      (1, 9, 9, 1, 9, 1, 0), (2, 3, 8, 4, 3, 2, 2)] {
            let layer = LayerSpec.conv2d(inChannels: c, outChannels: o, kernel: k, stride: s, padding: p)
            let outShape = try! layer.outputShape(for: [c, h, w]).get()
            let x = Self.input(2 * c * h * w, density: 0.7, binary: false, rng: &rng)
            let wt = (0..<(o * c * k * k)).map { _ in rng.uniform() * 2 - 1 }
            let (y, _) = SynapticKernels.forward(layer, weight: Tensor(shape: [o, c, k, k], data: wt),
                                                 input: Tensor(shape: [2, c, h, w], data: x), inShape: [c, h, w], outShape: outShape,
                                                 training: false, keepCache: false)
            #expect(Self.close(y.data, Self.naiveConv(x, batch: 2, c: c, h: h, w: w, wt, o: o, k: k, s: s, p: p), scale: Double(c * k * k)),
                    "c\(c) \(h)x\(w) o\(o) k\(k) s\(s) p\(p)")
        }
    }

    @Test func poolingFlattenAndDropout() {
        var rng = CounterRNG(seed: 5).generator(stream: 0)
        let x = (0..<(2 * 3 * 5 * 4)).map { _ in rng.uniform() }
        let input = Tensor(shape: [2, 3, 5, 4], data: x)
        let (avg, _) = SynapticKernels.forward(.avgPool2d(kernel: 2, stride: 2), weight: Tensor(shape: [0]), input: input,
                                               inShape: [3, 5, 4], outShape: [3, 2, 2], training: false, keepCache: true)
        let (mx, mcache) = SynapticKernels.forward(.maxPool2d(kernel: 3, stride: 1), weight: Tensor(shape: [0]), input: input,
                                                   inShape: [3, 5, 4], outShape: [3, 3, 2], training: false, keepCache: true)
        for b in 0..<2 {
            for c in 0..<3 {
                for oy in 0..<2 { for ox in 0..<2 {
                    var acc: Float = 0
                    for ky in 0..<2 { for kx in 0..<2 { acc += x[((b * 3 + c) * 5 + oy * 2 + ky) * 4 + ox * 2 + kx] } }
                    #expect(abs(avg.data[((b * 3 + c) * 2 + oy) * 2 + ox] - acc / 4) < 1e-6)
                } }
                for oy in 0..<3 { for ox in 0..<2 {
                    var best: Float = -1
                    for ky in 0..<3 { for kx in 0..<3 { best = max(best, x[((b * 3 + c) * 5 + oy + ky) * 4 + ox + kx]) } }
                    #expect(mx.data[((b * 3 + c) * 3 + oy) * 2 + ox] == best)
                } }
            }
        }
        #expect(mcache.argmax?.count == 2 * 3 * 3 * 2)
        let (flat, _) = SynapticKernels.forward(.flatten, weight: Tensor(shape: [0]), input: input, inShape: [3, 5, 4], outShape: [60],
                                                training: true, keepCache: true)
        #expect(flat.shape == [2, 60] && flat.data == x)
        // Dropout: identity at evaluation; at training the kept values are scaled by 1/(1-rate), reproducibly.
        let drop = LayerSpec.dropout(rate: 0.25)
        let (evalOut, _) = SynapticKernels.forward(drop, weight: Tensor(shape: [0]), input: input, inShape: [3, 5, 4], outShape: [3, 5, 4],
                                                   training: false, dropoutKey: (CounterRNG(seed: 1), 0), keepCache: true)
        #expect(evalOut.data == x)
        let big = Tensor(shape: [4, 1000], repeating: 1)
        let (d1, c1) = SynapticKernels.forward(drop, weight: Tensor(shape: [0]), input: big, inShape: [1000], outShape: [1000],
                                               training: true, dropoutKey: (CounterRNG(seed: 1), 3), keepCache: true)
        let (d2, _) = SynapticKernels.forward(drop, weight: Tensor(shape: [0]), input: big, inShape: [1000], outShape: [1000],
                                              training: true, dropoutKey: (CounterRNG(seed: 1), 3), keepCache: false)
        let (d3, _) = SynapticKernels.forward(drop, weight: Tensor(shape: [0]), input: big, inShape: [1000], outShape: [1000],
                                              training: true, dropoutKey: (CounterRNG(seed: 1), 4), keepCache: false)
        #expect(d1 == d2 && d1 != d3)
        #expect(d1.data.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3.0) < 1e-6 })
        let dropped = Double(d1.data.filter { $0 == 0 }.count) / 4000
        #expect(abs(dropped - 0.25) < 0.03)
        #expect(c1.mask?.count == 4000)
    }

    /// NeuroBench counting: ±1 inputs are accumulates, other non-zeros multiply-accumulates, each times the fan-out.
    @Test func synapticOperationCounts() {
        let linear = LayerSpec.linear(inFeatures: 5, outFeatures: 3)
        let fan = SynapticFanOut.perInput(linear, inShape: [5])!
        #expect(fan == [3, 3, 3, 3, 3])
        let x = Tensor(shape: [2, 5], data: [1, 0, -1, 0.5, 0,
                                             0, 0, 0, 0, 0])
        let ops = SynapticOperations.count(input: x, fanOut: fan)
        #expect(ops[0] == SynapticOperations(accumulates: 6, multiplyAccumulates: 3))
        #expect(ops[1] == SynapticOperations())
        #expect(ops[0].total == 9)
        // Conv 1->2, k3, s1, p1 on 3x3: a corner pixel reaches 2x2 outputs, an edge 2x3, the centre 3x3; times 2 channels.
        let conv = LayerSpec.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 1)
        let cf = SynapticFanOut.perInput(conv, inShape: [1, 3, 3])!
        #expect(cf == [8, 12, 8, 12, 18, 12, 8, 12, 8])
        // Conv 1->1, k2, s2, p0 on 5x5: the last row/column is never read.
        let c2 = SynapticFanOut.perInput(.conv2d(inChannels: 1, outChannels: 1, kernel: 2, stride: 2, padding: 0), inShape: [1, 5, 5])!
        #expect(c2[0] == 1 && c2[4] == 0 && c2[20] == 0 && c2[24] == 0 && c2.reduce(0, +) == 16)
        #expect(SynapticFanOut.perInput(.flatten, inShape: [3]) == nil)
        let c = SynapticOperations.count(input: Tensor(shape: [1, 9], data: [1, 0, 0, 0, 2, 0, 0, 0, -1]), fanOut: cf)
        #expect(c[0] == SynapticOperations(accumulates: 16, multiplyAccumulates: 18))
        // Fan-out equals the number of synapses actually delivered to: a one-hot input through a weight of ones.
        for (layer, shape) in [(conv, [1, 3, 3]), (LayerSpec.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1), [2, 6, 5])] {
            let out = try! layer.outputShape(for: shape).get()
            let fans = SynapticFanOut.perInput(layer, inShape: shape)!
            let n = shape.reduce(1, *)
            for j in 0..<n {
                var x = [Float](repeating: 0, count: n); x[j] = 1
                let (y, _) = SynapticKernels.forward(layer, weight: Tensor(shape: layer.weightShape!, repeating: 1),
                                                     input: Tensor(shape: [1] + shape, data: x), inShape: shape, outShape: out,
                                                     training: false, keepCache: false)
                #expect(Int32(y.data.reduce(0, +)) == fans[j], "\(layer.shortName) input \(j)")
            }
        }
    }
}
