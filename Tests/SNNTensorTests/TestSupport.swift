import SNNTensor

/// Seeded random values for the kernel tests.
struct TestRNG {
    var g: StreamRNG
    init(_ seed: UInt64) { g = CounterRNG(seed: seed).generator(stream: 7) }

    mutating func uniform(_ lo: Float = -1, _ hi: Float = 1) -> Float { lo + (hi - lo) * g.uniform() }
    mutating func values(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in uniform(lo, hi) }
    }
    /// Binary spikes with the given density.
    mutating func spikes(_ count: Int, density: Float) -> [Float] {
        (0..<count).map { _ in g.uniform() < density ? 1 : 0 }
    }
    /// Sparse values: zero with probability `1 - density`, else uniform in [-1, 1].
    mutating func sparse(_ count: Int, density: Float) -> [Float] {
        (0..<count).map { _ in g.uniform() < density ? uniform() : 0 }
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(g.next() % UInt64(range.count))
    }
}

/// Checks `got` against a Double reference with a tolerance proportional to a magnitude scale per
/// element (e.g. the sum of the absolute products that made it): returns the worst ratio error / tolerance.
func worstRatio(_ got: [Float], _ ref: [Double], scale: [Double], relTol: Double) -> Double {
    precondition(got.count == ref.count && ref.count == scale.count)
    var worst = 0.0
    for i in 0..<got.count {
        let tol = relTol * scale[i] + 1e-6
        let e = abs(Double(got[i]) - ref[i])
        if !(e <= tol) { worst = max(worst, e.isNaN ? .infinity : e / tol) } else { worst = max(worst, e / tol) }
    }
    return worst
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(Double(a[i]) - b[i])) }
    return m
}

func dotD(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += Double(a[i]) * Double(b[i]) }
    return s
}
