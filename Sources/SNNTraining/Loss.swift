import Foundation
import SNNTensor

/// Training objectives on a network's output over time.
///
/// `outputs[t]` is the last layer's output at time step `t`, `[batch, classes]` (spike counts, or
/// currents for a non-spiking read-out); `membranes[t]` its pre-reset membrane when it is LIF.
public enum Loss: String, Codable, CaseIterable, Sendable {
    /// Mean over frames of the cross-entropy of that frame's output spike counts (the asynchronous
    /// reference's loss, and the default).
    case rateCrossEntropy = "rate-ce"
    /// Cross-entropy of the output spike counts summed over all frames.
    case countCrossEntropy = "count-ce"
    /// Cross-entropy of the output membrane averaged over frames.
    case membraneCrossEntropy = "membrane-ce"
    /// Cross-entropy of the output averaged over the T steps: for a non-spiking read-out (the last layer
    /// a linear layer without neurons) the mean current is the logit vector (BNTT's read-out).
    case meanCrossEntropy = "mean-ce"
    /// Mean squared error between summed spike counts and targets: `0.8 T` for the correct class,
    /// `0.2 T` for the others (snnTorch's `mse_count_loss` defaults).
    case countMSE = "count-mse"

    /// The loss value averaged over the batch, and its gradients with respect to `outputs[t]`
    /// and (for `membraneCrossEntropy`) `membranes[t]`.
    ///
    /// Every row's gradient depends on that row alone and on the batch size, so some rows of a batch
    /// can be evaluated on their own: pass those rows and the whole batch's size as `batchSize` (nil:
    /// the rows given are the batch) to get the same gradient rows, bit for bit, as the whole batch
    /// gives (the loss value is then the rows' sum over `batchSize`).
    public func evaluate(outputs: [Tensor], membranes: [Tensor], labels: [Int], batchSize: Int? = nil)
        -> (loss: Float, outputGradients: [Tensor], membraneGradients: [Tensor]?) {
        let steps = outputs.count
        let rows = labels.count
        let batch = batchSize ?? rows
        let classes = outputs[0].shape[1]
        // Fix: checked in release builds too (-Ounchecked does not evaluate `precondition`).
        if outputs.isEmpty || outputs[0].rank != 2 || outputs.contains(where: { $0.shape != outputs[0].shape }) || outputs[0].shape[0] != rows {
            fatalError("Loss: \(rows) labels for outputs \(outputs.map(\.shape)) (need T >= 1 tensors [batch, classes])")
        }
        if batch < rows { fatalError("Loss: batch size \(batch) is smaller than the \(rows) rows given") }
        // Fix: a label outside the output classes used to read another sample's logit (or past the end)
        // in the cross-entropies and to give no target at all in count-mse; now it stops with a message
        // (fatalError, not precondition: release builds use -Ounchecked, which removes preconditions).
        if !labels.allSatisfy({ $0 >= 0 && $0 < classes }) { fatalError("Loss: labels must be in 0..<\(classes), got \(labels)") }
        var zero = outputs.map { Tensor(shape: $0.shape) }
        switch self {
        case .rateCrossEntropy:
            var total: Float = 0
            for t in 0..<steps {
                let (l, g) = Loss.softmaxCrossEntropy(outputs[t], labels, scale: 1 / Float(steps * batch))
                total += l; zero[t] = g
            }
            return (total / Float(steps * batch), zero, nil)
        case .countCrossEntropy:
            var sum = outputs[0]
            for t in 1..<steps { for j in 0..<sum.count { sum.data[j] += outputs[t].data[j] } }
            let (l, g) = Loss.softmaxCrossEntropy(sum, labels, scale: 1 / Float(batch))
            return (l / Float(batch), [Tensor](repeating: g, count: steps), nil)
        case .meanCrossEntropy:
            var mean = outputs[0]
            for t in 1..<steps { for j in 0..<mean.count { mean.data[j] += outputs[t].data[j] } }
            for j in 0..<mean.count { mean.data[j] /= Float(steps) }
            let (l, g) = Loss.softmaxCrossEntropy(mean, labels, scale: 1 / Float(batch * steps))
            return (l / Float(batch), [Tensor](repeating: g, count: steps), nil)
        case .membraneCrossEntropy:
            if membranes.count != steps || membranes.contains(where: { $0.shape != outputs[0].shape }) {
                fatalError("membrane-ce needs a LIF output layer (\(steps) membranes shaped like the outputs, got \(membranes.count))")
            }
            var mean = membranes[0]
            for t in 1..<steps { for j in 0..<mean.count { mean.data[j] += membranes[t].data[j] } }
            for j in 0..<mean.count { mean.data[j] /= Float(steps) }
            let (l, g) = Loss.softmaxCrossEntropy(mean, labels, scale: 1 / Float(batch * steps))
            return (l / Float(batch), zero, [Tensor](repeating: g, count: steps))
        case .countMSE:
            var sum = outputs[0]
            for t in 1..<steps { for j in 0..<sum.count { sum.data[j] += outputs[t].data[j] } }
            var g = Tensor(shape: sum.shape)
            var l: Float = 0
            let denominator = Float(batch * classes)
            for b in 0..<rows {
                for c in 0..<classes {
                    let target = Float(steps) * (c == labels[b] ? 0.8 : 0.2)
                    let d = sum.data[b * classes + c] - target
                    l += d * d
                    g.data[b * classes + c] = 2 * d / denominator
                }
            }
            return (l / denominator, [Tensor](repeating: g, count: steps), nil)
        }
    }

    /// Sum over rows of `-log softmax(logits)[label]`, and `scale * (softmax - onehot)`.
    public static func softmaxCrossEntropy(_ logits: Tensor, _ labels: [Int], scale: Float) -> (Float, Tensor) {
        let rows = logits.shape[0], cols = logits.shape[1]
        if labels.count != rows || !labels.allSatisfy({ $0 >= 0 && $0 < cols }) {
            fatalError("softmaxCrossEntropy: \(rows) labels in 0..<\(cols) needed, got \(labels)")
        }
        var grad = Tensor(shape: logits.shape)
        var total: Float = 0
        for r in 0..<rows {
            let base = r * cols
            var m = -Float.infinity
            for c in 0..<cols { m = max(m, logits.data[base + c]) }
            var z: Float = 0
            for c in 0..<cols { z += expf(logits.data[base + c] - m) }
            let logZ = logf(z) + m
            total += logZ - logits.data[base + labels[r]]
            for c in 0..<cols {
                let p = expf(logits.data[base + c] - logZ)
                grad.data[base + c] = scale * (p - (c == labels[r] ? 1 : 0))
            }
        }
        return (total, grad)
    }
}
