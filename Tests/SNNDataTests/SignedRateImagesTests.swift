import Testing
import SNNData
import SNNTensor

/// BNTT's input: signed Poisson coding of normalised images, fresh every epoch, with crop and flip.
struct SignedRateImagesTests {
    static func images() throws -> StaticImageDataset {
        let n = 2 * 3 * 8 * 8
        let pixels = (0..<n).map { Float(($0 * 37) % 101) / 100 }
        return try StaticImageDataset(pixels: pixels, labels: [0, 1], imageShape: [3, 8, 8], classCount: 2, encoding: .direct, timeSteps: 1, seed: 0)
    }

    @Test func signedSpikesFollowTheNormalisedPixels() throws {
        let img = try Self.images()
        let (mean, std) = SignedRateImages.channelStatistics(img, indices: [0, 1])
        #expect(mean.count == 3 && std.allSatisfy { $0 > 0 })
        let d = try SignedRateImages(images: img, mean: mean, std: std, augment: false, timeSteps: 400, seed: 5)
        let x = try d.frames(1)
        #expect(x.shape == [400, 3, 8, 8])
        #expect(x.data.allSatisfy { $0 == 0 || $0 == 1 || $0 == -1 })
        // Per pixel: the sign of its spikes is the sign of p, and the firing rate is about |p| / 2.
        for j in stride(from: 0, to: 192, by: 7) {
            let c = j / 64
            let p = (img.pixels[192 + j] - mean[c]) / std[c]
            let spikes = (0..<400).map { x.data[$0 * 192 + j] }
            #expect(spikes.allSatisfy { $0 == 0 || ($0 > 0) == (p > 0) })
            let rate = Float(spikes.filter { $0 != 0 }.count) / 400
            #expect(abs(rate - min(1, abs(p) / 2)) < 0.1, "pixel \(j): rate \(rate), p \(p)")
        }
        // Reproducible; fresh draws each epoch and each step.
        #expect(try d.frames(1) == x)
        #expect(try d.forEpoch(1).frames(1) != x)
        #expect(Array(x.data[0..<192]) != Array(x.data[192..<384]))
    }

    @Test func cropAndFlipMoveThePixels() throws {
        let img = try Self.images()
        let ones = [Float](repeating: 1, count: 3), zeros = [Float](repeating: 0, count: 3)
        // std 1, mean 0: p = pixel; with 2 steps the spikes are not the test, so read through many epochs:
        // an augmented sample differs from the plain one in some epoch, and is all-zero where padded.
        let plain = try SignedRateImages(images: img, mean: zeros, std: ones, augment: false, timeSteps: 1, seed: 3)
        let aug = try SignedRateImages(images: img, mean: zeros, std: ones, augment: true, timeSteps: 1, seed: 3)
        var differs = false
        for e in 0..<8 where try aug.forEpoch(e).frames(0) != plain.forEpoch(e).frames(0) { differs = true }
        #expect(differs)
        #expect(throws: DataError.self) { try SignedRateImages(images: img, mean: [0], std: [1], augment: false, timeSteps: 2, seed: 1) }
        #expect(throws: DataError.self) { try SignedRateImages(images: img, mean: zeros, std: [1, 0, 1], augment: false, timeSteps: 2, seed: 1) }
    }
}
