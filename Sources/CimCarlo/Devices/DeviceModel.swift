import Foundation

/// How a non-volatile device's conductance deviates from its target, and how it is programmed.
///
/// Conductances are described by the normalised value `x = (G − g_min) / (g_max − g_min)`,
/// so `x = 0` is the high-resistance state (HRS) and `x = 1` the low-resistance state (LRS).
/// Absolute deviations are in units of the range `g_max − g_min`; relative ones in units of
/// the target conductance. The file format is documented key by key in the README
/// ("Device model files").
public struct DeviceModel: Sendable, Equatable {
    public var name: String
    public var description: String
    /// Where the numbers come from (paper, kit, data sheet).
    public var source: String

    /// Lowest programmable conductance (HRS), siemens.
    public var minimumConductance: Double
    /// Highest programmable conductance (LRS), siemens.
    public var maximumConductance: Double
    /// Bits stored per device: `2^cellBits` evenly spaced levels from g_min to g_max.
    public var cellBits: Int

    /// Static device-to-device deviation, drawn once per device and chip instance.
    public var deviceToDevice: Variation
    /// Cycle-to-cycle programming noise: every programming pulse lands with this error.
    public var programming: Variation
    /// Fraction of devices stuck at g_min (SA0, HRS), in [0, 1].
    public var stuckAtZeroRate: Double
    /// Fraction of devices stuck at g_max (SA1, LRS), in [0, 1].
    public var stuckAtOneRate: Double
    /// Conductance drift over time; nil for none.
    public var drift: Drift?
    /// Read noise, fresh on every inference pass; nil for none.
    public var readNoise: ReadNoise?
    /// Iterative programming (write-verify).
    public var writeVerify: WriteVerify

    /// `g_max − g_min`, siemens.
    public var conductanceRange: Double { maximumConductance - minimumConductance }
    /// Levels per device, `2^cellBits`.
    public var levelCount: Int { 1 << cellBits }
    /// Whether a programmed conductance reads the same at every time (no drift, no read noise).
    public var isStatic: Bool { drift == nil && readNoise == nil }

    /// A device with no variation at all.
    public static let ideal = DeviceModel(
        name: "ideal", description: "no variation", source: "none",
        minimumConductance: 0, maximumConductance: 25e-6, cellBits: 1,
        deviceToDevice: .none, programming: .none, stuckAtZeroRate: 0, stuckAtOneRate: 0,
        drift: nil, readNoise: nil, writeVerify: WriteVerify())
}

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

/// A conductance deviation: its distribution, what sigma is measured against, and how sigma
/// depends on the target level.
public struct Variation: Sendable, Equatable {
    public enum Distribution: String, Sendable { case gaussian, lognormal }
    /// `range`: sigma in units of `g_max − g_min` (absolute). `target`: relative to the target conductance.
    public enum Reference: String, Sendable { case range, target }

    public var distribution: Distribution
    public var reference: Reference
    /// Level-independent sigma.
    public var sigma: Double
    /// Level-dependent sigma at evenly spaced normalised conductances 0 … 1 (one per level of a
    /// multi-level cell, cf. U-SWIM, NeFT), linearly interpolated between; replaces `sigma`.
    public var sigmaPerLevel: [Double]?
    /// Sigma as a polynomial in `x = G_target / g_max`, coefficients in siemens (IBM's PCM
    /// programming noise, absolute); replaces `sigma`.
    public var sigmaPolynomial: [Double]?

    public init(
        distribution: Distribution = .gaussian, reference: Reference = .range, sigma: Double = 0,
        sigmaPerLevel: [Double]? = nil, sigmaPolynomial: [Double]? = nil
    ) {
        self.distribution = distribution
        self.reference = reference
        self.sigma = sigma
        self.sigmaPerLevel = sigmaPerLevel
        self.sigmaPolynomial = sigmaPolynomial
    }

    public static let none = Variation()

    public var isNone: Bool { sigma == 0 && sigmaPerLevel == nil && sigmaPolynomial == nil }

    /// Sigma at normalised target `x`, in the variation's reference units (a polynomial is
    /// converted from siemens to units of the range with the device's range and g_max).
    public func sigma(at x: Double, device: DeviceModel) -> Double {
        if let sigmaPolynomial {
            let gTarget = device.minimumConductance + x * device.conductanceRange
            let ratio = gTarget / device.maximumConductance
            var value = 0.0
            for coefficient in sigmaPolynomial.reversed() { value = value * ratio + coefficient }
            return max(value, 0) / device.conductanceRange
        }
        if let sigmaPerLevel {
            guard sigmaPerLevel.count > 1 else { return sigmaPerLevel[0] }
            let position = min(max(x, 0), 1) * Double(sigmaPerLevel.count - 1)
            let lower = min(Int(position), sigmaPerLevel.count - 2)
            let fraction = position - Double(lower)
            return sigmaPerLevel[lower] * (1 - fraction) + sigmaPerLevel[lower + 1] * fraction
        }
        return sigma
    }

