import Foundation
import Testing
import SNNCore
import SNNEngines
import SNNTensor
import SNNTraining

/// BPTT's weight gradients against finite differences of the smoothed forward pass, per layer type.
struct GradientCheckTests {
    static func lif(_ reset: ResetMode = .zero, _ s: Surrogate = .sigmoid(slope: 4), beta: Float = 0.7,
                    threshold: Float = 0.3, detach: Bool = false) -> LIFParameters {
        LIFParameters(beta: beta, threshold: threshold, reset: reset, surrogate: s, detachReset: detach)
    }

    static func check(_ layers: [LayerSpec], input: [Int], steps: Int = 4, batch: Int = 2, training: Bool = false,
                      seed: UInt64 = 3, what: String, tolerance: Double = 1e-2,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let net = try Network(spec: NetworkSpec(inputShape: input, layers: layers), seed: seed)
        let gc = GradientCheck(network: net, inputs: GradientCheck.inputs(steps: steps, batch: batch, shape: input, seed: seed),
                               training: training, seed: 17)
        gc.expectCorrect(what, tolerance: tolerance, sourceLocation: sourceLocation)
    }

    struct MLPCase: Sendable, CustomTestStringConvertible {
        var reset: ResetMode
        var surrogate: Surrogate
        var testDescription: String { "\(reset) \(surrogate)" }
    }

    @Test(arguments: [MLPCase(reset: .zero, surrogate: .sigmoid(slope: 4)), MLPCase(reset: .subtract, surrogate: .sigmoid(slope: 4)),
                      MLPCase(reset: .zero, surrogate: .atan(alpha: 2)), MLPCase(reset: .subtract, surrogate: .atan(alpha: 2)),
                      MLPCase(reset: .zero, surrogate: .fastSigmoid(slope: 3))])
    func linearBothResets(_ c: MLPCase) throws {
        try Self.check([.linear(inFeatures: 6, outFeatures: 5), .lif(Self.lif(c.reset, c.surrogate)),
                        .linear(inFeatures: 5, outFeatures: 4), .lif(Self.lif(c.reset, c.surrogate))],
                       input: [6], what: "linear \(c.testDescription)")
    }

