import Foundation
import Testing
import SNNCore

struct LIFDynamicsTests {
    @Test func integrateHardReset() {
        var v: Float = 0.2
        var r = LIFDynamics.integrate(v: &v, current: 0.15, refractory: false, threshold: 0.3, reset: .zero)
        #expect(r.spiked && abs(r.u - 0.35) < 1e-7 && v == 0)
        v = 0.1
        r = LIFDynamics.integrate(v: &v, current: 0.1, refractory: false, threshold: 0.3, reset: .zero)
        #expect(!r.spiked && abs(r.u - 0.2) < 1e-7 && abs(v - 0.2) < 1e-7)
    }

    @Test func thresholdIsStrict() {
        var v: Float = 0.5
        let r = LIFDynamics.integrate(v: &v, current: 0.5, refractory: false, threshold: 1, reset: .zero)
        #expect(!r.spiked, "U == theta must not spike (s = 1[U - theta > 0])")
        #expect(v == 1)
    }

    @Test func integrateSubtractReset() {
        var v: Float = 0.5
        let r = LIFDynamics.integrate(v: &v, current: 0.75, refractory: false, threshold: 1, reset: .subtract)
        #expect(r.spiked && r.u == 1.25 && v == 0.25)
    }

    @Test func refractoryClampsToZero() {
        var v: Float = 0.5
        let r = LIFDynamics.integrate(v: &v, current: 2, refractory: true, threshold: 0.3, reset: .zero)
        #expect(!r.spiked && r.u == 0 && v == 0)
    }

    /// `resetDerivative` is d(post-reset V)/dU of the smooth update, checked by finite differences,
    /// and drops the spike term when detached.
    @Test(arguments: [ResetMode.zero, .subtract])
    func resetDerivativeMatchesFiniteDifference(_ mode: ResetMode) {
        let sur = Surrogate.sigmoid(slope: 4)
        let theta: Float = 0.6
        for u in stride(from: Float(-1), through: 2, by: 0.05) {
            func post(_ uu: Float) -> Double {
                var v: Float = 0
                _ = LIFDynamics.integrateSmooth(v: &v, current: uu, threshold: theta, reset: mode, surrogate: sur)
                return Double(v)
            }
            let h: Float = 1e-3
            let fd = (post(u + h) - post(u - h)) / Double(2 * h)
            let s = sur.smoothStep(u - theta), sg = sur.gradient(u - theta)
            let d = LIFDynamics.resetDerivative(u: u, spike: s, surrogateGradient: sg, threshold: theta, reset: mode, detach: false)
            #expect(abs(Double(d) - fd) < 2e-3, "\(mode) u=\(u): \(d) vs \(fd)")
            let detached = LIFDynamics.resetDerivative(u: u, spike: s, surrogateGradient: sg, threshold: theta, reset: mode, detach: true)
            #expect(abs(detached - (mode == .zero ? 1 - s : 1)) < 1e-6)
        }
    }

    @Test func smoothIntegrationUsesSmoothSpikeInReset() {
        let sur = Surrogate.atan(alpha: 2)
        var v: Float = 0.4
        let r = LIFDynamics.integrateSmooth(v: &v, current: 0.3, threshold: 0.5, reset: .zero, surrogate: sur)
        let s = sur.smoothStep(0.2)
        #expect(abs(r.u - 0.7) < 1e-6 && abs(r.spike - s) < 1e-7 && abs(v - 0.7 * (1 - s)) < 1e-6)
        var w: Float = 0.4
        _ = LIFDynamics.integrateSmooth(v: &w, current: 0.3, threshold: 0.5, reset: .subtract, surrogate: sur)
        #expect(abs(w - (0.7 - 0.5 * s)) < 1e-6)
    }

    @Test func parameters() {
        let p = LIFParameters.lif(tauM: 0.02, dt: 0.01)
        #expect(abs(p.beta - Float(exp(-0.5))) < 1e-7)
        #expect(LIFParameters.integrateAndFire().beta == 1)
        #expect(abs(LIFParameters.reference.beta - Float(exp(-10.0))) < 1e-9)
        #expect(LIFParameters.reference.threshold == 0.3 && LIFParameters.reference.reset == .zero)
        #expect(LIFParameters.reference.surrogate == .atan(alpha: 2))
    }
}
