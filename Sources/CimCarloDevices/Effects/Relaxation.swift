import CimCarloSupport
import Foundation

/// Conductance broadening over log-time after programming (RRAM relaxation): each device moves
/// by `μ · d + σ(t) · z` at `d = log10(t / t₀)`, one standard normal z per device and chip, with
/// `σ(t) = max(0, σ₀(x) + k(x) · d)` for `t > 0`, and nothing at `t = 0` (just programmed).
/// σ₀ and k are level-dependent sigma functions (constant, per level, or a µS polynomial in the
/// conductance ratio), in units of the range or of the target.
public struct Relaxation: Sendable, Equatable {
    /// t₀, seconds: the time at which the spread is σ₀.
    public var referenceTimeSeconds: Double
    /// σ₀ as a function of the target level (only its sigma forms and reference are used).
    public var initial: Variation
    /// k, the broadening per decade of time, same forms.
    public var perDecade: Variation
    /// A shift of the mean per decade, units of the range (aihwkit's ReRAM CMO model: −0.205 µS).
    public var shiftPerDecade: Double = 0

    public init(referenceTimeSeconds: Double, initial: Variation, perDecade: Variation) {
        self.referenceTimeSeconds = referenceTimeSeconds
        self.initial = initial
        self.perDecade = perDecade
    }

    /// `log10(t / t₀)`, nil at `t ≤ 0` (no relaxation yet).
    public func decades(_ timeSeconds: Double) -> Double? {
        timeSeconds > 0 ? log10(timeSeconds / referenceTimeSeconds) : nil
    }

    /// σ(t) at target level `x`, units of the range.
    public func sigma(at x: Double, time timeSeconds: Double, device: DeviceModel) -> Double {
        guard let decades = decades(timeSeconds) else { return 0 }
        return max(
            0,
            initial.sigmaInRangeUnits(at: x, device: device) + perDecade.sigmaInRangeUnits(at: x, device: device)
                * decades)
    }
}

/// Relaxation as an effect: one standard normal z per device and chip (purpose `relaxation`,
/// the same at every time point, so a device's broadening grows as σ(t)).
package final class RelaxationEffect: ReadTimeEffect {
    let relaxation: Relaxation
    private let initialTable: LevelTable
    private let perDecadeTable: LevelTable
    private let initial = DeviceBuffer<Float>(count: DeviceChunk.capacity)
    private let perDecade = DeviceBuffer<Float>(count: DeviceChunk.capacity)
    /// The current chunk's draws (`prepare`).
    private let z = DeviceBuffer<Float>(count: DeviceChunk.capacity)

    package init(_ relaxation: Relaxation, device: DeviceModel) {
        self.relaxation = relaxation
        initialTable = LevelTable(cellBits: device.cellBits) {
            relaxation.initial.sigmaInRangeUnits(at: $0, device: device)
        }
        perDecadeTable = LevelTable(cellBits: device.cellBits) {
            relaxation.perDecade.sigmaInRangeUnits(at: $0, device: device)
        }
    }

    package func prepare(_ chunk: DeviceChunk, times: [(index: Int, seconds: Double)], _ draws: ChipDraws) {
        guard times.contains(where: { relaxation.decades($0.seconds) != nil }) else { return }
        initialTable.fill(chunk, into: initial)
        perDecadeTable.fill(chunk, into: perDecade)
        chunk.fillNormals(draws.stream(.relaxation), into: z)
    }

    package func read(_ chunk: DeviceChunk, time: Double, timeIndex: Int) {
        guard let decades = relaxation.decades(time).map(Float.init) else { return }
        let shift = Float(relaxation.shiftPerDecade) * decades
        for index in chunk.lanes {
            let moved =
                VectorMath.Lanes.load(chunk.read.base, index)
                + Relaxation.movement(
                    standardNormal: VectorMath.Lanes.load(z.base, index),
                    shift: VectorMath.Lanes(repeating: shift),
                    initial: .load(initial.base, index), perDecade: .load(perDecade.base, index),
                    decades: VectorMath.Lanes(Double(decades)))
            moved.store(chunk.read.base, index)
        }
    }
}

extension Relaxation {
    /// A device's movement `decades` after t₀ for draw `z`: `shift + max(0, σ₀ + k · d) · z`.
    @inline(__always)
    static func movement<L: DeviceLanes>(standardNormal z: L, shift: L, initial: L, perDecade: L, decades: L) -> L {
        shift + L.maximum(initial + perDecade * decades, L(0)) * z
    }
}

extension Relaxation {
    /// The `[relaxation]` table of a device model file, nil without one; `rangeMicrosiemens` is
    /// g_max − g_min (for the shift's units).
    init?(_ reader: ConfigurationReader, levels: Int, rangeMicrosiemens: Double) throws {
        guard let table = try reader.table("relaxation") else { return nil }
        let reference = try table.string("reference", default: "range", allowed: ["range", "target"])
        var initial = Variation(reference: Variation.Reference(rawValue: reference)!)
        var perDecade = initial
        try Variation.readSigma(table, prefix: "sigma0", levels: levels, into: &initial)
        try Variation.readSigma(table, prefix: "per_decade", levels: levels, into: &perDecade)
        var relaxing = Relaxation(
            referenceTimeSeconds: try table.double("t0_s", in: 1e-9...1e9, unit: "s"),
            initial: initial, perDecade: perDecade)
        relaxing.shiftPerDecade =
            try table.double("shift_per_decade_us", default: 0, in: -1e3...1e3, unit: "µS")
            / rangeMicrosiemens
        try table.finish()
        self = relaxing
    }
}
