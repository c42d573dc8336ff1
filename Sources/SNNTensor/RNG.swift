/// Counter-based random numbers: the value for `(seed, stream, counter)` is a pure function, so a
/// run gives the same numbers whatever the thread count or the order work is done in.
///
/// The mixing function is SplitMix64's finaliser applied to a combination of the three words; it is
/// fast and passes the usual statistical batteries for this use (dropout masks, Poisson coding,
/// scheduler noise). It is not cryptographic.
public struct CounterRNG: Sendable, Hashable {
    /// The run's seed.
    public var seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    @inlinable static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits for the given stream and counter.
    @inlinable public func bits(stream: UInt64, counter: UInt64) -> UInt64 {
        CounterRNG.mix(CounterRNG.mix(seed ^ (stream &* 0xD1B5_4A32_D192_ED03)) &+ counter)
    }

    /// A uniform `Float` in `[0, 1)` for the given stream and counter.
    @inlinable public func uniform(stream: UInt64, counter: UInt64) -> Float {
        Float(bits(stream: stream, counter: counter) >> 40) * (1.0 / 16_777_216.0)
    }

    /// The part of ``bits(stream:counter:)`` that depends on the stream alone. Computed once per
    /// stream, it halves the mixing of each draw: `uniform(streamKey: streamKey(s), counter: c)` equals
    /// `uniform(stream: s, counter: c)` bit for bit.
    @inlinable public func streamKey(_ stream: UInt64) -> UInt64 {
        CounterRNG.mix(seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
    }

    /// ``uniform(stream:counter:)`` from the stream's ``streamKey(_:)``.
    @inlinable public static func uniform(streamKey: UInt64, counter: UInt64) -> Float {
        Float(mix(streamKey &+ counter) >> 40) * (1.0 / 16_777_216.0)
    }

    /// A sequential generator on one stream, usable wherever Swift wants a `RandomNumberGenerator`.
    public func generator(stream: UInt64) -> StreamRNG { StreamRNG(base: self, stream: stream) }
}

/// A `RandomNumberGenerator` that walks the counter of one ``CounterRNG`` stream.
public struct StreamRNG: RandomNumberGenerator, Sendable {
    public let base: CounterRNG
    public let stream: UInt64
    public var counter: UInt64 = 0

    public init(base: CounterRNG, stream: UInt64) { self.base = base; self.stream = stream }

    /// Next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        defer { counter &+= 1 }
        return base.bits(stream: stream, counter: counter)
    }

    /// A uniform `Float` in `[0, 1)`.
    @inlinable public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal sample (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

#if canImport(Glibc)
import Glibc
#endif
