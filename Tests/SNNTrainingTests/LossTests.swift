import Foundation
import Testing
import SNNTensor
import SNNTraining

struct LossTests {
    @Test func softmaxCrossEntropyKnownValues() {
        let (l1, g1) = Loss.softmaxCrossEntropy(Tensor(shape: [1, 2], data: [0, 0]), [0], scale: 1)
        #expect(abs(l1 - Float(log(2.0))) < 1e-6)
        #expect(abs(g1.data[0] + 0.5) < 1e-6 && abs(g1.data[1] - 0.5) < 1e-6)
        // logits [1, 2, 3]: log(e + e^2 + e^3) = 3.40760596; softmax [0.09003057, 0.24472847, 0.66524096]
        let (l2, g2) = Loss.softmaxCrossEntropy(Tensor(shape: [2, 3], data: [1, 2, 3, 1, 2, 3]), [2, 0], scale: 0.5)
        #expect(abs(l2 - Float(0.40760596 + 2.40760596)) < 1e-5)
        let expected: [Float] = [0.09003057, 0.24472847, 0.66524096 - 1, 0.09003057 - 1, 0.24472847, 0.66524096].map { 0.5 * $0 }
        for j in 0..<6 { #expect(abs(g2.data[j] - expected[j]) < 1e-6) }
        // Large logits do not overflow.
        let (l3, g3) = Loss.softmaxCrossEntropy(Tensor(shape: [1, 3], data: [1000, 0, -1000]), [1], scale: 1)
        #expect(abs(l3 - 1000) < 1e-3 && g3.data.allSatisfy { $0.isFinite })
    }

    @Test func knownLossValues() {
        // Two steps, one sample, 2 classes: outputs [1, 0] then [0, 0]; label 0.
        let outs = [Tensor(shape: [1, 2], data: [1, 0]), Tensor(shape: [1, 2], data: [0, 0])]
        let mems = [Tensor(shape: [1, 2], data: [0.5, -0.5]), Tensor(shape: [1, 2], data: [1.5, 0.5])]
        // rate-ce: mean of CE([1,0]) = log(1 + e^-1) and CE([0,0]) = log 2.
        let rate = Loss.rateCrossEntropy.evaluate(outputs: outs, membranes: mems, labels: [0]).loss
        #expect(abs(Double(rate) - (log(1 + exp(-1.0)) + log(2.0)) / 2) < 1e-6)
        // count-ce: CE of summed [1, 0].
        let count = Loss.countCrossEntropy.evaluate(outputs: outs, membranes: mems, labels: [0]).loss
        #expect(abs(Double(count) - log(1 + exp(-1.0))) < 1e-6)
        // membrane-ce: CE of the mean membrane [1, 0].
        let mem = Loss.membraneCrossEntropy.evaluate(outputs: outs, membranes: mems, labels: [0]).loss
        #expect(abs(Double(mem) - log(1 + exp(-1.0))) < 1e-6)
        // count-mse: targets 0.8*2 = 1.6 and 0.2*2 = 0.4; ((1 - 1.6)^2 + (0 - 0.4)^2) / 2 = 0.26
        let mse = Loss.countMSE.evaluate(outputs: outs, membranes: mems, labels: [0]).loss
        #expect(abs(mse - 0.26) < 1e-6)
    }

    /// Each loss's gradients with respect to every output and membrane equal central differences.
    @Test(arguments: Loss.allCases)
    func gradientsMatchFiniteDifferences(_ loss: Loss) {
        let steps = 3, batch = 4, classes = 5
        let rng = CounterRNG(seed: 31)
        func random(_ s: UInt64, _ scale: Float) -> [Tensor] {
            (0..<steps).map { t in Tensor(shape: [batch, classes], data: (0..<(batch * classes)).map {
                rng.uniform(stream: s * 100 + UInt64(t), counter: UInt64($0)) * scale }) }
        }
        let outputs = random(1, 2), membranes = random(2, 3)
        let labels = [0, 3, 4, 3]
        let (_, gOut, gMem) = loss.evaluate(outputs: outputs, membranes: membranes, labels: labels)
        #expect(gOut.count == steps)
        #expect((gMem != nil) == (loss == .membraneCrossEntropy))
        let eps: Float = 1e-2
        func value(_ o: [Tensor], _ m: [Tensor]) -> Double { Double(loss.evaluate(outputs: o, membranes: m, labels: labels).loss) }
        var maxErr: Double = 0, maxG: Double = 0
        for t in 0..<steps {
            for j in 0..<(batch * classes) {
                var op = outputs, om = outputs
                op[t].data[j] += eps; om[t].data[j] -= eps
                let fdOut = (value(op, membranes) - value(om, membranes)) / Double(2 * eps)
                maxErr = max(maxErr, abs(fdOut - Double(gOut[t].data[j]))); maxG = max(maxG, abs(fdOut))
                var mp = membranes, mm = membranes
                mp[t].data[j] += eps; mm[t].data[j] -= eps
                let fdMem = (value(outputs, mp) - value(outputs, mm)) / Double(2 * eps)
                let gm = Double(gMem?[t].data[j] ?? 0)
                maxErr = max(maxErr, abs(fdMem - gm)); maxG = max(maxG, abs(fdMem))
            }
        }
        #expect(maxG > 1e-3, "\(loss): gradient vanishes")
        #expect(maxErr < 2e-3 * maxG + 1e-5, "\(loss): max error \(maxErr) (largest gradient \(maxG))")
    }

    /// A label outside the classes stops with a message instead of reading another sample's output.
    @Test func labelOutOfRangeIsRefused() async {
        await #expect(processExitsWith: .failure) {
            let outs = [Tensor(shape: [2, 3], data: [1, 0, 0, 0, 1, 0])]
            _ = Loss.rateCrossEntropy.evaluate(outputs: outs, membranes: [], labels: [0, 3])
        }
    }

    @Test func membraneLossWithoutMembranesIsRefused() async {
        await #expect(processExitsWith: .failure) {
            _ = Loss.membraneCrossEntropy.evaluate(outputs: [Tensor(shape: [1, 3])], membranes: [], labels: [0])
        }
        await #expect(processExitsWith: .failure) {
            _ = Loss.rateCrossEntropy.evaluate(outputs: [Tensor(shape: [2, 3])], membranes: [], labels: [0])
        }
    }

    @Test func lossNamesParse() {
        #expect(Loss(rawValue: "rate-ce") == .rateCrossEntropy)
        #expect(Loss(rawValue: "count-ce") == .countCrossEntropy)
        #expect(Loss(rawValue: "membrane-ce") == .membraneCrossEntropy)
        #expect(Loss(rawValue: "count-mse") == .countMSE)
    }
}
