import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct InspectionTests {
    @Test func pictures() {
        // Two frames of a 2x3 sensor: one ON event at (x 1, y 0) in frame 0, one OFF at (x 2, y 1) in frame 1.
        var x = Tensor(shape: [2, 2, 2, 3])
        x.data[(0 * 2 + 1) * 6 + 0 * 3 + 1] = 1
        x.data[(1 * 2 + 0) * 6 + 1 * 3 + 2] = 1
        let g = FramePicture.grey(x, gap: 1)
        #expect(g.width == 7 && g.height == 2)
        #expect(g.pixels[1] == 255)           // ON: bright
        #expect(g.pixels[7 + 4 + 2] == 1)     // OFF: dark (128 - 127)
        #expect(g.pixels[0] == 128)           // nothing: grey
        #expect(g.pixels[3] == 255)           // gap column
        let pgm = FramePicture.pgm(x, scale: 2)
        #expect(pgm.starts(with: Array("P5\n14 4\n255\n".utf8)) && pgm.count == 12 + 14 * 4)
        #expect(FramePicture.svg(x).contains("<svg") && FramePicture.svg(x).hasSuffix("</svg>\n"))
        // A flattened 8x8 image is drawn square; other 1-D frames as a raster.
        #expect(FramePicture.grey(Tensor(shape: [3, 64])).width == 3 * 8 + 2)
        #expect(FramePicture.grey(Tensor(shape: [5, 700])).height == 700)
    }

    @Test func statistics() {
        let s = SampleStatistics((1...100).map(Double.init))
        #expect(s.mean == 50.5 && s.median == 50 && s.p5 == 5 && s.p95 == 95 && s.min == 1 && s.max == 100)
        #expect(SampleStatistics([]).count == 0)
    }

    @Test func skippingBadSamplesCountsThem() throws {
        let ds = CountingDataset(count: 20, failAt: 13)
        let (clean, skipped) = try ds.skippingBadSamples()
        #expect(clean.count == 19 && !clean.indices.contains(13))
        #expect(skipped.count == 1 && skipped[0].index == 13 && skipped[0].error.sample == 13)
        // Real files: one truncated N-MNIST sample among good ones.
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = NMNIST.encode([Event(x: 1, y: 1, polarity: 1, timestamp: 10)])
        for k in 0..<5 { TestData.write(k == 2 ? [1, 2, 3] : good, to: dir.appendingPathComponent("Train/\(k)/\(k).bin")) }
        let nm = try NMNISTDataset(root: dir)
        #expect(TestData.dataError { try BatchLoader(dataset: nm, batchSize: 5, shuffle: false, seed: 0).forEachBatch { _ in } }?.sample == 2)
        let (cleanNM, skippedNM) = try nm.skippingBadSamples()
        #expect(cleanNM.count == 4 && skippedNM.map(\.index) == [2] && skippedNM[0].error.kind == .truncated)
        // The loader can skip them on the fly, batch by batch, and report them.
        for workers in [0, 2] {
            var loader = BatchLoader(dataset: nm, batchSize: 2, shuffle: true, seed: 3, workers: workers)
            loader.skipBadSamples = true
            var seen: [Int] = []
            for e in 0..<3 { try loader.forEachBatch(epoch: e) { b in
                #expect(b.inputs.shape == [10, b.indices.count, 2, 34, 34] && !b.indices.isEmpty)
                seen += b.indices
            } }
            #expect(seen.sorted() == [0, 0, 0, 1, 1, 1, 3, 3, 3, 4, 4, 4])
            #expect(loader.skippedSamples.map(\.index) == [2] && loader.skippedSamples[0].error.file?.hasSuffix("2.bin") == true)
        }
        // A batch whose only sample is bad is not yielded at all.
        var single = BatchLoader(dataset: nm, batchSize: 1, shuffle: false, seed: 0)
        single.skipBadSamples = true
        var n = 0
        for _ in single { n += 1 }
        #expect(n == 4 && single.lastError == nil && single.skippedSamples.count == 1)
    }
}
