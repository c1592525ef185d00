import Foundation

/// A result file that cannot be created, resumed or read.
public struct ResultFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// What a result file records about the study that produced it.
public struct ResultProvenance: Sendable {
    public var specText: String
    public var deviceModelText: String
    public var modelSHA256: String
    public var datasetSHA256: String
    public var seed: UInt64
    public var instances: Int
    public var accuracyThreshold: Double
    public var policyLabels: [String]
    public var policyBudgets: [Double]
    public var timesSeconds: [Double]
    public var testImages: Int
    /// When given, `/programming_energy_j` = write cycles × this.
    public var energyPerPulseJoules: Double?
    /// The run's periphery (fidelity, converters, drift compensation), as `key=value` pairs.
    public var periphery: String = ""

    public init(specText: String, deviceModelText: String, modelSHA256: String, datasetSHA256: String, seed: UInt64,
                instances: Int, accuracyThreshold: Double, policyLabels: [String], policyBudgets: [Double],
                timesSeconds: [Double], testImages: Int, energyPerPulseJoules: Double? = nil) {
        self.specText = specText
        self.deviceModelText = deviceModelText
        self.modelSHA256 = modelSHA256
        self.datasetSHA256 = datasetSHA256
        self.seed = seed
        self.instances = instances
        self.accuracyThreshold = accuracyThreshold
        self.policyLabels = policyLabels
        self.policyBudgets = policyBudgets
        self.timesSeconds = timesSeconds
        self.testImages = testImages
        self.energyPerPulseJoules = energyPerPulseJoules
    }
}

/// The HDF5 result of one run (README, "Result file format"; BRIEF §6).
///
/// All datasets are created at full size when the run starts, filled with NaN; each
/// completed instance writes its rows, sets `/completed[i]` and `instances_completed`, and
/// flushes, so an interrupted run keeps what it finished and `--resume` fills in the rest.
/// The root attribute `status` is "partial" until the summary is written, then "complete".
public final class ResultFile {
    public static let format = "cimcarlo.result"
    public static let formatVersion: Int64 = 1

    public let path: String
    private let file: HDF5File
    public let instanceCount: Int
    public let policyCount: Int
    public let timeCount: Int
    public private(set) var completed: [Bool]

    private let energyPerPulseJoules: Double?

    private init(path: String, file: HDF5File, instances: Int, policies: Int, times: Int, completed: [Bool],
                 energyPerPulseJoules: Double?) {
        self.energyPerPulseJoules = energyPerPulseJoules
        self.path = path
        self.file = file
        instanceCount = instances
        policyCount = policies
        timeCount = times
        self.completed = completed
    }

