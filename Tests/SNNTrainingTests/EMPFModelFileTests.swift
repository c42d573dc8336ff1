import Foundation
import Testing
import SNNCore
import SNNTensor
@testable import SNNTraining

/// EM-PF model files (format version 3) and the binary-weight inference kernel.
@Suite struct EMPFModelFileTests {
    static func tempURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("empf-\(getpid())-\(UUID().uuidString.prefix(6))-\(name)")
    }

    static func model(_ binary: BinaryWeights) throws -> EMPFModel {
        let spec = try EMPFSpec.parse("input=2x6x6,conv3k3p1:bn,avg2,fc13,fc5:readout",
                                      neuron: EMPFNeuronSpec(decay: 0.7, threshold: 0.4), binaryWeights: binary, attentionKernel: 3)
        var m = try EMPFModel(spec: spec, seed: 9)
        m.statistics[1][0].data = [0.1, -0.2, 0.3]
        m.statistics[1][1].data = [1.5, 0.5, 2]
        return m
    }

    @Test(arguments: [BinaryWeights.none, .perLayer, .perChannel])
    func roundTripIsBitForBit(binary: BinaryWeights) throws {
        let m = try Self.model(binary)
        let url = Self.tempURL("rt.snnmodel")
        defer { try? FileManager.default.removeItem(at: url) }
        try EMPFModelFile.write(m, metadata: ["k": "v"], to: url)
        #expect(EMPFModelFile.isEMPFFile(url))
        let (back, meta) = try EMPFModelFile.read(from: url)
        #expect(meta["k"] == "v")
        #expect(back.spec == m.spec)
        #expect(back.statistics == m.statistics)
        for i in m.spec.layers.indices {
            for k in m.parameters[i].indices {
                let a = k == 0 && m.isBinary(i) ? m.effectiveWeight(i) : m.parameters[i][k]
                let b = k == 0 && back.isBinary(i) ? back.effectiveWeight(i) : back.parameters[i][k]
                #expect(a.data.map(\.bitPattern) == b.data.map(\.bitPattern), "layer \(i) tensor \(k)")
            }
        }
        // Written again, the same bytes.
        let url2 = Self.tempURL("rt2.snnmodel")
        defer { try? FileManager.default.removeItem(at: url2) }
        try EMPFModelFile.write(back, metadata: ["k": "v"], to: url2)
        #expect(try Data(contentsOf: url) == Data(contentsOf: url2))
        // Binary files are smaller than float ones.
        if binary != .none {
            let floatURL = Self.tempURL("f.snnmodel")
            defer { try? FileManager.default.removeItem(at: floatURL) }
            var f = m; f.spec.binaryWeights = .none
            try EMPFModelFile.write(f, to: floatURL)
            #expect(try Data(contentsOf: url).count < Data(contentsOf: floatURL).count)
        }
        // A plain-network reader refuses it clearly.
        #expect { _ = try ModelFile.read(from: url) } throws: { "\($0)".contains("EM-PF model (format version 3)") && "\($0)".contains(url.path) }
    }

    /// Rewrites the header of a written file with `edit` (and the checksum), or the payload with `payload`.
    static func corrupt(_ url: URL, header edit: (inout [String: Any]) -> Void = { _ in }, payload: (inout [UInt8], Int) -> Void = { _, _ in }) throws {
        var b = [UInt8](try Data(contentsOf: url))
        let h = Int(b[12]) | Int(b[13]) << 8 | Int(b[14]) << 16 | Int(b[15]) << 24
        var json = try JSONSerialization.jsonObject(with: Data(b[20..<(20 + h)])) as! [String: Any]
        edit(&json)
        let newHeader = [UInt8](try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
        var rest = Array(b[(20 + h)..<(b.count - 4)])
        payload(&rest, 0)
        b = Array(b[0..<12])
        withUnsafeBytes(of: UInt64(newHeader.count).littleEndian) { b += $0 }
        b += newHeader + rest
        withUnsafeBytes(of: CRC32.checksum(b).littleEndian) { b += $0 }
        try Data(b).write(to: url)
    }

    @Test func badFilesGiveErrorsNamingTheFile() throws {
        let m = try Self.model(.perChannel)
        let url = Self.tempURL("bad.snnmodel")
        defer { try? FileManager.default.removeItem(at: url) }
        func expectError(_ fragment: String) {
            #expect { _ = try EMPFModelFile.read(from: url) } throws: { e in
                let d = "\(e)"
                return d.contains(url.path) && d.contains(fragment)
            }
        }
        // Sign bits whose length does not match the shape.
        try EMPFModelFile.write(m, to: url)
        try Self.corrupt(url, header: { h in
            var entries = h["entries"] as! [[String: Any]]
            let k = entries.firstIndex { ($0["encoding"] as! String) == "sign-bits" }!
            entries[k]["bitBytes"] = (entries[k]["bitBytes"] as! Int) + 1
            h["entries"] = entries
        })
        expectError("bytes of sign bits for")
        // A zero scale, and a NaN scale. The first binary layer is the conv (3 output channels, 54 weights: 7 bytes of bits).
        for bad: Float in [0, .nan] {
            try EMPFModelFile.write(m, to: url)
            try Self.corrupt(url, payload: { p, _ in
                let off = 7   // right after the conv's 7 bytes of bits: scale 0
                withUnsafeBytes(of: bad.bitPattern.littleEndian) { for q in 0..<4 { p[off + q] = $0[q] } }
            })
            expectError("scales must be finite and > 0")
        }
        // Truncated file, bad checksum.
        try EMPFModelFile.write(m, to: url)
        var bytes = [UInt8](try Data(contentsOf: url))
        bytes[bytes.count - 10] ^= 0xFF
        try Data(bytes).write(to: url)
        expectError("checksum mismatch")
        try Data(bytes.prefix(30)).write(to: url)
        expectError("truncated")
        // A version 2 (plain network) file is not an EM-PF model.
        let plain = try Network(spec: NetworkSpec.parse("4-3", neuron: .reference), seed: 1)
        try ModelFile.write(plain, to: url)
        expectError("not an EM-PF model")
        #expect(try ModelFile.read(from: url).network == plain)   // and version 2 still loads
    }

    @Test(arguments: [BinaryWeights.perLayer, .perChannel])
    func binaryKernelMatchesFloatPath(binary: BinaryWeights) throws {
        let spec = try EMPFSpec.parse("100-37-10", neuron: EMPFNeuronSpec(decay: 0.5, threshold: 0.3), binaryWeights: binary)
        let model = try EMPFModel(spec: spec, seed: 4)
        let rng = CounterRNG(seed: 1)
        let x = Tensor(shape: [6, 16, 100], data: (0..<(6 * 16 * 100)).map { j in
            let u = rng.uniform(stream: 0, counter: UInt64(j)); return u < 0.6 ? 0 : u * 2 })   // graded, sparse
        let fast = try EMPFEvaluation.run(model, inputs: x, binaryKernels: true)
        let slow = try EMPFEvaluation.run(model, inputs: x, binaryKernels: false)
        for j in 0..<fast.outputs.count {
            #expect(abs(fast.outputs.data[j] - slow.outputs.data[j]) <= 1e-4 * max(1, abs(slow.outputs.data[j])))
        }
        #expect(fast.operations == slow.operations)
        #expect(fast.operations.accumulates > 0)
        // One multiply-accumulate per output per step for the scales; every synaptic event is an accumulate.
        #expect(fast.operations.multiplyAccumulates == Double(6 * (37 + 10)))
        // The kernel alone, bit for bit against a hand-written sign-selected sum.
        let w = model.parameters[0][0]
        let scales = BinaryWeightMath.scales(of: w, perChannel: binary == .perChannel, layer: .linear(inFeatures: 100, outFeatures: 37))
        let pk = w.withUnsafeBufferPointer { PackedBinaryLinear(weight: $0.baseAddress!, inFeatures: 100, outFeatures: 37, scales: scales) }
        var y = Tensor(shape: [16, 37])
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { pk.forward(xp.baseAddress!, batch: 16, output: $0.baseAddress!) } }
        for b in 0..<16 {
            for o in 0..<37 {
                var acc: Float = 0
                for i in 0..<100 where x.data[b * 100 + i] != 0 { acc += w.data[i * 37 + o] < 0 ? -x.data[b * 100 + i] : x.data[b * 100 + i] }
                #expect(y.data[b * 37 + o] == scales[scales.count == 1 ? 0 : o] * acc)
            }
        }
    }
}
