internal import CKernels
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
        /// Bootstrap replicates of statistics (scaled-sigma sampling's confidence interval).
        case bootstrap = 12
    }

    public let key: UInt64
    /// Every normal draw is this times its standard-normal value: 1 for the study's chips,
    /// s > 1 for scaled-sigma sampling's (`TailPlan`). Uniform draws are not scaled.
    public let scale: Float

    /// The device sampler's name, recorded in every result file (`sampler`) and plan digest.
    public static let sampler = "philox4x32-10 box-muller float32"
    /// The sampler of cimcarlo 0.1 (SplitMix64, double-precision Box–Muller), assumed for
    /// result files that do not name theirs.
    public static let legacySampler = "splitmix64 box-muller float64"

    /// The stream for `purpose` of Monte-Carlo instance `instance` under `seed`;
    /// `substream` separates e.g. the read-noise draws of different time points.
    public init(seed: UInt64, instance: Int, purpose: Purpose, substream: Int = 0, scale: Float = 1) {
        var key = Self.mix(seed ^ 0x6A09_E667_F3BC_C909)
        key = Self.mix(key ^ (UInt64(instance) &* 0x9E37_79B9_7F4A_7C15))
        key = Self.mix(key ^ (purpose.rawValue &* 0xBB67_AE85_84CA_A73B))
        key = Self.mix(key ^ (UInt64(substream) &* 0x3C6E_F372_FE94_F82B))
        self.key = key
        self.scale = scale
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

    // MARK: - The vectorised sampler (Philox-4×32-10, Box–Muller; Sources/CKernels/sampler.c, AVX-512,
    // AVX2 or baseline x86-64 chosen at run time, the same draws on each)
    //
    // Draw n of a stream is word j = (n >> 3) & 3 of Philox block b = 8·(n >> 5) + (n & 7) under
    // the stream's 64-bit key: 32 consecutive draws are the four words of eight consecutive
    // blocks, which one pass over eight SIMD lanes computes and stores contiguously. Normals are
    // Box–Muller on word pairs (0, 1) and (2, 3): r = √(−2 ln u₀), (r cos 2πu₁, r sin 2πu₁), with
    // 23-bit uniforms, so |z| ≤ 5.8. Every draw is a pure function of (key, n).

    /// Standard normal draws `firstCounter ..< firstCounter + buffer.count`, times `scale`, into
    /// `buffer`.
    public func fillNormals(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int) {
        guard let base = buffer.baseAddress else { return }
        cimcarlo_fill(key, Int64(firstCounter), base, Int64(buffer.count), 1)
        scaled(buffer)
    }

    /// Multiplies normal draws by `scale` (nothing to do at 1, which would not change a bit).
    private func scaled(_ normals: UnsafeMutableBufferPointer<Float>) {
        guard scale != 1 else { return }
        for index in normals.indices { normals[index] *= scale }
    }

    /// Uniform draws in (0, 1) at `firstCounter ..< firstCounter + buffer.count`, into `buffer`.
    public func fillUniforms(_ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int) {
        guard let base = buffer.baseAddress else { return }
        cimcarlo_fill(key, Int64(firstCounter), base, Int64(buffer.count), 0)
    }

    /// Normal draws at arbitrary `counters`, into `normals` (same count): the same values
    /// `fillNormals` gives at those positions, eight counters per pass.
    public func normals(at counters: UnsafeBufferPointer<Int>, into normals: UnsafeMutableBufferPointer<Float>) {
        precondition(normals.count >= counters.count)
        guard let base = normals.baseAddress, !counters.isEmpty else { return }
        counters.withMemoryRebound(to: Int64.self) { cimcarlo_normals_at(key, $0.baseAddress!, base, Int64($0.count)) }
        scaled(UnsafeMutableBufferPointer(start: base, count: counters.count))
    }

    /// `fillNormals` (or `fillUniforms`) on one version of the sampler: 0 baseline x86-64,
    /// 1 AVX2, 2 AVX-512; false when this CPU lacks it (tests check that all agree).
    func fill(
        _ buffer: UnsafeMutableBufferPointer<Float>, firstCounter: Int, normal: Bool, version: Int
    ) -> Bool {
        guard let base = buffer.baseAddress else { return true }
        return cimcarlo_fill_version(
            Int32(version), key, Int64(firstCounter), base, Int64(buffer.count), normal ? 1 : 0) == 0
    }

    /// `normals(at:into:)` on one version of the sampler, as `fill(_:firstCounter:normal:version:)`.
    func normals(at counters: [Int], version: Int) -> [Float]? {
        var values = [Float](repeating: .nan, count: counters.count)
        let ran = counters.withUnsafeBufferPointer { counters in
            counters.withMemoryRebound(to: Int64.self) { counters in
                values.withUnsafeMutableBufferPointer {
                    cimcarlo_normals_at_version(
                        Int32(version), key, counters.baseAddress!, $0.baseAddress!, Int64(counters.count)) == 0
                }
            }
        }
        return ran ? values : nil
    }

    /// The instruction set the sampler runs on here ("avx512", "avx2" or "x86-64"); the draws
    /// are the same on each. `CIMCARLO_ISA` may force a lower one.
    public static var instructionSet: String { String(cString: cimcarlo_isa_name()) }

    /// The normal draw at position `counter` (as `fillNormals` gives it).
    public func normal(_ counter: Int) -> Float {
        var value: Float = 0
        withUnsafeMutablePointer(to: &value) {
            fillNormals(UnsafeMutableBufferPointer(start: $0, count: 1), firstCounter: counter)
        }
        return value
    }
}
