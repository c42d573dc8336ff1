import Testing
import SNNCore
import SNNEngines
import SNNTensor
@testable import SNNTraining

/// BPTT's channel-by-channel LIF step (`BPTT.channelwiseLIFBackward`: a 2x2 average pooling's backward
/// pass read in place and batch norm's channel sums taken while `dL/dI` is written) must give the
/// same gradients, bit for bit, as the pooling's backward pass, the plain LIF step and the sums one
/// after another: every normalisation with statistics and none, every lane surrogate, both resets with
/// and without a differentiated reset, with and without the membrane carried across steps.
@Suite(.serialized)
struct ChannelwiseBackwardTests {
    @Test(arguments: ["bntt", "bn", "tdbn", ""], [Surrogate.triangle(height: 0.3, halfWidth: 1), .atan(alpha: 2), .fastSigmoid(slope: 25)])
    func sameGradientsAsSeparatePasses(kind: String, surrogate: Surrogate) throws {
        let suffix = kind.isEmpty ? "" : ":" + kind
        let steps = 3, batch = 3
        let rng = CounterRNG(seed: 21)
        let inputs = Tensor(shape: [steps, batch, 2, 8, 16], data: (0..<(steps * batch * 256)).map {
            rng.uniform(stream: 0, counter: UInt64($0)) * 2 - 0.7
        })
        let labels = [0, 2, 1]
        for reset in [ResetMode.subtract, .zero] {
            for detachReset in [true, false] {
                for detachMembrane in [false, true] {
                    var neuron = LIFParameters.bntt()
                    neuron.reset = reset
                    neuron.detachReset = detachReset
                    neuron.surrogate = surrogate
                    neuron.threshold = 0.6
                    let spec = try NetworkSpec.parse("input=2x8x16,conv4k3p1\(suffix),avg2,conv3k3p1\(suffix),avg2,fc5\(suffix),fc3:readout",
                                                     neuron: neuron, timeSteps: steps)
                    let network = try Network(spec: spec, seed: 7)
                    // Both populations of conv maps take the channel-by-channel step (and fold their pooling in).
                    let shapes = try #require(LayeredBPTT.testShapes(network, inputs: inputs))
                    for i in [1, 4] {
                        let plan = try #require(BPTT.channelwisePlan(spec, shapes: shapes, layer: i, membraneLoss: false), "layer \(i)")
                        #expect(plan.expandsPool && plan.sumsNormalization == !kind.isEmpty)
                    }
                    let computer = LayeredBPTT(options: .init(detachMembraneAcrossSteps: detachMembrane))
                    defer { BPTT.foldsIntoPopulationStep = true }
                    BPTT.foldsIntoPopulationStep = false
                    let separate = computer.lossAndGradients(network: network, inputs: inputs, labels: labels, loss: .meanCrossEntropy, seed: 3)
                    BPTT.foldsIntoPopulationStep = true
                    let folded = computer.lossAndGradients(network: network, inputs: inputs, labels: labels, loss: .meanCrossEntropy, seed: 3)
                    let context = "\(kind) \(surrogate) \(reset) detachReset \(detachReset) detachMembrane \(detachMembrane)"
                    for (l, (a, b)) in zip(folded.gradients, separate.gradients).enumerated() {
                        #expect(a.data.map(\.bitPattern) == b.data.map(\.bitPattern), "layer \(l): \(context)")
                    }
                    // Not vacuous: the first conv's weights got a gradient.
                    #expect(folded.gradients[0].data.contains { $0 != 0 }, "\(context)")
                }
            }
        }
    }
}

extension LayeredBPTT {
    /// The layer shapes a tape of `network` on `inputs` records.
    static func testShapes(_ network: Network, inputs: Tensor) -> [[Int]]? {
        (try? SNNEngines.LayeredEngine(network: network))?.run(inputs: inputs, training: true, tape: true).tape?.shapes
    }
}
