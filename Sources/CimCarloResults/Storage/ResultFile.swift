import CimCarloSimulation
import CimCarloSupport
import Foundation
import Glibc

/// A result file that cannot be created, resumed, merged or read.
public struct ResultFileError: CimCarloError, Equatable {
    public var path: String
    public var reason: String
    /// Bad input (a file that exists, is damaged or belongs to another study) unless set to
    /// `.runtimeFailure` (a file or directory that cannot be created).
    public var kind: CimCarloErrorKind = .badInput
    public var description: String { "\(path): \(reason)" }

    package init(path: String, reason: String, kind: CimCarloErrorKind = .badInput) {
        self.path = path
        self.reason = reason
        self.kind = kind
    }

    /// A stored object of `path` that cannot be read (`error`: which, and why — a checksum
    /// mismatch, say).
    init(damaged error: HDF5Error, path: String) {
        self.init(
            path: path, reason: "damaged result file (cannot \(error.operation)\(error.cause.map { ": " + $0 } ?? ""))")
    }
}

/// The HDF5 result of a study, or of one shard of it (README, "Result file format").
///
/// All per-instance datasets (`ResultSchema.perInstance`) exist from the start, filled with
/// NaN, one row per instance the file holds (`/instance` names them: all of the plan's, a
/// shard's, or — under sequential stopping — those up to the present checkpoint, grown by
/// `extend`), in checksummed chunks that take their full size at once. Each recorded instance
/// writes its row, sets `/completed` and `instances_completed`, and flushes, so an interrupted
/// run keeps what it finished and `--resume` fills in the rest; the file is written in HDF5's
/// single-writer / multiple-reader mode, so readers see the flushed instances while it runs.
/// Changes of structure (`extend`, `finish`) are made to a copy that replaces the file only
/// once written and flushed. The root attribute `status` is "partial" until `finish` writes
/// the summary, then "complete". Storage only: the statistics come from `StudySummary`.
public final class ResultFile: ResultSink {
    public static let format = "cimcarlo.result"
    public static let formatVersion: Int64 = 1
    /// Rows per HDF5 chunk of the per-instance datasets.
    private static let rowsPerChunk = 256

    /// The file, which `finish` may move (from `out.h5.replacing` to `out.h5`).
    public private(set) var path: String
    private var file: HDF5File
    public let plan: StudyPlan
    /// The file's mapping, selection and sensitivity tables.
    public let tables: ResultTables
    /// The shard this file holds, nil for a whole study.
    public let shard: Shard?
    /// The instance of each row.
    public private(set) var instances: [Int]
    private var rowOfInstance: [Int: Int]
    public private(set) var completed: [Bool]

    private init(
        path: String, file: HDF5File, plan: StudyPlan, tables: ResultTables, shard: Shard?, instances: [Int],
        completed: [Bool]
    ) {
        self.path = path
        self.file = file
        self.plan = plan
        self.tables = tables
        self.shard = shard
        self.instances = instances
        self.completed = completed
        rowOfInstance = Dictionary(uniqueKeysWithValues: instances.enumerated().map { ($1, $0) })
    }

    /// The file's per-instance datasets.
    private var datasets: [ResultSchema.Dataset] { ResultSchema.perInstance(for: plan) }

    // MARK: - Creating

