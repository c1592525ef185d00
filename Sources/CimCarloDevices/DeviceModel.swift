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
    /// Wire resistance along word and bit lines (per read); nil for none.
    public var irDrop: IRDrop?

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
        if case .incremental(_, let verifyReadSigma?) = writeVerify.dynamics { return verifyReadSigma }
        return readNoise?.relativeSigma(at: conductanceRatio(atLevel: x)) ?? 0
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
        drift: Drift?, readNoise: ReadNoise?, relaxation: Relaxation? = nil, writeVerify: WriteVerify,
        irDrop: IRDrop? = nil
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
        self.irDrop = irDrop
    }
}

/// What a device model's programming noise describes.
public enum ProgrammingOutcome: String, Sendable, Equatable {
    /// The error of one open-loop programming pulse: write-verify policies can improve on it.
    case oneShot = "one-shot"
    /// The spread after the chip's own iterative programming (write-verify already done).
    case verified
}

/// The target conductance `g_min + x·(g_max − g_min)` in units of the range.
@inlinable
package func targetConductanceInRangeUnits(_ x: Double, _ device: DeviceModel) -> Double {
    device.minimumConductance / device.conductanceRange + x
}
