import Foundation
import Testing
import SNNCore
import SNNTensor

struct ModelFileTests {
    static func tempDir(_ tag: String = #function) -> URL {
        let u = FileManager.default.temporaryDirectory
            .appendingPathComponent("snncore-\(tag.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    static func sampleNetwork() throws -> Network {
        let neuron = LIFParameters(beta: 0.75, threshold: 0.4, reset: .subtract, surrogate: .fastSigmoid(slope: 25),
                                   detachReset: true, perNeuronBeta: nil)
        let spec = try NetworkSpec.parse("input=2x6x6,conv3k3s2p1,max3,drop0.2,fc4", neuron: neuron)
        var net = try Network(spec: spec, seed: 11)
        // Odd bit patterns must survive: subnormals, negative zero, extremes.
        net.weights[0].data[0] = -0.0
        net.weights[0].data[1] = Float.leastNonzeroMagnitude
        net.weights[0].data[2] = Float.greatestFiniteMagnitude
        net.weights[0].data[3] = 1e-40
        return net
    }

    @Test func roundTripIsBitExact() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = try Self.sampleNetwork()
        let url = dir.appendingPathComponent("m.snnmodel")
        let meta = ["dataset": "digits", "seed": "11", "accuracy": "0.97", "unicode": "naïve ✓"]
        try ModelFile.write(net, metadata: meta, to: url)
        let (back, backMeta) = try ModelFile.read(from: url)
        #expect(back.spec == net.spec)
        #expect(backMeta == meta)
        #expect(back.weights.count == net.weights.count)
        for (a, b) in zip(back.weights, net.weights) {
            #expect(a.shape == b.shape)
            #expect(a.data.map(\.bitPattern) == b.data.map(\.bitPattern))
        }
        // Writing the same thing again gives the same bytes; the temporary file does not remain.
        let first = try Data(contentsOf: url)
        try ModelFile.write(back, metadata: backMeta, to: url)
        #expect(try Data(contentsOf: url) == first)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["m.snnmodel"])
        // Starts with the magic and version 2.
        #expect(Array(first.prefix(8)) == Array("SNNKITMD".utf8))
        #expect(Array(first[8..<12]) == [2, 0, 0, 0])
    }

