import CimCarloSupport
import Foundation

/// A conductance deviation: its distribution, what sigma is measured against, and how sigma
/// depends on the target level. Device-to-device variation (`[d2d]`, drawn once per device and
/// chip) and programming noise (`[programming]`, drawn per pulse) are variations; relaxation
/// uses their sigma forms.
public struct Variation: Sendable, Equatable {
    public enum Distribution: String, Sendable { case gaussian, lognormal }
    /// `range`: sigma in units of `g_max − g_min` (absolute). `target`: relative to the target conductance.
    public enum Reference: String, Sendable { case range, target }

    /// How sigma depends on the target level (TOML: one of `sigma`, `sigma_per_level`, `sigma_polynomial_us`).
    public enum Sigma: Sendable, Equatable {
        /// Level-independent.
        case constant(Double)
        /// At evenly spaced normalised conductances 0 … 1 (one per level of a multi-level cell,
        /// cf. U-SWIM, NeFT), linearly interpolated between.
        case perLevel([Double])
        /// A polynomial in the conductance ratio `r = G_target / g_max`, coefficients in siemens
        /// (IBM's PCM programming noise and CrossSim's RRAM fits; absolute, `reference = range`).
        case polynomial([Double])
    }

    public var distribution: Distribution
    public var reference: Reference
    public var sigma: Sigma

    public init(distribution: Distribution = .gaussian, reference: Reference = .range, sigma: Sigma) {
        self.distribution = distribution
        self.reference = reference
        self.sigma = sigma
    }

    /// A level-independent variation, or (given) one of the level-dependent forms.
    public init(
        distribution: Distribution = .gaussian, reference: Reference = .range, sigma: Double = 0,
        sigmaPerLevel: [Double]? = nil, sigmaPolynomial: [Double]? = nil
    ) {
        self.init(
            distribution: distribution, reference: reference,
            sigma: sigmaPolynomial.map(Sigma.polynomial) ?? sigmaPerLevel.map(Sigma.perLevel) ?? .constant(sigma))
    }

    public static let none = Variation()

    public var isNone: Bool { sigma == .constant(0) }

    /// Sigma at normalised target level `x`, in the variation's reference units (a polynomial
    /// is evaluated at the conductance ratio and converted from siemens to units of the range).
    public func sigma(at x: Double, device: DeviceModel) -> Double {
        switch sigma {
        case .polynomial(let coefficients):
            let ratio = device.conductanceRatio(atLevel: x)
            var value = 0.0
            for coefficient in coefficients.reversed() { value = value * ratio + coefficient }
            return max(value, 0) / device.conductanceRange
        case .perLevel(let sigmas):
            guard sigmas.count > 1 else { return sigmas[0] }
            let position = min(max(x, 0), 1) * Double(sigmas.count - 1)
            let lower = min(Int(position), sigmas.count - 2)
            let fraction = position - Double(lower)
            return sigmas[lower] * (1 - fraction) + sigmas[lower + 1] * fraction
        case .constant(let sigma):
            return sigma
        }
    }

    /// Sigma at level `x` in units of the range: a `target`-referenced sigma times the target
    /// conductance (for a lognormal spread, its Gaussian equivalent).
    public func sigmaInRangeUnits(at x: Double, device: DeviceModel) -> Double {
        let sigma = sigma(at: x, device: device)
        return reference == .target ? targetConductanceInRangeUnits(x, device) * sigma : sigma
    }

    /// The scale of `deviation(_:scale:level:)` at level `x`: sigma in units of the range, or the
    /// lognormal's sigma.
    func scale(at x: Double, device: DeviceModel) -> Double {
        distribution == .lognormal ? sigma(at: x, device: device) : sigmaInRangeUnits(at: x, device: device)
    }

    /// The deviation, in units of the conductance range, for standard normal draws `z`:
    /// `scale · z` (Gaussian), or `level · (exp(scale · z) − 1)` (median-preserving lognormal,
    /// `G = G_target · exp(σ z)`, with `level` the target conductance in units of the range).
    @inline(__always)
    func deviation<L: DeviceLanes>(_ z: L, scale: L, level: L) -> L {
        distribution == .lognormal ? level * (L.exp(scale * z) - L(1)) : scale * z
    }

