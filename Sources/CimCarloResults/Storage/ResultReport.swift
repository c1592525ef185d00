import CimCarloSimulation
import Foundation

/// The summary of a result file, read back for `cimcarlo report`.
public struct ResultReport: Sendable {
    public var path: String
    /// "complete", "partial", or "running" for a partial file whose run holds its lock now.
    public var status: String
    public var instancesCompleted: Int
    public var instancesRequested: Int
    public var accuracyThreshold: Double
    public var policies: [String]
    public var budgets: [Double]
    public var timesSeconds: [Double]
    /// The shard the file holds, nil for a whole study.
    public var shard: Shard?
    /// Why a sequential run stopped, when it did.
    public var stoppingReason: String?
    /// How read noise was drawn: `none`, `per-chip` or `per-read`.
    public var readNoise: String
    /// Statistics over the completed plain instances.
    public var summary: StudySummary
    /// Scaled-sigma sampling's chips and estimates `[policy][time]`, for a study with a tail.
    public var tailPlan: TailPlan?
    public var tail: [[ScaledSigmaEstimate]]?

    /// Reads a result or shard file (complete, partial or being written; statistics cover the
    /// completed instances).
    public init(path: String) throws {
        let paths = ResultPaths(of: path)
        var file: ResultFile
        var tries = 0
        while true {
            do {
                file = try ResultFile.open(path: path)
                break
            } catch let error as ResultFileError {
                // A run holding the lock may be creating or reopening the file for an instant.
                tries += 1
                guard tries < 20, ResultLock.isHeld(paths) else { throw error }
                usleep(100_000)
            }
        }
        self.path = path
        status = try file.status()
        if status == "partial" && ResultLock.isHeld(paths) { status = "running" }
        instancesCompleted = file.completedCount
        // The rows the file holds: the plan's instances, a shard's, or those up to sequential
        // stopping's present checkpoint.
        instancesRequested = file.instances.count
        accuracyThreshold = file.plan.accuracyThreshold
        policies = file.plan.policyLabels
        budgets = file.plan.policyBudgets
        timesSeconds = file.plan.timesSeconds
        shard = file.shard
        stoppingReason = try file.stoppingReason()
        readNoise = file.plan.readNoise
        let results = try file.results()
        summary = file.plan.summary(of: results)
        tail = file.plan.tailEstimates(of: results)
        tailPlan = file.plan.tail
    }

