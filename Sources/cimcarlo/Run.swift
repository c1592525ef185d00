import ArgumentParser
import CimCarlo
import Foundation
import Synchronization

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

        @Option(
            help: ArgumentHelp(
                "Use only the first N test images (default: the spec's `test_limit`, else all).", valueName: "N"))
        var testLimit: Int?

        @OptionGroup var parallelism: ThreadOptions

        @Option(help: ArgumentHelp("Random seed (default: the spec's `seed`).", valueName: "S"))
        var seed: UInt64?

        @Flag(
            help:
                "Replace an existing result file: the new one is written beside it (file.h5.replacing) and renamed over it once complete."
        )
        var force = false

        @Flag(help: "Complete a partial result file left by an interrupted run.")
        var resume = false

        @Flag(
            name: .customLong("continue"),
            help:
                "Resume the result file if it holds completed instances of this run, else start it afresh (what a Slurm array task does)."
        )
        var continueRun = false

        @Flag(help: "No progress line on stderr.")
        var quiet = false

        @Option(
            help: ArgumentHelp(
                "Run only shard k of N (instances i with i mod N = k) into the shard file next to the result, out/study.shard-k-of-N.h5; `cimcarlo merge` joins the shards.",
                valueName: "k/N"))
        var shard: String?

        @Option(
            help: ArgumentHelp(
                "Sequential stopping: simulate until every (policy, time) mean's 95 % CI half-width is at most W points of accuracy, checking at 16, 24, 32, 48, 64, … instances.",
                valueName: "W"))
        var targetCi: Double?

        @Option(help: ArgumentHelp("With --target-ci: the most instances to simulate (default 10000).", valueName: "N"))
        var maxInstances: Int?

        @Option(
            help: ArgumentHelp(
                "Scaled-sigma sampling: after the plain chips, simulate chips with every random deviation scaled by each of these factors (> 1), or by scales a pilot chooses (auto), and estimate P(accuracy < threshold) by extrapolating to 1 (default: the spec's [tail] scales).",
                valueName: "s,s,…"))
        var tailScales: String?

        @Option(
            help: ArgumentHelp(
                "Chips per tail scale (default: the spec's [tail] chips_per_scale, else 500).", valueName: "M"))
        var tailChips: Int?

        func validate() throws {
            if let instances, instances < 1 {
                throw ValidationError("--instances must be at least 1, got \(instances)")
            }
            if let testLimit, testLimit < 1 {
                throw ValidationError("--test-limit must be at least 1, got \(testLimit)")
            }
            guard [force, resume, continueRun].filter({ $0 }).count <= 1 else {
                throw ValidationError("--force, --resume and --continue exclude each other")
            }
            if let shard, Shard(parsing: shard) == nil {
                throw ValidationError("--shard must be k/N with 0 ≤ k < N, got \(shard)")
            }
            if let targetCi {
                guard targetCi > 0, targetCi.isFinite else {
                    throw ValidationError("--target-ci must be a positive number of accuracy points, got \(targetCi)")
                }
                guard instances == nil else {
                    throw ValidationError("--target-ci and --instances exclude each other (use --max-instances)")
                }
                guard shard == nil else { throw ValidationError("--target-ci and --shard exclude each other") }
            }
            if let tailScales {
                guard tailScales == "auto" || Self.scales(tailScales) != nil else {
                    throw ValidationError(
                        "--tail-scales must be distinct numbers > 1 separated by commas, got \(tailScales)")
                }
                guard targetCi == nil else { throw ValidationError("--tail-scales and --target-ci exclude each other") }
            }
            if let tailChips, tailChips < 10 {
                throw ValidationError("--tail-chips must be at least 10, got \(tailChips)")
            }
            if let maxInstances {
                guard targetCi != nil else { throw ValidationError("--max-instances needs --target-ci") }
                guard maxInstances >= 1 else {
                    throw ValidationError("--max-instances must be at least 1, got \(maxInstances)")
                }
            }
        }

        func run() throws {
            try reportingErrors {
                var runSpec = try RunSpec.load(path: spec)
                if let testLimit { runSpec.testLimit = testLimit }
                if tailScales == "auto" {
                    runSpec.tailScalesAutomatic = true
                    runSpec.tailScales = []
                } else if let scales = tailScales.flatMap(Self.scales) {
                    runSpec.tailScales = scales
                    runSpec.tailScalesAutomatic = false
                }
                if let tailChips { runSpec.tailChipsPerScale = tailChips }
                let runs = runSpec.expanded(output: output)
                let stop = StopRequest()
                let signalSources = stop.watchSignals()
                defer { withExtendedLifetime(signalSources) {} }
                let stopping: StudyPlan.Stopping = targetCi.map { .targetHalfWidth($0 / 100) } ?? .fixed
                let count = targetCi == nil ? instances : (maxInstances ?? 10_000)
                var finished: [(label: String, report: ResultReport)] = []
                for (label, variant) in runs {
                    if runs.count > 1 { emit("== \(label)") }
                    let commandStarted = Date()
                    var variant = variant
                    var pilotSeconds = 0.0
                    if variant.tailScalesAutomatic {
                        var plain = variant
                        plain.tailScalesAutomatic = false
                        let pilot = try readingInputs("the inputs of \(spec)") {
                            try Study(spec: plain, instances: count, seed: seed, stopping: stopping)
                        }
                        let started = Date()
                        (variant.tailScales, variant.tailScalesChoice) = try pilot.automaticTailScales(
                            threads: parallelism.workerThreads)
                        pilotSeconds = Date().timeIntervalSince(started)
                        note(
                            String(
                                format: "cimcarlo: tail scales %@ (%@; %.1f s)",
                                variant.tailScales.map { String(format: "%g", $0) }.joined(separator: ", "),
                                variant.tailScalesChoice!, pilotSeconds))
                    }
                    let study = try readingInputs("the inputs of \(spec)") {
                        try Study(spec: variant, instances: count, seed: seed, stopping: stopping)
                    }
                    if runSpec.batchNormalizationGiven, study.spec.mapping.batchNormalization == .digital,
                        !study.network.nodes.contains(where: { $0.operation is BatchNormalization })
                    {
                        note("cimcarlo: note: " + CrossbarMapping.exporterFoldedBatchNormalization)
                    }
                    let part = shard.flatMap(Shard.init(parsing:))
                    let path = part?.filePath(forResult: variant.outputPath) ?? variant.outputPath
                    let label0 = "\(variant.policies[0])@\(ResultReport.formatTime(variant.timesSeconds[0]))"
                    let line = ProgressLine(enabled: !quiet, label: label0)
                    let started = Date()
                    do {
                        try study.run(
                            output: variant.outputPath, threads: parallelism.workerThreads, shard: part,
                            start: start, progress: { line.update($0) },
                            shouldStop: { stop.requested })
                    } catch let interrupted as StudyInterrupted {
                        line.finish()
                        throw failure("\(interrupted); finish it with: \(resumeCommand)", code: stop.exitCode)
                    }
                    line.finish()
                    let seconds = Date().timeIntervalSince(started)
                    let report = try ResultReport(path: path)
                    emit(report.table())
                    let setUp = started.timeIntervalSince(commandStarted)
                    emit(
                        String(
                            format:
                                "wall time %.1f s: loading %.1f s, sensitivity pass %.1f s, %@chips and writing %.1f s (%.2f instances/s, %d threads)",
                            Date().timeIntervalSince(commandStarted), setUp - study.sensitivitySeconds - pilotSeconds,
                            study.sensitivitySeconds,
                            pilotSeconds > 0 ? String(format: "tail pilot %.1f s, ", pilotSeconds) : "", seconds,
                            Double(report.instancesCompleted) / max(seconds, 1e-9), parallelism.workerThreads))
                    finished.append((label, report))
                }
                if runs.count > 1 { emit(ResultReport.sweepTable(finished)) }
            }
        }

        /// "1.5,2,2.5" as distinct scales > 1, nil otherwise.
        static func scales(_ text: String) -> [Double]? {
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 1 && $0!.isFinite }),
                Set(values).count == values.count
            else { return nil }
            return values.map { $0! }
        }

        private var start: Study.Start {
            force ? .replacing : resume ? .resuming : continueRun ? .resumingOrStarting : .fresh
        }

        /// This command with `--resume`, to finish an interrupted run.
        private var resumeCommand: String {
            var command = "cimcarlo run \(spec) --resume"
            if let output { command += " --output \(output)" }
            if let instances { command += " --instances \(instances)" }
            if let seed { command += " --seed \(seed)" }
            if let shard { command += " --shard \(shard)" }
            if let targetCi { command += " --target-ci \(targetCi)" }
            if let tailScales { command += " --tail-scales \(tailScales)" }
            if let tailChips { command += " --tail-chips \(tailChips)" }
            if let maxInstances { command += " --max-instances \(maxInstances)" }
            return command
        }
    }
}

