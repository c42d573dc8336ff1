import Foundation
import Testing
import SNNCore
import SNNTensor

/// Model files whose neuron parameters the CLI would refuse as options are refused on load, with
/// the file and the problem named.
/// (A class, so that `deinit` removes the folders a test wrote: Swift Testing makes one instance per test.)
final class ModelFileValidationTests {
    private var folders: [URL] = []
    deinit { for f in folders { try? FileManager.default.removeItem(at: f) } }

    func written(_ spec: NetworkSpec, _ name: String = #function) throws -> URL {
        let folder = ModelFileTests.tempDir(name)
        folders.append(folder)
        let url = folder.appendingPathComponent("m.snnmodel")
        try ModelFile.write(try Network(spec: spec, seed: 1), metadata: ["dataset": "digits"], to: url)
        return url
    }

    func mlp(_ neuron: LIFParameters) -> NetworkSpec {
        NetworkSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .lif(neuron)])
    }

    func refusal(_ url: URL) -> String {
        do { _ = try ModelFile.read(from: url); return "" } catch { return "\(error)" }
    }

    @Test func validParametersLoad() throws {
        let url = try written(mlp(LIFParameters(beta: 1, threshold: 0.3, surrogate: .triangle(height: 0.3, halfWidth: 1))))
        let (net, meta) = try ModelFile.read(from: url)
        #expect(net.spec.layers.count == 2)
        #expect(meta["dataset"] == "digits")
    }

    @Test(arguments: [
        (LIFParameters(threshold: 0), "threshold 0.0"),
        (LIFParameters(threshold: -1), "threshold -1.0"),
        (LIFParameters(threshold: -.leastNonzeroMagnitude), "threshold -1e-45"),
        (LIFParameters(beta: 1.5), "beta 1.5"),
        (LIFParameters(beta: -0.1), "beta -0.1"),
        (LIFParameters(surrogate: .atan(alpha: -2)), "atan alpha -2.0"),
        (LIFParameters(surrogate: .triangle(height: 0.3, halfWidth: -1)), "triangle half-width -1.0"),
        (LIFParameters(surrogate: .fastSigmoid(slope: 0)), "fast-sigmoid slope 0.0"),
    ])
    func badNeuronIsRefusedOnLoad(_ neuron: LIFParameters, _ expected: String) throws {
        let url = try written(mlp(neuron), "bad\(expected)")
        let message = refusal(url)
        #expect(message.contains(url.path), "\(message)")
        #expect(message.contains("layer 1 (lif)"), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test func networkWithoutLayersOrWeightsIsRefused() throws {
        let empty = try written(NetworkSpec(inputShape: [2, 34, 34], layers: []))
        #expect(refusal(empty).contains("has no layers"))
        let noWeights = try written(NetworkSpec(inputShape: [4], layers: [.lif(LIFParameters())]))
        #expect(refusal(noWeights).contains("no layer with weights"))
    }

    @Test func problemsMatchTheRules() {
        #expect(LIFParameters().problem == nil)
        #expect(LIFParameters(beta: 0, threshold: 1e-6).problem == nil)
        #expect(LIFParameters(perNeuronBeta: [0.5, 2]).problem != nil)
        #expect(Surrogate(parsing: "") == nil)
        #expect(Surrogate(parsing: ":") == nil)
        #expect(Surrogate(parsing: "atan:") == nil)
        #expect(Surrogate(parsing: "atan:nan")?.problem != nil)
        #expect(Surrogate(parsing: "sigmoid:0")?.problem != nil)
        #expect(Surrogate(parsing: "atan:2")?.problem == nil)
    }

    /// The handler of an interruption during an atomic write removes the temporary file.
    @Test func interruptionRemovesTheTemporaryFile() throws {
        let dir = ModelFileTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmp = dir.appendingPathComponent(".m.snnmodel.tmp")
        try Data([1, 2, 3]).write(to: tmp)
        // Other tests write model files in parallel: while one of them holds the guard this call runs
        // unguarded (by design), so try until the guard is ours; the handler then removes our file only.
        var guarded = false
        for _ in 0..<2000 where !guarded {
            InterruptCleanup.guarding(tmp.path) {
                guard InterruptCleanup.pendingPath == tmp.path else { return }
                guarded = true
                #expect(FileManager.default.fileExists(atPath: tmp.path))
                InterruptCleanup.removePending()  // what the SIGINT/SIGTERM/SIGHUP handler does before re-raising
                #expect(!FileManager.default.fileExists(atPath: tmp.path))
            }
            if !guarded { usleep(1000) }
        }
        #expect(guarded, "never held the interruption guard")
        // Outside the write our file is no longer the one an interruption removes.
        #expect(InterruptCleanup.pendingPath != tmp.path)
    }
}
