/// Philox-4×32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3",
/// SC 2011), evaluated on eight counters at once: a counter-based generator whose 128-bit output
/// is a bijection of the 128-bit counter under a 64-bit key, passing TestU01's BigCrush.
enum Philox {
    typealias Lanes = SIMD8<UInt32>

    /// The four output words of blocks `(c0, c1, c2, c3)` under key `(k0, k1)`.
    @inline(__always)
    static func block(_ counter: (Lanes, Lanes, Lanes, Lanes), key: (UInt32, UInt32)) -> (Lanes, Lanes, Lanes, Lanes) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 {
                k0 &+= 0x9E37_79B9
                k1 &+= 0xBB67_AE85
            }
            let product0 = SIMD8<UInt64>(truncatingIfNeeded: c0) &* 0xD251_1F53
            let product1 = SIMD8<UInt64>(truncatingIfNeeded: c2) &* 0xCD9E_8D57
            let high0 = Lanes(truncatingIfNeeded: product0 &>> 32)
            let high1 = Lanes(truncatingIfNeeded: product1 &>> 32)
            c0 = high1 ^ c1 ^ k0
            c1 = Lanes(truncatingIfNeeded: product1)
            c2 = high0 ^ c3 ^ k1
            c3 = Lanes(truncatingIfNeeded: product0)
        }
        return (c0, c1, c2, c3)
    }
}
