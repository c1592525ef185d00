import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a Monte-Carlo study from a run spec and write its HDF5 result.",
            discussion: """
                Samples chip instances with the spec's device model, evaluates every write-verify policy at \
                every time point on the test set, writes each instance to the result file as it completes, \
                and prints the summary table. Progress (instances, rate, ETA, running mean ± 95 % CI) goes to stderr.

                Example: cimcarlo run runs/quickstart.toml --instances 50 --output /tmp/quick.h5
                """)

        @Argument(help: ArgumentHelp("Run spec (TOML).", valueName: "spec.toml"))
        var spec: String

        @Option(help: ArgumentHelp("Result file (default: the spec's `output`).", valueName: "file.h5"))
        var output: String?

        @Option(help: ArgumentHelp("Number of chip instances (default: the spec's `instances`).", valueName: "N"))
        var instances: Int?

        @OptionGroup var parallelism: ThreadOptions

        @Option(help: ArgumentHelp("Random seed (default: the spec's `seed`).", valueName: "S"))
        var seed: UInt64?

        @Flag(help: "Overwrite an existing result file.")
        var force = false

        @Flag(help: "Complete a partial result file left by an interrupted run.")
        var resume = false

        @Flag(help: "No progress line on stderr.")
        var quiet = false

        func validate() throws {
            if let instances, instances < 1 { throw ValidationError("--instances must be at least 1, got \(instances)") }
            guard !(force && resume) else { throw ValidationError("--force and --resume exclude each other") }
        }

        func run() throws {
            try reportingErrors {
                let runSpec = try RunSpec.load(path: spec)
                let runs = runSpec.expanded()
                let stop = StopRequest()
                var finished: [(label: String, report: ResultReport)] = []
                for (label, variant) in runs {
                    if runs.count > 1 { emit("== \(label)") }
                    let study = try readingInputs("the inputs of \(spec)") {
                        try Study(spec: variant, instances: instances, seed: seed)
                    }
                    let outputPath = output.map { runs.count > 1 ? Self.insert(label, into: $0) : $0 } ?? variant.outputPath
                    let label0 = "\(variant.policies[0])@\(ResultReport.formatTime(variant.timesSeconds[0]))"
                    let line = ProgressLine(enabled: !quiet, label: label0)
                    let started = Date()
                    do {
                        try study.run(output: outputPath, threads: parallelism.workerThreads, force: force, resume: resume,
                                      progress: { line.update($0) }, shouldStop: { stop.requested })
                    } catch let interrupted as StudyInterrupted {
                        line.finish()
                        var command = "cimcarlo run \(spec) --resume"
                        if let output { command += " --output \(output)" }
                        if let instances { command += " --instances \(instances)" }
                        if let seed { command += " --seed \(seed)" }
                        fail("\(interrupted); finish it with: \(command)", code: stop.exitCode)
                    }
                    line.finish()
                    let seconds = Date().timeIntervalSince(started)
                    let report = try ResultReport(path: outputPath)
                    emit(report.table())
                    emit(String(format: "wall time %.1f s, %.2f instances/s, %d threads", seconds,
                                Double(study.instances) / max(seconds, 1e-9), parallelism.workerThreads))
                    finished.append((label, report))
                }
                if runs.count > 1 { emit(Self.sweepTable(finished)) }
            }
        }

        /// `out/study.h5` with label `a-b` → `out/study-a-b.h5`.
        static func insert(_ label: String, into path: String) -> String {
            let stem = (path as NSString).deletingPathExtension
            let suffix = (path as NSString).pathExtension
            return stem + "-" + label + (suffix.isEmpty ? "" : "." + suffix)
        }

        /// One line per swept run and (policy, time): mean accuracy with its CI and the yield.
        static func sweepTable(_ runs: [(label: String, report: ResultReport)]) -> String {
            var lines = ["sweep summary: mean accuracy % (95% CI), yield"]
            for (label, report) in runs {
                for (policyIndex, policy) in report.policies.enumerated() {
                    for (timeIndex, time) in report.timesSeconds.enumerated() {
                        let s = report.summaries[policyIndex][timeIndex]
                        lines.append(String(format: "%@  %@ @ %@  %.2f (%.2f–%.2f)  %.3f", label, policy,
                                            ResultReport.formatTime(time), 100 * s.mean, 100 * s.ci95Low, 100 * s.ci95High, s.yield))
                    }
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}

/// SIGINT and SIGTERM ask the run to stop: instances in flight finish and are written, the
/// file is closed, and the process exits with 128 + the signal number. A second signal ends
/// the process at once (every instance already written stays in the file).
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var signalNumber: Int32 = 0
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.receive(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func receive(_ number: Int32) {
        let first = lock.withLock { () -> Bool in
            defer { if signalNumber == 0 { signalNumber = number } }
            return signalNumber == 0
        }
        if first {
            note("cimcarlo: stopping after the instances in flight (signal again to stop at once)")
        } else {
            Foundation.exit(128 + number)
        }
    }

    var requested: Bool { lock.withLock { signalNumber != 0 } }
    var exitCode: Int32 { lock.withLock { 128 + (signalNumber == 0 ? SIGINT : signalNumber) } }
}

/// The progress line on stderr: instances done, rate, ETA and the running mean ± 95 % CI.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast
    private var lastDecile = -1

    init(enabled: Bool, label: String) {
        self.enabled = enabled
        self.label = label
    }

    func update(_ progress: MonteCarloEngine.Progress) {
        guard enabled else { return }
        let now = Date()
        let decile = progress.done * 10 / max(progress.total, 1)
        let last = progress.done == progress.total
        if interactive {
            guard last || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        } else {
            guard decile != lastDecile || last else { return }
        }
        lastDraw = now
        lastDecile = decile
        let rate = Double(progress.done) / max(progress.elapsedSeconds, 1e-9)
        let remaining = Double(progress.total - progress.done) / max(rate, 1e-9)
        let width = 24
        let filled = progress.done * width / max(progress.total, 1)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = String(format: "[%@] %d/%d  %.2f inst/s  ETA %@  %@ %.2f ± %.2f %%", bar, progress.done, progress.total,
                          rate, Self.clock(remaining), label, 100 * progress.runningMean, 100 * progress.runningHalfWidth)
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + text + (interactive ? "" : "\n")).utf8))
    }

    func finish() {
        if enabled && interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
