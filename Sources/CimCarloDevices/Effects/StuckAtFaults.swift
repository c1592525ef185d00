import CimCarloSupport

/// Stuck-at faults as an effect: each device is stuck at g_min (SA0, HRS) with probability
/// `stuckAtZeroRate` and at g_max (SA1, LRS) with `stuckAtOneRate`, from one uniform draw u per
/// device and chip (purpose `stuckAt`): SA0 when u < p₀, SA1 when p₀ ≤ u < p₀ + p₁.
/// Write-verify cannot move a stuck device.
package final class StuckAtFaults: StaticEffect {
    private let zeroRate: Float
    private let zeroOrOneRate: Float

    package init(device: DeviceModel) {
        zeroRate = Float(device.stuckAtZeroRate)
        zeroOrOneRate = Float(device.stuckAtZeroRate + device.stuckAtOneRate)
    }

    package func sample(_ chunk: DeviceChunk, _ draws: ChipDraws) {
        draws.stream(.stuckAt).fillUniforms(
            UnsafeMutableBufferPointer(start: chunk.draws.base, count: chunk.count), firstCounter: chunk.firstDevice)
        for index in 0..<chunk.count {
            let draw = chunk.draws[index]
            chunk.stuck[index] = draw < zeroRate ? 1 : (draw < zeroOrOneRate ? 2 : 0)
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
