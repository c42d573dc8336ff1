import Testing
@testable import SNNTensor

/// The im2col path of conv2dForward agrees with the event path on small dense inputs (the shapes the
/// normalised populations' gradient checks use), at any thread count.
struct ConvDenseSmallTests {
    @Test(arguments: [(2, 5, 4, 1), (4, 2, 6, 1), (16, 8, 32, 1), (1, 8, 3, 0)])
    func denseEqualsEvents(ci: Int, hw: Int, co: Int, p: Int) {
        let g = Conv2DGeometry(inChannels: ci, inHeight: hw, inWidth: hw, kernel: 3, stride: 1, padding: p)
        let batch = 4
        let rng = CounterRNG(seed: 3)
        let x = (0..<(batch * g.inSize)).map { rng.uniform(stream: 0, counter: UInt64($0)) < 0.6 ? rng.uniform(stream: 1, counter: UInt64($0)) : 0 }
        let w = (0..<(co * g.patchSize)).map { rng.uniform(stream: 2, counter: UInt64($0)) - 0.5 }
        var dense = [Float](repeating: .nan, count: batch * co * g.outPositions), events = dense
        for _ in 0..<20 {
            conv2dForward(input: x, batch: batch, weight: w, outChannels: co, geometry: g, output: &dense)
            conv2dForwardEvents(input: x, batch: batch, weight: w, outChannels: co, geometry: g, output: &events)
            #expect(zip(dense, events).allSatisfy { abs($0 - $1) < 1e-4 })
        }
    }
}