    /// Per-neuron decays, every reset mode and surrogate survive the header.
    @Test func neuronParametersRoundTrip() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("p.snnmodel")
        for s in [Surrogate.atan(alpha: 2), .fastSigmoid(slope: 25), .sigmoid(slope: 5), .triangle(height: 0.3, halfWidth: 0.7)] {
            for reset in ResetMode.allCases {
                let a = LIFParameters(beta: 0.6, threshold: 0.35, reset: reset, surrogate: s, detachReset: reset == .zero,
                                      perNeuronBeta: [0.1, 0.2, 0.3])
                let spec = NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .lif(a),
                                                                 .linear(inFeatures: 3, outFeatures: 2), .lif(.reference)])
                let net = try Network(spec: spec, seed: 2)
                try ModelFile.write(net, to: url)
                #expect(try ModelFile.read(from: url).network == net)
            }
        }
    }

    @Test func writeCreatesFoldersAndReplacesAtomically() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a/b/model.snnmodel")
        let net = try Self.sampleNetwork()
        try ModelFile.write(net, to: url)
        var other = net
        other.weights[0].data[5] += 1
        try ModelFile.write(other, to: url)
        #expect(try ModelFile.read(from: url).network == other)
        #expect(try FileManager.default.contentsOfDirectory(atPath: url.deletingLastPathComponent().path) == ["model.snnmodel"])
    }

    /// Writing where it cannot be written is an error naming the file, and leaves no temporary file behind.
    @Test func writeFailuresNameTheFileAndLeaveNothing() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = try Self.sampleNetwork()
        // The parent "folder" is a regular file.
        let plain = dir.appendingPathComponent("plain.txt")
        try Data("x".utf8).write(to: plain)
        let under = plain.appendingPathComponent("m.snnmodel")
        do { try ModelFile.write(net, to: under); Issue.record("write under a file succeeded") } catch let e as ModelFileError {
            #expect(e.description.contains(under.path))
        } catch { Issue.record("unexpected error type \(error)") }
        // The target is an existing non-empty folder: the rename fails and the temporary file is removed.
        let folder = dir.appendingPathComponent("taken.snnmodel")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("y".utf8).write(to: folder.appendingPathComponent("inside"))
        do { try ModelFile.write(net, to: folder); Issue.record("write over a folder succeeded") } catch let e as ModelFileError {
            #expect(e.description.contains(folder.path))
        } catch { Issue.record("unexpected error type \(error)") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["plain.txt", "taken.snnmodel"])
    }

    /// Runs `read` and returns the error, failing the test when the read succeeds or the error does not name the file.
    static func expectError(_ url: URL, _ why: String, sourceLocation: SourceLocation = #_sourceLocation) -> ModelFileError? {
        do {
            _ = try ModelFile.read(from: url)
            Issue.record("\(why): read succeeded", sourceLocation: sourceLocation)
            return nil
        } catch let e as ModelFileError {
            #expect(e.description.contains(url.path), "\(why): error does not name the file: \(e)", sourceLocation: sourceLocation)
            #expect(e.url == url, sourceLocation: sourceLocation)
            return e
        } catch {
            Issue.record("\(why): unexpected error type \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func missingAndEmptyFiles() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = Self.expectError(dir.appendingPathComponent("missing.snnmodel"), "missing")
        let empty = dir.appendingPathComponent("empty.snnmodel")
        try Data().write(to: empty)
        let e = Self.expectError(empty, "empty")
        #expect(e?.problem.contains("0 bytes") == true)
    }

    @Test func truncatedAtEveryLength() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.snnmodel")
        try ModelFile.write(try Self.sampleNetwork(), to: good)
        let bytes = try Data(contentsOf: good)
        let bad = dir.appendingPathComponent("truncated.snnmodel")
        for length in 0..<bytes.count {
            try bytes.prefix(length).write(to: bad)
            _ = Self.expectError(bad, "truncated to \(length) of \(bytes.count)")
        }
        // Extra bytes at the end are an error too.
        try (bytes + Data([0, 1, 2])).write(to: bad)
        _ = Self.expectError(bad, "trailing bytes")
    }

    /// Flipping bits anywhere never crashes: it is an error naming the file (the CRC catches what the structure checks do not).
    @Test func flippedBytesAtEveryOffset() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.snnmodel")
        try ModelFile.write(try Self.sampleNetwork(), to: good)
        let bytes = [UInt8](try Data(contentsOf: good))
        let bad = dir.appendingPathComponent("flipped.snnmodel")
        for offset in 0..<bytes.count {
            for mask: UInt8 in offset < 24 || offset % 5 == 0 ? [0x01, 0x80, 0xFF] : [0x01, 0x80] {
                var b = bytes
                b[offset] ^= mask
                try Data(b).write(to: bad)
                _ = Self.expectError(bad, "byte \(offset) ^ \(mask)")
            }
        }
    }

    @Test func wrongMagicAndVersion() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.snnmodel")
        try ModelFile.write(try Self.sampleNetwork(), to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        // Version 3 (and 0) with a valid checksum: refused, by version.
        for version: UInt8 in [3, 0] {
            bytes[8] = version
            Self.resign(&bytes)
            try Data(bytes).write(to: url)
            let v = Self.expectError(url, "version \(version)")
            #expect(v?.problem.contains("version \(version)") == true)
        }
        bytes[8] = 2
        bytes[0] = UInt8(ascii: "X")
        Self.resign(&bytes)
        try Data(bytes).write(to: url)
        let m = Self.expectError(url, "magic")
        #expect(m?.problem.contains("magic") == true)
        // A text file.
        try Data(String(repeating: "hello world, not a model\n", count: 4).utf8).write(to: url)
        _ = Self.expectError(url, "text")
    }

    /// Replaces the trailing CRC so that only the structural checks can catch a change.
    static func resign(_ bytes: inout [UInt8]) {
        let crc = CRC32.checksum(bytes[0..<(bytes.count - 4)])
        for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
    }

    /// Builds a file with a valid checksum from a header and weight bytes (what a buggy writer could produce).
    static func craft(header: ModelFile.Header, weights: [Float], version: UInt8 = 2) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try encoder.encode(header))
        var bytes = Array("SNNKITMD".utf8)
        bytes += [version, 0, 0, 0]
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        for w in weights { withUnsafeBytes(of: w.bitPattern.littleEndian) { bytes += $0 } }
        bytes += [0, 0, 0, 0]
        resign(&bytes)
        return bytes
    }

    static func header(of url: URL) throws -> (ModelFile.Header, [Float]) {
        let bytes = [UInt8](try Data(contentsOf: url))
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[12 + i]) << (8 * UInt64(i)) }
        let h = try JSONDecoder().decode(ModelFile.Header.self, from: Data(bytes[20..<(20 + Int(n))]))
        let body = bytes[(20 + Int(n))..<(bytes.count - 4)]
        let floats = stride(from: body.startIndex, to: body.endIndex, by: 4).map { i in
            Float(bitPattern: UInt32(body[i]) | UInt32(body[i + 1]) << 8 | UInt32(body[i + 2]) << 16 | UInt32(body[i + 3]) << 24)
        }
        return (h, floats)
    }

    @Test func craftedFilesWithValidChecksum() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.snnmodel")
        let net = try Self.sampleNetwork()
        try ModelFile.write(net, to: url)
        let (h, w) = try Self.header(of: url)
        // The crafting helper reproduces the writer exactly (so the cases below differ only where intended).
        #expect(try Self.craft(header: h, weights: w) == [UInt8](try Data(contentsOf: url)))

        // Declared tensor shapes that disagree with the architecture.
        var wrongShapes = h
        wrongShapes.tensorShapes[0] = [2, 3, 3, 3]  // the conv's weight is [3, 2, 3, 3]
        try Data(try Self.craft(header: wrongShapes, weights: w)).write(to: url)
        #expect(Self.expectError(url, "wrong tensor shape")?.problem.contains("shape") == true)
        var missing = h
        missing.tensorShapes.removeLast()
        try Data(try Self.craft(header: missing, weights: w)).write(to: url)
        _ = Self.expectError(url, "missing tensor shape")

        // An architecture whose layers do not fit together.
        var inconsistent = h
        inconsistent.spec.inputShape = [3, 6, 6]
        try Data(try Self.craft(header: inconsistent, weights: w)).write(to: url)
        _ = Self.expectError(url, "inconsistent architecture")

        // Fewer / more weights than the architecture needs.
        try Data(try Self.craft(header: h, weights: Array(w.dropLast()))).write(to: url)
        _ = Self.expectError(url, "one weight short")
        try Data(try Self.craft(header: h, weights: w + [1])).write(to: url)
        _ = Self.expectError(url, "one weight extra")

        // Non-finite weights.
        var nan = w
        nan[7] = .nan
        try Data(try Self.craft(header: h, weights: nan)).write(to: url)
        _ = Self.expectError(url, "NaN weight")

        // Absurd sizes (negative, zero, overflowing) must be errors, not crashes.
        for (input, layer) in [([-2], LayerSpec.linear(inFeatures: -2, outFeatures: -3)),
                               ([0], LayerSpec.linear(inFeatures: 0, outFeatures: 3)),
                               ([1 << 40], LayerSpec.linear(inFeatures: 1 << 40, outFeatures: 1 << 40)),
                               ([2, 5, 5], LayerSpec.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 0, padding: 0)),
                               ([2, 5, 5], LayerSpec.conv2d(inChannels: 2, outChannels: -3, kernel: 3, stride: 1, padding: 0)),
                               ([2, 5, 5], LayerSpec.conv2d(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: -4))] {
            var absurd = h
            absurd.spec = NetworkSpec(inputShape: input, layers: [layer])
            absurd.tensorShapes = layer.weightShape.map { [$0] } ?? []
            try Data(try Self.craft(header: absurd, weights: [1, 2, 3, 4, 5, 6])).write(to: url)
            _ = Self.expectError(url, "absurd \(layer)")
        }
        // A header length field larger than the file (and one that does not fit in an Int).
        var bytes = [UInt8](try Data(contentsOf: good(dir, net)))
        for top: UInt8 in [0x01, 0x7F, 0x80, 0xFF] {
            var b = bytes
            b[19] = top
            Self.resign(&b)
            try Data(b).write(to: url)
            _ = Self.expectError(url, "header length top byte \(top)")
        }
        bytes[12] = 0; bytes[13] = 0; bytes[14] = 0; bytes[15] = 0
        Self.resign(&bytes)
        try Data(bytes).write(to: url)
        _ = Self.expectError(url, "zero header length")
    }

    func good(_ dir: URL, _ net: Network) throws -> URL {
        let u = dir.appendingPathComponent("good.snnmodel")
        try ModelFile.write(net, to: u)
        return u
    }
}
