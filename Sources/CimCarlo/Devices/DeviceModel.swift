import Foundation

/// How a non-volatile device's conductance deviates from its target, and how it is programmed.
///
/// Two normalised coordinates describe a conductance G, each named and used for one purpose:
/// - the *level* `x = (G − g_min) / (g_max − g_min)`: `x = 0` is the high-resistance state
///   (HRS), `x = 1` the low-resistance state (LRS). Targets, programmed states, per-level
///   sigmas and absolute deviations (in units of the range `g_max − g_min`) use it;
/// - the *conductance ratio* `r = G / g_max` (`conductanceRatio(atLevel:)`): the measured fits
///   of the peers use it — sigma polynomials in µS (IBM's kit, CrossSim), the drift exponent's
///   mean and spread, the read-noise coefficient.
/// Relative deviations are in units of the target conductance. The file format is documented
/// key by key in the README ("Device model files").
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
    /// Whether `programming` is the spread of one open-loop pulse (`oneShot`), or already the
    /// spread after the chip's own iterative programming (`verified`, as IBM's PCM model
    /// states): such a model has no unverified state to compare with, so policies that
    /// write-verify are refused on it (`Study.init`).
    public var programmingOutcome: ProgrammingOutcome = .oneShot
    /// Fraction of devices stuck at g_min (SA0, HRS), in [0, 1].
    public var stuckAtZeroRate: Double
    /// Fraction of devices stuck at g_max (SA1, LRS), in [0, 1].
    public var stuckAtOneRate: Double
    /// Conductance drift over time; nil for none.
    public var drift: Drift?
    /// Read noise; nil for none.
    public var readNoise: ReadNoise?
    /// Conductance broadening over log-time after programming; nil for none.
    public var relaxation: Relaxation?
    /// Iterative programming (write-verify).
    public var writeVerify: WriteVerify

    /// `g_max − g_min`, siemens.
    public var conductanceRange: Double { maximumConductance - minimumConductance }
    /// Levels per device, `2^cellBits`.
    public var levelCount: Int { 1 << cellBits }
    /// Whether a programmed conductance reads the same at every time (no drift, read noise or
    /// relaxation).
    public var isStatic: Bool { drift == nil && readNoise == nil && relaxation == nil }

    /// The conductance ratio `r = G / g_max` at normalised level `x = (G − g_min) / (g_max − g_min)`.
    @inlinable
    public func conductanceRatio(atLevel x: Double) -> Double {
        (minimumConductance + x * conductanceRange) / maximumConductance
    }

    /// The relative read noise of a verify read at target level `x` (incremental write-verify).
    public func verifyReadSigma(at x: Double) -> Double {
        writeVerify.verifyReadSigma ?? readNoise?.relativeSigma(at: conductanceRatio(atLevel: x)) ?? 0
    }

    /// Whether read noise is drawn fresh on every matrix-vector product.
    public var readNoisePerRead: Bool { readNoise?.resample == .perRead }

    /// A device with no variation at all.
    public static let ideal = DeviceModel(
        name: "ideal", description: "no variation", source: "none",
        minimumConductance: 0, maximumConductance: 25e-6, cellBits: 1,
        deviceToDevice: .none, programming: .none, stuckAtZeroRate: 0, stuckAtOneRate: 0,
        drift: nil, readNoise: nil, writeVerify: WriteVerify())

    public init(
        name: String, description: String, source: String, minimumConductance: Double,
        maximumConductance: Double, cellBits: Int, deviceToDevice: Variation, programming: Variation,
        programmingOutcome: ProgrammingOutcome = .oneShot, stuckAtZeroRate: Double, stuckAtOneRate: Double,
        drift: Drift?, readNoise: ReadNoise?, relaxation: Relaxation? = nil, writeVerify: WriteVerify
    ) {
        self.name = name
        self.description = description
        self.source = source
        self.minimumConductance = minimumConductance
        self.maximumConductance = maximumConductance
        self.cellBits = cellBits
        self.deviceToDevice = deviceToDevice
        self.programming = programming
        self.programmingOutcome = programmingOutcome
        self.stuckAtZeroRate = stuckAtZeroRate
        self.stuckAtOneRate = stuckAtOneRate
        self.drift = drift
        self.readNoise = readNoise
        self.relaxation = relaxation
        self.writeVerify = writeVerify
    }
}

/// What a device model's programming noise describes.
public enum ProgrammingOutcome: String, Sendable, Equatable {
    /// The error of one open-loop programming pulse: write-verify policies can improve on it.
    case oneShot = "one-shot"
    /// The spread after the chip's own iterative programming (write-verify already done).
    case verified
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
    /// Sigma as a polynomial in the conductance ratio `r = G_target / g_max`, coefficients in
    /// siemens (IBM's PCM programming noise and CrossSim's RRAM fits, absolute); replaces `sigma`.
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

