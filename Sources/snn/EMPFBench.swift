import ArgumentParser
import Foundation
import SNNCore
import SNNTensor
import SNNTraining
#if canImport(Glibc)
import Glibc
#endif

/// `snn experiment empf-bench`: EM-PF online training throughput, the networks of `bench/peers/empf_online_torch.py`.
struct EMPFBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "empf-bench",
        abstract: "EM-PF online training samples/s and peak training bytes (MLP 784-128-10 and a small conv net, T = 4 and 16, batch 32, random input).",
        discussion: "The same networks and method as bench/peers/empf_online_torch.py (binary weights per channel, membrane BN, excess spikes)."
    )

    @Option(help: "Seconds per measurement (best of 3).")
    var seconds: Double = 2

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    @Option(help: "Write the measurements as JSON to this path.")
    var json: String?

    @Option(help: "Networks to measure (comma list): mlp, conv.")
    var nets: String = "mlp,conv"

    /// The networks, as the peer script builds them.
    static let networks = [("mlp", "input=784,fc128:bn,fc10:readout"), ("conv", "input=1x28x28,conv8k3p1:bn,avg2,fc10:readout")]

    var wantedNets: [String] { Check.commaItems(nets) }

    func validate() throws {
        try Check.finite(seconds, "--seconds", max: 3600, above: 0)
        try Check.threads(threads)
        try Check.names(nets, "--nets", from: Self.networks.map(\.0))
        if let json { try Check.writableFile(json, "--json") }
    }

    struct Row: Codable { var net: String; var steps: Int; var samplesPerSecond: Double; var peakTrainingBytes: Int; var maxRSSMiB: Double }

    func run() throws {
        if let threads { Parallelism.threadCount = threads }
        var rows: [Row] = []
        let neuron = EMPFNeuronSpec(kind: .excess, decay: 0.5, threshold: 0.5)
        let features = 784
        for (name, arch) in Self.networks where wantedNets.contains(name) {
            for steps in [4, 16] {
                let spec = try EMPFSpec.parse(arch, neuron: neuron, binaryWeights: .perChannel)
                var trainer = try OnlineTrainer(model: EMPFModel(spec: spec, seed: 0), optimizer: .referenceAdam(),
                                                options: OnlineTrainingOptions(method: .empfOnline))
                let rng = CounterRNG(seed: 1)
                let x = Tensor(shape: [steps, 32, features], data: (0..<(steps * 32 * features)).map { rng.uniform(stream: 0, counter: UInt64($0)) })
                let labels = (0..<32).map { $0 % 10 }
                var peak = 0
                _ = try trainer.trainBatch(inputs: x, labels: labels)
                var best = 0.0
                for _ in 0..<3 {
                    var n = 0
                    let start = Date()
                    repeat { peak = max(peak, try trainer.trainBatch(inputs: x, labels: labels).peakBytes); n += 1 } while Date().timeIntervalSince(start) < seconds
                    best = max(best, Double(n * 32) / Date().timeIntervalSince(start))
                }
                var usage = rusage()
                getrusage(RUSAGE_SELF.rawValue, &usage)
                let row = Row(net: name, steps: steps, samplesPerSecond: best, peakTrainingBytes: peak, maxRSSMiB: Double(usage.ru_maxrss) / 1024)
                rows.append(row)
                print(String(format: "snn empf-online %@ T=%d: %.1f samples/s, peak training bytes %.3f MiB, process max RSS %.1f MiB",
                             name, steps, best, Double(peak) / 1_048_576, row.maxRSSMiB))
            }
        }
        if let json { try writeJSON(rows, to: json) }
    }
}
