import CimCarloSupport
import Foundation

/// Read noise relative to the read conductance, `G_read = G · (1 + σ_r · z)`.
///
/// `σ_r = Q(r_prog) · f(t)` at the programmed (not drifted) conductance ratio `r = G / g_max`,
/// with `Q` one of the `Sigma` forms and, with the 1/f time factor,
/// `f(t) = sqrt(ln((t + t_offset + t_read) / (2 · t_read)))` (IBM analog AI kit's PCM model,
/// where `t_offset` is the drift's t₀), else 1.
///
/// `resample` says when z is drawn: once per chip, time point and device for the whole test
/// set (`perChip`, purpose `readNoise`, substream the time point), or fresh on every
/// matrix-vector product (`perRead`, purpose `productNoise`). Per read, a product's outputs are
/// `y = ŷ + N(0, Σ_i x_i² σ_ij²)`, independent over outputs for a given input — exact for
/// independent device noise, at the cost of one more product of the squared inputs with the
/// weights' read-noise variances (`ReadNoiseProduct`).
public struct ReadNoise: Sendable, Equatable {
    public enum Resample: String, Sendable, CaseIterable {
        case perChip = "per-chip"
        case perRead = "per-read"
    }

    /// The relative sigma Q(r) before the time factor (TOML `read_noise.sigma`).
    public enum Sigma: Sendable, Equatable {
        /// `Q(r) = min(coefficient / max(r^exponent, floor), maximum)` (IBM's PCM model;
        /// `coefficient` alone, capped at `maximum`, when `exponent` is 0).
        case power(coefficient: Double, exponent: Double, floor: Double, maximum: Double)
        /// The absolute logarithmic form of aihwkit's ReRAM CMO model, `σ = K · log10(G / 1 µS)` µS
        /// at the programmed G (0 below 1 µS), K in µS, as the relative sigma `K · log10(G) / G`;
        /// `maximumMicrosiemens` (g_max) turns the conductance ratio into G.
        case logarithmic(microsiemensPerDecade: Double, maximumMicrosiemens: Double)
    }

    public var sigma: Sigma
    public var oneOverF: Bool
    /// Duration of one read, seconds (for the 1/f factor).
    public var readTimeSeconds: Double
    /// Added to the time for the 1/f factor, seconds (the kit's t₀).
    public var timeOffsetSeconds: Double
    public var resample: Resample

    public init(
        sigma: Sigma, oneOverF: Bool = false, readTimeSeconds: Double = 250e-9, timeOffsetSeconds: Double = 0,
        resample: Resample = .perChip
    ) {
        self.sigma = sigma
        self.oneOverF = oneOverF
        self.readTimeSeconds = readTimeSeconds
        self.timeOffsetSeconds = timeOffsetSeconds
        self.resample = resample
    }

    /// The power form of Q.
    public init(
        coefficient: Double, exponent: Double = 0, floor: Double = 1e-3, maximum: Double = .infinity,
        oneOverF: Bool = false, readTimeSeconds: Double = 250e-9, timeOffsetSeconds: Double = 0,
        resample: Resample = .perChip
    ) {
        self.init(
            sigma: .power(coefficient: coefficient, exponent: exponent, floor: floor, maximum: maximum),
            oneOverF: oneOverF, readTimeSeconds: readTimeSeconds, timeOffsetSeconds: timeOffsetSeconds,
            resample: resample)
    }

    /// The time factor f(t); 0 when the 1/f form has no support (`t + t_offset ≤ t_read`).
    public func timeFactor(_ timeSeconds: Double) -> Double {
        guard oneOverF else { return 1 }
        let argument = (timeSeconds + timeOffsetSeconds + readTimeSeconds) / (2 * readTimeSeconds)
        return argument > 1 ? log(argument).squareRoot() : 0
    }

    /// Relative sigma Q at conductance ratio `r = G / g_max` (before the time factor).
    @inline(__always)
    public func relativeSigma<L: DeviceLanes>(at r: L) -> L {
        switch sigma {
        case let .logarithmic(perDecade, maximumMicrosiemens):
            let microsiemens = L.maximum(r * L(maximumMicrosiemens), L(1e-9))
            let decades = L.maximum(L.log(L.maximum(microsiemens, L(1))), L(0)) / L(M_LN10)
            return L(perDecade) * decades / microsiemens
        case let .power(coefficient, exponent, floor, maximum):
            guard exponent != 0 else { return L(min(coefficient, maximum)) }
            // r^exponent = exp(exponent · ln r); r ≤ 0 gives 0 there, floored.
            let power = L.exp(L(exponent) * L.log(L.maximum(r, L(1e-30))))
            return L.minimum(L(coefficient) / L.maximum(power, L(floor)), L(maximum))
        }
    }
}