    /// Sigma at normalised target level `x`, in the variation's reference units (a polynomial
    /// is evaluated at the conductance ratio and converted from siemens to units of the range).
    public func sigma(at x: Double, device: DeviceModel) -> Double {
        if let sigmaPolynomial {
            let ratio = device.conductanceRatio(atLevel: x)
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

    /// Sigma at level `x` in units of the range: a `target`-referenced sigma times the target
    /// conductance (for a lognormal spread, its Gaussian equivalent).
    public func sigmaInRangeUnits(at x: Double, device: DeviceModel) -> Double {
        let sigma = sigma(at: x, device: device)
        return reference == .target ? targetConductanceInRangeUnits(x, device) * sigma : sigma
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

/// Read noise relative to the read conductance, `G_read = G · (1 + σ_r · z)`.
///
/// `σ_r = Q(r_prog) · f(t)`, with `Q(r) = min(coefficient / max(r^exponent, floor), maximum)`
/// at the programmed (not drifted) conductance ratio `r = G / g_max` (a constant
/// `coefficient` when `exponent` is 0)
/// and, with the 1/f time factor, `f(t) = sqrt(ln((t + t_offset + t_read) / (2 · t_read)))`
/// (IBM analog AI kit's PCM model, where `t_offset` is the drift's t₀), else 1.
///
/// `resample` says when z is drawn: once per chip, time point and device for the whole test
/// set (`perChip`), or fresh on every matrix-vector product (`perRead`). Per read, a product's
/// outputs are `y = ŷ + N(0, Σ_i x_i² σ_ij²)`, independent over outputs for a given input —
/// exact for independent device noise, at the cost of one more product of the squared inputs
/// with the weights' read-noise variances.
public struct ReadNoise: Sendable, Equatable {
    public enum Resample: String, Sendable, CaseIterable {
        case perChip = "per-chip"
        case perRead = "per-read"
    }

    public var coefficient: Double
    public var exponent: Double
    public var floor: Double
    public var maximum: Double
    public var oneOverF: Bool
    /// Duration of one read, seconds (for the 1/f factor).
    public var readTimeSeconds: Double
    /// Added to the time for the 1/f factor, seconds (the kit's t₀).
    public var timeOffsetSeconds: Double
    public var resample: Resample
    /// The absolute logarithmic form of aihwkit's ReRAM CMO model, `σ = K · log10(G / 1 µS)` µS
    /// at the programmed G (0 below 1 µS), K in µS: it replaces Q, as the relative sigma
    /// `K · log10(G) / G`. Nil: Q.
    public var logCoefficient: Double?
    /// g_max in µS, to turn the conductance ratio into G for the logarithmic form.
    public var maximumMicrosiemens: Double = 0

    public init(
        coefficient: Double, exponent: Double = 0, floor: Double = 1e-3, maximum: Double = .infinity,
        oneOverF: Bool = false, readTimeSeconds: Double = 250e-9, timeOffsetSeconds: Double = 0,
        resample: Resample = .perChip
    ) {
        self.resample = resample
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

    /// Relative sigma at conductance ratio `r = G / g_max` (before the time factor).
    public func relativeSigma(at r: Double) -> Double {
        if let logCoefficient {
            let microsiemens = max(r * maximumMicrosiemens, 1e-9)
            return max(logCoefficient * log10(max(microsiemens, 1)), 0) / microsiemens
        }
        guard exponent != 0 else { return min(coefficient, maximum) }
        return min(coefficient / max(pow(max(r, 0), exponent), floor), maximum)
    }
}

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

/// Write-verify: program, read back, re-program while `|G − G_target| > tolerance`,
/// up to `maxIterations` pulses.
///
/// Two models of a re-programming pulse: `redraw` lands every pulse at the target with a
/// fresh programming error (memoryless); `incremental` moves the device one step along its
/// pulse response toward the target (`PulseResponse`), with cycle-to-cycle noise on each step,
/// and decides from a verify read that carries read noise.
public struct WriteVerify: Sendable, Equatable {
    public enum Model: String, Sendable, CaseIterable { case redraw, incremental }

    /// Acceptance band, units of the conductance range.
    public var tolerance: Double
    public var maxIterations: Int
    /// Duration of one program-and-verify pulse, seconds.
    public var pulseTimeSeconds: Double
    /// Energy of one pulse, joules; nil when unknown.
    public var energyPerPulseJoules: Double?
    public var model: Model
    /// The incremental model's pulse response (nil for `redraw`).
    public var response: PulseResponse?
    /// Read noise of a verify read, relative to G (incremental model); nil: the device's read
    /// noise `Q(r)` without its time factor (`DeviceModel.verifyReadSigma(at:)`).
    public var verifyReadSigma: Double?

    public init(
        tolerance: Double = 0.01, maxIterations: Int = 20, pulseTimeSeconds: Double = 100e-9,
        energyPerPulseJoules: Double? = nil, model: Model = .redraw, response: PulseResponse? = nil,
        verifyReadSigma: Double? = nil
    ) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.pulseTimeSeconds = pulseTimeSeconds
        self.energyPerPulseJoules = energyPerPulseJoules
        self.model = model
        self.response = response
        self.verifyReadSigma = verifyReadSigma
    }
}

/// A device's conductance response to identical programming pulses, as in DNN+NeuroSim V2
/// (MLP_NeuroSim V3.0 `formula.cpp` NonlinearWeight; DNN_NeuroSim_V2.1 `wage_quantizer.py`):
/// on the curve of each direction, the level after `p` pulses of the `N` that cross the whole
/// range is `x(p) = B · (1 − e^(−p / (a N)))`, `B = 1 / (1 − e^(−1/a))`, with a the normalised
/// nonlinearity constant. A pulse moves a device at level x along its direction's curve (found
/// from x itself, so a change of direction changes curve at equal conductance):
/// `Δx = ±(B − x̂)(1 − e^(∓1/(a N)))` at `x̂ = clamp(x, 0, 1)`, `±1/N` when linear, plus
/// `N(0, stepSigma)` cycle-to-cycle noise; the result is clamped to [0, 1] (g_min … g_max).
public struct PulseResponse: Sendable, Equatable {
    /// Pulses that take a device from g_min to g_max (potentiation, SET) and back (depression, RESET).
    public var setPulses: Int
    public var resetPulses: Int
    /// NeuroSim's nonlinearity labels (0 linear; a negative label bends the curve the other way).
    public var setNonlinearity: Double
    public var resetNonlinearity: Double
    /// Cycle-to-cycle noise per pulse, units of the range (NeuroSim's sigmaCtoC).
    public var stepSigma: Double

    /// The normalised constants a of the two directions (∞ for linear).
    public let setConstant: Double
    public let resetConstant: Double

    public init(
        setPulses: Int, resetPulses: Int, setNonlinearity: Double, resetNonlinearity: Double, stepSigma: Double
    ) {
        self.setPulses = setPulses
        self.resetPulses = resetPulses
        self.setNonlinearity = setNonlinearity
        self.resetNonlinearity = resetNonlinearity
        self.stepSigma = stepSigma
        setConstant = Self.normalisedConstant(nonlinearity: setNonlinearity)
        resetConstant = Self.normalisedConstant(nonlinearity: resetNonlinearity)
    }

    /// NeuroSim's label-to-constant rule: a is the constant for which the normalised curve
    /// `g(p) = (1 − e^(−p/a)) / (1 − e^(−1/a))`, p ∈ [0, 1], departs from the straight line by at
    /// most `0.07·√2·|NL|` (it reproduces NeuroSim's 900-entry table `getParamA` to 2·10⁻⁵);
    /// the sign of the label is a's. Labels 0 … 9.
    public static func normalisedConstant(nonlinearity: Double) -> Double {
        guard nonlinearity != 0 else { return .infinity }
        let target = 0.07 * 2.0.squareRoot() * abs(nonlinearity)
        func deviation(_ a: Double) -> Double {
            let scale = 1 - exp(-1 / a)
            let peak = a * log(1 / (a * scale))  // where g(p) − p is largest
            return (1 - exp(-peak / a)) / scale - peak
        }
        // The deviation falls as a grows; bisect on log a.
        var low = log(1e-3)
        var high = log(1e4)
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if deviation(exp(middle)) > target { low = middle } else { high = middle }
        }
        let a = exp((low + high) / 2)
        return nonlinearity < 0 ? -a : a
    }

    /// The level after one pulse from level `x` toward higher (`up`) or lower conductance,
    /// before noise and clamping.
    @inlinable
    public func step(from x: Double, up: Bool) -> Double {
        let pulses = Double(up ? setPulses : resetPulses)
        let a = up ? setConstant : resetConstant
        guard a.isFinite else { return x + (up ? 1 : -1) / pulses }
        let bound = 1 / (1 - exp(-1 / a))
        let clamped = min(max(x, 0), 1)
        let direction: Double = up ? 1 : -1
        return x + (bound - clamped) * (1 - exp(-direction / (a * pulses)))
    }
}
