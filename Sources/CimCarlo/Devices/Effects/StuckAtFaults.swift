/// Stuck-at faults as an effect: each device is stuck at g_min (SA0, HRS) with probability
/// `stuckAtZeroRate` and at g_max (SA1, LRS) with `stuckAtOneRate`, from one uniform draw u per
/// device and chip (purpose `stuckAt`): SA0 when u < p₀, SA1 when p₀ ≤ u < p₀ + p₁.
/// Write-verify cannot move a stuck device.
final class StuckAtFaults: StaticEffect {
    private let zeroRate: Float
    private let zeroOrOneRate: Float

    init(device: DeviceModel) {
        zeroRate = Float(device.stuckAtZeroRate)
        zeroOrOneRate = Float(device.stuckAtZeroRate + device.stuckAtOneRate)
    }

    func sample(_ chunk: DeviceChunk, _ draws: ChipDraws) {
        draws.stream(.stuckAt).fillUniforms(
            UnsafeMutableBufferPointer(start: chunk.draws.base, count: chunk.count), firstCounter: chunk.firstDevice)
        for index in 0..<chunk.count {
            let draw = chunk.draws[index]
            chunk.stuck[index] = draw < zeroRate ? 1 : (draw < zeroOrOneRate ? 2 : 0)
        }
    }
}
