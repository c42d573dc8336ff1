/// Summary statistics of a list of numbers (events per sample, durations...).
public struct SampleStatistics: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    public var min: Double
    public var max: Double
    /// 5th, 50th and 95th percentiles (nearest rank).
    public var p5: Double
    public var median: Double
    public var p95: Double

    public init(_ values: [Double]) {
        let v = values.sorted()
        count = v.count
        guard !v.isEmpty else { mean = 0; min = 0; max = 0; p5 = 0; median = 0; p95 = 0; return }
        mean = v.reduce(0, +) / Double(v.count)
        min = v[0]
        max = v[v.count - 1]
        func pct(_ p: Double) -> Double { v[Swift.min(v.count - 1, Swift.max(0, Int((p / 100 * Double(v.count)).rounded(.up)) - 1))] }
        p5 = pct(5)
        median = pct(50)
        p95 = pct(95)
    }
}
