import Testing
import SNNCore
import SNNEngines
import SNNTensor
@testable import SNNTraining

/// The reverse pass takes groups of eight consecutive integrations of a hidden population in lanes
/// (``IntegrationLanes``, and the silent-integration queue's group path): the same bits as the scalar path.
@Suite("Unlayered reverse pass in lanes")
struct IntegrationLanesTests {
    typealias Population = UnlayeredBackprop.Workspace.Population

    @Test("each lane gives the scalar reverse's bits: resets, detached reset, cut, refractory and spiking lanes")
    func lanesMatchTheScalarReverse() {
        // Margins with signed zeros, the cut's edge, large and tiny values; every flag combination.
        let margins: [Float] = [0, -0.0, -0.1, -0.100_000_01, 1e-30, 2.5, -7, 0.3, 0.05, -0.3, 1, -1e-20, 4, -2, 0.2, 0.7]
        let flags: [UInt8] = [0, 1, 2, 3, 2 | 4, 0, 2, 1, 0, 2, 3, 0, 2 | 4, 1, 0, 2]
        let sgIn: [Float] = margins.map { 0.5 / (1 + abs($0)) }
        let dS: [Float] = (0..<16).map { Float($0) * 0.37 - 2.1 }
        let dVIn: [Float] = (0..<16).map { Float(15 - $0) * -0.23 + 0.4 }
        for reset in [ResetMode.zero, .subtract] {
            for detach in [false, true] {
                for cut in [nil, Float(-0.1)] {
                    let pop = Population(threshold: 0.3, reset: reset, surrogate: .atan(alpha: 2), detach: detach)
                    for start in [0, 8] {
                        var dV = Array(dVIn[start..<(start + 8)])
                        var dP = [Float](repeating: .nan, count: 8)
                        IntegrationLanes.reverse(pop, flags: Array(flags[start..<(start + 8)]), margins: Array(margins[start..<(start + 8)]),
                                                 surrogateGradients: Array(sgIn[start..<(start + 8)]), cut: cut,
                                                 spikeGradients: Array(dS[start..<(start + 8)]), membraneGradients: &dV, currentGradients: &dP)
                        for k in 0..<8 {
                            let i = start + k
                            // The scalar path of UnlayeredBackprop.Workspace.accumulate, written out.
                            let x = margins[i]
                            var sg = sgIn[i]
                            if let cut, x < cut { sg = 0 }
                            let spiked = flags[i] & AsyncTape.spikedBit != 0
                            let dU = dS[i] * sg + dVIn[i] * LIFDynamics.resetDerivative(
                                u: x + pop.threshold, spike: spiked ? 1 : 0, surrogateGradient: sg,
                                threshold: pop.threshold, reset: reset, detach: detach)
                            let want: Float = flags[i] & AsyncTape.refractoryBit != 0 ? 0 : dU
                            let context = "\(reset) detach \(detach) cut \(String(describing: cut)) lane \(i)"
                            #expect(dP[k].bitPattern == want.bitPattern, "dP: \(context): \(dP[k]) vs \(want)")
                            #expect(dV[k].bitPattern == want.bitPattern, "dV: \(context): \(dV[k]) vs \(want)")
                        }
                    }
                }
            }
        }
    }

    @Test("consecutive ids: hand cases")
    func consecutiveIds() {
        #expect(IntegrationLanes.areConsecutive([5, 6, 7, 8, 9, 10, 11, 12], from: 5))
        #expect(!IntegrationLanes.areConsecutive([5, 6, 7, 8, 9, 10, 11, 12], from: 4))
        #expect(!IntegrationLanes.areConsecutive([5, 6, 7, 8, 9, 10, 12, 11], from: 5))
        #expect(!IntegrationLanes.areConsecutive([5, 6, 7, 8, 9, 10, 11, 13], from: 5))
        #expect(IntegrationLanes.areConsecutive([-8, -7, -6, -5, -4, -3, -2, -1], from: -8))
    }

    /// Whole reverse passes with and without lanes, over tapes whose hidden populations (24 and 16
    /// neurons) integrate in groups of eight, give the same gradients bit for bit.
    @Test(arguments: [ResetMode.zero, .subtract], [Int?.none, 3])
    func reversePassesInLanesEqualTheScalarPath(reset: ResetMode, F: Int?) throws {
        for detach in [false, true] {
            let neuron = LIFParameters(beta: 0.7, threshold: 0.3, reset: reset, surrogate: .fastSigmoid(slope: 5), detachReset: detach)
            let net = try UnlayeredBackpropTests.network([40, 24, 16, 10], neuron: neuron, seed: 12, low: -0.15, high: 0.5)
            let frames = 4, batch = 3, size = 40
            let x = UnlayeredBackpropTests.inputs(frames: frames, batch: batch, size: size, seed: 8, density: 0.5)
            let engine = try AsyncEngine(network: net)
            var options = AsyncOptions(forwardGroupSize: F, scheduler: .momentum, seed: 2)
            options.recordTape = true
            let run = engine.run(inputs: x, labels: [0, 4, 9], options: options)
            let tapes = try #require(run.tapes)
            // The lane path's precondition occurs: eight consecutive hidden neurons recorded in a row.
            var groups = 0
            for tape in tapes {
                let ids = tape.integrationNeuron
                var r = 0
                while r + 8 <= ids.count {
                    if ids[r] < 40, (0..<8).allSatisfy({ ids[r + $0] == ids[r] + Int32($0) }) { groups += 1; r += 8 } else { r += 1 }
                }
            }
            #expect(groups > 20, "hidden groups of eight: \(groups)")
            let d = (0..<(frames * 10)).map { Float($0 % 7) * 0.2 - 0.6 }
            let copy = UnlayeredBackprop.WeightCopy(net)
            for backprop in [UnlayeredBackprop.Options(), .init(silentGradientOnlyAtFrameEnd: true),
                             .init(backpropThreshold: -0.1), .init(truncatePerFrame: true)] {
                var results: [[Tensor]] = []
                for inLanes in [true, false] {
                    let workspace = UnlayeredBackprop.Workspace(engine: engine, weights: copy)
                    workspace.reversesInLanes = inLanes
                    x.data.withUnsafeBufferPointer { p in
                        for b in 0..<batch {
                            workspace.accumulate(tape: tapes[b], input: p.baseAddress! + b * size, frames: frames,
                                                 frameStride: batch * size, outputGradient: d, options: backprop)
                        }
                    }
                    var g = net.weights.map { Tensor(shape: $0.shape) }
                    workspace.addGradients(into: &g)
                    results.append(g)
                }
                var nonZero = 0
                for i in net.parameterIndices {
                    #expect(results[0][i].data.map(\.bitPattern) == results[1][i].data.map(\.bitPattern),
                            "\(reset) F \(String(describing: F)) detach \(detach) \(backprop): layer \(i)")
                    nonZero += results[1][i].data.filter { $0 != 0 }.count
                }
                #expect(nonZero > 100, "gradients must not vanish: \(nonZero) non-zero")
            }
        }
    }
}