    @Test func conv2dStridePadding() throws {
        try Self.check([.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1), .lif(Self.lif()),
                        .flatten, .linear(inFeatures: 48, outFeatures: 4), .lif(Self.lif())],
                       input: [2, 7, 7], what: "conv s2 p1")
        try Self.check([.conv2d(inChannels: 1, outChannels: 2, kernel: 2, stride: 3, padding: 2), .lif(Self.lif(.subtract)),
                        .conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1), .lif(Self.lif(.subtract)),
                        .flatten, .linear(inFeatures: 3 * 4 * 4, outFeatures: 3), .lif(Self.lif(.subtract))],
                       input: [1, 8, 8], what: "conv k2 s3 p2 + conv k3 p1")
    }

    @Test func avgPool() throws {
        try Self.check([.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1), .lif(Self.lif()),
                        .avgPool2d(kernel: 2, stride: 2), .flatten, .linear(inFeatures: 27, outFeatures: 4), .lif(Self.lif())],
                       input: [2, 6, 6], what: "avgpool")
    }

    /// Max pooling of currents (continuous values, so ties have probability zero); any weight whose
    /// perturbation changes a pooling winner is skipped by the check.
    @Test func maxPool() throws {
        try Self.check([.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1), .maxPool2d(kernel: 2, stride: 2),
                        .lif(Self.lif()), .flatten, .linear(inFeatures: 27, outFeatures: 4), .lif(Self.lif())],
                       input: [2, 6, 6], what: "maxpool k2")
        try Self.check([.conv2d(inChannels: 1, outChannels: 2, kernel: 3, stride: 1, padding: 0), .lif(Self.lif(beta: 0.9)),
                        .maxPool2d(kernel: 3, stride: 2), .flatten, .linear(inFeatures: 8, outFeatures: 3), .lif(Self.lif())],
                       input: [1, 7, 7], what: "maxpool k3 s2 on smooth spikes")
    }

    @Test func dropoutWithFixedMask() throws {
        try Self.check([.linear(inFeatures: 6, outFeatures: 8), .lif(Self.lif()), .dropout(rate: 0.3),
                        .linear(inFeatures: 8, outFeatures: 4), .lif(Self.lif())],
                       input: [6], training: true, what: "dropout")
    }

    /// Current-based synapses (`I_t = alpha I_{t-1} + x_t`, snnTorch's Synaptic / NIR's CubaLIF) on both
    /// populations, both resets: the reverse recurrence over steps.
    @Test(arguments: [ResetMode.zero, .subtract])
    func synapticCurrent(reset: ResetMode) throws {
        var p1 = Self.lif(reset, .sigmoid(slope: 4), beta: 0.8)
        p1.synapticDecay = 0.7
        var p2 = Self.lif(reset, .sigmoid(slope: 4), beta: 0.9)
        p2.synapticDecay = 0.4
        try Self.check([.linear(inFeatures: 6, outFeatures: 5), .lif(p1), .linear(inFeatures: 5, outFeatures: 4), .lif(p2)],
                       input: [6], what: "synaptic current \(reset)")
    }

    /// A non-spiking read-out (the last layer is linear: outputs are currents, no membrane loss).
    @Test func linearReadout() throws {
        try Self.check([.linear(inFeatures: 6, outFeatures: 5), .lif(Self.lif()), .linear(inFeatures: 5, outFeatures: 3)],
                       input: [6], what: "linear read-out")
    }

    /// The check: a 3-layer network unrolled over 5 time steps (with a per-neuron decay in layer 1).
    @Test func threeLayersFiveSteps() throws {
        var p1 = Self.lif(.zero, .atan(alpha: 2), beta: 0.8)
        p1.perNeuronBeta = [0.9, 0.5, 0.7, 1.0, 0.6, 0.8, 0.95, 0.3]
        try Self.check([.linear(inFeatures: 6, outFeatures: 8), .lif(p1),
                        .linear(inFeatures: 8, outFeatures: 7), .lif(Self.lif(.zero, .atan(alpha: 2), beta: 0.9)),
                        .linear(inFeatures: 7, outFeatures: 4), .lif(Self.lif(.zero, .atan(alpha: 2), beta: 0.6))],
                       input: [6], steps: 5, batch: 3, what: "3 layers x 5 steps")
        try Self.check([.linear(inFeatures: 6, outFeatures: 8), .lif(Self.lif(.subtract, beta: 1)),
                        .linear(inFeatures: 8, outFeatures: 7), .lif(Self.lif(.subtract, beta: 1)),
                        .linear(inFeatures: 7, outFeatures: 4), .lif(Self.lif(.subtract, beta: 1))],
                       input: [6], steps: 5, batch: 2, what: "3 IF layers x 5 steps, subtract")
    }

    /// Larger sizes (batch 24, 300 inputs) so that the backward pass goes through the blocked, parallel kernels.
    @Test func mediumNetworks() throws {
        try Self.check([.linear(inFeatures: 300, outFeatures: 48), .lif(Self.lif(beta: 0.8)),
                        .linear(inFeatures: 48, outFeatures: 10), .lif(Self.lif(beta: 0.8))],
                       input: [300], steps: 5, batch: 24, what: "300-48-10, batch 24")
        try Self.check([.conv2d(inChannels: 2, outChannels: 8, kernel: 3, stride: 2, padding: 0), .lif(Self.lif()),
                        .conv2d(inChannels: 8, outChannels: 16, kernel: 3, stride: 2, padding: 1), .lif(Self.lif()),
                        .flatten, .linear(inFeatures: 16 * 4 * 4, outFeatures: 10), .lif(Self.lif())],
                       input: [2, 17, 17], steps: 3, batch: 16, what: "conv stack, batch 16")
    }

    /// The check is sensitive: a gradient that drops the reset's dependence on the spike is caught
    /// (so a BPTT that forgot that term would fail the checks above).
    @Test func checkDetectsAWrongGradient() throws {
        let layers: [LayerSpec] = [.linear(inFeatures: 6, outFeatures: 5), .lif(Self.lif(beta: 0.9)),
                                   .linear(inFeatures: 5, outFeatures: 4), .lif(Self.lif(beta: 0.9))]
        let net = try Network(spec: NetworkSpec(inputShape: [6], layers: layers), seed: 3)
        let gc = GradientCheck(network: net, inputs: GradientCheck.inputs(steps: 4, batch: 2, shape: [6], seed: 3))
        var detached = net
        for i in detached.spec.layers.indices {
            if case .lif(var p) = detached.spec.layers[i] { p.detachReset = true; detached.spec.layers[i] = .lif(p) }
        }
        let wrong = gc.compare(gc.bptt(network: detached))
        #expect(wrong.contains { $0.relativeError > 5e-2 }, "detached gradients should not match the full forward: \(wrong)")
        // And the time dimension matters: cutting the membrane path across steps is caught too.
        let cut = gc.compare(gc.bptt(options: .init(detachMembraneAcrossSteps: true)))
        #expect(cut.contains { $0.relativeError > 5e-2 }, "\(cut)")
    }

    /// Gradients that do not match the tape stop with a message (also under -Ounchecked).
    @Test func mismatchedOutputGradientsStop() async {
        await #expect(processExitsWith: .failure) {
            let net = try! Network(spec: NetworkSpec.parse("4-3", neuron: LIFParameters()), seed: 1)
            let run = try! LayeredEngine(network: net).run(inputs: Tensor(shape: [3, 2, 4]), tape: true)
            _ = BPTT.gradients(network: net, tape: run.tape!, outputGradients: [Tensor(shape: [2, 3])], membraneGradients: nil)
        }
    }
}
