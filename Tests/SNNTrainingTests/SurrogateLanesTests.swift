import Testing
import SNNCore
@testable import SNNTraining

@Suite("Surrogate gradients eight at a time")
struct SurrogateLanesTests {
    @Test("every lane form gives the scalar formula's bits (NaN, signed zeros and the triangle's edges included)")
    func lanesMatchScalar() {
        var margins: [Float] = [0, -0.0, 1, -1, 0.999_999, -1.000_001, 2, -2, .nan, .infinity, -.infinity, 1e-30, -3.5, 0.3]
        for i in 0..<37 { margins.append(Float(i) * 0.173 - 3) }
        let count = margins.count   // 51: six lanes of 8 and three left for the caller
        for s in [Surrogate.atan(alpha: 2), .fastSigmoid(slope: 25), .triangle(height: 0.3, halfWidth: 1), .triangle(height: 1, halfWidth: 0.5)] {
            var out = [Float](repeating: .nan, count: count)
            let done = SurrogateLanes.gradients(s, margins, count, &out)
            #expect(done == 48, "\(s)")
            for i in 0..<done {
                #expect(out[i].bitPattern == s.gradient(margins[i]).bitPattern, "\(s) at \(margins[i])")
            }
        }
        var out = [Float](repeating: 0, count: count)
        #expect(SurrogateLanes.gradients(.sigmoid(slope: 5), margins, count, &out) == 0)
    }
}
