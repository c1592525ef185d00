import CimCarlo
import Foundation
import Testing

@Suite struct BudgetSearchTests {
    @Test func findsTheSmallestBudgetThatReachesTheTarget() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        let spec = try RunSpec.load(path: fixture.spec).searching(.magnitude)
        let study = try Study(spec: spec)
        // Aim between what none and all achieve on these chips.
        let ends = ResultCollector(instances: Array(0..<4), policies: 2, times: spec.timesSeconds.count)
        try study.simulate(
            instances: Array(0..<4), policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
            into: ends, threads: 2)
        let last = spec.timesSeconds.count - 1
        let summary = StudySummary(ends.results, threshold: study.plan.threshold)
        let (noneMean, allMean) = (summary.cells[0][last].mean, summary.cells[1][last].mean)
        try #require(allMean > noneMean)
        let target = (noneMean + allMean) / 2
        let (answer, steps) = try BudgetSearch(
            study: study, kind: .magnitude, target: .mean(target), resolution: 1.0 / 16
        )
        .run(instances: 4, threads: 2)
        let found = try #require(answer)
        #expect(found.summary.mean >= target)
        #expect(found.budget > 0 && found.budget <= 1)
        // Every evaluated budget below the answer missed the target.
        #expect(steps.filter { $0.budget < found.budget }.allSatisfy { !$0.reached })
        #expect(steps.count <= 2 + 4)
    }

    @Test func findsTheSmallestBudgetThatReachesAYieldTarget() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        var spec = try RunSpec.load(path: fixture.spec).searching(.magnitude)
        let last = spec.timesSeconds.count - 1
        // The accuracy threshold, among the accuracies these chips reach, at which all's yield
        // most exceeds none's, so that the yield moves with the budget.
        let ends = ResultCollector(instances: Array(0..<8), policies: 2, times: spec.timesSeconds.count)
        let probe = try Study(spec: spec)
        try probe.simulate(
            instances: Array(0..<8), policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
            into: ends, threads: 2)
        func yields(_ fraction: Double) -> [Double] {
            StudySummary(ends.results, threshold: AccuracyThreshold(fraction: fraction, testImages: probe.test.count))
                .cells.map { $0[last].yield }
        }
        spec.accuracyThreshold = Set(ends.results.rows.flatMap { $0!.accuracy.joined() }.map(Double.init)).max { a, b in
            let (ya, yb) = (yields(a), yields(b))
            return ya[1] - ya[0] < yb[1] - yb[0]
        }!
        let study = try Study(spec: spec)
        let yields = yields(spec.accuracyThreshold)
        let target = (yields[0] + yields[1]) / 2
        let (answer, steps) = try BudgetSearch(
            study: study, kind: .magnitude, target: .yield(target),
            resolution: 1.0 / 16
        ).run(instances: 8, threads: 2)
        let found = try #require(answer)
        #expect(found.summary.yield >= target)
        #expect(found.budget > 0)
        #expect(steps.filter { $0.budget < found.budget }.allSatisfy { !$0.reached && $0.summary.yield < target })
    }
}