    /// The deviation this variation adds to normalised target `x` for a standard normal draw `z`,
    /// in units of the conductance range.
    @inlinable
    public func deviation(at x: Double, standardNormal z: Double, device: DeviceModel, sigma: Double) -> Double {
        switch (distribution, reference) {
        case (.gaussian, .range):
            return sigma * z
        case (.gaussian, .target):
            return targetConductanceInRangeUnits(x, device) * sigma * z
        case (.lognormal, _):
            // Median-preserving lognormal: G = G_target · exp(σ z).
            return targetConductanceInRangeUnits(x, device) * (exp(sigma * z) - 1)
        }
    }
}

/// The target conductance `g_min + x·(g_max − g_min)` in units of the range.
@inlinable
func targetConductanceInRangeUnits(_ x: Double, _ device: DeviceModel) -> Double {
    device.minimumConductance / device.conductanceRange + x
}

/// Power-law conductance drift after programming, as in IBM's analog AI kit:
/// `G(t) = G_prog · ((t + t₀) / t₀)^(−ν)`, where `t` is the time since the first read at
/// `t₀` after programming, and ν is drawn per device from N(μν(x), σν(x)) at the
/// normalised target `x` (Ielmini et al., IEEE TED 2007; Joshi et al., Nat. Commun. 2020).
public struct Drift: Sendable, Equatable {
    /// t₀, seconds.
    public var referenceTimeSeconds: Double
    /// Mean drift exponent μν as a function of the normalised target conductance.
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

/// Read noise relative to the read conductance, `G_read = G · (1 + σ_r · z)`, fresh per pass.
///
/// `σ_r = Q(x_prog) · f(t)`, with `Q(x) = min(coefficient / max(x^exponent, floor), maximum)`
/// at the programmed (not drifted) conductance (a constant `coefficient` when `exponent` is 0)
/// and, with the 1/f time factor, `f(t) = sqrt(ln((t + t_offset + t_read) / (2 · t_read)))`
/// (IBM analog AI kit's PCM model, where `t_offset` is the drift's t₀), else 1.
public struct ReadNoise: Sendable, Equatable {
    public var coefficient: Double
    public var exponent: Double
    public var floor: Double
    public var maximum: Double
    public var oneOverF: Bool
    /// Duration of one read, seconds (for the 1/f factor).
    public var readTimeSeconds: Double
    /// Added to the time for the 1/f factor, seconds (the kit's t₀).
    public var timeOffsetSeconds: Double

    public init(
        coefficient: Double, exponent: Double = 0, floor: Double = 1e-3, maximum: Double = .infinity,
        oneOverF: Bool = false, readTimeSeconds: Double = 250e-9, timeOffsetSeconds: Double = 0
    ) {
        self.coefficient = coefficient
        self.exponent = exponent
        self.floor = floor
        self.maximum = maximum
        self.oneOverF = oneOverF
        self.readTimeSeconds = readTimeSeconds
        self.timeOffsetSeconds = timeOffsetSeconds
    }

    /// The time factor f(t); 0 when the 1/f form has no support (`t + t_offset ≤ t_read`).
    public func timeFactor(_ timeSeconds: Double) -> Double {
        guard oneOverF else { return 1 }
        let argument = (timeSeconds + timeOffsetSeconds + readTimeSeconds) / (2 * readTimeSeconds)
        return argument > 1 ? log(argument).squareRoot() : 0
    }

    /// Relative sigma at normalised conductance `x` (before the time factor).
    @inlinable
    public func relativeSigma(at x: Double) -> Double {
        guard exponent != 0 else { return min(coefficient, maximum) }
        return min(coefficient / max(pow(max(x, 0), exponent), floor), maximum)
    }
}

/// Write-verify: program, read back, re-program while `|G − G_target| > tolerance`,
/// up to `maxIterations` pulses.
public struct WriteVerify: Sendable, Equatable {
    /// Acceptance band, units of the conductance range.
    public var tolerance: Double
    public var maxIterations: Int
    /// Duration of one program-and-verify pulse, seconds.
    public var pulseTimeSeconds: Double
    /// Energy of one pulse, joules; nil when unknown.
    public var energyPerPulseJoules: Double?

    public init(
        tolerance: Double = 0.01, maxIterations: Int = 20, pulseTimeSeconds: Double = 100e-9,
        energyPerPulseJoules: Double? = nil
    ) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.pulseTimeSeconds = pulseTimeSeconds
        self.energyPerPulseJoules = energyPerPulseJoules
    }
}