    public var meanWriteCycles: [Double] { summary.meanWriteCycles }

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
        func percent(_ value: Double) -> String { value.isNaN ? "…" : String(format: "%.2f", 100 * value) }
        // A quantile with its interval; "…" for a side the chips cannot bound.
        func kpp(_ q: SummaryStatistics.Quantile) -> String {
            q.value.isNaN && q.low.isNaN && q.high.isNaN
                ? "-" : "\(percent(q.value)) (\(percent(q.low))–\(percent(q.high)))"
        }
        let header = [
            ("policy", 14), ("time", 8), ("mean %", 8), ("95% CI", 15), ("std", 6), ("p50", 7), ("p10 (95% CI)", 21),
            ("p01 (95% CI)", 21), ("yield (95% CI)", 21), ("Δ vs \(policies[0]) (95% CI)", 24), ("cycles", 11),
            ("speed-up", 9),
        ]
        let held = shard.map { "shard \($0), " } ?? ""
        var lines = [
            "\(path): \(held)\(status), \(instancesCompleted) of \(instancesRequested) instances; yield at accuracy ≥ \(percent(accuracyThreshold)) %; read noise \(readNoise)",
            header.map { cell($0.0, $0.1) }.joined(separator: " "),
        ]
        let speedUps = speedUpVersusAll
        for (policyIndex, policy) in policies.enumerated() {
            for (timeIndex, time) in timesSeconds.enumerated() {
                let s = summary.cells[policyIndex][timeIndex]
                let values = [
                    policy, Self.formatTime(time), percent(s.mean), "\(percent(s.ci95Low))–\(percent(s.ci95High))",
                    percent(s.std), percent(s.p50), kpp(s.quantile(0.1)), kpp(s.quantile(0.01)),
                    String(format: "%.3f (%.3f–%.3f)", s.yield, s.yieldLow, s.yieldHigh),
                    policyIndex == 0
                        ? "-"
                        : {
                            let d = summary.differences[policyIndex][timeIndex]
                            return String(
                                format: "%+.2f (%+.2f–%+.2f)", 100 * d.mean, 100 * d.ci95Low, 100 * d.ci95High)
                        }(),
                    String(format: "%.4g", meanWriteCycles[policyIndex]),
                    speedUps[policyIndex].map { String(format: "%.2fx", $0) } ?? "-",
                ]
                lines.append(zip(values, header).map { cell($0, $1.1) }.joined(separator: " "))
            }
        }
        if instancesCompleted == 0 {
            lines.removeLast()
            lines.append("no instance is complete yet: nothing to summarise")
            return lines.joined(separator: "\n")
        }
        if let stoppingReason { lines.append("sequential stopping: " + stoppingReason) }
        lines += tailLines()
        return lines.joined(separator: "\n")
    }

    /// A number like 3.1 × 10⁻⁵.
    static func scientific(_ value: Double) -> String {
        guard value.isFinite, value > 0 else { return value == 0 ? "0" : "–" }
        let exponent = Int(log10(value).rounded(.down))
        let mantissa = value / pow(10, Double(exponent))
        let superscripts: [Character: Character] = [
            "-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸",
            "9": "⁹",
        ]
        if (-2...2).contains(exponent) { return String(format: "%.2g", value) }
        return String(format: "%.2g", mantissa) + " × 10" + String(String(exponent).map { superscripts[$0]! })
    }

    /// One line per (policy, time) of a study with a tail: scaled-sigma sampling's estimate of
    /// P(accuracy < threshold) and its CI, with the plain chips' count beside it.
    public func tailLines() -> [String] {
        guard let tail, let tailPlan else { return [] }
        let threshold = String(format: "%.2f", 100 * accuracyThreshold)
        var lines = [
            "tail: scaled-sigma sampling, scales \(tailPlan.scales.map { String(format: "%g", $0) }.joined(separator: ", ")) × \(tailPlan.chipsPerScale) chips"
                + (tailPlan.choice.map { " (" + $0 + ")" } ?? "")
        ]
        for (policyIndex, policy) in policies.enumerated() {
            for (timeIndex, time) in timesSeconds.enumerated() {
                let e = tail[policyIndex][timeIndex]
                let failures = zip(e.failures, e.chips).map { "\($0)/\($1)" }.joined(separator: ", ")
                let estimate =
                    e.probability.isNaN
                    ? "no estimate: fewer than three scales with some but not all chips failing (failures \(failures))"
                    : "≈ \(Self.scientific(e.probability)) (95 % CI \(Self.scientific(e.low))–\(Self.scientific(e.high))), failures per scale \(failures)"
                let plain = summary.cells[policyIndex][timeIndex]
                let plainFailures = plain.count - Int((plain.yield * Double(plain.count)).rounded())
                let plainText =
                    plain.count > 0
                    ? "; plain Monte-Carlo \(plainFailures) of \(plain.count) (\(Self.scientific(1 - plain.yieldHigh))–\(Self.scientific(1 - plain.yieldLow)))"
                    : ""
                lines.append(
                    "  \(policy) @ \(Self.formatTime(time)): P(accuracy < \(threshold) %) \(estimate)\(plainText)")
            }
        }
        return lines
    }

    /// The report as a JSON object (fractions, not percentages; null for a value that does not
    /// exist, e.g. a standard deviation of one instance's accuracy). A file with no completed
    /// instance has no rows, and says so in `note`.
    public func json() throws -> String {
        // JSON has no NaN or infinity.
        func number(_ value: Double) -> Any { value.isFinite ? value : NSNull() }
        var rows: [[String: Any]] = []
        for (policyIndex, policy) in policies.enumerated() where instancesCompleted > 0 {
            for (timeIndex, time) in timesSeconds.enumerated() {
                var row: [String: Any] = [
                    "policy": policy, "budget": number(budgets[policyIndex]), "time_s": time,
                    "mean_write_cycles": number(meanWriteCycles[policyIndex]),
                    "mean_programming_time_s": number(summary.meanProgrammingTimeSeconds[policyIndex]),
                    "count": summary.cells[policyIndex][timeIndex].count,
                ]
                for (name, value) in summary.cells[policyIndex][timeIndex].named { row[name] = number(value) }
                if policyIndex > 0 {
                    let d = summary.differences[policyIndex][timeIndex]
                    row["diff_vs"] = policies[0]
                    row["diff_mean"] = number(d.mean)
                    row["diff_ci95_low"] = number(d.ci95Low)
                    row["diff_ci95_high"] = number(d.ci95High)
                }
                if let speedUp = speedUpVersusAll[policyIndex], speedUp.isFinite { row["speed_up_vs_all"] = speedUp }
                if let e = tail?[policyIndex][timeIndex] {
                    row["tail_p_fail"] = number(e.probability)
                    row["tail_p_fail_low"] = number(e.low)
                    row["tail_p_fail_high"] = number(e.high)
                    row["tail_failures"] = e.failures
                    row["tail_chips"] = e.chips
                }
                rows.append(row)
            }
        }
        var object: [String: Any] = [
            "file": path, "status": status, "read_noise": readNoise, "instances_completed": instancesCompleted,
            "instances_requested": instancesRequested, "accuracy_threshold": accuracyThreshold,
            "rows": rows,
        ]
        if let shard { object["shard"] = shard.description }
        if let tailPlan {
            object["tail_scales"] = tailPlan.scales
            if let choice = tailPlan.choice { object["tail_scales_chosen"] = choice }
        }
        if let stoppingReason { object["stopping_reason"] = stoppingReason }
        if instancesCompleted == 0 { object["note"] = "\(path): no instance is complete yet: nothing to summarise" }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// One line per swept run and (policy, time): mean accuracy with its CI and the yield.
    public static func sweepTable(_ runs: [(label: String, report: ResultReport)]) -> String {
        var lines = ["sweep summary: mean accuracy % (95% CI), yield"]
        for (label, report) in runs {
            for (policyIndex, policy) in report.policies.enumerated() {
                for (timeIndex, time) in report.timesSeconds.enumerated() {
                    let s = report.summary.cells[policyIndex][timeIndex]
                    lines.append(
                        String(
                            format: "%@  %@ @ %@  %.2f (%.2f–%.2f)  %.3f", label, policy, formatTime(time),
                            100 * s.mean, 100 * s.ci95Low, 100 * s.ci95High, s.yield))
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
