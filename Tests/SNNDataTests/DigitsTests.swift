import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct DigitsTests {
    @Test func shippedDigits() throws {
        let url = try #require(TestData.shipped("digits/digits.csv.gz"))
        let ds = try DigitsDataset(csvGz: url, encoding: .direct, timeSteps: 4, seed: 1)
        #expect(ds.count == 1797)
        #expect(ds.frameShape == [64])
        #expect(ds.classCounts() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        let x = try ds.frames(0)
        #expect(x.shape == [4, 64])
        #expect(x.data[2] == 5 / 16 && x.data[64 + 2] == 5 / 16)
        #expect(x.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(ds.label(0) == 0)
    }

    @Test func poissonIsReproducibleAndRateCoded() throws {
        let pixels: [Float] = [0, 0.25, 1, 0.5]
        let ds = try StaticImageDataset(pixels: pixels, labels: [1], imageShape: [4], classCount: 2,
                                        encoding: .poisson, timeSteps: 4000, seed: 7)
        let a = try ds.frames(0), b = try ds.frames(0)
        #expect(a == b)
        #expect(Set(a.data).isSubset(of: [0, 1]))
        var rate = [Float](repeating: 0, count: 4)
        for t in 0..<4000 { for p in 0..<4 { rate[p] += a.data[t * 4 + p] / 4000 } }
        #expect(rate[0] == 0 && abs(rate[2] - 1) < 1e-4)
        #expect(abs(rate[1] - 0.25) < 0.03 && abs(rate[3] - 0.5) < 0.03)
        let c = try ds.with(seed: 8).frames(0)
        #expect(c != a)
    }

    @Test func badCSV() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("d.csv")
        func load() throws -> StaticImageDataset {
            try StaticImageDataset(csv: f, imageShape: [2], maxValue: 16, classCount: 3, encoding: .direct, timeSteps: 1, seed: 0)
        }
        TestData.write(Array("1,2,0\r\n16,0,2\n".utf8), to: f)
        #expect(try load().count == 2)
        TestData.write(Array("1,2,0\n16,0,3\n".utf8), to: f)
        let e = TestData.dataError { try load() }
        #expect(e?.kind == .label && e?.sample == 1)
        TestData.write(Array("1,2,0\n16,0\n".utf8), to: f)
        #expect(TestData.dataError { try load() }?.kind == .truncated)
        TestData.write(Array("1,2,0\n17,0,1\n".utf8), to: f)
        #expect(TestData.dataError { try load() }?.kind == .corrupt)
        TestData.write(Array("1,x,0\n".utf8), to: f)
        #expect(TestData.dataError { try load() }?.offset == 2)
        TestData.write([], to: f)
        #expect(TestData.dataError { try load() }?.kind == .truncated)
    }
}
