import CimCarlo
import Foundation
import Testing

/// The device model's variation and read-noise forms against their closed forms.
@Suite struct DeviceModelTests {
    /// g_min = 2 µS, g_max = 42 µS: the range is 40 µS, so g_min is 0.05 range units.
    let device = DeviceModel(
        name: "test", description: "", source: "", minimumConductance: 2e-6, maximumConductance: 42e-6, cellBits: 2,
        deviceToDevice: .none, programming: .none, stuckAtZeroRate: 0, stuckAtOneRate: 0, drift: nil, readNoise: nil,
        writeVerify: WriteVerify())

    /// Deviations for 200 000 standard normal draws (fixed seed).
    private func deviations(_ variation: Variation, at x: Double) -> [Double] {
        var generator = SplitMix64(seed: 11)
        return (0..<200_000).map { _ in
            variation.deviation(at: x, standardNormal: generator.nextStandardNormal(), device: device)
        }
    }

    @Test func lognormalVariationKeepsTheMedianAndHasTheLognormalMoments() {
        // G = G_t · exp(σ z): median G_t, mean G_t·e^{σ²/2}, variance G_t²·(e^{σ²} − 1)·e^{σ²}.
        let (x, sigma) = (0.5, 0.3)
        let target = 0.05 + x  // G_t in range units
        let values = deviations(Variation(distribution: .lognormal, sigma: sigma), at: x)
        let (mean, std) = meanAndStd(values)
        let expectedMean = target * (exp(sigma * sigma / 2) - 1)
        let expectedStd = target * ((exp(sigma * sigma) - 1) * exp(sigma * sigma)).squareRoot()
        // Standard error of the mean is std/√n ≈ 0.00038; allow 4 of them. The std to 1 %.
        #expect(abs(mean - expectedMean) < 4 * expectedStd / 200_000.0.squareRoot())
        #expect(abs(std / expectedStd - 1) < 0.01)
        let median = values.sorted()[values.count / 2]
        #expect(abs(median) < 0.004)  // the median of G − G_t is 0
    }

    @Test func targetReferencedGaussianScalesWithTheTargetConductance() {
        // σ relative to G_t: std of G − G_t is σ · G_t, in range units (G_t = g_min/range + x).
        let sigma = 0.1
        for x in [0.0, 0.25, 1.0] {
            let values = deviations(
                Variation(distribution: .gaussian, reference: .target, sigma: sigma), at: x)
            let (mean, std) = meanAndStd(values)
            let expectedStd = sigma * (0.05 + x)
            #expect(abs(std / expectedStd - 1) < 0.01, "x = \(x)")
            #expect(abs(mean) < 4 * expectedStd / 200_000.0.squareRoot(), "x = \(x)")
        }
        // Referenced to the range instead, the spread does not depend on the level.
        let range = Variation(sigma: sigma)
        #expect(abs(range.deviation(at: 0, standardNormal: 1.5, device: device) - 0.15) < 1e-15)
        #expect(abs(range.deviation(at: 1, standardNormal: 1.5, device: device) - 0.15) < 1e-15)
    }

    @Test func levelDependentSigmaInterpolatesBetweenLevels() {
        let variation = Variation(sigmaPerLevel: [0.03, 0.08, 0.08, 0.04])
        // Levels at x = 0, 1/3, 2/3, 1; halfway between the last two: (0.08 + 0.04) / 2.
        #expect(abs(variation.sigma(at: 5.0 / 6, device: device) - 0.06) < 1e-12)
        #expect(abs(variation.sigma(at: 1.0 / 6, device: device) - 0.055) < 1e-12)
        #expect(variation.sigma(at: 1, device: device) == 0.04)
        #expect(variation.sigma(at: 2, device: device) == 0.04)  // clamped to the top level
    }

    @Test func levelDependentReadNoiseFollowsItsPowerLaw() {
        // Q(x) = min(c / max(x^e, floor), maximum): c = 0.02, e = 0.5, floor 0.01, maximum 0.1.
        let noise = ReadNoise(coefficient: 0.02, exponent: 0.5, floor: 0.01, maximum: 0.1)
        #expect(abs(noise.relativeSigma(at: 0.25) - 0.04) < 1e-15)  // 0.02 / 0.5
        #expect(abs(noise.relativeSigma(at: 1) - 0.02) < 1e-15)
        #expect(noise.relativeSigma(at: 0.01) == 0.1)  // 0.02 / 0.1 = 0.2, clipped to the maximum
        #expect(noise.relativeSigma(at: 0) == 0.1)  // floored denominator: 0.02 / 0.01 = 2, clipped
        let constant = ReadNoise(coefficient: 0.03)
        #expect(constant.relativeSigma(at: 0.1) == 0.03 && constant.relativeSigma(at: 0.9) == 0.03)
        #expect(constant.timeFactor(3600) == 1)
    }

    @Test func oneOverFReadNoiseGrowsWithTheLogarithmOfTime() {
        // f(t) = sqrt(ln((t + t_offset + t_read) / (2 t_read))), t_read = 250 ns, t_offset = 20 s.
        let noise = ReadNoise(coefficient: 0.01, oneOverF: true, readTimeSeconds: 250e-9, timeOffsetSeconds: 20)
        for t in [1.0, 3600.0, 86_400.0] {
            let expected = log((t + 20 + 250e-9) / 500e-9).squareRoot()
            #expect(abs(noise.timeFactor(t) - expected) < 1e-12, "t = \(t)")
        }
        // ln((3600 + 20) / 5e-7) = 22.70…; its root is 4.765.
        #expect(abs(noise.timeFactor(3600) - 4.7648) < 1e-3)
        // No support below one read: the factor is 0, not NaN.
        let bare = ReadNoise(coefficient: 0.01, oneOverF: true, readTimeSeconds: 1, timeOffsetSeconds: 0)
        #expect(bare.timeFactor(0.5) == 0)
    }
}