    /// Creates a result file at `path` (in an existing directory: `ResultLock` makes it), which
    /// must not exist, for `instances` of `plan` (all of them, a shard's, or the first
    /// checkpoint's), ready for `record`. A file that cannot be created whole is removed.
    public static func create(
        path: String, plan: StudyPlan, tables: ResultTables, instances: [Int],
        shard: Shard? = nil
    ) throws -> ResultFile {
        if FileManager.default.fileExists(atPath: path) {
            throw ResultFileError(
                path: path,
                reason: "already exists (use --force to overwrite it, or --resume to complete a partial run)")
        }
        do {
            return try createUnremoved(path: path, plan: plan, tables: tables, instances: instances, shard: shard)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    private static func createUnremoved(
        path: String, plan: StudyPlan, tables: ResultTables, instances: [Int], shard: Shard?
    ) throws -> ResultFile {
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .createForConcurrentReading)
        } catch let error as HDF5Error {
            throw ResultFileError(
                path: path, reason: "cannot create it (\(error.cause ?? "is the directory writable?"))",
                kind: .runtimeFailure)
        }
        try file.setAttribute("format", format)
        try file.setAttribute("format_version", formatVersion)
        try file.setAttribute("tool_version", CimCarloVersion.current)
        try file.setAttribute("seed", Int64(bitPattern: plan.seed))
        try file.setAttribute("spec", plan.specText)
        try file.setAttribute("device_model", plan.deviceModelText)
        try file.setAttribute("model_sha256", plan.modelSHA256)
        try file.setAttribute("dataset_sha256", plan.datasetSHA256)
        try file.setAttribute("created_utc", ISO8601DateFormatter().string(from: Date()))
        try file.setAttribute("instances_requested", Int64(plan.instances))
        try file.setAttribute("instances_completed", Int64(0))
        try file.setAttribute("accuracy_threshold", plan.accuracyThreshold)
        try file.setAttribute("test_images", Int64(plan.testImages))
        try file.setAttribute("status", "partial")
        try file.setAttribute("periphery", plan.periphery)
        try file.setAttribute("sampler", plan.sampler)
        try file.setAttribute("read_noise", plan.readNoise)
        try file.setAttribute("plan_digest", plan.digest)
        switch plan.stopping {
        case .fixed:
            try file.setAttribute("stopping", "fixed")
        case let .targetHalfWidth(width):
            try file.setAttribute("stopping", "target_ci")
            try file.setAttribute("target_ci95_half_width", width)
        }
        if let shard { try file.setAttribute("shard", shard.description) }

        let n = instances.count
        let chunk = min(max(n, 1), rowsPerChunk)
        try file.createDataset("/instance", shape: [n], fill: Int64(-1), growingRows: chunk)
        try file.writeBlock(instances.map { Int64($0) }, to: "/instance", start: [0], count: [n])
        try file.write(strings: plan.policyLabels, to: "/policy")
        try file.write(plan.timesSeconds, to: "/time")
        try file.setAttribute("units", "s", on: "/time")
        try file.write(plan.policyBudgets, to: "/policy_budget")
        if let tail = plan.tail {
            try file.write(tail.scales, to: "/tail/scales")
            try file.setAttribute("chips_per_scale", Int64(tail.chipsPerScale), on: "/tail")
            try file.setAttribute("plain_chips", Int64(tail.plainChips), on: "/tail")
            if let choice = tail.choice { try file.setAttribute("scales_chosen", choice, on: "/tail") }
        }
        let datasets = ResultSchema.perInstance(for: plan)
        for dataset in datasets { try dataset.create(in: file, rows: n, plan: plan, chunkRows: chunk) }
        try tables.write(to: file)

        // Each scale goes to the datasets with its axis: the `[instance, policy]` ones last (and
        // `/policy_budget` just before them), the order of files written before `ResultSchema`,
        // which writes the same bytes.
        func axis(_ dimension: ResultSchema.Dimension, of datasets: [ResultSchema.Dataset]) -> [(String, Int)] {
            datasets.compactMap { dataset in dataset.dimensions.firstIndex(of: dimension).map { (dataset.path, $0) } }
        }
        let perPolicy = datasets.filter { $0.dimensions == [.instance, .policy] }
        let others = datasets.filter { $0.dimensions != [.instance, .policy] }
        try file.attachDimensionScale(
            "/instance", name: "instance", to: axis(.instance, of: others) + axis(.instance, of: perPolicy))
        try file.attachDimensionScale(
            "/policy", name: "policy",
            to: axis(.policy, of: others) + [("/policy_budget", 0)] + axis(.policy, of: perPolicy))
        try file.attachDimensionScale("/time", name: "time", to: axis(.time, of: others))
        try file.flush()
        file.startConcurrentReading()
        return ResultFile(
            path: path, file: file, plan: plan, tables: tables, shard: shard, instances: instances,
            completed: Array(repeating: false, count: n))
    }

    // MARK: - Opening

