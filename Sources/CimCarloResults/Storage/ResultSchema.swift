import CimCarloSimulation
import CimCarloSupport
import Foundation

/// The per-instance datasets of a result file as one table, which creating, recording, reading
/// back, extending and merging a `ResultFile` all iterate (README, "Result file format").
///
/// `cimcarlo schema` prints it as JSON; `analysis/result_schema.json` holds that JSON for
/// `analysis/validate_result.py`. Adding a dataset is one entry in `perInstance` (and the JSON
/// regenerated).
public enum ResultSchema {
    /// An axis of the per-instance datasets; each is the dimension scale of the same name
    /// (`/instance`, `/policy`, `/time`).
    public enum Dimension: String, Sendable, Encodable, CaseIterable {
        case instance, policy, time
    }

    /// One per-instance dataset, `[instance, …]`: a row per chip instance, which reads as its
    /// fill value (NaN, or 0) until the instance is recorded.
    public struct Dataset: Sendable {
        public let name: String
        /// Its axes, `.instance` first.
        public let dimensions: [Dimension]
        /// The stored element type by its NumPy name, e.g. "float32".
        public let type: String
        /// What it holds, with units.
        public let meaning: String
        /// The values a run can write in a completed row; reading a file refuses any other (a
        /// NaN, say), naming the row.
        public let allowed: ClosedRange<Double>?
        /// Set for a dataset that exists only when the plan has a value (the device model's
        /// energy per pulse), which the dataset carries as the attribute of this name.
        let onlyWith: (attribute: String, value: @Sendable (StudyPlan) -> Double?)?
        // The dataset's element type, hidden in closures over `path`.
        private let makeDataset: @Sendable (HDF5File, _ shape: [Int], _ chunkRows: Int) throws -> Void
        private let writeRows:
            (@Sendable (HDF5File, [InstanceResult], StudyPlan, _ start: [Int], _ count: [Int]) throws -> Void)?
        private let readRows: (@Sendable (HDF5File, _ rowShape: [Int], inout [InstanceResult?]) throws -> Void)?

        /// A dataset of `Element`s whose row for an instance is `row(result, plan)` (row-major
        /// over `dimensions` after the first), put back into a result by `restore`. Without
        /// `row`, `ResultFile` writes it; without `restore`, reading a file skips it.
        init<Element: HDF5Element>(
            _ name: String, _ dimensions: [Dimension], fill: Element, meaning: String,
            allowed: ClosedRange<Double>? = nil,
            onlyWith: (attribute: String, value: @Sendable (StudyPlan) -> Double?)? = nil,
            row: (@Sendable (InstanceResult, StudyPlan) -> [Element])?,
            restore: (@Sendable (inout InstanceResult, ArraySlice<Element>, _ rowShape: [Int]) -> Void)? = nil
        ) {
            precondition(dimensions.first == .instance, "a per-instance dataset has a row per instance")
            self.name = name
            self.dimensions = dimensions
            type = Element.typeName
            self.meaning = meaning
            self.allowed = allowed
            self.onlyWith = onlyWith
            let path = "/" + name
            makeDataset = { file, shape, chunkRows in
                try file.createDataset(path, shape: shape, fill: fill, growingRows: chunkRows)
            }
            if let row {
                writeRows = { file, results, plan, start, count in
                    try file.writeBlock(results.flatMap { row($0, plan) }, to: path, start: start, count: count)
                }
            } else {
                writeRows = nil
            }
            if let restore {
                readRows = { file, rowShape, results in
                    let values = try file.read(path, as: Element.self).values
                    let size = rowShape.reduce(1, *)
                    for index in results.indices where results[index] != nil {
                        let row = values[index * size..<(index + 1) * size]
                        if let allowed, let bad = row.first(where: { !allowed.contains($0.doubleValue) }) {
                            throw ResultFileError(
                                path: file.path,
                                reason:
                                    "damaged result file: `\(path)` row \(index) (instance \(results[index]!.instance)) holds \(bad), which no run writes (allowed: \(Dataset.describe(allowed)))"
                            )
                        }
                        restore(&results[index]!, row, rowShape)
                    }
                }
            } else {
                readRows = nil
            }
        }

        /// The dataset's path in the file.
        public var path: String { "/" + name }

        /// `allowed` for people: "0 to 1", "finite, at least 0".
        static func describe(_ allowed: ClosedRange<Double>) -> String {
            allowed.upperBound == .greatestFiniteMagnitude
                ? "finite, at least \(allowed.lowerBound.formatted())"
                : "\(allowed.lowerBound.formatted()) to \(allowed.upperBound.formatted())"
        }

        /// Whether a file of `plan` has this dataset.
        public func exists(for plan: StudyPlan) -> Bool { onlyWith.map { $0.value(plan) != nil } ?? true }

        /// The dataset's shape in a file of `plan` with `rows` instances.
        public func shape(rows: Int, plan: StudyPlan) -> [Int] {
            dimensions.map { dimension in
                switch dimension {
                case .instance: rows
                case .policy: plan.policyLabels.count
                case .time: plan.timesSeconds.count
                }
            }
        }

