import Foundation

/// Finds the smallest write-verify budget of one policy kind that reaches an accuracy target,
/// by bisection with a Monte-Carlo estimate at each step.
///
/// Every step simulates the same instances (same seed), and selections nest (the top 5 % by
/// score contains the top 2 %), so the estimate is close to monotone in the budget and the
/// bisection compares like with like. The target is met when the point estimate (mean
/// accuracy, or yield at the spec's threshold) reaches it, at the spec's last time point.
public struct BudgetSearch {
    public enum Target: Sendable, CustomStringConvertible {
        /// Mean accuracy (fraction) at least this.
        case mean(Double)
        /// Yield at the spec's accuracy threshold at least this.
        case yield(Double)

        public var description: String {
            switch self {
            case let .mean(value): String(format: "mean accuracy ≥ %.2f %%", 100 * value)
            case let .yield(value): String(format: "yield ≥ %.3f", value)
            }
        }
    }

    /// One evaluated budget.
    public struct Step: Sendable {
        public var budget: Double
        public var verifiedFraction: Double
        public var summary: SummaryStatistics
        public var meanWriteCycles: Double
        public var reached: Bool
    }

    public let study: Study
    public let kind: WriteVerifyPolicy.Kind
    public let target: Target
    /// Stop when the bracket is narrower than this fraction of weights.
    public let resolution: Double

    public init(study: Study, kind: WriteVerifyPolicy.Kind, target: Target, resolution: Double = 1.0 / 256) {
        self.study = study
        self.kind = kind
        self.target = target
        self.resolution = resolution
    }

    /// Runs the search; the last step that reached the target (if any) is the answer.
    public func run(instances: Int, threads: Int, report: (Step) -> Void = { _ in }) throws -> (answer: Step?, steps: [Step]) {
        var steps: [Step] = []
        func evaluate(_ budget: Double) throws -> Step {
            let policy = study.selector.select(WriteVerifyPolicy(kind: kind, budget: budget))
            let results = try study.simulate(policies: [policy], instances: instances, threads: threads)
            let last = study.spec.timesSeconds.count - 1
            let accuracies = results.map { Double($0.accuracy[0][last]) }
            let summary = Statistics.summarize(accuracies, threshold: study.spec.accuracyThreshold)
            let reached: Bool
            switch target {
            case let .mean(value): reached = summary.mean >= value
            case let .yield(value): reached = summary.yield >= value
            }
            let step = Step(budget: budget, verifiedFraction: policy.verifiedFraction, summary: summary,
                            meanWriteCycles: results.map { $0.writeCycles[0] }.reduce(0, +) / Double(results.count),
                            reached: reached)
            steps.append(step)
            report(step)
            return step
        }
        let full = try evaluate(1)
        guard full.reached else { return (nil, steps) }
        let zero = try evaluate(0)
        if zero.reached { return (zero, steps) }
        var (low, high, best) = (0.0, 1.0, full)
        while high - low > resolution {
            let middle = (low + high) / 2
            let step = try evaluate(middle)
            if step.reached {
                (high, best) = (middle, step)
            } else {
                low = middle
            }
        }
        return (best, steps)
    }
}

extension Study {
    /// Simulates instances `0 ..< instances` under `policies` in memory (no result file).
    public func simulate(policies: [WriteVerifyPolicy], instances: Int, threads: Int) throws -> [InstanceResult] {
        let collected = ResultCollector(count: instances)
        try MonteCarloEngine.run(
            instances: Array(0..<instances), threads: threads,
            makeSimulator: { try self.makeSimulator(policies: policies) },
            record: { collected.results[$0.instance] = $0 })
        return collected.results.compactMap { $0 }
    }
}

/// Results gathered by instance index (written only under the engine's record lock).
private final class ResultCollector: @unchecked Sendable {
    var results: [InstanceResult?]
    init(count: Int) { results = Array(repeating: nil, count: count) }
}
