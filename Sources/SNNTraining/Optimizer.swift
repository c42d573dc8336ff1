import Foundation
import SNNTensor

/// A first-order optimizer updating a network's weight tensors from their gradients.
///
/// State (momentum, Adam moments) is kept per tensor index. `learningRate` may be changed between
/// steps by a ``LearningRateSchedule``.
public struct Optimizer: Sendable {
    /// The update rule.
    public enum Kind: Sendable, Hashable {
        /// SGD with (heavy-ball) momentum and L2 weight decay added to the gradient.
        case sgd(momentum: Float, weightDecay: Float)
        /// Adam with L2 weight decay added to the gradient (PyTorch's `Adam(weight_decay=)`).
        case adam(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float)
        /// AdamW: Adam with decoupled weight decay.
        case adamW(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float)
    }

    public var kind: Kind
    /// Step size.
    public var learningRate: Float
    /// Steps taken so far.
    public private(set) var stepCount = 0
    /// Weight decay for particular tensor indices (e.g. BNTT's gamma), replacing the kind's.
    public var weightDecayOverrides: [Int: Float] = [:]
    private var first: [Int: [Float]] = [:]
    private var second: [Int: [Float]] = [:]

    public init(_ kind: Kind, learningRate: Float) {
        self.kind = kind; self.learningRate = learningRate
    }

    /// The reference default: Adam, lr 1e-3, weight decay 1e-5.
    public static func referenceAdam() -> Optimizer {
        Optimizer(.adam(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-5), learningRate: 1e-3)
    }

