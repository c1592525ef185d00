import CimCarloSupport

/// Stuck-at faults as an effect: each device is stuck at g_min (SA0, HRS) with probability
/// `stuckAtZeroRate` and at g_max (SA1, LRS) with `stuckAtOneRate`, from one uniform draw u per
/// device and chip (purpose `stuckAt`): SA0 when u < p₀, SA1 when p₀ ≤ u < p₀ + p₁.
/// Write-verify cannot move a stuck device.
///
/// Under scaled-sigma sampling (`ChipDraws.scale` s) the draw is read as the normal variate
/// z = Φ⁻¹(u) scaled like every other deviation: a device is SA0 when s·z < Φ⁻¹(p₀), i.e.
/// u < Φ(Φ⁻¹(p₀)/s), and SA1 when Φ⁻¹(p₀) ≤ s·z < Φ⁻¹(p₀ + p₁) — both far in the normal's
/// tail, so their rates grow with s as a deviation past a threshold does (`scaledRate`). At
/// s = 1 the thresholds are the rates themselves, the chips unchanged.
package final class StuckAtFaults: StaticEffect {
    private let zeroRate: Double
    private let zeroOrOneRate: Double
    /// The thresholds on u at the scale last sampled.
    private var thresholds: (scale: Float, zero: Float, zeroOrOne: Float)

    package init(device: DeviceModel) {
        zeroRate = device.stuckAtZeroRate
        zeroOrOneRate = device.stuckAtZeroRate + device.stuckAtOneRate
        thresholds = (1, Float(zeroRate), Float(zeroOrOneRate))
    }

    /// The probability that s·z < Φ⁻¹(`rate`) for a standard normal z: Φ(Φ⁻¹(rate)/s).
    package static func scaledRate(_ rate: Double, scale: Double) -> Double {
        rate <= 0 || rate >= 1 ? rate : StandardNormal.cdf(StandardNormal.quantile(rate) / scale)
    }

    package func sample(_ chunk: DeviceChunk, _ draws: ChipDraws) {
        if draws.scale != thresholds.scale {
            let scale = Double(draws.scale)
            thresholds =
                draws.scale == 1
                ? (1, Float(zeroRate), Float(zeroOrOneRate))
                : (
                    draws.scale, Float(Self.scaledRate(zeroRate, scale: scale)),
                    Float(Self.scaledRate(zeroOrOneRate, scale: scale))
                )
        }
        draws.stream(.stuckAt).fillUniforms(
            UnsafeMutableBufferPointer(start: chunk.draws.base, count: chunk.count), firstCounter: chunk.firstDevice)
        let (_, zero, zeroOrOne) = thresholds
        for index in 0..<chunk.count {
            let draw = chunk.draws[index]
            chunk.stuck[index] = draw < zero ? 1 : (draw < zeroOrOne ? 2 : 0)
        }
    }
}

extension StuckAtFaults {
    /// The SA0 and SA1 rates of a device model file's `[stuck_at]` table (0 without one).
    static func rates(_ reader: ConfigurationReader) throws -> (zero: Double, one: Double) {
        guard let stuck = try reader.table("stuck_at") else { return (0, 0) }
        let zero = try stuck.double("sa0_rate", default: 0, in: 0...1, unit: "(fraction of devices)")
        let one = try stuck.double("sa1_rate", default: 0, in: 0...1, unit: "(fraction of devices)")
        guard zero + one <= 1 else {
            throw stuck.error("sa1_rate", "sa0_rate + sa1_rate must be at most 1, got \(zero + one)")
        }
        try stuck.finish()
        return (zero, one)
    }
}
