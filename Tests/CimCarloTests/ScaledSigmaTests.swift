import CimCarlo
import Foundation
import Testing

@testable import CimCarloDevices

/// Scaled-sigma sampling against closed forms: a linear failure region in many Gaussian
/// dimensions, where P(s) = Φ(−d/s) exactly.
@Suite struct ScaledSigmaTests {
    /// Scales at which P(s) = Φ(−d/s) runs from about 1 % to 30 %.
    private func scales(_ d: Double) -> [Double] { [d / 2.33, d / 1.75, d / 1.1, d / 0.6] }

    @Test func theFitRecoversAHalfSpaceFailureProbability() {
        // Chips are 100-dimensional standard-normal deviations z; a chip fails when the
        // deviation s·z crosses the hyperplane a·x = d (|a| = 1), so P(1) = Φ(−d).
        let dimensions = 100
        let chips = 2000
        let a = 1 / Double(dimensions).squareRoot()
        for d in [3.0, 4.0, 5.0] {
            let scales = scales(d)
            let failures = scales.enumerated().map { index, s in
                let random = CounterRandom(seed: 21, instance: index, purpose: .calibration, substream: Int(d))
                var normals = [Float](repeating: 0, count: chips * dimensions)
                normals.withUnsafeMutableBufferPointer { random.fillNormals($0, firstCounter: 0) }
                return (0..<chips).filter { chip in
                    let projection = normals[(chip * dimensions)..<((chip + 1) * dimensions)].reduce(0.0) {
                        $0 + a * Double($1)
                    }
                    return s * projection > d
                }.count
            }
            let estimate = ScaledSigma.estimate(
                scales: scales, chips: Array(repeating: chips, count: 4), failures: failures, replicates: 1000)
            let truth = StandardNormal.cdf(-d)
            #expect(
                estimate.low <= truth && truth <= estimate.high,
                "d = \(d): P(1) = \(truth), estimate \(estimate.probability) (\(estimate.low)–\(estimate.high)), failures \(failures)"
            )
            // Informative: the interval spans less than three decades.
            #expect(estimate.high / estimate.low < 1000, "d = \(d): \(estimate.low)–\(estimate.high)")
            print(
                "ScaledSigmaTests: d = \(d), P(1) = \(truth), estimate \(estimate.probability) (\(estimate.low)–\(estimate.high)) from \(failures) of 4 × 2000"
            )
        }
    }

    @Test func theIntervalCoversTheTruthOnTheClosedForm() {
        // 200 studies of 4 scales × 500 chips at d = 4 (P(1) = 3.2e-5), failure counts drawn
        // from their binomial law.
        let d = 4.0
        let scales = scales(d)
        var covered = 0
        var logErrors: [Double] = []
        for study in 0..<200 {
            let random = CounterRandom(seed: 22, instance: study, purpose: .calibration)
            let failures = scales.enumerated().map { index, s in
                let p = StandardNormal.cdf(-d / s)
                return (0..<500).filter { random.uniform(index * 500 + $0) < p }.count
            }
            let estimate = ScaledSigma.estimate(
                scales: scales, chips: Array(repeating: 500, count: 4), failures: failures, replicates: 400,
                seed: UInt64(study))
            let truth = StandardNormal.cdf(-d)
            if estimate.low <= truth && truth <= estimate.high { covered += 1 }
            logErrors.append(log10(estimate.probability / truth))
        }
        let coverage = Double(covered) / 200
        let bias = logErrors.reduce(0, +) / Double(logErrors.count)
        print("ScaledSigmaTests: coverage \(coverage) of 95 %, mean log10 error \(bias)")
        #expect(coverage >= 0.85, "coverage \(coverage)")
    }

    @Test func standardNormalQuantileInvertsTheCDF() {
        for p in [1e-12, 1e-6, 0.001, 0.02425, 0.3, 0.5, 0.9, 0.999999] {
            #expect(abs(StandardNormal.cdf(StandardNormal.quantile(p)) / p - 1) < 1e-12, "p = \(p)")
        }
        #expect(abs(StandardNormal.quantile(0.975) - 1.959963984540054) < 1e-14)
    }

    @Test func stuckAtRatesGrowAsATailDeviation() {
        // Φ(Φ⁻¹(0.001)/2) = Φ(−1.5451) = 0.0612; unchanged at s = 1.
        #expect(abs(StuckAtFaults.scaledRate(0.001, scale: 2) - 0.06116) < 1e-4)
        #expect(abs(StuckAtFaults.scaledRate(0.001, scale: 1) - 0.001) < 1e-15)
    }
}
