import CimCarlo
import Foundation
import Testing

@Suite struct StatisticsTests {
    @Test func wilsonIntervalMatchesTheClosedForm() {
        // Wilson (1927) for 8 of 10 at z = 1.96: (0.4902, 0.9433) (e.g. Agresti & Coull 1998).
        let (low, high) = Statistics.wilsonInterval(successes: 8, trials: 10)
        #expect(abs(low - 0.49016) < 1e-4 && abs(high - 0.94331) < 1e-4)
        let (zeroLow, zeroHigh) = Statistics.wilsonInterval(successes: 0, trials: 4)
        #expect(zeroLow == 0 && abs(zeroHigh - 0.48990) < 1e-4)
    }

    @Test func valuesWithoutAnOrderDoNotCrashTheSummary() {
        // A damaged file is refused before it gets here; the summary must not trap anyway
        // (`sorted()` traps on NaN among hundreds of values).
        var values = (0..<300).map { Double($0) / 300 }
        for index in stride(from: 0, to: 300, by: 7) { values[index] = .nan }
        values[5] = 2.8e38
        let summary = Statistics.summarize(values, meetsThreshold: { $0 >= 0.5 })
        #expect(summary.count == 300 && summary.mean.isNaN)
        #expect(summary.p01.isFinite && summary.p50.isFinite)
    }

    @Test func quantileIntervalHasTheBinomialRanks() {
        // The median of 100 values lies between the 40th and 61st order statistics with 95 %
        // (Hahn & Meeker 1991, Table A.15; P(B ≤ 39) = 0.0176, P(B ≤ 60) = 0.9824 for B ~ Bin(100, ½)).
        let values = (1...100).map(Double.init)
        let median = Statistics.quantileInterval(sorted: values, 0.5)
        #expect(median.low == 40 && median.high == 61)
        // The 1st percentile of 200 values has no lower bound: P(B = 0) = 0.99²⁰⁰ = 0.134 > 2.5 %.
        let rare = Statistics.quantileInterval(sorted: Array((1...200).map(Double.init)), 0.01)
        #expect(rare.low.isNaN && rare.high == 6)
    }

    @Test func quantileIntervalsCoverTheirQuantile() {
        // Uniform values: the quantile at level p is p. Coverage over 2 000 samples within ±2 %
        // of 95 % (the exact coverage of these ranks is 95.4–95.8 %).
        for (level, count) in [(0.5, 1000), (0.1, 1000), (0.05, 1000), (0.01, 2000)] {
            var covered = 0
            for repetition in 0..<2000 {
                let random = CounterRandom(seed: 11, instance: repetition, purpose: .calibration, substream: count)
                let sorted = (0..<count).map { random.uniform($0) }.sorted()
                let (low, high) = Statistics.quantileInterval(sorted: sorted, level)
                if low <= level && level <= high { covered += 1 }
            }
            let coverage = Double(covered) / 2000
            #expect(abs(coverage - 0.95) <= 0.02, "level \(level), \(count) values: coverage \(coverage)")
        }
    }

    @Test func quantilesRarerThanTheSampleAreNotReported() {
        let summary = Statistics.summarize(
            (0..<500).map { Double($0) / 500 }, within: 0...1, meetsThreshold: { _ in true })
        #expect(summary.quantile(0.01).value.isFinite && summary.quantile(0.001).value.isNaN)
        #expect(SummaryStatistics.names.contains("p0001_high") && SummaryStatistics.names.contains("p10"))
    }

    @Test func theMeansIntervalStaysWhereAccuraciesCanBe() {
        let summary = Statistics.summarize([0.2, 1.0], within: 0...1, meetsThreshold: { _ in true })
        #expect(summary.ci95Low == 0 && summary.ci95High == 1)
        #expect(abs(summary.halfWidth - 12.7062 * 0.4) < 1e-3)  // t₀.₉₇₅(1) · s / √2, s = 0.4 √2
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