    /// The deviation this variation adds to normalised target `x` for a standard normal draw `z`.
    public func deviation(at x: Double, standardNormal z: Double, device: DeviceModel) -> Double {
        deviation(z, scale: scale(at: x, device: device), level: targetConductanceInRangeUnits(x, device))
    }
}

/// A variation drawn for every device of a chip (`purpose`) and added to its one-shot error:
/// device-to-device variation, and the programming noise of the first pulse. Keeps the chunk's
/// per-device scale and level, which write-verify's redraws reuse.
package final class VariationEffect: StaticEffect {
    let variation: Variation
    let purpose: CounterRandom.Purpose
    private let scaleTable: LevelTable
    private let levelTable: LevelTable
    /// The current chunk's per-device scale and (lognormal) target level in units of the range.
    let scale = DeviceBuffer<Float>(count: DeviceChunk.capacity)
    let level = DeviceBuffer<Float>(count: DeviceChunk.capacity)

    package init(_ variation: Variation, purpose: CounterRandom.Purpose, device: DeviceModel) {
        self.variation = variation
        self.purpose = purpose
        scaleTable = LevelTable(cellBits: device.cellBits) { variation.scale(at: $0, device: device) }
        levelTable = LevelTable(cellBits: device.cellBits) { targetConductanceInRangeUnits($0, device) }
    }

    package func sample(_ chunk: DeviceChunk, _ draws: ChipDraws) {
        scaleTable.fill(chunk, into: scale)
        if variation.distribution == .lognormal { levelTable.fill(chunk, into: level) }
        chunk.fillNormals(draws.stream(purpose), into: chunk.draws)
        let (errors, z) = (chunk.oneShotError.base, chunk.draws.base)
        for index in chunk.lanes {
            let error = VectorMath.Lanes.load(errors, index) + deviation(VectorMath.Lanes.load(z, index), at: index)
            error.store(errors, index)
        }
    }

    /// The deviations of the chunk's devices `index ..< index + L.laneCount` for draws `z`.
    @inline(__always)
    func deviation<L: DeviceStorageLanes>(_ z: L, at index: Int) -> L {
        variation.deviation(z, scale: L.load(scale.base, index), level: L.load(level.base, index))
    }
}

extension Variation {
    /// The variation in table `key` of a device model file (none without it); `extra` reads any further keys of the table before it is finished.
    static func read(
        _ reader: ConfigurationReader, _ key: String, levels: Int,
        extra: (ConfigurationReader) throws -> Void = { _ in }
    ) throws -> Variation {
        guard let table = try reader.table(key) else { return .none }
        var variation = Variation()
        variation.distribution = Variation.Distribution(
            rawValue: try table.string("distribution", default: "gaussian", allowed: ["gaussian", "lognormal"]))!
        variation.reference = Variation.Reference(
            rawValue: try table.string("reference", default: "range", allowed: ["range", "target"]))!
        if variation.distribution == .lognormal && variation.reference != .target {
            throw table.error(
                "reference", "must be \"target\" for a lognormal distribution (it scales the target conductance)")
        }
        try readSigma(table, prefix: "sigma", levels: levels, into: &variation)
        try extra(table)
        try table.finish()
        return variation
    }

    /// Reads one of `<prefix>`, `<prefix>_per_level`, `<prefix>_polynomial_us` into `variation`'s
    /// sigma forms (none of them: sigma 0).
    static func readSigma(
        _ table: ConfigurationReader, prefix: String, levels: Int, into variation: inout Variation
    ) throws {
        let keys = [prefix, prefix + "_per_level", prefix + "_polynomial_us"]
        let forms = keys.filter { table.contains($0) }
        guard forms.count <= 1 else {
            throw table.error(forms[1], "give only one of \(keys.joined(separator: ", "))")
        }
        if let perLevel = try table.doubles(keys[1], in: 0...10, count: levels...levels) {
            variation.sigma = .perLevel(perLevel)
        } else if let polynomial = try table.doubles(keys[2], in: -1e6...1e6, unit: "µS", count: 1...8) {
            guard variation.reference == .range else {
                throw table.error(keys[2], "is absolute (µS), so reference must be \"range\"")
            }
            variation.sigma = .polynomial(polynomial.map { $0 * 1e-6 })
        } else {
            variation.sigma = .constant(try table.double(keys[0], default: 0, in: 0...10))
        }
    }
}
