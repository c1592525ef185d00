import Foundation

/// The summary of a result file, read back for `cimcarlo report`.
public struct ResultReport: Sendable {
    public var path: String
    public var status: String
    public var instancesCompleted: Int
    public var instancesRequested: Int
    public var accuracyThreshold: Double
    public var policies: [String]
    public var budgets: [Double]
    public var timesSeconds: [Double]
    /// `[policy][time]`, over the completed instances.
    public var summaries: [[SummaryStatistics]]
    /// `[policy][time]`: accuracy minus the first policy's on the same chips.
    public var differences: [[SummaryStatistics]]
    /// Mean programming pulses per chip, per policy.
    public var meanWriteCycles: [Double]
    /// Mean programming time per chip, seconds, per policy.
    public var meanProgrammingTimeSeconds: [Double]

    /// Reads a result file (complete or partial; statistics cover the completed instances).
    public init(path: String) throws {
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw ResultFileError(path: path, reason: "cannot \(error.operation)")
        }
        guard (try? file.stringAttribute("format")) == ResultFile.format else {
            throw ResultFileError(path: path, reason: "not a cimcarlo result file (attribute `format` must be \"\(ResultFile.format)\")")
        }
        do {
            self.path = path
            status = try file.stringAttribute("status")
            instancesCompleted = Int(try file.scalarAttribute("instances_completed", as: Int64.self))
            instancesRequested = Int(try file.scalarAttribute("instances_requested", as: Int64.self))
            accuracyThreshold = try file.scalarAttribute("accuracy_threshold", as: Double.self)
            policies = try file.readStrings("/policy")
            budgets = try file.read("/policy_budget", as: Double.self).values
            timesSeconds = try file.read("/time", as: Double.self).values
            let accuracy = try file.read("/accuracy", as: Float.self).values
            summaries = ResultFile.summaries(accuracy: accuracy, instances: instancesRequested, policies: policies.count,
                                             times: timesSeconds.count, threshold: accuracyThreshold)
            differences = ResultFile.pairedDifferences(accuracy: accuracy, instances: instancesRequested,
                                                       policies: policies.count, times: timesSeconds.count)
            let cycles = try file.read("/write_cycles", as: Double.self).values
            let times = try file.read("/programming_time_s", as: Double.self).values
            let policyCount = policies.count
            func columnMeans(_ values: [Double]) -> [Double] {
                (0..<policyCount).map { policy in
                    let column = stride(from: policy, to: values.count, by: policyCount).map { values[$0] }.filter { !$0.isNaN }
                    return column.isEmpty ? .nan : column.reduce(0, +) / Double(column.count)
                }
            }
            meanWriteCycles = columnMeans(cycles)
            meanProgrammingTimeSeconds = columnMeans(times)
        } catch let error as HDF5Error {
            throw ResultFileError(path: path, reason: "damaged result file (cannot \(error.operation))")
        }
    }

    /// Programming speed-up of each policy against verifying every device (`all`), when the
    /// run included `all`.
    public var speedUpVersusAll: [Double?] {
        guard let all = policies.firstIndex(of: "all") else { return policies.map { _ in nil } }
        return meanWriteCycles.map { $0 > 0 ? meanWriteCycles[all] / $0 : nil }
    }

    /// A human-readable time, e.g. `1 s`, `1 h`, `30 d`.
    public static func formatTime(_ seconds: Double) -> String {
        let units: [(Double, String)] = [(86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s")]
        for (size, unit) in units where seconds >= size {
            let value = seconds / size
            return value == value.rounded() ? "\(Int(value)) \(unit)" : String(format: "%.3g %@", value, unit)
        }
        return seconds == 0 ? "0 s" : String(format: "%.3g s", seconds)
    }

    /// The summary table, one row per (policy, time); accuracies in percent.
    public func table() -> String {
        func cell(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        func percent(_ value: Double) -> String { String(format: "%.2f", 100 * value) }
        let header = [("policy", 14), ("time", 8), ("mean %", 8), ("95% CI", 15), ("std", 6), ("p01", 7), ("p05", 7),
                      ("p50", 7), ("yield (95% CI)", 21), ("Δ vs \(policies[0]) (95% CI)", 24), ("cycles", 11), ("speed-up", 9)]
        var lines = [
            "\(path): \(status), \(instancesCompleted) of \(instancesRequested) instances; yield at accuracy ≥ \(percent(accuracyThreshold)) %",
            header.map { cell($0.0, $0.1) }.joined(separator: " "),
        ]
        let speedUps = speedUpVersusAll
        for (policyIndex, policy) in policies.enumerated() {
            for (timeIndex, time) in timesSeconds.enumerated() {
                let s = summaries[policyIndex][timeIndex]
                let values = [
                    policy, Self.formatTime(time), percent(s.mean), "\(percent(s.ci95Low))–\(percent(s.ci95High))",
                    percent(s.std), percent(s.p01), percent(s.p05), percent(s.p50),
                    String(format: "%.3f (%.3f–%.3f)", s.yield, s.yieldLow, s.yieldHigh),
                    policyIndex == 0 ? "-" : {
                        let d = differences[policyIndex][timeIndex]
                        return String(format: "%+.2f (%+.2f–%+.2f)", 100 * d.mean, 100 * d.ci95Low, 100 * d.ci95High)
                    }(),
                    String(format: "%.4g", meanWriteCycles[policyIndex]),
                    speedUps[policyIndex].map { String(format: "%.2fx", $0) } ?? "-",
                ]
                lines.append(zip(values, header).map { cell($0, $1.1) }.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The report as a JSON object (fractions, not percentages).
    public func json() throws -> String {
        var rows: [[String: Any]] = []
        for (policyIndex, policy) in policies.enumerated() {
            for (timeIndex, time) in timesSeconds.enumerated() {
                var row: [String: Any] = ["policy": policy, "budget": budgets[policyIndex], "time_s": time,
                                          "mean_write_cycles": meanWriteCycles[policyIndex],
                                          "mean_programming_time_s": meanProgrammingTimeSeconds[policyIndex],
                                          "count": summaries[policyIndex][timeIndex].count]
                for (name, value) in summaries[policyIndex][timeIndex].named { row[name] = value.isFinite ? value : nil }
                if policyIndex > 0 {
                    let d = differences[policyIndex][timeIndex]
                    row["diff_vs"] = policies[0]
                    row["diff_mean"] = d.mean
                    row["diff_ci95_low"] = d.ci95Low
                    row["diff_ci95_high"] = d.ci95High
                }
                if let speedUp = speedUpVersusAll[policyIndex] { row["speed_up_vs_all"] = speedUp }
                rows.append(row)
            }
        }
        let object: [String: Any] = ["file": path, "status": status, "instances_completed": instancesCompleted,
                                     "instances_requested": instancesRequested, "accuracy_threshold": accuracyThreshold,
                                     "rows": rows]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