/// Read noise as an effect: per chip, each device's reading at a time point moves by
/// `|G| · σ_r · z`; per read, each device's variance `(G · σ_r)²` at the time point goes to the
/// products (`variances(_:time:)`).
package final class ReadNoiseEffect: ReadTimeEffect {
    let noise: ReadNoise
    /// g_min in units of the range.
    private let conductanceOffset: Float

    /// Per chip: the current chunk's draws by time point (`prepare`).
    private var drawn: [Int: DeviceBuffer<Float>] = [:]

    package init(_ noise: ReadNoise, device: DeviceModel) {
        self.noise = noise
        conductanceOffset = Float(device.minimumConductance / device.conductanceRange)
    }

    /// σ_r of devices `index ..< index + 8`, programmed to `chunk.programmed`, at time factor `timeFactor`.
    @inline(__always)
    private func sigma(_ chunk: DeviceChunk, at index: Int, timeFactor: Float) -> VectorMath.Lanes {
        let offset = conductanceOffset
        let ratio = (VectorMath.Lanes.load(chunk.programmed.base, index) + offset) / (1 + offset)
        return noise.relativeSigma(at: ratio) * timeFactor
    }

    package func prepare(_ chunk: DeviceChunk, times: [(index: Int, seconds: Double)], _ draws: ChipDraws) {
        guard noise.resample == .perChip else { return }
        for time in times where noise.timeFactor(time.seconds) > 0 {
            let z = drawn[time.index] ?? DeviceBuffer(count: DeviceChunk.capacity)
            drawn[time.index] = z
            chunk.fillNormals(draws.stream(.readNoise, substream: time.index), into: z)
        }
    }

    package func read(_ chunk: DeviceChunk, time: Double, timeIndex: Int) {
        let timeFactor = Float(noise.timeFactor(time))
        guard noise.resample == .perChip, timeFactor > 0 else { return }
        let z = drawn[timeIndex]!
        for index in chunk.lanes {
            let conductance = VectorMath.Lanes.load(chunk.read.base, index)
            let noisy =
                conductance + conductance.absolute * sigma(chunk, at: index, timeFactor: timeFactor)
                * VectorMath.Lanes.load(z.base, index)
            noisy.store(chunk.read.base, index)
        }
    }

    /// Per read: whether the noise is on at `time` (the 1/f factor vanishes at t = 0).
    package func isActive(at time: Double) -> Bool { noise.resample == .perRead && noise.timeFactor(time) > 0 }

    /// Per read: each device's variance `(G · σ_r)²` at `time`, units of the range², into
    /// `chunk.variance`, from the levels read (`chunk.read`, g_min excluded).
    package func variances(_ chunk: DeviceChunk, time: Double) {
        let timeFactor = Float(noise.timeFactor(time))
        for index in chunk.lanes {
            let deviation =
                (VectorMath.Lanes.load(chunk.read.base, index) + conductanceOffset)
                * sigma(chunk, at: index, timeFactor: timeFactor)
            (deviation * deviation).store(chunk.variance.base, index)
        }
    }
}

extension ReadNoise {
    /// The `[read_noise]` table of a device model file, nil without one; `maximumMicrosiemens` is
    /// g_max (for the logarithmic form).
    init?(_ reader: ConfigurationReader, maximumMicrosiemens: Double) throws {
        guard let table = try reader.table("read_noise") else { return nil }
        var noise = ReadNoise(coefficient: 0)
        switch table.value("sigma") {
        case .table(let form):
            let q = table.reader(for: form, key: "sigma")
            if q.contains("log10_us") {
                noise.sigma = .logarithmic(
                    microsiemensPerDecade: try q.double("log10_us", in: 0...1e3, unit: "µS"),
                    maximumMicrosiemens: maximumMicrosiemens)
            } else {
                noise.sigma = .power(
                    coefficient: try q.double("coefficient", in: 0...10),
                    exponent: try q.double("exponent", default: 0, in: 0...10),
                    floor: try q.double("floor", default: 1e-3, in: 1e-12...1),
                    maximum: try q.double("max", default: 10, in: 0...10))
            }
            try q.finish()
        default:
            noise = ReadNoise(coefficient: try table.double("sigma", in: 0...10, unit: "(relative to G)"))
        }
        noise.oneOverF = try table.bool("one_over_f", default: false)
        noise.readTimeSeconds = try table.double("t_read_s", default: 250e-9, in: 1e-15...1, unit: "s")
        noise.timeOffsetSeconds = try table.double("t_offset_s", default: 0, in: 0...1e9, unit: "s")
        noise.resample = ReadNoise.Resample(
            rawValue: try table.string(
                "resample", default: "per-chip", allowed: ReadNoise.Resample.allCases.map(\.rawValue)))!
        try table.finish()
        self = noise
    }
}
