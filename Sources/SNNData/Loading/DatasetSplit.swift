import SNNTensor

/// Reproducible train/test splits from a seed.
///
/// The permutation is a Fisher-Yates shuffle driven by ``CounterRNG``, written out here (not
/// `Array.shuffle`) so that a seed gives the same split with every Swift version.
public enum DatasetSplit {
    /// Splits `0..<count` at random: `round(count * testFraction)` indices go to `test`, the rest
    /// to `train`. Both lists are sorted ascending.
    public static func seeded(count: Int, testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        let perm = permutation(count: count, seed: seed, stream: 0x5_1EED)
        let nTest = min(count, max(0, Int((Double(count) * testFraction).rounded())))
        return (Array(perm[nTest...]).sorted(), Array(perm[..<nTest]).sorted())
    }

    /// The same, but class by class, so both parts keep the class proportions of `labels`.
    public static func stratified(labels: [Int], testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        var byClass: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byClass[l, default: []].append(i) }
        var train: [Int] = [], test: [Int] = []
        for cls in byClass.keys.sorted() {
            let members = byClass[cls]!
            let perm = permutation(count: members.count, seed: seed, stream: 0x5_1EED &+ UInt64(bitPattern: Int64(cls)))
            let nTest = min(members.count, max(0, Int((Double(members.count) * testFraction).rounded())))
            test += perm[..<nTest].map { members[$0] }
            train += perm[nTest...].map { members[$0] }
        }
        return (train.sorted(), test.sorted())
    }

    /// A permutation of `0..<count` determined by `(seed, stream)`.
    public static func permutation(count: Int, seed: UInt64, stream: UInt64) -> [Int] {
        var p = Array(0..<count)
        guard count > 1 else { return p }
        var g = CounterRNG(seed: seed).generator(stream: stream)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(g.next().multipliedFullWidth(by: UInt64(i + 1)).high)
            p.swapAt(i, j)
        }
        return p
    }
}
