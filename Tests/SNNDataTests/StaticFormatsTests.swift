import Foundation
import SNNData
import SNNTensor
import Testing

@Suite struct StaticFormatsTests {
    @Test func shippedMNISTTestSet() throws {
        let folder = try #require(TestData.shipped("mnist-t10k"))
        let ds = try MNIST.load(folder: folder, split: "t10k", encoding: .direct, timeSteps: 2)
        #expect(ds.count == 10_000)
        #expect(ds.frameShape == [1, 28, 28])
        #expect(ds.label(0) == 7 && ds.label(1) == 2 && ds.label(2) == 1)
        #expect(ds.classCounts() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let x = try ds.frames(0)
        #expect(x.shape == [2, 1, 28, 28])
        #expect(x.data.max()! == 1 && x.data.min()! == 0)
    }

    @Test func shippedMNISTCSV() throws {
        let url = try #require(TestData.shipped("mnist-5k-train/mnist_5k.csv.gz"))
        let ds = try StaticImageDataset(csv: url, imageShape: [1, 28, 28], maxValue: 255, classCount: 10,
                                        encoding: .poisson, timeSteps: 3, seed: 1)
        #expect(ds.count == 5000 && ds.classCounts() == [Int](repeating: 500, count: 10))
    }

    @Test func idxPlainAndBad() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = IDX.encode(dims: [2, 2, 3], bytes: [0, 255, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6])
        let labels = IDX.encode(dims: [2], bytes: [3, 9])
        TestData.write(images, to: dir.appendingPathComponent("train-images-idx3-ubyte"))
        TestData.write(labels, to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        let ds = try MNIST.load(folder: dir, encoding: .direct, timeSteps: 1)
        #expect(ds.count == 2 && ds.frameShape == [1, 2, 3] && ds.label(1) == 9)
        #expect(try ds.frames(0).data[1] == 1)
        // Label out of range, named with its sample and byte offset.
        TestData.write(IDX.encode(dims: [2], bytes: [3, 10]), to: dir.appendingPathComponent("train-labels-idx1-ubyte"))
        let e = TestData.dataError { try MNIST.load(folder: dir) }
        #expect(e?.kind == .label && e?.sample == 1 && e?.offset == 9)
        // Truncated data, bad magic, wrong type, missing file.
        #expect(TestData.dataError { try IDX.decode(Array(images.dropLast())) }?.kind == .truncated)
        #expect(TestData.dataError { try IDX.decode(images + [0]) }?.kind == .corrupt)
        #expect(TestData.dataError { try IDX.decode([1, 0, 8, 1]) }?.kind == .corrupt)
        #expect(TestData.dataError { try IDX.decode([0, 0, 0x0D, 1, 0, 0, 0, 0]) }?.kind == .unsupported)
        #expect(TestData.dataError { try IDX.decode([0, 0, 8]) }?.kind == .truncated)
        #expect(TestData.dataError { try MNIST.load(folder: dir, split: "t10k") }?.kind == .layout)
    }

    @Test func cifar10() throws {
        let dir = TestData.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var img = [UInt8](repeating: 0, count: 2 * 3072)
        img[0] = 255          // image 0, red (0, 0)
        img[3072 + 1024] = 51 // image 1, green (0, 0)
        let rec = CIFAR10.encode(images: img, labels: [6, 1])
        TestData.write(rec, to: dir.appendingPathComponent("data_batch_1.bin"))
        TestData.write(rec, to: dir.appendingPathComponent("data_batch_2.bin"))
        TestData.write(Array(rec.prefix(3073)), to: dir.appendingPathComponent("test_batch.bin"))
        let train = try CIFAR10.load(folder: dir, encoding: .direct, timeSteps: 1)
        #expect(train.count == 4 && train.frameShape == [3, 32, 32])
        #expect(train.sampleLabels == [6, 1, 6, 1])
        #expect(try train.frames(0).data[0] == 1)
        #expect(abs(try train.frames(1).data[1024] - 0.2) < 1e-6)
        #expect(try CIFAR10.load(folder: dir, split: "test").count == 1)
        TestData.write(Array(rec.dropLast(10)), to: dir.appendingPathComponent("data_batch_2.bin"))
        let e = TestData.dataError { try CIFAR10.load(folder: dir) }
        #expect(e?.kind == .truncated && e?.file?.hasSuffix("data_batch_2.bin") == true && e?.offset == 3073 && e?.sample == 3)
        var bad = rec
        bad[3073] = 10
        #expect(TestData.dataError { try CIFAR10.decode(bad) }?.sample == 1)
        #expect(TestData.dataError { try CIFAR10.decode([]) }?.kind == .truncated)
        #expect(TestData.dataError { try CIFAR10.load(folder: dir.appendingPathComponent("none")) }?.kind == .layout)
    }
}
