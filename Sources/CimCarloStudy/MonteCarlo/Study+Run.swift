import CimCarloResults
import CimCarloSimulation
import CimCarloSupport
import Foundation

extension Study {
    /// Runs the study into its result file `output` — or, for a shard, into the shard file
    /// `shard.filePath(forResult: output)` — : a new file (replacing an old one only with
    /// `force`), or, with `resume`, the instances a partial file lacks. Under sequential
    /// stopping the file grows checkpoint by checkpoint until every (policy, time) mean's 95 %
    /// CI half-width is within the target or the plan's instances are done. Returns the summary
    /// written to the file. Throws `StudyInterrupted` when `shouldStop` ends it early.
    @discardableResult
    public func run(
        output: String, threads: Int, shard: Shard? = nil, force: Bool = false, resume: Bool = false,
        progress: @escaping (MonteCarloEngine.Progress) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws -> StudySummary {
        precondition(shard == nil || plan.stopping == .fixed, "shards need a fixed instance count")
        let path = shard?.filePath(forResult: output) ?? output
        let file: ResultFile
        if resume {
            file = try ResultFile.resume(path: path, plan: plan, shard: shard)
        } else {
            let instances: [Int]
            switch (shard, plan.stopping) {
            case let (shard?, _): instances = shard.instances(of: plan.instances)
            case (nil, .fixed): instances = Array(0..<plan.instances)
            case (nil, .targetHalfWidth): instances = Array(0..<plan.checkpoints[0])
            }
            file = try ResultFile.create(
                path: path, plan: plan, tables: tables, instances: instances,
                shard: shard, force: force)
        }
        while true {
            try simulate(
                instances: file.remainingInstances, into: file, threads: threads, progress: progress,
                shouldStop: shouldStop)
            guard file.remainingInstances.isEmpty else {
                throw StudyInterrupted(path: path, completed: file.completedCount, total: file.instances.count)
            }
            let summary = StudySummary(try file.results(), threshold: plan.threshold)
            guard case let .targetHalfWidth(target) = plan.stopping else {
                try file.finish(summary: summary)
                return summary
            }
            let count = file.instances.count
            let widest = summary.widestHalfWidth
            let points = { (value: Double) in String(format: "%.3g points", 100 * value) }
            if widest <= target {
                try file.finish(
                    summary: summary,
                    stoppingReason:
                        "target reached at \(count) instances: the widest 95 % CI half-width of a (policy, time) mean is \(points(widest)) ≤ \(points(target))"
                )
                return summary
            }
            guard let next = plan.checkpoints.first(where: { $0 > count }) else {
                try file.finish(
                    summary: summary,
                    stoppingReason:
                        "maximum of \(count) instances reached before the target: the widest 95 % CI half-width of a (policy, time) mean is \(points(widest)) > \(points(target))"
                )
                return summary
            }
            try file.extend(toInstances: next)
        }
    }
}

/// A run stopped (by request) before every instance was written; the file is a valid partial result.
public struct StudyInterrupted: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .runtimeFailure }
    public var path: String
    public var completed: Int
    public var total: Int
    public var description: String { "interrupted: \(completed) of \(total) instances are in \(path)" }
}
