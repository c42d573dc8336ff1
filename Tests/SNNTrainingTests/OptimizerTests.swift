import Foundation
import Testing
import SNNTensor
import SNNTraining

/// Optimizer steps against the PyTorch update rules, written out in Double.
struct OptimizerTests {
    static let w0: [Float] = [1, -0.5, 0.25, 2]
    static let grads: [[Float]] = [[0.5, -1, 0, 0.1], [0.4, 0.3, -0.2, 0.1], [-0.3, 0.2, 0.5, -0.05]]

    static func run(_ kind: Optimizer.Kind, lr: Float) -> [Float] {
        var opt = Optimizer(kind, learningRate: lr)
        var w = [Tensor(shape: [0]), Tensor(shape: [4], data: w0)]
        for g in grads { opt.step(weights: &w, gradients: [Tensor(shape: [0]), Tensor(shape: [4], data: g)], indices: [1]) }
        #expect(opt.stepCount == grads.count)
        return w[1].data
    }

    static func close(_ a: [Float], _ b: [Double], _ tol: Double = 1e-6) -> Bool {
        zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
    }

    @Test func sgdMomentumByHand() {
        // lr 0.1, momentum 0.9, weight decay 0.1, w = 1, g = 0.5 twice:
        //  step 1: g' = 0.5 + 0.1 = 0.6, m = 0.6, w = 1 - 0.06 = 0.94
        //  step 2: g' = 0.5 + 0.094 = 0.594, m = 0.54 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266
        var opt = Optimizer(.sgd(momentum: 0.9, weightDecay: 0.1), learningRate: 0.1)
        var w = [Tensor(shape: [1], data: [1])]
        opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [0.5])], indices: [0])
        #expect(abs(w[0].data[0] - 0.94) < 1e-6)
        opt.step(weights: &w, gradients: [Tensor(shape: [1], data: [0.5])], indices: [0])
        #expect(abs(w[0].data[0] - 0.8266) < 1e-6)
    }

    @Test func sgdMatchesPyTorch() {
        let (lr, mu, wd) = (0.05, 0.8, 0.01)
        var w = Self.w0.map(Double.init), buf = [Double](repeating: 0, count: 4)
        for (k, g) in Self.grads.enumerated() {
            for j in 0..<4 {
                let d = Double(g[j]) + wd * w[j]
                buf[j] = k == 0 ? d : mu * buf[j] + d
                w[j] -= lr * buf[j]
            }
        }
        #expect(Self.close(Self.run(.sgd(momentum: Float(mu), weightDecay: Float(wd)), lr: Float(lr)), w))
    }

    static func adamReference(lr: Double, b1: Double, b2: Double, eps: Double, wd: Double, decoupled: Bool) -> [Double] {
        var w = Self.w0.map(Double.init)
        var m = [Double](repeating: 0, count: 4), v = m
        for (k, g) in Self.grads.enumerated() {
            let t = Double(k + 1)
            for j in 0..<4 {
                var d = Double(g[j])
                if decoupled { w[j] *= 1 - lr * wd } else { d += wd * w[j] }
                m[j] = b1 * m[j] + (1 - b1) * d
                v[j] = b2 * v[j] + (1 - b2) * d * d
                let mHat = m[j] / (1 - pow(b1, t)), vHat = v[j] / (1 - pow(b2, t))
                w[j] -= lr * mHat / (vHat.squareRoot() + eps)
            }
        }
        return w
    }

    @Test func adamMatchesPyTorch() {
        let w = Self.run(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01), lr: 0.01)
        #expect(Self.close(w, Self.adamReference(lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: false)))
        // First Adam step without decay moves every weight with a non-zero gradient by lr * sign(g).
        var opt = Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0), learningRate: 0.1)
        var x = [Tensor(shape: [3], data: [1, 1, 1])]
        opt.step(weights: &x, gradients: [Tensor(shape: [3], data: [3, -0.001, 0])], indices: [0])
        #expect(abs(x[0].data[0] - 0.9) < 1e-6 && abs(x[0].data[1] - 1.1) < 1e-5 && x[0].data[2] == 1)
    }

    @Test func adamWMatchesPyTorch() {
        let w = Self.run(.adamW(beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1), lr: 0.02)
        #expect(Self.close(w, Self.adamReference(lr: 0.02, b1: 0.8, b2: 0.99, eps: 1e-6, wd: 0.1, decoupled: true)))
        // Decoupled decay differs from L2 decay.
        let l2 = Self.run(.adam(beta1: 0.8, beta2: 0.99, epsilon: 1e-6, weightDecay: 0.1), lr: 0.02)
        #expect(w != l2)
        // With a zero gradient AdamW still decays: w (1 - lr wd).
        var opt = Optimizer(.adamW(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5), learningRate: 0.1)
        var x = [Tensor(shape: [1], data: [2])]
        opt.step(weights: &x, gradients: [Tensor(shape: [1], data: [0])], indices: [0])
        #expect(abs(x[0].data[0] - 1.9) < 1e-6)
    }

    @Test func referenceAdamDefaults() {
        let o = Optimizer.referenceAdam()
        #expect(o.learningRate == 1e-3)
        #expect(o.kind == .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-5))
    }

    @Test func clipGlobalNorm() {
        var g = [Tensor(shape: [2], data: [3, 0]), Tensor(shape: [0]), Tensor(shape: [1], data: [4])]
        let norm = Optimizer.clipGlobalNorm(&g, maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        #expect(abs(g[0].data[0] - 0.6) < 1e-6 && g[0].data[1] == 0 && abs(g[2].data[0] - 0.8) < 1e-6)
        // Below the limit nothing changes.
        var h = [Tensor(shape: [2], data: [0.3, 0.4])]
        #expect(abs(Optimizer.clipGlobalNorm(&h, maxNorm: 1) - 0.5) < 1e-6)
        #expect(h[0].data == [0.3, 0.4])
        var z = [Tensor(shape: [2], data: [0, 0])]
        #expect(Optimizer.clipGlobalNorm(&z, maxNorm: 1) == 0 && z[0].data == [0, 0])
    }

    @Test func schedules() {
        let cos = LearningRateSchedule.cosine(epochs: 10, minimum: 0.001)
        #expect(abs(cos.rate(base: 0.1, epoch: 0) - 0.1) < 1e-7)
        #expect(abs(cos.rate(base: 0.1, epoch: 5) - 0.0505) < 1e-6)
        #expect(abs(cos.rate(base: 0.1, epoch: 10) - 0.001) < 1e-7)
        #expect(abs(cos.rate(base: 0.1, epoch: 25) - 0.001) < 1e-7)
        // Monotone decreasing in between.
        for e in 0..<10 { #expect(cos.rate(base: 0.1, epoch: e + 1) < cos.rate(base: 0.1, epoch: e)) }
        let step = LearningRateSchedule.step(every: 3, gamma: 0.5)
        #expect(step.rate(base: 0.8, epoch: 0) == 0.8 && step.rate(base: 0.8, epoch: 2) == 0.8)
        #expect(step.rate(base: 0.8, epoch: 3) == 0.4 && step.rate(base: 0.8, epoch: 6) == 0.2 && step.rate(base: 0.8, epoch: 8) == 0.2)
        #expect(LearningRateSchedule.constant.rate(base: 0.3, epoch: 100) == 0.3)
    }

    @Test func mismatchedGradientStops() async {
        await #expect(processExitsWith: .failure) {
            var opt = Optimizer(.sgd(momentum: 0, weightDecay: 0), learningRate: 0.1)
            var w = [Tensor(shape: [4])]
            opt.step(weights: &w, gradients: [Tensor(shape: [3])], indices: [0])
        }
    }
}
