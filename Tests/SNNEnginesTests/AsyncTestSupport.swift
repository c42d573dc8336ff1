import SNNCore
import SNNEngines
import SNNTensor

/// Helpers shared by the asynchronous engine's tests.
enum AsyncTestSupport {
    /// Random inputs `[T, batch] + shape`: each element is non-zero with probability `density`;
    /// non-zero values are 1, or 1...3 when `counts` is true.
    static func inputs(frames: Int, batch: Int, shape: [Int], density: Float, counts: Bool = false, seed: UInt64) -> Tensor {
        let n = frames * batch * shape.reduce(1, *)
        var rng = CounterRNG(seed: seed).generator(stream: 99)
        var data = [Float](repeating: 0, count: n)
        for i in 0..<n where rng.uniform() < density {
            data[i] = counts ? Float(1 + Int(rng.uniform() * 3)) : 1
        }
        return Tensor(shape: [frames, batch] + shape, data: data)
    }

    static func network(_ layers: [LayerSpec], input: [Int], gain: Float, seed: UInt64) throws -> Network {
        try Network(spec: NetworkSpec(inputShape: input, layers: layers), initializer: .xavierUniform(gain: gain), seed: seed)
    }

    /// Spikes per `[sample][frame][population]` as sets of neuron indices, from a layered run with a tape.
    static func layeredSpikes(_ run: LayeredRun, network: Network) -> [[[Set<Int>]]] {
        let pops = network.spec.neuronLayerIndices
        let tape = run.tape!
        return (0..<run.batch).map { b in
            (0..<run.steps).map { t in
                pops.map { layer in
                    let p = network.spec.layers[layer]
                    guard case .lif(let params) = p, let u = tape.preReset[t][layer] else { return [] }
                    let n = u.count / run.batch
                    return Set((0..<n).filter { u.data[b * n + $0] - params.threshold > 0 })
                }
            }
        }
    }

    /// The same from an async trace.
    static func asyncSpikes(_ run: AsyncRun) -> [[[Set<Int>]]] {
        var out = (0..<run.samples.count).map { _ in (0..<run.frames).map { _ in run.populationSizes.map { _ in Set<Int>() } } }
        for e in run.trace!.events {
            let inserted = out[Int(e.sample)][Int(e.frame)][Int(e.population)].insert(Int(e.neuron)).inserted
            precondition(inserted, "a neuron emitted twice in one frame")
        }
        return out
    }
}
