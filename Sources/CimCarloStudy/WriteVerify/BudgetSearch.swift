import CimCarloResults
import CimCarloSimulation
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
    public func run(instances: Int, threads: Int, report: (Step) -> Void = { _ in }) throws -> (
        answer: Step?, steps: [Step]
    ) {
        var steps: [Step] = []
        func evaluate(_ budget: Double) throws -> Step {
            let policy = study.selector.select(WriteVerifyPolicy(kind: kind, budget: budget))
            let collector = ResultCollector(
                instances: Array(0..<instances), policies: 1,
                times: study.spec.timesSeconds.count)
            try study.simulate(instances: Array(0..<instances), policies: [policy], into: collector, threads: threads)
            let results = StudySummary(collector.results, threshold: study.plan.threshold)
            let summary = results.cells[0][study.spec.timesSeconds.count - 1]
            let reached: Bool
            switch target {
            case let .mean(value): reached = summary.mean >= value
            case let .yield(value): reached = summary.yield >= value
            }
            let step = Step(
                budget: budget, verifiedFraction: policy.verifiedFraction, summary: summary,
                meanWriteCycles: results.meanWriteCycles[0], reached: reached)
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
