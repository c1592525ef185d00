import Foundation

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
