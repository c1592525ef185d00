import Foundation

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

/// Write-verify by incremental pulses (DNN+NeuroSim V2): a verify read with read noise decides;
/// outside the band `±tolerance`, one pulse moves the device a step of its `PulseResponse`
/// toward the target, with cycle-to-cycle noise `stepSigma` per step, clamped to [0, 1]. Every
/// verified device is read (the read is noisy), so each retries.
package final class Incremental: ProgrammingModel {
    private let response: PulseResponse
    private let tolerance: Float
    private let verifyReadTable: LevelTable
    /// The chunk's verify-read σ per device, units of the range.
    private let verifyRead = DeviceBuffer<Float>(count: DeviceChunk.capacity)

    package init(device: DeviceModel, response: PulseResponse) {
        self.response = response
        tolerance = Float(device.writeVerify.tolerance)
        verifyReadTable = LevelTable(cellBits: device.cellBits) {
            device.verifyReadSigma(at: $0) * targetConductanceInRangeUnits($0, device)
        }
    }

    package var retriedBeyond: Float { -.infinity }
    package var readsWithNoise: Bool { true }
    package func prepare(_ chunk: DeviceChunk) { verifyReadTable.fill(chunk, into: verifyRead) }

    package func pulseRound(
        _ chunk: DeviceChunk, devices: UnsafeMutablePointer<Int32>, count: Int, levels: UnsafeMutablePointer<Float>,
        pulseDraws: UnsafePointer<Float>, readDraws: UnsafePointer<Float>
    ) -> (pulses: Int, remaining: Int) {
        var remaining = 0
        for slot in 0..<count {
            let index = Int(devices[slot])
            guard
                let level = Self.pulse(
                    response, level: levels[index], target: chunk.targets[index], tolerance: tolerance,
                    verifyReadSigma: verifyRead[index], pulseDraw: pulseDraws[slot], readDraw: readDraws[slot])
            else { continue }
            levels[index] = level
            devices[remaining] = Int32(index)
            remaining += 1
        }
        return (remaining, remaining)
    }

    /// One verify-and-pulse round at `level` toward `target` (normalised): nil when the verify
    /// read `level + σ_read · readDraw` is within `±tolerance` of the target, else the level after
    /// one step of `response` plus `stepSigma · pulseDraw`, clamped to [0, 1].
    package static func pulse(
        _ response: PulseResponse, level: Float, target: Float, tolerance: Float, verifyReadSigma: Float,
        pulseDraw: Float, readDraw: Float
    ) -> Float? {
        let readError = level + verifyReadSigma * readDraw - target
        guard abs(readError) > tolerance else { return nil }
        let stepped = Float(response.step(from: Double(level), up: readError < 0))
        return min(max(stepped + Float(response.stepSigma) * pulseDraw, 0), 1)
    }
}
