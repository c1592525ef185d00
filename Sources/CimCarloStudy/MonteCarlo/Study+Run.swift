import CimCarloResults
import CimCarloSimulation
import CimCarloSupport
import Foundation

extension Study {
    /// How a run treats the result file it is given.
    public enum Start: Sendable, Equatable {
        /// A new file; an existing one is refused.
        case fresh
        /// A new file replacing any existing one (`--force`): written beside it as
        /// `out.h5.replacing` and renamed over it only once complete.
        case replacing
        /// The instances a partial file lacks (`--resume`): `out.h5.replacing` when a replacing
        /// run left one, else `out.h5`.
        case resuming
        /// Resume a file that holds completed instances of this plan; start afresh (replacing
        /// it once complete) when there is none, it is empty, or it is not readable
        /// (`--continue`, what a Slurm array task does).
        case resumingOrStarting
    }

    /// Runs the study into its result file `output` — or, for a shard, into the shard file
    /// `shard.filePath(forResult: output)` — : a new file, a replacement, or the instances a
    /// partial file lacks (`start`), holding the file's lock throughout. Under sequential
    /// stopping the file grows checkpoint by checkpoint until every (policy, time) mean's 95 %
    /// CI half-width is within the target or the plan's instances are done. Returns the summary
    /// written to the file. Throws `StudyInterrupted` when `shouldStop` ends it early and
    /// `StudyWriteFailed` when the file cannot be written.
    @discardableResult
    public func run(
        output: String, threads: Int, shard: Shard? = nil, start: Start = .fresh,
        progress: @escaping (MonteCarloEngine.Progress) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws -> StudySummary {
        precondition(shard == nil || plan.stopping == .fixed, "shards need a fixed instance count")
        let paths = ResultPaths(result: shard?.filePath(forResult: output) ?? output)
        let lock = try ResultLock(paths, purpose: "cimcarlo run")
        defer { withExtendedLifetime(lock) {} }
        // A rewrite that never finished (its process was killed) is of no use.
        try? FileManager.default.removeItem(atPath: paths.writing)
        let file = try workingFile(paths, shard: shard, start: start)
        do {
            return try run(
                into: file, destination: paths.result, threads: threads, progress: progress, shouldStop: shouldStop)
        } catch let error as HDF5Error {
            throw StudyWriteFailed(failure: error, path: file.path, completed: file.completedCount)
        }
    }

    /// The file a run with `start` writes: created, or opened to resume.
    private func workingFile(_ paths: ResultPaths, shard: Shard?, start: Start) throws -> ResultFile {
        let manager = FileManager.default
        func create(_ path: String) throws -> ResultFile {
            let instances: [Int]
            switch (shard, plan.stopping) {
            case let (shard?, _): instances = shard.instances(of: plan.instances)
            case (nil, .fixed): instances = Array(0..<plan.instances)
            case (nil, .targetHalfWidth): instances = Array(0..<plan.checkpoints[0])
            }
            return try ResultFile.create(path: path, plan: plan, tables: tables, instances: instances, shard: shard)
        }
        // Beside an existing result, a new one is written as `.replacing`.
        func replacing() throws -> ResultFile {
            guard manager.fileExists(atPath: paths.result) else { return try create(paths.result) }
            try? manager.removeItem(atPath: paths.replacing)
            return try create(paths.replacing)
        }
        switch start {
        case .fresh:
            return try create(paths.result)
        case .replacing:
            return try replacing()
        case .resuming:
            let path = manager.fileExists(atPath: paths.replacing) ? paths.replacing : paths.result
            return try ResultFile.resume(path: path, plan: plan, shard: shard)
        case .resumingOrStarting:
            for path in [paths.replacing, paths.result] where manager.fileExists(atPath: path) {
                // Read, then closed before it is opened to write.
                let completed = (try? ResultFile.open(path: path))?.completedCount ?? 0
                if completed > 0 { return try ResultFile.resume(path: path, plan: plan, shard: shard) }
            }
            return try replacing()
        }
    }

    private func run(
        into file: ResultFile, destination: String, threads: Int,
        progress: @escaping (MonteCarloEngine.Progress) -> Void,
        shouldStop: @escaping @Sendable () -> Bool
    ) throws -> StudySummary {
        while true {
            try simulate(
                instances: file.remainingInstances, into: file, threads: threads, progress: progress,
                shouldStop: shouldStop)
            guard file.remainingInstances.isEmpty else {
                throw StudyInterrupted(
                    path: file.path, completed: file.completedCount, total: file.instances.count,
                    replacing: file.path != destination ? destination : nil)
            }
            let results = try file.results()
            let summary = plan.summary(of: results)
            guard case let .targetHalfWidth(target) = plan.stopping else {
                try file.finish(summary: summary, tail: plan.tailEstimates(of: results), as: destination)
                return summary
            }
            let count = file.instances.count
            let widest = summary.widestHalfWidth
            let points = { (value: Double) in String(format: "%.3g points", 100 * value) }
            if widest <= target {
                try file.finish(
                    summary: summary,
                    stoppingReason:
                        "target reached at \(count) instances: the widest 95 % CI half-width of a (policy, time) mean is \(points(widest)) ≤ \(points(target))",
                    as: destination)
                return summary
            }
            guard let next = plan.checkpoints.first(where: { $0 > count }) else {
                try file.finish(
                    summary: summary,
                    stoppingReason:
                        "maximum of \(count) instances reached before the target: the widest 95 % CI half-width of a (policy, time) mean is \(points(widest)) > \(points(target))",
                    as: destination)
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
    /// The result the interrupted file will replace once complete, which is unchanged.
    public var replacing: String? = nil
    public var description: String {
        "interrupted: \(completed) of \(total) instances are in \(path)"
            + (replacing.map { " (\($0) is unchanged until it completes)" } ?? "")
    }
}

/// A run's result file could not be written (a full disk, a quota, an I/O error); every
/// instance recorded before the failure is in the file, which `--resume` completes.
public struct StudyWriteFailed: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .runtimeFailure }
    public var failure: HDF5Error
    /// The file that holds the completed instances.
    public var path: String
    public var completed: Int
    public var description: String {
        let fix =
            failure.cause.map { ["space", "quota", "too large"].contains(where: $0.contains) } == true
            ? "once there is room" : "once the cause is fixed"
        return
            "\(failure); \(completed) instance\(completed == 1 ? " is" : "s are") safe in \(path), finish with --resume \(fix)"
    }
}
