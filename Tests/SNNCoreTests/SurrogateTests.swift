import Foundation
import Testing
import SNNCore

/// Every surrogate's `gradient` must be the derivative of its `smoothStep` (the smooth counterpart
/// used by the gradient checks), checked by central finite differences in Double.
struct SurrogateTests {
    static let all: [Surrogate] = [
        .atan(alpha: 2), .atan(alpha: 0.7), .fastSigmoid(slope: 25), .fastSigmoid(slope: 3),
        .sigmoid(slope: 5), .sigmoid(slope: 1.5), .triangle(height: 0.3, halfWidth: 1), .triangle(height: 1, halfWidth: 0.4),
    ]

    /// Points in [-2, 2] that avoid the kinks of FastSigmoid (0) and Triangle (0, ±halfWidth).
    static var points: [Float] {
        stride(from: -2.0, through: 2.0, by: 0.0137).map { Float($0) }
            .filter { x in ![0, 1, -1, 0.4, -0.4].contains { abs(x - $0) < 0.004 } }
    }

    @Test(arguments: all)
    func gradientIsDerivativeOfSmoothStep(_ s: Surrogate) {
        let h: Float = 1e-3
        var worst: Double = 0
        for x in Self.points {
            let fd = (Double(s.smoothStep(x + h)) - Double(s.smoothStep(x - h))) / Double(2 * h)
            let g = Double(s.gradient(x))
            let err = abs(fd - g)
            worst = max(worst, err)
            // Float smoothStep has ~6e-8 absolute error; divided by 2h that is ~6e-5. Curvature adds O(h^2 g''').
            #expect(err <= 5e-4 + 2e-3 * abs(g), "\(s) at x=\(x): gradient \(g), finite difference \(fd)")
        }
        #expect(worst < 5e-3)
    }

    /// The smooth step goes from (near) 0 below threshold to (near) its top above, monotonically.
    @Test(arguments: all)
    func smoothStepIsMonotone(_ s: Surrogate) {
        var previous = s.smoothStep(-3)
        for x in stride(from: Float(-3), through: 3, by: 0.01) {
            let v = s.smoothStep(x)
            #expect(v >= previous - 1e-6, "\(s) decreases at \(x)")
            previous = v
            #expect(s.gradient(x) >= 0)
        }
        #expect(s.smoothStep(3) > s.smoothStep(-3))
    }

    /// Known values of the formulas at a few points.
    @Test func knownValues() {
        // ATan(alpha) as SPEC section 1 writes it: 1 / (pi (1 + (pi x alpha / 2)^2)); 1/pi at 0.
        #expect(abs(Surrogate.atan(alpha: 2).gradient(0) - 1 / Float.pi) < 1e-6)
        let z = Float.pi * 0.1 * 2 / 2
        #expect(abs(Surrogate.atan(alpha: 2).gradient(0.1) - 1 / (Float.pi * (1 + z * z))) < 1e-6)
        let z3 = Float.pi * -0.4 * 3 / 2
        #expect(abs(Surrogate.atan(alpha: 3).gradient(-0.4) - 1 / (Float.pi * (1 + z3 * z3))) < 1e-6)
        #expect(abs(Surrogate.atan(alpha: 2).smoothStep(0) - 0.5) < 1e-7)
        // FastSigmoid(25) at x = 0.04: 1 / (1 + 1)^2 = 0.25
        #expect(abs(Surrogate.fastSigmoid(slope: 25).gradient(0.04) - 0.25) < 1e-6)
        #expect(abs(Surrogate.fastSigmoid(slope: 25).gradient(-0.04) - 0.25) < 1e-6)
        // Sigmoid(slope) at 0: slope / 4
        #expect(abs(Surrogate.sigmoid(slope: 5).gradient(0) - 1.25) < 1e-6)
        #expect(abs(Surrogate.sigmoid(slope: 5).smoothStep(0) - 0.5) < 1e-7)
        // Triangle(0.3, 1): 0.3 at 0, 0.15 at ±0.5, 0 beyond ±1; its step rises from 0 to h*w = 0.3.
        let t = Surrogate.triangle(height: 0.3, halfWidth: 1)
        #expect(abs(t.gradient(0) - 0.3) < 1e-7)
        #expect(abs(t.gradient(0.5) - 0.15) < 1e-7 && abs(t.gradient(-0.5) - 0.15) < 1e-7)
        #expect(t.gradient(1.2) == 0 && t.gradient(-1.5) == 0)
        #expect(t.smoothStep(-1) == 0 && abs(t.smoothStep(1) - 0.3) < 1e-7 && abs(t.smoothStep(0) - 0.15) < 1e-7)
    }

    @Test func parsing() {
        #expect(Surrogate(parsing: "atan") == .atan(alpha: 2))
        #expect(Surrogate(parsing: "atan:3") == .atan(alpha: 3))
        #expect(Surrogate(parsing: "fast-sigmoid") == .fastSigmoid(slope: 25))
        #expect(Surrogate(parsing: "sigmoid:5") == .sigmoid(slope: 5))
        #expect(Surrogate(parsing: "triangle:0.3") == .triangle(height: 0.3, halfWidth: 1))
        #expect(Surrogate(parsing: "relu") == nil)
        #expect(Surrogate(parsing: "atan:x") == nil)
    }
}
