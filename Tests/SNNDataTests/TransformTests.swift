import SNNData
import SNNTensor
import Testing

@Suite struct TransformTests {
    @Test func downsampleFixedLengthAndTimeBinning() {
        // [T=3, C=1, H=4, W=4] with value = flat index.
        let x = Tensor(shape: [3, 1, 4, 4], data: (0..<48).map(Float.init))
        let d = FrameTransforms.downsample(x, factor: 2)
        #expect(d.shape == [3, 1, 2, 2])
        let expected: [Float] = [10, 18, 42, 50] // 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15
        #expect(Array(d.data.prefix(4)) == expected)
        #expect(d.sum() == x.sum())
        let p = FrameTransforms.fixedLength(x, timeSteps: 5)
        #expect(p.shape == [5, 1, 4, 4] && Array(p.data.prefix(48)) == x.data && p.data[48...].allSatisfy { $0 == 0 })
        #expect(FrameTransforms.fixedLength(x, timeSteps: 1).data == Array(x.data.prefix(16)))
        let b = FrameTransforms.binTime(x, factor: 2)
        #expect(b.shape == [2, 1, 4, 4] && b.data[0] == 0 + 16 && b.data[16] == 32)
        #expect(FrameTransforms.clip(x, to: 1).data.max() == 1)
    }

    @Test func transformedDatasets() throws {
        let base = try StaticImageDataset(pixels: [Float](repeating: 0.5, count: 2 * 16), labels: [0, 1], imageShape: [1, 4, 4],
                                          classCount: 2, encoding: .direct, timeSteps: 4, seed: 0)
        let t = base.downsampled(by: 2).timeBinned(by: 3).fixedLength(3)
        #expect(t.frameShape == [1, 2, 2] && t.timeSteps == 3)
        let f = try t.frames(1)
        #expect(f.shape == [3, 1, 2, 2])
        #expect(f.data == [6, 6, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0])
    }

    @Test func spikeTrainsWithChannelBinning() throws {
        let f = try SpikeTrains.frames(times: [0, 0.0049, 0.005, 0.012, 0.5], units: [0, 3, 699, 4, 1],
                                       channels: 700, channelBin: 4, frameDuration: 0.005, timeSteps: 3)
        #expect(f.shape == [3, 175])
        #expect(f.data[0] == 2 && f.data[175 + 174] == 1 && f.data[2 * 175 + 1] == 1 && f.sum() == 4)
        #expect(TestData.dataError { try SpikeTrains.frames(times: [0.2, 0.1], units: [0, 0], channels: 700, frameDuration: 0.01, timeSteps: 1) }?.kind == .timestamps)
        #expect(TestData.dataError { try SpikeTrains.frames(times: [0.1], units: [700], channels: 700, frameDuration: 0.01, timeSteps: 1) }?.kind == .corrupt)
        #expect(TestData.dataError { try SpikeTrains.frames(times: [.nan], units: [0], channels: 700, frameDuration: 0.01, timeSteps: 1) }?.kind == .corrupt)
        #expect(TestData.dataError { try SpikeTrains.frames(times: [0.1], units: [], channels: 700, frameDuration: 0.01, timeSteps: 1) }?.kind == .corrupt)
    }
}
