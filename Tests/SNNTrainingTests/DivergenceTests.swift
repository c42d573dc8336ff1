import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// A non-finite loss or weight stops training with an error naming the epoch and batch.
struct DivergenceTests {
    func epoch(_ trainer: inout Trainer, _ x: Tensor, _ labels: [Int], epoch: Int = 0) throws -> EpochMetrics {
        try trainer.trainEpoch(epoch, batches: { body in
            for start in stride(from: 0, to: labels.count, by: 16) {
                let (bx, bl) = TrainingTests.batch(x, labels, start..<min(start + 16, labels.count))
                try body(bx, bl)
            }
        })
    }

    func trainer(lr: Float, optimizer: Optimizer.Kind = .adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0)) throws -> Trainer {
        var config = TrainingConfiguration()
        config.learningRate = lr
        config.optimizer = optimizer
        let spec = try NetworkSpec.parse("16-32-4", neuron: LIFParameters(beta: 0.8, threshold: 0.3))
        return Trainer(network: try Network(spec: spec, seed: 7), configuration: config, computer: LayeredBPTT())
    }

    @Test func infiniteLearningRateStopsAtTheFirstBatch() throws {
        let (x, labels) = TrainingTests.dataset(samples: 64, steps: 4, seed: 2)
        var t = try trainer(lr: .infinity)
        do {
            _ = try epoch(&t, x, labels, epoch: 2)
            Issue.record("training with lr = inf finished")
        } catch let e as TrainingError {
            #expect(e.epoch == 2 && e.batch == 1)
            #expect(e.description.contains("epoch 3, batch 1"), "\(e.description)")
            #expect(e.description.contains("non-finite weight") || e.description.contains("loss is"), "\(e.description)")
        }
        #expect(t.firstNonFiniteWeight() != nil)
    }

    @Test func nanInputStopsWithTheLoss() throws {
        var (x, labels) = TrainingTests.dataset(samples: 48, steps: 4, seed: 3)
        // Only the second batch (samples 16..<32) holds a NaN input.
        x.data[(0 * 48 + 20) * 16 + 3] = .nan
        var t = try trainer(lr: 1e-3, optimizer: .sgd(momentum: 0.9, weightDecay: 0))
        do {
            _ = try epoch(&t, x, labels)
            Issue.record("training on NaN inputs finished")
        } catch let e as TrainingError {
            #expect(e.epoch == 0 && e.batch == 2, "\(e.description)")
        }
    }

    @Test func finiteTrainingDoesNotStop() throws {
        let (x, labels) = TrainingTests.dataset(samples: 64, steps: 4, seed: 2)
        var t = try trainer(lr: 1e-2)
        let m = try epoch(&t, x, labels)
        #expect(m.loss.isFinite && m.samples == 64)
        #expect(t.firstNonFiniteWeight() == nil)
    }
}