    /// Creates a new result file. Refuses to replace an existing file unless `force`.
    public static func create(path: String, provenance: ResultProvenance, mapping: CrossbarMapping,
                              force: Bool) throws -> ResultFile {
        if FileManager.default.fileExists(atPath: path) {
            guard force else {
                throw ResultFileError(path: path, reason: "already exists (use --force to overwrite it, or --resume to complete a partial run)")
            }
            try FileManager.default.removeItem(atPath: path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ResultFileError(path: path, reason: "cannot create its directory \(directory)")
            }
        }
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .createExclusive)
        } catch {
            throw ResultFileError(path: path, reason: "cannot create it (is the directory writable?)")
        }
        let (n, p, t) = (provenance.instances, provenance.policyLabels.count, provenance.timesSeconds.count)
        try file.setAttribute("format", format)
        try file.setAttribute("format_version", formatVersion)
        try file.setAttribute("tool_version", CimCarloVersion.current)
        try file.setAttribute("seed", Int64(bitPattern: provenance.seed))
        try file.setAttribute("spec", provenance.specText)
        try file.setAttribute("device_model", provenance.deviceModelText)
        try file.setAttribute("model_sha256", provenance.modelSHA256)
        try file.setAttribute("dataset_sha256", provenance.datasetSHA256)
        try file.setAttribute("created_utc", ISO8601DateFormatter().string(from: Date()))
        try file.setAttribute("instances_requested", Int64(n))
        try file.setAttribute("instances_completed", Int64(0))
        try file.setAttribute("accuracy_threshold", provenance.accuracyThreshold)
        try file.setAttribute("test_images", Int64(provenance.testImages))
        try file.setAttribute("status", "partial")
        try file.setAttribute("periphery", provenance.periphery)

        try file.write((0..<n).map { Int64($0) }, to: "/instance")
        try file.write(strings: provenance.policyLabels, to: "/policy")
        try file.write(provenance.timesSeconds, to: "/time")
        try file.setAttribute("units", "s", on: "/time")
        try file.write(provenance.policyBudgets, to: "/policy_budget")
        try file.createDataset("/accuracy", shape: [n, p, t], fill: Float.nan)
        try file.createDataset("/loss", shape: [n, p, t], fill: Float.nan)
        try file.createDataset("/write_cycles", shape: [n, p], fill: Double.nan)
        try file.createDataset("/programming_time_s", shape: [n, p], fill: Double.nan)
        try file.createDataset("/completed", shape: [n], fill: UInt8(0))
        var perPolicy = ["/write_cycles", "/programming_time_s"]
        if let energy = provenance.energyPerPulseJoules {
            try file.createDataset("/programming_energy_j", shape: [n, p], fill: Double.nan)
            try file.setAttribute("energy_per_pulse_j", energy, on: "/programming_energy_j")
            perPolicy.append("/programming_energy_j")
        }
        try writeMapping(mapping, to: file)

        try file.attachDimensionScale("/instance", name: "instance", to: [
            ("/accuracy", 0), ("/loss", 0), ("/completed", 0)] + perPolicy.map { ($0, 0) })
        try file.attachDimensionScale("/policy", name: "policy", to: [
            ("/accuracy", 1), ("/loss", 1), ("/policy_budget", 0)] + perPolicy.map { ($0, 1) })
        try file.attachDimensionScale("/time", name: "time", to: [("/accuracy", 2), ("/loss", 2)])
        try file.flush()
        return ResultFile(path: path, file: file, instances: n, policies: p, times: t,
                          completed: Array(repeating: false, count: n), energyPerPulseJoules: provenance.energyPerPulseJoules)
    }

    /// Writes `/selection/<policy>/<layer>` (uint8, 1 = write-verified) for budgeted policies and
    /// `/sensitivity/<layer>` (the ranking score), both in the layer's weight shape.
    func writeSelections(_ policies: [WriteVerifyPolicy], mapping: CrossbarMapping, network: Network,
                         sensitivity: (kind: WriteVerifyPolicy.Kind, scores: [[Float]])?) throws {
        func shape(_ layer: LayerMapping) -> [Int] {
            network.crossbarOperation(ofNode: layer.nodeIndex)?.weightShape ?? [layer.columns, layer.rows]
        }
        for policy in policies where policy.kind.isBudgeted {
            for (index, layer) in mapping.layers.enumerated() {
                try file.write(HDF5Array(values: policy.selection[index], shape: shape(layer)),
                               to: "/selection/\(policy)/\(layer.name)")
            }
        }
        if let (kind, scores) = sensitivity {
            for (index, layer) in mapping.layers.enumerated() {
                try file.write(HDF5Array(values: scores[index], shape: shape(layer)), to: "/sensitivity/\(layer.name)")
            }
            let formula: String
            switch kind {
            case .swim: formula = "swim: |S + 2 grad| + 1e-6 |w| / max|W|, per-layer max|W| units"
            case .gradient: formula = "gradient: |grad|, per-layer max|W| units"
            default: formula = "variance: S × variance removed by write-verify, per-layer max|W| units"
            }
            try file.setAttribute("score", formula, on: "/sensitivity")
        }
        try file.flush()
    }

    private static func writeMapping(_ mapping: CrossbarMapping, to file: HDF5File) throws {
        let layers = mapping.layers
        try file.write(strings: layers.map(\.name), to: "/mapping/name")
        let columns: [(String, [Int64])] = [
            ("rows", layers.map { Int64($0.rows) }), ("cols", layers.map { Int64($0.columns) }),
            ("slices", layers.map { Int64($0.slices) }), ("physical_cols", layers.map { Int64($0.physicalColumns) }),
            ("arrays", layers.map { Int64($0.arrays) }), ("devices", layers.map { Int64($0.devices) }),
        ]
        for (name, values) in columns { try file.write(values, to: "/mapping/" + name) }
        try file.write(layers.map(\.utilization), to: "/mapping/utilization")
        let configuration = mapping.configuration
        try file.setAttribute("weight_bits", Int64(configuration.weightBits), on: "/mapping")
        try file.setAttribute("cell_bits", Int64(mapping.cellBits), on: "/mapping")
        try file.setAttribute("sign", configuration.signEncoding.rawValue, on: "/mapping")
        try file.setAttribute("scale", configuration.scale.rawValue, on: "/mapping")
        try file.setAttribute("array_rows", Int64(configuration.arrayRows), on: "/mapping")
        try file.setAttribute("array_cols", Int64(configuration.arrayColumns), on: "/mapping")
        try file.setAttribute("batchnorm", configuration.batchNormalization.rawValue, on: "/mapping")
        try file.setAttribute("batchnorm_digital", strings: mapping.digitalBatchNormalizations, on: "/mapping")
        try file.attachDimensionScale("/mapping/name", name: "layer",
                                      to: (columns.map(\.0) + ["utilization"]).map { ("/mapping/" + $0, 0) })
    }

    /// Opens a partial result to complete it. It must come from the same spec text, device model,
    /// model, dataset, seed and instance count; anything else would not give the result an
    /// uninterrupted run gives.
    public static func resume(path: String, provenance: ResultProvenance) throws -> ResultFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ResultFileError(path: path, reason: "cannot resume: no such file (run without --resume to start it)")
        }
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .readWrite)
        } catch {
            throw ResultFileError(path: path, reason: "cannot resume: not a readable HDF5 file")
        }
        guard (try? file.stringAttribute("format")) == format else {
            throw ResultFileError(path: path, reason: "cannot resume: not a cimcarlo result file")
        }
        let checks: [(String, Bool)] = [
            ("spec", (try? file.stringAttribute("spec")) == provenance.specText),
            ("device_model", (try? file.stringAttribute("device_model")) == provenance.deviceModelText),
            ("model_sha256", (try? file.stringAttribute("model_sha256")) == provenance.modelSHA256),
            ("dataset_sha256", (try? file.stringAttribute("dataset_sha256")) == provenance.datasetSHA256),
            ("seed", (try? file.scalarAttribute("seed", as: Int64.self)) == Int64(bitPattern: provenance.seed)),
            ("instances_requested", (try? file.scalarAttribute("instances_requested", as: Int64.self)) == Int64(provenance.instances)),
            ("test_images", (try? file.scalarAttribute("test_images", as: Int64.self)) == Int64(provenance.testImages)),
            ("periphery", (try? file.stringAttribute("periphery")) == provenance.periphery),
        ]
        if let mismatch = checks.first(where: { !$0.1 }) {
            throw ResultFileError(path: path, reason: "cannot resume: its `\(mismatch.0)` differs from this run's (use --force to start over)")
        }
        let flags = try file.read("/completed", as: UInt8.self).values
        return ResultFile(path: path, file: file, instances: provenance.instances, policies: provenance.policyLabels.count,
                          times: provenance.timesSeconds.count, completed: flags.map { $0 != 0 },
                          energyPerPulseJoules: provenance.energyPerPulseJoules)
    }

    /// Instances not yet recorded.
    public var remainingInstances: [Int] { completed.indices.filter { !completed[$0] } }

    /// Writes one instance's rows and flushes them to disk.
    public func record(_ result: InstanceResult) throws {
        let (p, t, i) = (policyCount, timeCount, result.instance)
        try file.writeBlock(result.accuracy.flatMap { $0 }, to: "/accuracy", start: [i, 0, 0], count: [1, p, t])
        try file.writeBlock(result.loss.flatMap { $0 }, to: "/loss", start: [i, 0, 0], count: [1, p, t])
        try file.writeBlock(result.writeCycles, to: "/write_cycles", start: [i, 0], count: [1, p])
        try file.writeBlock(result.programmingTimeSeconds, to: "/programming_time_s", start: [i, 0], count: [1, p])
        if let energy = energyPerPulseJoules {
            try file.writeBlock(result.writeCycles.map { $0 * energy }, to: "/programming_energy_j", start: [i, 0], count: [1, p])
        }
        try file.writeBlock([UInt8(1)], to: "/completed", start: [i], count: [1])
        completed[i] = true
        try file.setAttribute("instances_completed", Int64(completed.filter { $0 }.count))
        try file.flush()
    }

    /// Computes `/summary/<stat>` over all instances and marks the file complete.
    @discardableResult
    public func finish(accuracyThreshold: Double) throws -> [[SummaryStatistics]] {
        let accuracy = try file.read("/accuracy", as: Float.self).values
        let summaries = Self.summaries(accuracy: accuracy, instances: instanceCount, policies: policyCount,
                                       times: timeCount, threshold: accuracyThreshold)
        for (index, name) in SummaryStatistics.names.enumerated() {
            try writeSummary(name, summaries.flatMap { row in row.map { $0.named[index].1 } })
        }
        // Paired differences against the first policy: same chips, so the CI is much narrower.
        let differences = Self.pairedDifferences(accuracy: accuracy, instances: instanceCount, policies: policyCount,
                                                 times: timeCount)
        let baseline = try file.readStrings("/policy")[0]
        for (name, value) in [("diff_mean", { (s: SummaryStatistics) in s.mean }),
                              ("diff_ci95_low", { $0.ci95Low }), ("diff_ci95_high", { $0.ci95High })] {
            try writeSummary(name, differences.flatMap { row in row.map(value) }, baseline: baseline)
        }
        try file.setAttribute("status", "complete")
        try file.flush()
        return summaries
    }

    /// `/summary/<name>` `[policy, time]`, created with its dimension scales (and the paired
    /// differences' `baseline` attribute) the first time, overwritten after a resume.
    private func writeSummary(_ name: String, _ values: [Double], baseline: String? = nil) throws {
        let dataset = "/summary/" + name
        guard !file.exists(dataset) else {
            try file.writeBlock(values, to: dataset, start: [0, 0], count: [policyCount, timeCount])
            return
        }
        try file.write(HDF5Array(values: values, shape: [policyCount, timeCount]), to: dataset)
        try file.attachDimensionScale("/policy", name: "policy", to: [(dataset, 0)])
        try file.attachDimensionScale("/time", name: "time", to: [(dataset, 1)])
        if let baseline { try file.setAttribute("baseline", baseline, on: dataset) }
    }

    /// Per (policy, time) statistics of `accuracy[i, policy, t] − accuracy[i, 0, t]` over instances.
    static func pairedDifferences(accuracy: [Float], instances: Int, policies: Int, times: Int) -> [[SummaryStatistics]] {
        summarizeCells(instances: instances, policies: policies, times: times, threshold: 0) { instance, policy, time in
            let base = instance * policies * times
            return Double(accuracy[base + policy * times + time]) - Double(accuracy[base + time])
        }
    }

    /// Per (policy, time) statistics of `[instance, policy, time]` accuracies.
    static func summaries(accuracy: [Float], instances: Int, policies: Int, times: Int,
                          threshold: Double) -> [[SummaryStatistics]] {
        summarizeCells(instances: instances, policies: policies, times: times, threshold: threshold) { instance, policy, time in
            Double(accuracy[(instance * policies + policy) * times + time])
        }
    }

    /// Summaries per (policy, time) of `value(instance, policy, time)` over the instances that have one.
    private static func summarizeCells(instances: Int, policies: Int, times: Int, threshold: Double,
                                       _ value: (Int, Int, Int) -> Double) -> [[SummaryStatistics]] {
        (0..<policies).map { policy in
            (0..<times).map { time in
                let values = (0..<instances).map { value($0, policy, time) }.filter { !$0.isNaN }
                return Statistics.summarize(values, threshold: threshold)
            }
        }
    }
}
