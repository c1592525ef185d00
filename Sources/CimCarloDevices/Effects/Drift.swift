import CimCarloSupport
import Foundation

/// A function of the normalised target conductance: a constant, or the clipped logarithmic
/// form IBM's PCM model uses for drift, `clip(slope · ln(x) + intercept, min, max)`.
public enum ConductanceFunction: Sendable, Equatable {
    case constant(Double)
    case clippedLog(slope: Double, intercept: Double, minimum: Double, maximum: Double)

    /// Value at normalised conductance `x`; `x` is floored at 1e-12 before the logarithm.
    @inlinable
    public func value(at x: Double) -> Double {
        switch self {
        case let .constant(value):
            return value
        case let .clippedLog(slope, intercept, minimum, maximum):
            return min(max(slope * log(max(x, 1e-12)) + intercept, minimum), maximum)
        }
    }
}

/// Power-law conductance drift after programming, as in IBM's analog AI kit:
/// `G(t) = G_prog · ((t + t₀) / t₀)^(−ν)`, where `t` is the time since the first read at
/// `t₀` after programming, and ν is drawn per device from N(μν(r), σν(r)) at the target's
/// conductance ratio `r = G_target / g_max` (Ielmini et al., IEEE TED 2007; Joshi et al.,
/// Nat. Commun. 2020).
public struct Drift: Sendable, Equatable {
    /// t₀, seconds.
    public var referenceTimeSeconds: Double
    /// Mean drift exponent μν as a function of the target's conductance ratio.
    public var exponentMean: ConductanceFunction
    /// Standard deviation σν of the drift exponent.
    public var exponentStd: ConductanceFunction
    /// Whether ν = |draw| (IBM's model), so conductance never grows with time.
    public var absoluteExponent: Bool

    public init(
        referenceTimeSeconds: Double, exponentMean: ConductanceFunction, exponentStd: ConductanceFunction,
        absoluteExponent: Bool
    ) {
        self.referenceTimeSeconds = referenceTimeSeconds
        self.exponentMean = exponentMean
        self.exponentStd = exponentStd
        self.absoluteExponent = absoluteExponent
    }

    /// `ln((t + t₀) / t₀)`, 0 for t ≤ 0: the drift factor `((t + t₀) / t₀)^(−ν)` is
    /// `exp(−ν · logTimeRatio(t))`.
    public func logTimeRatio(_ timeSeconds: Double) -> Double {
        timeSeconds <= 0 ? 0 : log((timeSeconds + referenceTimeSeconds) / referenceTimeSeconds)
    }
}

/// Drift as an effect: the exponent ν is drawn once per device and chip (purpose
/// `driftExponent`), and reading at time t multiplies the conductance by `((t + t₀)/t₀)^(−ν)`.
package final class DriftEffect: StaticEffect, ReadTimeEffect {
    let drift: Drift
    private let meanTable: LevelTable
    private let stdTable: LevelTable
    private let mean = DeviceBuffer<Float>(count: DeviceChunk.capacity)
    private let std = DeviceBuffer<Float>(count: DeviceChunk.capacity)
    /// The current chunk's drift factors by time point (`prepare`).
    private var factors: [Int: DeviceBuffer<Float>] = [:]

    package init(_ drift: Drift, device: DeviceModel) {
        self.drift = drift
        meanTable = LevelTable(cellBits: device.cellBits) {
            drift.exponentMean.value(at: device.conductanceRatio(atLevel: $0))
        }
        stdTable = LevelTable(cellBits: device.cellBits) {
            drift.exponentStd.value(at: device.conductanceRatio(atLevel: $0))
        }
    }

    package func sample(_ chunk: DeviceChunk, _ draws: ChipDraws) {
        meanTable.fill(chunk, into: mean)
        stdTable.fill(chunk, into: std)
        chunk.fillNormals(draws.stream(.driftExponent), into: chunk.draws)
        for index in chunk.lanes {
            let exponent = drift.exponent(
                standardNormal: VectorMath.Lanes.load(chunk.draws.base, index),
                mean: .load(mean.base, index), std: .load(std.base, index))
            exponent.store(chunk.driftExponent.base, index)
        }
    }

    package func prepare(_ chunk: DeviceChunk, times: [(index: Int, seconds: Double)], _ draws: ChipDraws) {
        for time in times {
            let factor = factors[time.index] ?? DeviceBuffer(count: DeviceChunk.capacity)
            factors[time.index] = factor
            let logTimeRatio = VectorMath.Lanes(Double(Float(drift.logTimeRatio(time.seconds))))
            for index in chunk.lanes {
                Drift.factor(logTimeRatio: logTimeRatio, exponent: .load(chunk.driftExponent.base, index))
                    .store(factor.base, index)
            }
        }
    }

    package func read(_ chunk: DeviceChunk, time: Double, timeIndex: Int) {
        let factor = factors[timeIndex]!
        for index in chunk.lanes {
            (VectorMath.Lanes.load(chunk.read.base, index) * VectorMath.Lanes.load(factor.base, index))
                .store(chunk.read.base, index)
        }
    }
}

extension Drift {
    /// A device's drift exponent for standard normal draw `z`: `μν + σν · z`, or its magnitude
    /// when `absoluteExponent`.
    @inline(__always)
    func exponent<L: DeviceLanes>(standardNormal z: L, mean: L, std: L) -> L {
        let exponent = mean + std * z
        return absoluteExponent ? exponent.absolute : exponent
    }

    /// The drift factor `((t + t₀)/t₀)^(−ν) = exp(−ν · ln((t + t₀)/t₀))`.
    @inline(__always)
    static func factor<L: DeviceLanes>(logTimeRatio: L, exponent: L) -> L {
        L.exp(-logTimeRatio * exponent)
    }
}

extension Drift {
    /// The `[drift]` table of a device model file, nil without one.
    init?(_ reader: ConfigurationReader) throws {
        guard let table = try reader.table("drift") else { return nil }
        self.init(
            referenceTimeSeconds: try table.double("t0_s", in: 1e-9...1e9, unit: "s"),
            exponentMean: try ConductanceFunction(table, "nu_mean", range: -1...1),
            exponentStd: try ConductanceFunction(table, "nu_std", range: 0...1),
            absoluteExponent: try table.bool("absolute", default: false))
        try table.finish()
    }
}

extension ConductanceFunction {
    /// Key `key` of `reader`: a number, or a clipped-log table `{log_slope, intercept, min, max}`.
    init(_ reader: ConfigurationReader, _ key: String, range: ClosedRange<Double>) throws {
        if case let .table(form) = reader.value(key) {
            let table = reader.reader(for: form, key: key)
            let function = ConductanceFunction.clippedLog(
                slope: try table.double("log_slope", in: -10...10),
                intercept: try table.double("intercept", in: -10...10),
                minimum: try table.double("min", in: range),
                maximum: try table.double("max", in: range))
            if case let .clippedLog(_, _, minimum, maximum) = function, minimum > maximum {
                throw table.error("max", "must be at least min (\(minimum))")
            }
            try table.finish()
            self = function
            return
        }
        self = .constant(try reader.double(key, in: range))
    }
}
