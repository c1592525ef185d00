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
/// `redraw`, in closed form for Gaussian errors: with one-shot sigma s₁ (D2D + C2C), retry
/// sigma s (C2C), band τ and n pulses, a device accepted at once keeps a normal truncated to
/// ±τ, `T(s₁) = s₁²(1 − 2aφ(a)/(2Φ(a) − 1))` at `a = τ/s₁`; otherwise each retry is accepted
/// with `p = 2Φ(τ/s) − 1`, and a device still outside after n − 1 retries keeps an error
/// conditioned outside the band, `O(s) = s²(1 + aφ(a)/(1 − Φ(a)))`:
/// `p₁T(s₁) + (1 − p₁)[(1 − (1 − p)^(n−1)) T(s) + (1 − p)^(n−1) O(s)]`.
///
/// `incremental`, which has no closed form: a table over 33 levels, each from 2 048 devices
/// simulated once per study through the same dynamics as `ChipSimulator.program`, with draws
/// from the study's seed; linear interpolation between levels.
public struct VerifiedSpread: Sendable {
    public let device: DeviceModel
    /// Per level k/32 (incremental model only).
    public let table: [Double]

    public static let tableLevels = 33
    public static let tableDevices = 2048

    public init(device: DeviceModel, seed: UInt64) {
        self.device = device
        guard device.writeVerify.model == .incremental, let response = device.writeVerify.response else {
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
        return Self.redrawVariance(
            oneShot: device.oneShotVariance(at: x).squareRoot(),
            retry: device.variance(device.programming, at: x).squareRoot(),
            tolerance: device.writeVerify.tolerance, pulses: device.writeVerify.maxIterations)
    }

    /// The closed form of the redraw model (see the type's documentation).
    public static func redrawVariance(oneShot s1: Double, retry s: Double, tolerance tau: Double, pulses n: Int)
        -> Double
    {
        func accepted(_ sigma: Double) -> (probability: Double, variance: Double) {
            guard sigma > 0 else { return (1, 0) }
            let a = tau / sigma
            let inside = erf(a / 2.0.squareRoot())  // 2Φ(a) − 1
            let density = exp(-a * a / 2) / (2 * Double.pi).squareRoot()
            guard inside > 0 else { return (0, sigma * sigma) }
            return (inside, sigma * sigma * (1 - 2 * a * density / inside))
        }
        func outside(_ sigma: Double) -> Double {
            guard sigma > 0 else { return 0 }
            let a = tau / sigma
            let tail = erfc(a / 2.0.squareRoot()) / 2  // 1 − Φ(a)
            let density = exp(-a * a / 2) / (2 * Double.pi).squareRoot()
            return tail > 0 ? sigma * sigma * (1 + a * density / tail) : tau * tau
        }
        let (p1, first) = accepted(s1)
        guard n > 1 else { return p1 * first + (1 - p1) * outside(s1) }
        let (p, retried) = accepted(s)
        let failing = pow(1 - p, Double(n - 1))
        return p1 * first + (1 - p1) * ((1 - failing) * retried + failing * outside(s))
    }

    /// The incremental model on `tableDevices` devices at `level`: variance of the final error.
    static func simulatedVariance(device: DeviceModel, response: PulseResponse, level: Double, stream: CounterRandom)
        -> Double
    {
        let verify = device.writeVerify
        let deviceToDevice = device.deviceToDevice.sigma(at: level, device: device)
        let programming = device.programming.sigma(at: level, device: device)
        let readSigma = device.verifyReadSigma(at: level) * targetConductanceInRangeUnits(level, device)
        // Draw n of device d at counter d · stride + n: two for the first pulse, two per retry.
        let stride = 2 + 2 * verify.maxIterations
        var sum = 0.0
        for index in 0..<tableDevices {
            func draw(_ n: Int) -> Double { Double(stream.normal(index * stride + n)) }
            var state =
                level
                + device.deviceToDevice.deviation(
                    at: level, standardNormal: draw(0), device: device, sigma: deviceToDevice)
                + device.programming.deviation(at: level, standardNormal: draw(1), device: device, sigma: programming)
            for pulse in 1..<max(verify.maxIterations, 1) {
                let readError = state + readSigma * draw(2 * pulse) - level
                guard abs(readError) > verify.tolerance else { break }
                state = min(
                    max(response.step(from: state, up: readError < 0) + response.stepSigma * draw(2 * pulse + 1), 0), 1)
            }
            sum += (state - level) * (state - level)
        }
        return sum / Double(tableDevices)
    }
}
