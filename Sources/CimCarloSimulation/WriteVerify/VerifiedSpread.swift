import CimCarloDevices
import CimCarloSupport
import Foundation

extension DeviceModel {
    /// Variance of a device's one-shot error at normalised target `x`, units of the range²
    /// (D2D plus one programming pulse; Gaussian approximation of lognormal spreads).
    public func oneShotVariance(at x: Double) -> Double {
        variance(deviceToDevice, at: x) + variance(programming, at: x)
    }

    /// Variance of a variation at level `x`, units of the range².
    func variance(_ variation: Variation, at x: Double) -> Double {
        guard !variation.isNone else { return 0 }
        let sigma = variation.sigmaInRangeUnits(at: x, device: self)
        return sigma * sigma
    }
}

/// The expected variance of a device's error after write-verify, as the write-verify model
/// produces it (units of the range², at normalised target level x; stuck devices aside).
///
/// `redraw`: the closed form `Redraw.verifiedVariance`. `incremental`, which has no closed form:
/// a table over 33 levels, each from 2 048 devices taken through the model's own pulse
/// (`Incremental.pulse`, the chip's dynamics) once per study, with draws from the study's seed;
/// linear interpolation between levels.
public struct VerifiedSpread: Sendable {
    public let device: DeviceModel
    /// Per level k/32 (incremental model only).
    public let table: [Double]

    public static let tableLevels = 33
    public static let tableDevices = 2048

    public init(device: DeviceModel, seed: UInt64) {
        self.device = device
        guard case .incremental(let response, _) = device.writeVerify.dynamics else {
            table = []
            return
        }
        table = (0..<Self.tableLevels).map { level in
            Self.simulatedVariance(
                device: device, response: response, level: Double(level) / Double(Self.tableLevels - 1),
                stream: CounterRandom(seed: seed, instance: 0, purpose: .calibration, substream: level))
        }
    }

    /// Expected verified variance at level `x`.
    public func variance(at x: Double) -> Double {
        guard table.isEmpty else {
            let position = min(max(x, 0), 1) * Double(table.count - 1)
            let lower = min(Int(position), table.count - 2)
            let fraction = position - Double(lower)
            return table[lower] * (1 - fraction) + table[lower + 1] * fraction
        }
        return Redraw.verifiedVariance(
            oneShot: device.oneShotVariance(at: x).squareRoot(),
            retry: device.variance(device.programming, at: x).squareRoot(),
            tolerance: device.writeVerify.tolerance, pulses: device.writeVerify.maxIterations)
    }

    /// The incremental model on `tableDevices` devices at `level`: variance of the final error.
    static func simulatedVariance(device: DeviceModel, response: PulseResponse, level: Double, stream: CounterRandom)
        -> Double
    {
        let verify = device.writeVerify
        let target = Float(level)
        let readSigma = Float(device.verifyReadSigma(at: level) * targetConductanceInRangeUnits(level, device))
        // Draw n of device d at counter d · stride + n: two for the first pulse, two per retry.
        let stride = 2 + 2 * verify.maxIterations
        var sum = 0.0
        for index in 0..<tableDevices {
            func draw(_ n: Int) -> Double { Double(stream.normal(index * stride + n)) }
            var state = Float(
                level + device.deviceToDevice.deviation(at: level, standardNormal: draw(0), device: device)
                    + device.programming.deviation(at: level, standardNormal: draw(1), device: device))
            for pulse in 1..<max(verify.maxIterations, 1) {
                guard
                    let next = Incremental.pulse(
                        response, level: state, target: target, tolerance: Float(verify.tolerance),
                        verifyReadSigma: readSigma, pulseDraw: Float(draw(2 * pulse + 1)),
                        readDraw: Float(draw(2 * pulse)))
                else { break }
                state = next
            }
            sum += Double(state - target) * Double(state - target)
        }
        return sum / Double(tableDevices)
    }
}