    /// Opens an existing result or shard file, read-only or to complete it.
    public static func open(path: String, forWriting: Bool = false) throws -> ResultFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ResultFileError(path: path, reason: "no such file")
        }
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: forWriting ? .readWrite : .readOnly)
        } catch {
            throw ResultFileError(path: path, reason: "not a readable HDF5 file")
        }
        if forWriting { file.startConcurrentReading() }
        guard (try? file.stringAttribute("format")) == format else {
            throw ResultFileError(
                path: path, reason: "not a cimcarlo result file (attribute `format` must be \"\(format)\")")
        }
        do {
            let shard: Shard?
            if file.hasAttribute("shard") {
                let text = try file.stringAttribute("shard")
                guard let parsed = Shard(parsing: text) else {
                    throw ResultFileError(path: path, reason: "damaged result file (attribute `shard` is \"\(text)\")")
                }
                shard = parsed
            } else {
                shard = nil
            }
            let policies = try file.readStrings("/policy")
            let tables = try ResultTables(readingFrom: file, policyLabels: policies)
            let plan = try readPlan(file, policies: policies, tables: tables)
            let instances = try file.read("/instance", as: Int64.self).values.map { Int($0) }
            let completed = try file.read("/completed", as: UInt8.self).values.map { $0 != 0 }
            guard instances.count == completed.count, Set(instances).count == instances.count,
                instances.allSatisfy({ (0..<plan.instances).contains($0) })
            else {
                throw ResultFileError(path: path, reason: "damaged result file (`/instance` and `/completed` disagree)")
            }
            return ResultFile(
                path: path, file: file, plan: plan, tables: tables, shard: shard, instances: instances,
                completed: completed)
        } catch let error as HDF5Error {
            throw ResultFileError(damaged: error, path: path)
        }
    }

    /// Opens a partial file to complete it under `plan` (and `shard`). Anything else — another
    /// spec, device model, model, dataset, seed, instance count, selection or shard — would not
    /// give the result an uninterrupted run gives, and is refused naming what differs.
    public static func resume(path: String, plan: StudyPlan, shard: Shard?) throws -> ResultFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ResultFileError(path: path, reason: "cannot resume: no such file (run without --resume to start it)")
        }
        let result: ResultFile
        do {
            result = try open(path: path, forWriting: true)
        } catch let error as ResultFileError {
            throw ResultFileError(path: path, reason: "cannot resume: " + error.reason)
        }
        if let field = result.plan.firstDifference(from: plan) {
            throw ResultFileError(
                path: path, reason: "cannot resume: its `\(field)` differs from this run's (use --force to start over)")
        }
        guard result.shard == shard else {
            throw ResultFileError(
                path: path,
                reason:
                    "cannot resume: it holds shard \(result.shard?.description ?? "none"), not \(shard?.description ?? "the whole study")"
            )
        }
        do {
            _ = try result.results()
        } catch let error as ResultFileError {
            throw ResultFileError(path: path, reason: "cannot resume: " + error.reason)
        }
        return result
    }

    /// The plan a file with `policies` and `tables` records; its digest must match the stored
    /// `plan_digest`.
    private static func readPlan(_ file: HDF5File, policies: [String], tables: ResultTables) throws -> StudyPlan {
        let sequential = file.hasAttribute("stopping") ? try file.stringAttribute("stopping") == "target_ci" : false
        let stopping: StudyPlan.Stopping =
            sequential
            ? .targetHalfWidth(try file.scalarAttribute("target_ci95_half_width", as: Double.self)) : .fixed
        var plan = StudyPlan(
            specText: try file.stringAttribute("spec"), deviceModelText: try file.stringAttribute("device_model"),
            modelSHA256: try file.stringAttribute("model_sha256"),
            datasetSHA256: try file.stringAttribute("dataset_sha256"),
            seed: UInt64(bitPattern: try file.scalarAttribute("seed", as: Int64.self)),
            instances: Int(try file.scalarAttribute("instances_requested", as: Int64.self)), stopping: stopping,
            testImages: Int(try file.scalarAttribute("test_images", as: Int64.self)),
            accuracyThreshold: try file.scalarAttribute("accuracy_threshold", as: Double.self), policyLabels: policies,
            policyBudgets: try file.read("/policy_budget", as: Double.self).values,
            timesSeconds: try file.read("/time", as: Double.self).values,
            periphery: try file.stringAttribute("periphery"),
            energyPerPulseJoules: file.exists("/programming_energy_j")
                ? try file.scalarAttribute("energy_per_pulse_j", on: "/programming_energy_j", as: Double.self) : nil,
            selectionsSHA256: tables.sha256)
        plan.sampler = file.hasAttribute("sampler") ? try file.stringAttribute("sampler") : CounterRandom.legacySampler
        if file.exists("/tail/scales") {
            plan.tail = TailPlan(
                scales: try file.read("/tail/scales", as: Double.self).values,
                chipsPerScale: Int(try file.scalarAttribute("chips_per_scale", on: "/tail", as: Int64.self)),
                plainChips: Int(try file.scalarAttribute("plain_chips", on: "/tail", as: Int64.self)),
                choice: file.hasAttribute("scales_chosen", on: "/tail")
                    ? try file.stringAttribute("scales_chosen", on: "/tail") : nil)
        }
        if file.hasAttribute("plan_digest") {
            let stored = try file.stringAttribute("plan_digest")
            guard stored == plan.digest else {
                throw ResultFileError(
                    path: file.path, reason: "damaged result file (its contents do not match its `plan_digest`)")
            }
        }
        return plan
    }

    // MARK: - Instances

    /// Instances not yet recorded.
    public var remainingInstances: [Int] { instances.indices.filter { !completed[$0] }.map { instances[$0] } }

    public var completedCount: Int { completed.lazy.filter { $0 }.count }

    /// Writes one instance's row and flushes it to disk.
    public func record(_ result: InstanceResult) throws {
        guard let row = rowOfInstance[result.instance] else {
            preconditionFailure("instance \(result.instance) is not in \(path)")
        }
        for dataset in datasets { try dataset.write([result], at: row, plan: plan, in: file) }
        // The commit mark, after the row's values.
        try file.writeBlock([UInt8(1)], to: "/completed", start: [row], count: [1])
        completed[row] = true
        try file.setAttribute("instances_completed", Int64(completedCount))
        try file.flush()
    }

    /// Writes every row at once (a merge), in the file's row order.
    package func record(_ results: StudyResults) throws {
        precondition(results.instances == instances)
        let rows = results.rows.map { $0! }
        let n = rows.count
        for dataset in datasets { try dataset.write(rows, at: 0, plan: plan, in: file) }
        try file.writeBlock(Array(repeating: UInt8(1), count: n), to: "/completed", start: [0], count: [n])
        completed = Array(repeating: true, count: n)
        try file.setAttribute("instances_completed", Int64(n))
        try file.flush()
    }

    /// Grows the file to hold instances `0 ..< count` (sequential stopping's next checkpoint).
    public func extend(toInstances count: Int) throws {
        precondition(shard == nil && instances == Array(0..<instances.count) && count >= instances.count)
        let old = instances.count
        try rewrite(as: path, reopening: true) { file in
            for path in ["/instance"] + datasets.map(\.path) { try file.extend(path, rows: count) }
            try file.writeBlock((old..<count).map { Int64($0) }, to: "/instance", start: [old], count: [count - old])
        }
        for instance in old..<count { rowOfInstance[instance] = instance }
        instances += old..<count
        completed += repeatElement(false, count: count - old)
    }

    /// Makes `change` to a copy of the file (`destination`'s `.writing` file), flushes and closes
    /// it, and renames it to `destination`, removing the file when it was elsewhere: whatever
    /// fails, the file as it was stays whole (and the copy is removed). The file is open again
    /// afterwards — for writing, with `reopening`.
    private func rewrite(as destination: String, reopening: Bool, _ change: (HDF5File) throws -> Void) throws {
        try file.close()
        let copy = ResultPaths(result: destination).writing
        let manager = FileManager.default
        try? manager.removeItem(atPath: copy)
        do {
            try Self.copyFile(path, to: copy)
            let rewritten = try HDF5File(path: copy, mode: .readWrite)
            try change(rewritten)
            try rewritten.flush()
            try rewritten.close()
            guard rename(copy, destination) == 0 else {
                throw HDF5Error(
                    path: destination, operation: "replace it by \(copy)", cause: String(cString: strerror(errno)))
            }
        } catch {
            try? manager.removeItem(atPath: copy)
            file = try HDF5File(path: path, mode: .readOnly)
            throw error
        }
        if destination != path { try? manager.removeItem(atPath: path) }
        path = destination
        file = try HDF5File(path: destination, mode: reopening ? .readWrite : .readOnly)
        if reopening { file.startConcurrentReading() }
    }

    /// The recorded rows.
    public func results() throws -> StudyResults {
        var results = StudyResults(
            instances: instances, policies: plan.policyLabels.count,
            times: plan.timesSeconds.count)
        results.rows = instances.indices.map { completed[$0] ? InstanceResult(instance: instances[$0]) : nil }
        do {
            for dataset in datasets { try dataset.read(from: file, plan: plan, into: &results.rows) }
        } catch let error as HDF5Error {
            throw ResultFileError(damaged: error, path: path)
        }
        return results
    }

    /// The root attribute `status`: "partial" or "complete".
    public func status() throws -> String { try file.stringAttribute("status") }

    /// Why a sequential run stopped, when it did.
    public func stoppingReason() throws -> String? {
        file.hasAttribute("stopping_reason") ? try file.stringAttribute("stopping_reason") : nil
    }

    // MARK: - Finishing

    /// Copies the bytes of `source` to a new file `destination`, reporting the system's reason
    /// (a full disk, say) when it fails.
    private static func copyFile(_ source: String, to destination: String) throws {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw HDF5Error(path: source, operation: "read it to copy it", cause: String(cString: strerror(errno)))
        }
        defer { Foundation.close(input) }
        let output = Glibc.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else {
            throw HDF5Error(path: destination, operation: "create it", cause: String(cString: strerror(errno)))
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failure: Int32? = nil
        while failure == nil {
            let count = buffer.withUnsafeMutableBytes { Foundation.read(input, $0.baseAddress, $0.count) }
            if count == 0 { break }
            guard count > 0 else {
                failure = errno
                break
            }
            var written = 0
            while written < count {
                let step = buffer.withUnsafeBytes { write(output, $0.baseAddress! + written, count - written) }
                guard step > 0 else {
                    failure = errno
                    break
                }
                written += step
            }
        }
        if Foundation.close(output) != 0 && failure == nil { failure = errno }
        if let failure {
            throw HDF5Error(
                path: destination, operation: "write a copy of \(source)",
                cause: String(cString: strerror(failure)).lowercased())
        }
    }

    /// Writes `/summary/<stat>` (and, under sequential stopping, why it stopped), marks the
    /// file complete, and puts it at `destination` (by default where it is): all in a copy that
    /// replaces the file there only once written and flushed. The file is open read-only
    /// afterwards.
    public func finish(
        summary: StudySummary, tail: [[ScaledSigmaEstimate]]? = nil, stoppingReason: String? = nil,
        as destination: String? = nil
    ) throws {
        try rewrite(as: destination ?? path, reopening: false) { file in
            if let tail { try writeTail(tail, in: file) }
            for (index, name) in SummaryStatistics.names.enumerated() {
                try writePolicyTimeTable(
                    "/summary/" + name, summary.cells.flatMap { row in row.map { $0.named[index].1 } }, in: file)
            }
            let baseline = plan.policyLabels[0]
            for (name, value) in [
                ("diff_mean", { (s: SummaryStatistics) in s.mean }),
                ("diff_ci95_low", { $0.ci95Low }), ("diff_ci95_high", { $0.ci95High }),
            ] {
                try writePolicyTimeTable(
                    "/summary/" + name, summary.differences.flatMap { row in row.map(value) }, baseline: baseline,
                    in: file)
            }
            if let stoppingReason { try file.setAttribute("stopping_reason", stoppingReason) }
            try file.setAttribute("status", "complete")
        }
    }

    /// `/tail/<name>`: scaled-sigma sampling's failures `[policy, time, scale]`, chips `[scale]`,
    /// and the fit and estimate `[policy, time]` (README, "The tail of the distribution").
    private func writeTail(_ estimates: [[ScaledSigmaEstimate]], in file: HDF5File) throws {
        let cells = estimates.flatMap { $0 }
        let (p, t, s) = (plan.policyLabels.count, plan.timesSeconds.count, cells[0].scales.count)
        let fresh = !file.exists("/tail/failures")
        func write(_ name: String, _ values: [Double]) throws {
            try writePolicyTimeTable("/tail/" + name, values, in: file)
        }
        let failures = cells.flatMap { $0.failures.map(Int64.init) }
        let chips = cells[0].chips.map(Int64.init)
        if fresh {
            try file.write(ShapedArray(values: failures, shape: [p, t, s]), to: "/tail/failures")
            try file.write(chips, to: "/tail/chips")
            try file.attachDimensionScale("/policy", name: "policy", to: [("/tail/failures", 0)])
            try file.attachDimensionScale("/time", name: "time", to: [("/tail/failures", 1)])
            try file.attachDimensionScale(
                "/tail/scales", name: "scale", to: [("/tail/failures", 2), ("/tail/chips", 0)])
        } else {
            try file.writeBlock(failures, to: "/tail/failures", start: [0, 0, 0], count: [p, t, s])
            try file.writeBlock(chips, to: "/tail/chips", start: [0], count: [s])
        }
        try write("alpha", cells.map(\.alpha))
        try write("beta", cells.map(\.beta))
        try write("gamma", cells.map(\.gamma))
        try write("p_fail", cells.map(\.probability))
        try write("p_fail_low", cells.map(\.low))
        try write("p_fail_high", cells.map(\.high))
        try file.setAttribute("bootstrap_replicates", Int64(cells[0].replicates), on: "/tail")
        try file.setAttribute(
            "model", "log P(s) = alpha + beta log s + gamma / s^2; p_fail = exp(alpha + gamma) (scaled-sigma sampling)",
            on: "/tail")
    }

    /// A `[policy, time]` dataset (`/summary/<name>`, `/tail/<name>`), created with its dimension
    /// scales (and the paired differences' `baseline` attribute) the first time, overwritten
    /// after a resume.
    private func writePolicyTimeTable(
        _ dataset: String, _ values: [Double], baseline: String? = nil, in file: HDF5File
    ) throws {
        let (p, t) = (plan.policyLabels.count, plan.timesSeconds.count)
        guard !file.exists(dataset) else {
            try file.writeBlock(values, to: dataset, start: [0, 0], count: [p, t])
            return
        }
        try file.write(ShapedArray(values: values, shape: [p, t]), to: dataset)
        try file.attachDimensionScale("/policy", name: "policy", to: [(dataset, 0)])
        try file.attachDimensionScale("/time", name: "time", to: [(dataset, 1)])
        if let baseline { try file.setAttribute("baseline", baseline, on: dataset) }
    }
}

extension StudyPlan {
    /// The first field, by its result-file name, in which `other` differs; nil when equal.
    package func firstDifference(from other: StudyPlan) -> String? {
        let checks: [(String, Bool)] = [
            ("spec", specText == other.specText), ("device_model", deviceModelText == other.deviceModelText),
            ("model_sha256", modelSHA256 == other.modelSHA256),
            ("dataset_sha256", datasetSHA256 == other.datasetSHA256),
            ("seed", seed == other.seed), ("instances_requested", instances == other.instances),
            ("stopping", stopping == other.stopping), ("test_images", testImages == other.testImages),
            ("accuracy_threshold", accuracyThreshold == other.accuracyThreshold),
            ("policy", policyLabels == other.policyLabels), ("policy_budget", policyBudgets == other.policyBudgets),
            ("time", timesSeconds == other.timesSeconds), ("periphery", periphery == other.periphery),
            ("energy_per_pulse_j", energyPerPulseJoules == other.energyPerPulseJoules),
            ("selection", selectionsSHA256 == other.selectionsSHA256), ("sampler", sampler == other.sampler),
            ("tail", tail == other.tail),
        ]
        return checks.first { !$0.1 }?.0
    }
}
