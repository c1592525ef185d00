import Foundation

/// How re-programming pulses move a verified device, and the variance they leave — one
/// definition of the dynamics for the chip (`ChipSimulator`) and for the `variance` policy's
/// expected verified spread (`VerifiedSpread`).
package protocol ProgrammingModel: AnyObject {
    /// A verified device whose first pulse missed its target by more than this (units of the
    /// range, in absolute value) is verified again; −∞ when every verified device is.
    var retriedBeyond: Float { get }
    /// Whether a pulse also takes a verify-read draw (purpose `verifyReads`).
    var readsWithNoise: Bool { get }
    /// Prepares the per-device parameters of `chunk` (its targets are set).
    func prepare(_ chunk: DeviceChunk)
    /// One verify-and-pulse round of the devices `devices[0 ..< count]` of `chunk`, at their
    /// normalised levels in `levels`: each device the verify does not accept gets one pulse,
    /// which moves its level. `pulseDraws[slot]` is slot `slot`'s standard normal pulse draw
    /// (purpose `verifyPulses`), `readDraws[slot]` its verify read's (`verifyReads`). Moves the
    /// devices to verify again to the front of `devices`, in order; returns the pulses given and
    /// how many devices are verified again.
    func pulseRound(
        _ chunk: DeviceChunk, devices: UnsafeMutablePointer<Int32>, count: Int, levels: UnsafeMutablePointer<Float>,
        pulseDraws: UnsafePointer<Float>, readDraws: UnsafePointer<Float>
    ) -> (pulses: Int, remaining: Int)
}

/// Write-verify by redrawing: every pulse lands at the target with fresh programming (C2C)
/// noise — the verify read has removed the static D2D offset — and the verify sees the error
/// exactly, so the device is done when `|error| ≤ tolerance`.
package final class Redraw: ProgrammingModel {
    private let tolerance: Float
    /// The programming variation's per-device parameters (nil: pulses land exactly).
    private let programming: VariationEffect?

    package init(device: DeviceModel, programming: VariationEffect?) {
        tolerance = Float(device.writeVerify.tolerance)
        self.programming = programming
    }

    package var retriedBeyond: Float { tolerance }
    package var readsWithNoise: Bool { false }
    package func prepare(_ chunk: DeviceChunk) {}

    package func pulseRound(
        _ chunk: DeviceChunk, devices: UnsafeMutablePointer<Int32>, count: Int, levels: UnsafeMutablePointer<Float>,
        pulseDraws: UnsafePointer<Float>, readDraws: UnsafePointer<Float>
    ) -> (pulses: Int, remaining: Int) {
        let targets = chunk.targets.base
        guard let programming else {
            for slot in 0..<count { levels[Int(devices[slot])] = targets[Int(devices[slot])] }
            return (count, 0)
        }
        let (variation, scale, level) = (programming.variation, programming.scale.base, programming.level.base)
        var remaining = 0
        for slot in 0..<count {
            let index = Int(devices[slot])
            let error = variation.deviation(pulseDraws[slot], scale: scale[index], level: level[index])
            levels[index] = targets[index] + error
            // Kept without a branch (whether a redraw misses is a coin toss): slot `remaining`
            // ≤ `slot` has been read already.
            devices[remaining] = Int32(index)
            remaining += abs(error) > tolerance ? 1 : 0
        }
        return (count, remaining)
    }

    /// The expected variance after redraw write-verify, in closed form for Gaussian errors: with
    /// one-shot sigma s₁ (D2D + C2C), retry sigma s (C2C), band τ and n pulses, a device accepted
    /// at once keeps a normal truncated to ±τ, `T(s₁) = s₁²(1 − 2aφ(a)/(2Φ(a) − 1))` at `a = τ/s₁`;
    /// otherwise each retry is accepted with `p = 2Φ(τ/s) − 1`, and a device still outside after
    /// n − 1 retries keeps an error conditioned outside the band, `O(s) = s²(1 + aφ(a)/(1 − Φ(a)))`:
    /// `p₁T(s₁) + (1 − p₁)[(1 − (1 − p)^(n−1)) T(s) + (1 − p)^(n−1) O(s)]`, units of the range².
    package static func verifiedVariance(oneShot s1: Double, retry s: Double, tolerance tau: Double, pulses n: Int)
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
}
