import Foundation
import Testing
import SNNCore
import SNNTensor

/// ``SynapticKernels/backward(_:weight:cache:outputGradient:inShape:outShape:needInputGradient:weightGradient:)``
/// against naive references on random shapes (sizes large enough to reach the blocked/parallel kernel paths),
/// with sparse binary and dense real inputs. The weight gradient must be *added* to what is there (BPTT sums over steps).
struct SynapticBackwardTests {
    static func random(_ n: Int, _ rng: inout StreamRNG, density: Float = 1, binary: Bool = false) -> [Float] {
        (0..<n).map { _ in rng.uniform() < density ? (binary ? 1 : rng.uniform() * 2 - 1) : 0 }
    }

    static func close(_ a: [Float], _ b: [Double], scale: Double) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= 2e-5 * scale + 1e-5 * abs($1) }
    }

    @Test func linearBackward() {
        var rng = CounterRNG(seed: 13).generator(stream: 0)
        for (trial, (batch, inF, outF)) in [(1, 1, 1), (3, 17, 5), (37, 300, 70), (64, 129, 33), (5, 2312, 64), (128, 64, 10)].enumerated() {
            let binary = trial % 2 == 1
            let x = Self.random(batch * inF, &rng, density: binary ? 0.1 : 1, binary: binary)
            let w = Self.random(inF * outF, &rng), dy = Self.random(batch * outF, &rng)
            let initial = Self.random(inF * outF, &rng)
            var dw = Tensor(shape: [inF, outF], data: initial)
            let layer = LayerSpec.linear(inFeatures: inF, outFeatures: outF)
            let cache = SynapticKernels.Cache(input: Tensor(shape: [batch, inF], data: x))
            let dx = SynapticKernels.backward(layer, weight: Tensor(shape: [inF, outF], data: w), cache: cache,
                                              outputGradient: Tensor(shape: [batch, outF], data: dy), inShape: [inF], outShape: [outF],
                                              needInputGradient: true, weightGradient: &dw)
            var refW = initial.map(Double.init), refX = [Double](repeating: 0, count: batch * inF)
            for b in 0..<batch {
                for i in 0..<inF {
                    for o in 0..<outF {
                        refW[i * outF + o] += Double(x[b * inF + i]) * Double(dy[b * outF + o])
                        refX[b * inF + i] += Double(dy[b * outF + o]) * Double(w[i * outF + o])
                    }
                }
            }
            #expect(Self.close(dw.data, refW, scale: Double(batch)), "dW batch \(batch) \(inF)->\(outF)")
            #expect(dx != nil && Self.close(dx!.data, refX, scale: Double(outF)), "dX batch \(batch) \(inF)->\(outF)")
            var dw2 = Tensor(shape: [inF, outF])
            let none = SynapticKernels.backward(layer, weight: Tensor(shape: [inF, outF], data: w), cache: cache,
                                                outputGradient: Tensor(shape: [batch, outF], data: dy), inShape: [inF], outShape: [outF],
                                                needInputGradient: false, weightGradient: &dw2)
            #expect(none == nil)
            #expect(Self.close(dw2.data, zip(refW, initial).map { $0 - Double($1) }, scale: Double(batch)))
        }
    }

    @Test func convBackward() {
        var rng = CounterRNG(seed: 17).generator(stream: 1)
        var checked = 0
        for trial in 0..<30 {
            let batch = 1 + Int(rng.next() % 5), c = 1 + Int(rng.next() % 4), o = 1 + Int(rng.next() % 6)
            let h = 2 + Int(rng.next() % 14), w = 2 + Int(rng.next() % 14)
            let k = 1 + Int(rng.next() % 4), s = 1 + Int(rng.next() % 3), p = Int(rng.next() % 3)
            let layer = LayerSpec.conv2d(inChannels: c, outChannels: o, kernel: k, stride: s, padding: p)
            guard let out = try? layer.outputShape(for: [c, h, w]).get() else { continue }
            checked += 1
            let ho = out[1], wo = out[2]
            let binary = trial % 2 == 0
            let x = Self.random(batch * c * h * w, &rng, density: binary ? 0.2 : 1, binary: binary)
            let wt = Self.random(o * c * k * k, &rng), dy = Self.random(batch * o * ho * wo, &rng)
            let initial = Self.random(o * c * k * k, &rng)
            var dw = Tensor(shape: [o, c, k, k], data: initial)
            let dx = SynapticKernels.backward(layer, weight: Tensor(shape: [o, c, k, k], data: wt),
                                              cache: .init(input: Tensor(shape: [batch, c, h, w], data: x)),
                                              outputGradient: Tensor(shape: [batch] + out, data: dy), inShape: [c, h, w], outShape: out,
                                              needInputGradient: true, weightGradient: &dw)
            var refW = initial.map(Double.init), refX = [Double](repeating: 0, count: batch * c * h * w)
            for b in 0..<batch { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
                let g = Double(dy[((b * o + oc) * ho + oy) * wo + ox])
                for ic in 0..<c { for ky in 0..<k { for kx in 0..<k {
                    let iy = oy * s - p + ky, ix = ox * s - p + kx
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    let xi = ((b * c + ic) * h + iy) * w + ix, wi = ((oc * c + ic) * k + ky) * k + kx
                    refW[wi] += g * Double(x[xi])
                    refX[xi] += g * Double(wt[wi])
                } } }
            } } } }
            let what = "[\(batch),\(c),\(h),\(w)] conv \(o) k\(k) s\(s) p\(p)"
            #expect(Self.close(dw.data, refW, scale: Double(batch * ho * wo)), "dW \(what)")
            #expect(dx != nil && Self.close(dx!.data, refX, scale: Double(o * k * k)), "dX \(what)")
        }
        #expect(checked > 15)
    }

    @Test func poolingDropoutFlattenBackward() {
        var rng = CounterRNG(seed: 19).generator(stream: 2)
        let (batch, c, h, w) = (3, 2, 7, 6)
        let x = Self.random(batch * c * h * w, &rng)
        let input = Tensor(shape: [batch, c, h, w], data: x)
        var none = Tensor(shape: [0])
        for (k, s) in [(2, 2), (3, 1), (3, 2), (2, 3)] {
            let ho = (h - k) / s + 1, wo = (w - k) / s + 1
            let dy = Self.random(batch * c * ho * wo, &rng)
            for layer in [LayerSpec.avgPool2d(kernel: k, stride: s), .maxPool2d(kernel: k, stride: s)] {
                let (_, cache) = SynapticKernels.forward(layer, weight: none, input: input, inShape: [c, h, w], outShape: [c, ho, wo],
                                                         training: false, keepCache: true)
                let dx = SynapticKernels.backward(layer, weight: none, cache: cache, outputGradient: Tensor(shape: [batch, c, ho, wo], data: dy),
                                                  inShape: [c, h, w], outShape: [c, ho, wo], needInputGradient: true, weightGradient: &none)!
                var ref = [Double](repeating: 0, count: x.count)
                for pl in 0..<(batch * c) { for oy in 0..<ho { for ox in 0..<wo {
                    let g = Double(dy[(pl * ho + oy) * wo + ox])
                    var best = -Double.infinity, bi = 0
                    for ky in 0..<k { for kx in 0..<k {
                        let idx = (pl * h + oy * s + ky) * w + ox * s + kx
                        if case .avgPool2d = layer { ref[idx] += g / Double(k * k) }
                        if Double(x[idx]) > best { best = Double(x[idx]); bi = idx }
                    } }
                    if case .maxPool2d = layer { ref[bi] += g }
                } } }
                #expect(Self.close(dx.data, ref, scale: 1), "\(layer.shortName)")
            }
        }
        // Dropout: the gradient is masked and scaled exactly like the forward pass.
        let drop = LayerSpec.dropout(rate: 0.4)
        let (y, cache) = SynapticKernels.forward(drop, weight: none, input: input, inShape: [c, h, w], outShape: [c, h, w],
                                                 training: true, dropoutKey: (CounterRNG(seed: 3), 7), keepCache: true)
        let ones = Tensor(shape: [batch, c, h, w], repeating: 1)
        let dx = SynapticKernels.backward(drop, weight: none, cache: cache, outputGradient: ones, inShape: [c, h, w], outShape: [c, h, w],
                                          needInputGradient: true, weightGradient: &none)!
        for j in 0..<x.count { #expect(abs(dx.data[j] * x[j] - y.data[j]) < 1e-6) }
        let flat = SynapticKernels.backward(.flatten, weight: none, cache: .init(), outputGradient: Tensor(shape: [batch, c * h * w], data: x),
                                            inShape: [c, h, w], outShape: [c * h * w], needInputGradient: true, weightGradient: &none)!
        #expect(flat.shape == [batch, c, h, w] && flat.data == x)
    }
}