        /// Creates it in `file` for `rows` instances of `plan` (with its `onlyWith` attribute).
        func create(in file: HDF5File, rows: Int, plan: StudyPlan, chunkRows: Int) throws {
            try makeDataset(file, shape(rows: rows, plan: plan), chunkRows)
            if let (attribute, value) = onlyWith, let value = value(plan) {
                try file.setAttribute(attribute, value, on: path)
            }
        }

        /// Writes the rows of `results` into rows `start…` of `file` (nothing for `/completed`).
        func write(_ results: [InstanceResult], at start: Int, plan: StudyPlan, in file: HDF5File) throws {
            let count = shape(rows: results.count, plan: plan)
            try writeRows?(file, results, plan, [start] + count.dropFirst().map { _ in 0 }, count)
        }

        /// Reads the dataset back into the non-nil elements of `results`, one per row of the file.
        func read(from file: HDF5File, plan: StudyPlan, into results: inout [InstanceResult?]) throws {
            guard let readRows else { return }
            let shape = shape(rows: results.count, plan: plan)
            guard try file.shape(of: path) == shape else {
                throw ResultFileError(
                    path: file.path, reason: "damaged result file (`\(path)` disagrees with `/instance`)")
            }
            try readRows(file, Array(shape.dropFirst()), &results)
        }
    }

    /// Every per-instance dataset, in the order a result file creates them (part of the format).
    public static let perInstance: [Dataset] = [
        .byPolicyAndTime("accuracy", \.accuracy, meaning: "top-1 accuracy, fraction", allowed: 0...1),
        .byPolicyAndTime("loss", \.loss, meaning: "mean cross-entropy, nats", allowed: 0...nonNegative),
        .byPolicy("write_cycles", \.writeCycles, meaning: "programming pulses, all devices", allowed: 0...nonNegative),
        .byPolicy(
            "programming_time_s", \.programmingTimeSeconds, meaning: "write_cycles × pulse_time_s, seconds",
            allowed: 0...nonNegative),
        Dataset("completed", [.instance], fill: UInt8(0), meaning: "1 once the instance's rows are written", row: nil),
        Dataset(
            "programming_energy_j", [.instance, .policy], fill: Double.nan,
            meaning: "write_cycles × energy_per_pulse_j, joules (when the device model gives it)",
            allowed: 0...nonNegative, onlyWith: ("energy_per_pulse_j", { $0.energyPerPulseJoules }),
            // Written only for plans with an energy per pulse.
            row: { result, plan in result.writeCycles.map { $0 * plan.energyPerPulseJoules! } }),
    ]

    /// The upper end of a range of finite values of at least 0.
    private static let nonNegative = Double.greatestFiniteMagnitude

    /// The per-instance datasets a file of `plan` has, in order of creation.
    public static func perInstance(for plan: StudyPlan) -> [Dataset] { perInstance.filter { $0.exists(for: plan) } }

    /// The table as JSON, keys sorted: what `cimcarlo schema` prints and
    /// `analysis/result_schema.json` holds.
    public static func json() throws -> String {
        struct Entry: Encodable {
            var name: String
            var dimensions: [Dimension]
            var type: String
            var meaning: String
            /// The range of a completed row's values, when the format limits it; an upper end of
            /// null means any finite value.
            var allowed: [Double?]?
            var onlyWithAttribute: String?
        }
        struct Schema: Encodable {
            var format = ResultFile.format
            var formatVersion = ResultFile.formatVersion
            var perInstance: [Entry]
        }
        let schema = Schema(
            perInstance: perInstance.map {
                Entry(
                    name: $0.name, dimensions: $0.dimensions, type: $0.type, meaning: $0.meaning,
                    allowed: $0.allowed.map { [$0.lowerBound, $0.upperBound == nonNegative ? nil : $0.upperBound] },
                    onlyWithAttribute: $0.onlyWith?.attribute)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(schema), as: UTF8.self) + "\n"
    }
}

extension ResultSchema.Dataset {
    /// A `[instance, policy, time]` dataset holding a result's `[policy][time]` table at `keyPath`.
    static func byPolicyAndTime(
        _ name: String, _ keyPath: WritableKeyPath<InstanceResult, [[Float]]> & Sendable, meaning: String,
        allowed: ClosedRange<Double>
    ) -> Self {
        Self(
            name, [.instance, .policy, .time], fill: Float.nan, meaning: meaning, allowed: allowed,
            row: { result, _ in Array(result[keyPath: keyPath].joined()) },
            restore: { result, row, shape in
                result[keyPath: keyPath] = (0..<shape[0]).map { policy in
                    Array(row.dropFirst(policy * shape[1]).prefix(shape[1]))
                }
            })
    }

    /// A `[instance, policy]` dataset holding a result's per-policy values at `keyPath`.
    static func byPolicy(
        _ name: String, _ keyPath: WritableKeyPath<InstanceResult, [Double]> & Sendable, meaning: String,
        allowed: ClosedRange<Double>
    ) -> Self {
        Self(
            name, [.instance, .policy], fill: Double.nan, meaning: meaning, allowed: allowed,
            row: { result, _ in result[keyPath: keyPath] },
            restore: { result, row, _ in result[keyPath: keyPath] = Array(row) })
    }
}
