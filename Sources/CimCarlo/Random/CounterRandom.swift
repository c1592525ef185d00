import Foundation

/// A counter-based random stream: draw `n` is a pure function of (key, n), as in
/// SplitMix64 (Steele et al., OOPSLA 2014), whose output for position `n` is
/// `mix(seed + n·γ)`. Because no state advances, a device's draws depend only on
/// (seed, instance, purpose, device index), whatever the thread, order or shard —
/// the basis of cimcarlo's bit-identical reproducibility and of common random numbers
/// across policies and time points.
public struct CounterRandom: Sendable {
    /// What a stream is used for; each purpose gets an independent key.
    public enum Purpose: UInt64, Sendable {
        case deviceToDevice = 1
        case programming = 2
        case stuckAt = 3
        case driftExponent = 4
        case verifyPulses = 5
        case readNoise = 6
        case policySelection = 7
    }

    public let key: UInt64

    /// The stream for `purpose` of Monte-Carlo instance `instance` under `seed`;
    /// `substream` separates e.g. the read-noise draws of different time points.
    public init(seed: UInt64, instance: Int, purpose: Purpose, substream: Int = 0) {
        var key = Self.mix(seed ^ 0x6A09_E667_F3BC_C909)
        key = Self.mix(key ^ (UInt64(instance) &* 0x9E37_79B9_7F4A_7C15))
        key = Self.mix(key ^ (purpose.rawValue &* 0xBB67_AE85_84CA_A73B))
        key = Self.mix(key ^ (UInt64(substream) &* 0x3C6E_F372_FE94_F82B))
        self.key = key
    }

    /// The SplitMix64 output function (variant 13 of Stafford's mixers).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 64 random bits at position `counter`.
    @inlinable
    public func bits(_ counter: Int) -> UInt64 {
        Self.mix(key &+ UInt64(truncatingIfNeeded: counter) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// A uniform double in the open interval (0, 1) at position `counter`.
    @inlinable
    public func uniform(_ counter: Int) -> Double {
        (Double(bits(counter) >> 11) + 0.5) * 0x1.0p-53
    }

    /// A standard normal draw at position `counter` (Box–Muller on positions 2·counter and
    /// 2·counter + 1, cosine branch).
    @inlinable
    public func normal(_ counter: Int) -> Double {
        let radius = (-2 * log(uniform(2 &* counter))).squareRoot()
        return radius * cos(2 * Double.pi * uniform(2 &* counter &+ 1))
    }

    public func fillNormals(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int) {
        for index in buffer.indices { buffer[index] = Float(normal(firstCounter + index)) }
    }
}
