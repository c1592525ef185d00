import CimCarloResults
import Foundation

/// Combines the shard files of one study into the result a single-machine run of the same
/// plan writes: the same datasets, value for value (README, "Running on a cluster").
public enum ShardMerge {
    /// Checks that the shards share one plan digest, hold disjoint, finished instances and
    /// together every instance of the plan, then writes the merged result to `output` (through
    /// temporary files, so a failure never leaves a half-written result in its place), holding
    /// `output`'s lock.
    @discardableResult
    public static func merge(shards paths: [String], output: String, force: Bool) throws -> StudySummary {
        guard let firstPath = paths.first else {
            throw ResultFileError(path: output, reason: "no shard files to merge")
        }
        let shards = try paths.map { try ResultFile.open(path: $0) }
        let plan = shards[0].plan
        var owner: [Int: String] = [:]
        for shard in shards {
            guard let part = shard.shard else {
                throw ResultFileError(
                    path: shard.path,
                    reason:
                        "not a shard file (it has no `shard` attribute; write shards with `cimcarlo run --shard k/N`)")
            }
            if shard.plan.digest != plan.digest {
                let field = shard.plan.firstDifference(from: plan) ?? "plan_digest"
                throw ResultFileError(
                    path: shard.path, reason: "comes from another study than \(firstPath): its `\(field)` differs")
            }
            guard shard.remainingInstances.isEmpty else {
                throw ResultFileError(
                    path: shard.path,
                    reason:
                        "shard \(part) is partial (\(shard.completedCount) of \(shard.instances.count) instances); finish it with `cimcarlo run … --shard \(part) --resume`"
                )
            }
            for instance in shard.instances {
                if let other = owner.updateValue(shard.path, forKey: instance) {
                    throw ResultFileError(
                        path: shard.path,
                        reason: "holds instance \(instance), which \(other) holds too (the same shard given twice?)")
                }
            }
        }
        let missing = (0..<plan.instances).filter { owner[$0] == nil }
        if !missing.isEmpty {
            let counts = Set(shards.compactMap { $0.shard?.count })
            let described: String
            if counts.count == 1, let count = counts.first {
                let absent = Set(missing.map { $0 % count }).sorted().map { "\($0)/\(count)" }
                described =
                    "shard\(absent.count == 1 ? "" : "s") \(absent.joined(separator: ", ")) (\(missing.count) instances)"
            } else {
                described = "\(missing.count) instances, the first \(missing[0])"
            }
            throw ResultFileError(
                path: output, reason: "cannot merge: missing \(described) of the \(plan.instances) the plan needs")
        }

        var merged = StudyResults(
            instances: Array(0..<plan.instances), policies: plan.policyLabels.count,
            times: plan.timesSeconds.count)
        for shard in shards {
            let results = try shard.results()
            for (instance, result) in zip(results.instances, results.rows) { merged.rows[instance] = result }
        }
        let paths = ResultPaths(result: output)
        let lock = try ResultLock(paths, purpose: "cimcarlo merge")
        defer { withExtendedLifetime(lock) {} }
        if FileManager.default.fileExists(atPath: output) && !force {
            throw ResultFileError(path: output, reason: "already exists (use --force to overwrite it)")
        }
        try? FileManager.default.removeItem(atPath: paths.replacing)
        let summary = plan.summary(of: merged)
        do {
            let file = try ResultFile.create(
                path: paths.replacing, plan: plan, tables: shards[0].tables, instances: merged.instances)
            try file.record(merged)
            try file.finish(summary: summary, tail: plan.tailEstimates(of: merged), as: output)
        } catch {
            try? FileManager.default.removeItem(atPath: paths.replacing)
            throw error
        }
        return summary
    }
}
