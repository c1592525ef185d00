import Foundation

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a 64-bit generator with a one-word state.
///
/// cimcarlo uses it where a small, seedable, reproducible stream is enough
/// (weight initialisation, shuffling, selection). Every sampling API takes
/// the generator it draws from; there is no global random state.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole stream is fixed by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    /// A uniform double in the open interval (0, 1): 53 random bits, offset by half a step
    /// so that neither end is reached (safe for `log`).
    @inlinable
    public mutating func nextOpenUnitInterval() -> Double {
        (Double(next() >> 11) + 0.5) * 0x1.0p-53
    }

    /// A standard normal draw (Box–Muller, one of the pair). For bulk sampling the
    /// Monte-Carlo engine has its own vectorised generator.
    @inlinable
    public mutating func nextStandardNormal() -> Double {
        let radius = (-2 * log(nextOpenUnitInterval())).squareRoot()
        return radius * cos(2 * Double.pi * nextOpenUnitInterval())
    }
}
