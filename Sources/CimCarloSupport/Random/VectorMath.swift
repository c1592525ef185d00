/// Single-precision elementary functions on eight lanes, as polynomials (Cephes, S. L. Moshier),
/// so the sampler's transforms vectorise and give the same bits on every machine. Public and
/// inlinable so that the device loops of other targets inline them (package code is not
/// inlined across modules).
public enum VectorMath {
    /// Eight single-precision lanes.
    public typealias Lanes = SIMD8<Float>
    @usableFromInline typealias Integers = SIMD8<Int32>

    /// 1.5·2²³: adding it to |x| < 2²² leaves round(x) (to nearest even) in the low mantissa bits.
    @inlinable static var roundingShift: Float { 12_582_912 }

    /// Integers |n| < 2²² as floats, exactly (bit arithmetic; the generic SIMD conversions are scalar).
    @inline(__always) @inlinable
    static func float(_ n: Integers) -> Lanes {
        unsafeBitCast(n &+ 0x4B40_0000, to: Lanes.self) - roundingShift
    }

    /// x rounded to the nearest integer (ties to even), as a float and as an integer; |x| < 2²².
    @inline(__always) @inlinable
    static func rounded(_ x: Lanes) -> (Lanes, Integers) {
        let shifted = x + roundingShift
        return (shifted - roundingShift, unsafeBitCast(shifted, to: Integers.self) &- 0x4B40_0000)
    }

    /// Lane-wise max(x, bound) (a compare and select; `pointwiseMax` is a generic call).
    @inline(__always) @inlinable
    public static func maximum(_ x: Lanes, _ bound: Float) -> Lanes {
        x.replacing(with: bound, where: x .< bound)
    }

    /// Lane-wise min(x, bound).
    @inline(__always) @inlinable
    static func minimum(_ x: Lanes, _ bound: Float) -> Lanes {
        x.replacing(with: bound, where: x .> bound)
    }

    /// Natural logarithm for x > 0 (Cephes `logf`, ≈ 1 ulp).
    @inline(__always) @inlinable
    public static func log(_ x: Lanes) -> Lanes {
        let bits = unsafeBitCast(x, to: Integers.self)
        // Mantissa in [½, 1), moved to [√½, √2) (doubled, the exponent lowered) below √½:
        // `small` is all ones there (the sign of the difference, bit arithmetic instead of masks).
        let mantissaBits = (bits & 0x007F_FFFF) | 0x3F00_0000
        let small = (mantissaBits &- 0x3F35_04F3) &>> 31
        let exponent = float((bits &>> 23) &- 126 &+ small)
        let mantissa = unsafeBitCast(mantissaBits &+ (small & 0x0080_0000), to: Lanes.self) - 1
        let z = mantissa * mantissa
        var y = Lanes(repeating: 7.037_683_629_2e-2)
        y = y * mantissa - 1.151_461_031_0e-1
        y = y * mantissa + 1.167_699_874_0e-1
        y = y * mantissa - 1.242_014_084_6e-1
        y = y * mantissa + 1.424_932_278_7e-1
        y = y * mantissa - 1.666_805_766_5e-1
        y = y * mantissa + 2.000_071_476_5e-1
        y = y * mantissa - 2.499_999_399_3e-1
        y = y * mantissa + 3.333_333_117_4e-1
        y = y * mantissa * z
        y = y + exponent * -2.121_944_40e-4
        y = y - 0.5 * z
        return mantissa + y + exponent * 0.693_359_375
    }

    /// e^x (Cephes `expf`, ≈ 1 ulp), for x in [−87, 88]; clamped outside.
    @inline(__always) @inlinable
    public static func exp(_ x: Lanes) -> Lanes {
        let clamped = minimum(maximum(x, -87.3), 88.3)
        let (n, integer) = rounded(clamped * 1.442_695_040_888_963_4)
        let r = clamped - n * 0.693_359_375 - n * -2.121_944_40e-4
        var y = Lanes(repeating: 1.987_569_150_0e-4)
        y = y * r + 1.398_199_950_7e-3
        y = y * r + 8.333_451_907_3e-3
        y = y * r + 4.166_579_589_4e-2
        y = y * r + 1.666_666_545_9e-1
        y = y * r + 5.000_000_120_1e-1
        y = y * r * r + r + 1
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: Lanes.self)
        return y * scale
    }

    /// Eight floats from `pointer + index` (unaligned).
    @inline(__always) @inlinable
    public static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> Lanes {
        UnsafeRawPointer(pointer + index).loadUnaligned(as: Lanes.self)
    }

    /// Stores eight floats at `pointer + index` (unaligned).
    @inline(__always) @inlinable
    public static func store(_ lanes: Lanes, _ pointer: UnsafeMutablePointer<Float>, _ index: Int) {
        UnsafeMutableRawPointer(pointer + index).storeBytes(of: lanes, as: Lanes.self)
    }

    /// `count` rounded up to whole lanes: buffers the vector loops run over hold this many.
    static func paddedCount(_ count: Int) -> Int { (count + 7) & ~7 }
}