    /// Applies one update to `weights[i]` for every `i` in `indices`.
    ///
    /// Eight weights at a time (`SIMD8`, the last few in a partly filled vector): each lane does the
    /// scalar rule's operations in its order, and IEEE division and square root are exact in vectors
    /// too, so the result is the scalar loop's, bit for bit.
    public mutating func step(weights: inout [Tensor], gradients: [Tensor], indices: [Int]) {
        stepCount += 1
        let lr = learningRate
        for i in indices {
            let n = weights[i].count
            // Fix: fatalError, not precondition (not evaluated under -Ounchecked, where a short gradient was read out of bounds).
            if gradients[i].count != n { fatalError("Optimizer: gradient \(i) has \(gradients[i].count) values for \(n) weights") }
            switch kind {
            case .sgd(let mu, let kindDecay):
                let wd = weightDecayOverrides[i] ?? kindDecay
                // removeValue: the state is mutated in place, not copied (copy-on-write).
                var m = first.removeValue(forKey: i) ?? [Float](repeating: 0, count: n)
                m.withUnsafeMutableBufferPointer { mp in
                    gradients[i].withUnsafeBufferPointer { gp in
                        weights[i].withUnsafeMutableBufferPointer { wp in
                            Self.lanes(n) { j, k in
                                let g = Self.load(gp, j, k) + wd * Self.load(wp, j, k)
                                let mNew = mu * Self.load(mp, j, k) + g
                                Self.store(mNew, mp, j, k)
                                Self.store(Self.load(wp, j, k) - lr * mNew, wp, j, k)
                            }
                        }
                    }
                }
                first[i] = m
            case .adam(let b1, let b2, let eps, let kindDecay), .adamW(let b1, let b2, let eps, let kindDecay):
                let wd = weightDecayOverrides[i] ?? kindDecay
                let decoupled: Bool
                if case .adamW = kind { decoupled = true } else { decoupled = false }
                var m = first.removeValue(forKey: i) ?? [Float](repeating: 0, count: n)
                var v = second.removeValue(forKey: i) ?? [Float](repeating: 0, count: n)
                let c1 = 1 - powf(b1, Float(stepCount)), c2 = 1 - powf(b2, Float(stepCount))
                let a1 = 1 - b1, a2 = 1 - b2, lrwd = lr * wd
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        gradients[i].withUnsafeBufferPointer { gp in
                            weights[i].withUnsafeMutableBufferPointer { wp in
                                Self.lanes(n) { j, k in
                                    var w = Self.load(wp, j, k)
                                    var g = Self.load(gp, j, k)
                                    if !decoupled { g += wd * w }
                                    let mNew = b1 * Self.load(mp, j, k) + a1 * g
                                    let vNew = b2 * Self.load(vp, j, k) + a2 * g * g
                                    Self.store(mNew, mp, j, k); Self.store(vNew, vp, j, k)
                                    let update = (mNew / c1) / ((vNew / c2).squareRoot() + eps)
                                    if decoupled { w -= lrwd * w }
                                    Self.store(w - lr * update, wp, j, k)
                                }
                            }
                        }
                    }
                }
                first[i] = m; second[i] = v
            }
        }
    }

    /// Calls `body(j, k)` for the blocks `j ..< j + k` of `0 ..< n`, `k = 8` but for the last.
    @inline(__always)
    static func lanes(_ n: Int, _ body: (Int, Int) -> Void) {
        var j = 0
        while j + 8 <= n { body(j, 8); j += 8 }
        if j < n { body(j, n - j) }
    }

    /// Elements `j ..< j + k` (`k <= 8`) as a vector; lanes past `k` are 0.
    @inline(__always)
    static func load(_ p: UnsafeBufferPointer<Float>, _ j: Int, _ k: Int) -> SIMD8<Float> {
        if k == 8 { return UnsafeRawPointer(p.baseAddress! + j).loadUnaligned(as: SIMD8<Float>.self) }
        var v = SIMD8<Float>()
        for l in 0..<k { v[l] = p[j + l] }
        return v
    }

    @inline(__always)
    static func load(_ p: UnsafeMutableBufferPointer<Float>, _ j: Int, _ k: Int) -> SIMD8<Float> {
        load(UnsafeBufferPointer(p), j, k)
    }

    /// Writes lanes `0 ..< k` of `v` to elements `j ..< j + k`.
    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutableBufferPointer<Float>, _ j: Int, _ k: Int) {
        if k == 8 { UnsafeMutableRawPointer(p.baseAddress! + j).storeBytes(of: v, as: SIMD8<Float>.self); return }
        for l in 0..<k { p[j + l] = v[l] }
    }
    /// Everything an optimizer carries from one step to the next (checkpoints save and restore it).
    public struct State: Sendable, Equatable {
        /// Steps taken so far (Adam's bias correction depends on it).
        public var stepCount: Int
        /// First-moment (Adam) or momentum (SGD) buffers, by tensor index.
        public var first: [Int: [Float]]
        /// Second-moment buffers (Adam, AdamW), by tensor index.
        public var second: [Int: [Float]]
        public init(stepCount: Int, first: [Int: [Float]], second: [Int: [Float]]) {
            self.stepCount = stepCount; self.first = first; self.second = second
        }
    }

    /// The state carried between steps.
    public var state: State { State(stepCount: stepCount, first: first, second: second) }

    /// Continues from a saved state (the kind and learning rate stay this optimizer's).
    public mutating func restore(_ state: State) {
        stepCount = state.stepCount; first = state.first; second = state.second
    }

    /// Scales `gradients` so that their global L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ gradients: inout [Tensor], maxNorm: Float) -> Float {
        var sq: Double = 0
        for g in gradients { for v in g.data { sq += Double(v) * Double(v) } }
        let norm = Float(sq.squareRoot())
        if norm > maxNorm, norm > 0 {
            let s = maxNorm / norm
            for i in gradients.indices { for j in 0..<gradients[i].count { gradients[i].data[j] *= s } }
        }
        return norm
    }
}

/// How the learning rate changes over training (evaluated per epoch, 0-based).
public enum LearningRateSchedule: Sendable, Hashable {
    /// Constant.
    case constant
    /// Cosine annealing from the base rate to `minimum` over `epochs`.
    case cosine(epochs: Int, minimum: Float)
    /// Multiply by `gamma` every `every` epochs.
    case step(every: Int, gamma: Float)
    /// Multiply by `gamma` at each of the given epochs (0-based; BNTT: at 50, 70 and 90% of the epochs).
    case milestones([Int], gamma: Float)

    /// BNTT's schedule: divide by 10 at 50%, 70% and 90% of `epochs`.
    public static func bntt(epochs: Int) -> LearningRateSchedule {
        .milestones([0.5, 0.7, 0.9].map { Int((Double(epochs) * $0).rounded()) }, gamma: 0.1)
    }

    /// The rate at `epoch` for base rate `base`.
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case .constant: return base
        case .cosine(let total, let minimum):
            let progress = Float(min(epoch, max(total, 1))) / Float(max(total, 1))
            return minimum + (base - minimum) * 0.5 * (1 + cosf(.pi * progress))
        case .step(let every, let gamma):
            return base * powf(gamma, Float(epoch / max(every, 1)))
        case .milestones(let epochs, let gamma):
            return base * powf(gamma, Float(epochs.filter { epoch >= $0 }.count))
        }
    }
}
