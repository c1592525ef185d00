import Foundation
import Testing

@testable import CimCarlo

@Suite struct StatisticsTests {
    @Test func wilsonIntervalMatchesTheClosedForm() {
        // Wilson (1927) for 8 of 10 at z = 1.96: (0.4902, 0.9433) (e.g. Agresti & Coull 1998).
        let (low, high) = Statistics.wilsonInterval(successes: 8, trials: 10)
        #expect(abs(low - 0.49016) < 1e-4 && abs(high - 0.94331) < 1e-4)
        let (zeroLow, zeroHigh) = Statistics.wilsonInterval(successes: 0, trials: 4)
        #expect(zeroLow == 0 && abs(zeroHigh - 0.48990) < 1e-4)
    }

    @Test func studentQuantilesMatchTables() {
        // t_{0.975}: 12.7062 (1), 2.0423 (30), 2.0211 (40), 1.9840 (100), 1.9623 (1000).
        for (df, expected) in [(1, 12.7062), (30, 2.0423), (40, 2.0211), (100, 1.9840), (1000, 1.9623)] {
            #expect(abs(Statistics.studentT975(degreesOfFreedom: df) - expected) < 2e-4, "df \(df)")
        }
    }

    @Test func summaryOfKnownValues() {
        let values = (1...100).map { Double($0) / 100 }
        let summary = Statistics.summarize(values, meetsThreshold: { $0 >= 0.9 })
        #expect(abs(summary.mean - 0.505) < 1e-12)
        // std of 0.01…1.00 = 0.01 · sqrt(100·101/12) = 0.290115
        #expect(abs(summary.std - 0.2901149) < 1e-6)
        let halfWidth = 1.9842 * 0.2901149 / 10
        #expect(abs(summary.ci95High - summary.mean - halfWidth) < 1e-4)
        // NumPy: np.quantile(np.arange(1,101)/100, [0.01, 0.05, 0.5]) = [0.0199, 0.0595, 0.505]
        #expect(
            abs(summary.p01 - 0.0199) < 1e-12 && abs(summary.p05 - 0.0595) < 1e-12 && abs(summary.p50 - 0.505) < 1e-12)
        #expect(summary.yield == 0.11)  // 0.90 … 1.00
    }

    @Test func coverageOfTheMeanIntervalIsNominal() {
        // 2000 samples of n = 20 standard normals: the 95 % t interval covers 0 about 95 % of the time.
        var generator = SplitMix64(seed: 3)
        var covered = 0
        for _ in 0..<2000 {
            let sample = (0..<20).map { _ in generator.nextStandardNormal() }
            let summary = Statistics.summarize(sample, meetsThreshold: { $0 >= 0 })
            if summary.ci95Low <= 0 && 0 <= summary.ci95High { covered += 1 }
        }
        // Binomial sd of the coverage over 2000 trials is 0.49 %; allow 4 sd.
        #expect(abs(Double(covered) / 2000 - 0.95) < 0.02)
    }

    @Test func runningMeanAgreesWithTheBatchSummary() {
        let values = [0.81, 0.84, 0.79, 0.88, 0.86]
        var running = RunningMean()
        values.forEach { running.add($0) }
        let summary = Statistics.summarize(values, meetsThreshold: { $0 >= 0 })
        #expect(abs(running.mean - summary.mean) < 1e-12)
        #expect(abs(running.ci95HalfWidth - (summary.ci95High - summary.mean)) < 1e-12)
    }
}

/// Yield compares correct-image counts, so a chip exactly on the threshold yields.
@Suite struct StudySummaryTests {
    @Test func aChipExactlyOnTheThresholdYields() {
        // The bug this guards against: the stored Float accuracy below its Double threshold.
        #expect(Double(Float(0.9)) < 0.9)
        let threshold = AccuracyThreshold(fraction: 0.9, testImages: 10_000)
        #expect(threshold.requiredCorrect == 9000)
        #expect(threshold.isMet(by: Double(Float(9000) / Float(10_000))))
        #expect(!threshold.isMet(by: Double(Float(8999) / Float(10_000))))
        #expect(AccuracyThreshold(fraction: 0.85, testImages: 7).requiredCorrect == 6)  // 5.95 → 6
        #expect(AccuracyThreshold(fraction: 0.7, testImages: 10).requiredCorrect == 7)

        var results = StudyResults(instances: [0, 1, 2, 3], policies: 1, times: 1)
        for (row, correct) in [9000, 8999, 9500, 9000].enumerated() {
            let accuracy = Float(correct) / Float(10_000)
            results.set(
                InstanceResult(
                    instance: row, accuracy: [[accuracy]], loss: [[0]], writeCycles: [1],
                    programmingTimeSeconds: [0]), row: row)
        }
        let summary = StudySummary(results, threshold: threshold)
        #expect(summary.cells[0][0].yield == 0.75)
        #expect(summary.cells[0][0].count == 4)
    }

    @Test func summaryCoversOnlyFinishedInstancesAndPairsPolicies() {
        var results = StudyResults(instances: [0, 1, 2], policies: 2, times: 1)
        results.set(
            InstanceResult(
                instance: 0, accuracy: [[0.5], [0.75]], loss: [[0], [0]], writeCycles: [1, 3],
                programmingTimeSeconds: [1, 3]), row: 0)
        results.set(
            InstanceResult(
                instance: 2, accuracy: [[0.25], [0.75]], loss: [[0], [0]], writeCycles: [1, 5],
                programmingTimeSeconds: [1, 5]), row: 2)
        let summary = StudySummary(results, threshold: AccuracyThreshold(fraction: 0.5, testImages: 4))
        #expect(summary.cells[0][0].count == 2 && summary.cells[0][0].mean == 0.375)
        #expect(summary.cells[0][0].yield == 0.5 && summary.cells[1][0].yield == 1)
        #expect(summary.differences[1][0].mean == 0.375)
        #expect(summary.meanWriteCycles == [1, 4])
    }
}

@Suite struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
