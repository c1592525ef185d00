import CimCarloSupport
import Foundation

/// Write-verify: program, read back, re-program while `|G − G_target| > tolerance`,
/// up to `maxIterations` pulses.
///
/// Two models of a re-programming pulse: `redraw` lands every pulse at the target with a
/// fresh programming error (memoryless); `incremental` moves the device one step along its
/// pulse response toward the target (`PulseResponse`), with cycle-to-cycle noise on each step,
/// and decides from a verify read that carries read noise.
public struct WriteVerify: Sendable, Equatable {
    /// The names of the models (TOML `model`).
    public enum Model: String, Sendable, CaseIterable { case redraw, incremental }

    /// What a re-programming pulse does.
    public enum Dynamics: Sendable, Equatable {
        /// Every pulse lands at the target with a fresh programming error (`Redraw`).
        case redraw
        /// One step along `response` toward the target, decided by a verify read with relative
        /// read noise `verifyReadSigma` (nil: the device's read noise `Q(r)` without its time
        /// factor, `DeviceModel.verifyReadSigma(at:)`) (`Incremental`).
        case incremental(response: PulseResponse, verifyReadSigma: Double?)
    }

    /// Acceptance band, units of the conductance range.
    public var tolerance: Double
    public var maxIterations: Int
    /// Duration of one program-and-verify pulse, seconds.
    public var pulseTimeSeconds: Double
    /// Energy of one pulse, joules; nil when unknown.
    public var energyPerPulseJoules: Double?
    public var dynamics: Dynamics

    public init(
        tolerance: Double = 0.01, maxIterations: Int = 20, pulseTimeSeconds: Double = 100e-9,
        energyPerPulseJoules: Double? = nil, dynamics: Dynamics = .redraw
    ) {
        self.tolerance = tolerance
        self.maxIterations = maxIterations
        self.pulseTimeSeconds = pulseTimeSeconds
        self.energyPerPulseJoules = energyPerPulseJoules
        self.dynamics = dynamics
    }

    /// The model's name.
    public var model: Model {
        switch dynamics {
        case .redraw: .redraw
        case .incremental: .incremental
        }
    }
}

extension WriteVerify {
    /// The `[write_verify]` table of a device model file (the defaults without one).
    init(_ reader: ConfigurationReader) throws {
        guard let table = try reader.table("write_verify") else {
            self.init()
            return
        }
        var verify = WriteVerify(
            tolerance: try table.double(
                "tolerance", default: 0.01, in: 0...1, unit: "(units of the conductance range)"),
            maxIterations: try table.integer("max_iterations", default: 20, in: 1...10_000),
            pulseTimeSeconds: try table.double("pulse_time_s", default: 100e-9, in: 0...1, unit: "s"),
            energyPerPulseJoules: try table.optionalDouble("energy_per_pulse_j", in: 0...1, unit: "J"))
        let model = WriteVerify.Model(
            rawValue: try table.string("model", default: "redraw", allowed: WriteVerify.Model.allCases.map(\.rawValue)))!
        let pulseKeys = [
            "set_pulses", "reset_pulses", "set_nonlinearity", "reset_nonlinearity", "step_sigma",
            "verify_read_sigma",
        ]
        switch model {
        case .incremental:
            let response = PulseResponse(
                setPulses: try table.integer("set_pulses", in: 1...100_000),
                resetPulses: try table.integer("reset_pulses", in: 1...100_000),
                setNonlinearity: try table.double("set_nonlinearity", default: 0, in: -9...9),
                resetNonlinearity: try table.double("reset_nonlinearity", default: 0, in: -9...9),
                stepSigma: try table.double("step_sigma", default: 0, in: 0...1, unit: "(units of the range)"))
            verify.dynamics = .incremental(
                response: response,
                verifyReadSigma: try table.optionalDouble("verify_read_sigma", in: 0...1, unit: "(relative to G)"))
        case .redraw:
            if let key = pulseKeys.first(where: table.contains) {
                throw table.error(key, "belongs to model = \"incremental\" (this table's model is \"redraw\")")
            }
        }
        try table.finish()
        self = verify
    }
}