/// SIGINT and SIGTERM ask the run to stop: instances in flight finish and are written, the
/// file is closed, and the process exits with 128 + the signal number. A second signal ends
/// the process at once (every instance already written stays in the file).
final class StopRequest: Sendable {
    /// The first signal received, 0 for none.
    private let signalNumber = Mutex<Int32>(0)

    /// Starts watching SIGINT and SIGTERM; the watch lasts while the returned sources live.
    func watchSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { self.receive(number) }
            source.resume()
            return source
        }
    }

    private func receive(_ number: Int32) {
        let first = signalNumber.withLock { received in
            defer { if received == 0 { received = number } }
            return received == 0
        }
        if first {
            note("cimcarlo: stopping after the instances in flight (signal again to stop at once)")
        } else {
            Foundation.exit(128 + number)
        }
    }

    var requested: Bool { signalNumber.withLock { $0 != 0 } }
    var exitCode: Int32 { signalNumber.withLock { 128 + ($0 == 0 ? SIGINT : $0) } }
}

/// Called on the thread that runs the study only.
final class ProgressLine {
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
        let text = String(
            format: "[%@] %d/%d  %.2f inst/s  ETA %@  %@ %.2f ± %.2f %%", bar, progress.done, progress.total,
            rate, Self.clock(remaining), label, 100 * progress.runningMean, 100 * progress.runningHalfWidth)
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + text + (interactive ? "" : "\n")).utf8))
    }

    func finish() {
        if enabled && interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private static func clock(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let total = Int(seconds.rounded())
        return total >= 3600
            ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }
}
