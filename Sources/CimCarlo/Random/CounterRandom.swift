import Foundation

/// A counter-based random stream: draw `n` is a pure function of (key, n). The key is
/// SplitMix64-mixed from (seed, instance, purpose, substream); device draws come from
/// Philox-4×32-10 in eight SIMD lanes (below), and `bits`/`uniform` give SplitMix64's
/// `mix(key + n·γ)` (Steele et al., OOPSLA 2014) for scalar uses such as random selection. Because no state advances, a device's draws depend only on
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
        case relaxation = 8
        /// Per-read noise on matrix-vector products (substream: the pass).
        case productNoise = 9
        /// The verify reads of incremental write-verify.
        case verifyReads = 10
        /// Reference simulations run once per study (the incremental model's verified spread).
        case calibration = 11
    }

    public let key: UInt64

    /// The device sampler's name, recorded in every result file (`sampler`) and plan digest.
    public static let sampler = "philox4x32-10 box-muller float32"
    /// The sampler of cimcarlo 0.1 (SplitMix64, double-precision Box–Muller), assumed for
    /// result files that do not name theirs.
    public static let legacySampler = "splitmix64 box-muller float64"

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

    // MARK: - The vectorised sampler (Philox-4×32-10, Box–Muller)
    //
    // Draw n of a stream is word j = (n >> 3) & 3 of Philox block b = 8·(n >> 5) + (n & 7) under
    // the stream's 64-bit key: 32 consecutive draws are the four words of eight consecutive
    // blocks, which one pass over eight SIMD lanes computes and stores contiguously. Normals are
    // Box–Muller on word pairs (0, 1) and (2, 3): r = √(−2 ln u₀), (r cos 2πu₁, r sin 2πu₁), with
    // 23-bit uniforms, so |z| ≤ 5.8. Every draw is a pure function of (key, n).

    /// The key as Philox's two 32-bit words.
    private var philoxKey: (UInt32, UInt32) { (UInt32(truncatingIfNeeded: key), UInt32(truncatingIfNeeded: key >> 32)) }

    /// The four output words of the eight blocks `blocks`.
    @inline(__always)
    private func words(blocks: SIMD8<UInt64>) -> (Philox.Lanes, Philox.Lanes, Philox.Lanes, Philox.Lanes) {
        let zero = Philox.Lanes(repeating: 0)
        return Philox.block(
            (Philox.Lanes(truncatingIfNeeded: blocks), Philox.Lanes(truncatingIfNeeded: blocks &>> 32), zero, zero),
            key: philoxKey)
    }

    /// The 32 draws of group `group` (positions 32·group …): normals, or uniforms in (0, 1).
    @inline(__always)
    private func group(_ group: Int, normal: Bool) -> (
        VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes
    ) {
        let blocks = SIMD8<UInt64>(repeating: UInt64(truncatingIfNeeded: group) &* 8) &+ SIMD8(0, 1, 2, 3, 4, 5, 6, 7)
        return Self.draws(words(blocks: blocks), normal: normal)
    }

    /// Box–Muller normals (or open uniforms) of four words per lane.
    @inline(__always)
    private static func draws(
        _ words: (Philox.Lanes, Philox.Lanes, Philox.Lanes, Philox.Lanes), normal: Bool
    ) -> (VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes) {
        let (u0, u1, u2, u3) = (openUnit(words.0), openUnit(words.1), openUnit(words.2), openUnit(words.3))
        guard normal else { return (u0, u1, u2, u3) }
        let radius0 = VectorMath.sqrt(-2 * VectorMath.log(u0))
        let radius1 = VectorMath.sqrt(-2 * VectorMath.log(u2))
        let angle0 = VectorMath.cosSinTurns(u1)
        let angle1 = VectorMath.cosSinTurns(u3)
        return (radius0 * angle0.cos, radius0 * angle0.sin, radius1 * angle1.cos, radius1 * angle1.sin)
    }

    /// The top 23 bits of a word as a float in (0, 1): (m + ½)·2⁻²³, exactly (bit arithmetic).
    @inline(__always)
    private static func openUnit(_ word: Philox.Lanes) -> VectorMath.Lanes {
        unsafeBitCast((word &>> 9) | 0x3F80_0000, to: VectorMath.Lanes.self) - (1 - 0x1.0p-24)
    }

    /// Word `index` of four.
    @inline(__always)
    private static func word(
        _ values: (VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes, VectorMath.Lanes), _ index: Int
    ) -> VectorMath.Lanes {
        switch index {
        case 0: values.0
        case 1: values.1
        case 2: values.2
        default: values.3
        }
    }

    /// Writes draws `firstCounter ..< firstCounter + buffer.count` into `buffer`.
    private func fill(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int, normal: Bool) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        let end = firstCounter + buffer.count
        for groupIndex in (firstCounter >> 5)...((end - 1) >> 5) {
            let values = group(groupIndex, normal: normal)
            let start = groupIndex << 5
            if start >= firstCounter && start + 32 <= end {
                let destination = base + (start - firstCounter)
                VectorMath.store(values.0, destination, 0)
                VectorMath.store(values.1, destination, 8)
                VectorMath.store(values.2, destination, 16)
                VectorMath.store(values.3, destination, 24)
                continue
            }
            for counter in max(start, firstCounter)..<min(start + 32, end) {
                base[counter - firstCounter] = Self.word(values, (counter >> 3) & 3)[counter & 7]
            }
        }
    }

    /// Standard normal draws `firstCounter ..< firstCounter + buffer.count`, into `buffer`.
    public func fillNormals(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int) {
        fill(buffer, firstCounter: firstCounter, normal: true)
    }

    /// Uniform draws in (0, 1) at `firstCounter ..< firstCounter + buffer.count`, into `buffer`.
    public func fillUniforms(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int) {
        fill(buffer, firstCounter: firstCounter, normal: false)
    }

    /// Standard normal draws at arbitrary `counters`, into `normals` (same count): the same values
    /// `fillNormals` gives at those positions, eight counters per pass.
    public func normals(at counters: UnsafeBufferPointer<Int>, into normals: UnsafeMutableBufferPointer<Float>) {
        precondition(normals.count >= counters.count)
        for start in stride(from: 0, to: counters.count, by: 8) {
            var blocks = SIMD8<UInt64>(repeating: 0)
            let lanes = min(8, counters.count - start)
            for lane in 0..<lanes {
                let counter = UInt64(truncatingIfNeeded: counters[start + lane])
                blocks[lane] = (counter >> 5) &* 8 &+ (counter & 7)
            }
            let values = Self.draws(words(blocks: blocks), normal: true)
            for lane in 0..<lanes {
                normals[start + lane] = Self.word(values, (counters[start + lane] >> 3) & 3)[lane]
            }
        }
    }

    /// The standard normal draw at position `counter` (as `fillNormals` gives it).
    public func normal(_ counter: Int) -> Float {
        var value: Float = 0
        withUnsafeMutablePointer(to: &value) {
            fillNormals(UnsafeMutableBufferPointer(start: $0, count: 1), firstCounter: counter)
        }
        return value
    }
}
