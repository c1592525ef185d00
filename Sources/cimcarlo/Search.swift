import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find the smallest write-verify budget of a policy that reaches an accuracy target.",
            discussion: """
                Bisects the budget (fraction of weights verified) with a Monte-Carlo estimate at each step, \
                on the spec's model, dataset, device model and mapping, at the spec's last time point. \
                Every step simulates the same chips. Give exactly one of --target-mean and --target-yield \
                (yield at the spec's accuracy_threshold).

                Example: cimcarlo search runs/swim-study.toml --policy swim --target-mean 0.88 --instances 50
                """)

        @Argument(help: ArgumentHelp("Run spec (TOML).", valueName: "spec.toml"))
        var spec: String

        @Option(help: "Policy kind: random, magnitude, gradient, swim or variance.")
        var policy: String

        @Option(help: ArgumentHelp("Target mean accuracy, a fraction (e.g. 0.88).", valueName: "fraction"))
        var targetMean: Double?

        @Option(help: ArgumentHelp("Target yield at the spec's accuracy threshold, a fraction.", valueName: "fraction"))
        var targetYield: Double?

        @Option(help: ArgumentHelp("Chip instances per step (default: the spec's `instances`).", valueName: "N"))
        var instances: Int?

        @Option(
            help: ArgumentHelp(
                "Stop when the budget is known to within this fraction of weights.", valueName: "fraction"))
        var resolution: Double = 1.0 / 256

        @OptionGroup var parallelism: ThreadOptions

        func validate() throws {
            guard let kind = WriteVerifyPolicy.Kind(rawValue: policy), kind.isBudgeted else {
                throw ValidationError(
                    "--policy must be one of random, magnitude, gradient, swim, variance; got \(policy)")
            }
            guard (targetMean == nil) != (targetYield == nil) else {
                throw ValidationError("give exactly one of --target-mean and --target-yield")
            }
            for target in [targetMean, targetYield].compactMap({ $0 }) where !(0...1).contains(target) {
                throw ValidationError("targets are fractions from 0 to 1, got \(target)")
            }
            if let instances, instances < 1 {
                throw ValidationError("--instances must be at least 1, got \(instances)")
            }
            guard resolution > 0 && resolution < 1 else {
                throw ValidationError("--resolution must be between 0 and 1")
            }
        }

        func run() throws {
            try reportingErrors {
                let runSpec = try RunSpec.load(path: spec)
                let kind = WriteVerifyPolicy.Kind(rawValue: policy)!
                let study = try readingInputs("the inputs of \(spec)") { try Study(spec: runSpec.searching(kind)) }
                let target: BudgetSearch.Target = targetMean.map { .mean($0) } ?? .yield(targetYield!)
                let count = instances ?? runSpec.instances
                emit(
                    "searching \(kind.rawValue) for \(target) at t = \(ResultReport.formatTime(runSpec.timesSeconds.last!)), \(count) chips per step"
                )
                let (answer, _) = try BudgetSearch(study: study, kind: kind, target: target, resolution: resolution)
                    .run(instances: count, threads: parallelism.workerThreads) { step in
                        let s = step.summary
                        emit(
                            String(
                                format:
                                    "  budget %.4f  mean %.2f %% (95%% CI %.2f–%.2f)  yield %.3f (%.3f–%.3f)  cycles %.4g  %@",
                                step.verifiedFraction, 100 * s.mean, 100 * s.ci95Low, 100 * s.ci95High,
                                s.yield, s.yieldLow, s.yieldHigh, step.meanWriteCycles,
                                step.reached ? "reached" : "not reached"))
                    }
                guard let answer else {
                    print("not reachable: even verifying every weight misses \(target)")
                    throw ExitCode(ExitStatus.runtimeFailure)
                }
                let s = answer.summary
                print(
                    String(
                        format:
                            "smallest budget: %.4f of weights (mean %.2f %%, 95%% CI %.2f–%.2f; yield %.3f, 95%% CI %.3f–%.3f)",
                        answer.verifiedFraction, 100 * s.mean, 100 * s.ci95Low, 100 * s.ci95High,
                        s.yield, s.yieldLow, s.yieldHigh))
            }
        }
    }
}
