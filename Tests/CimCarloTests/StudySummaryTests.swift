import CimCarlo
import Foundation
import Testing

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
