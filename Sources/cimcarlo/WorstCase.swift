import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct WorstCase: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "worst-case",
            abstract: "Search for the weight deviations within K device sigmas that minimise accuracy.",
            discussion: """
                Projected gradient ascent on the cross-entropy, through the network's backward pass, over \
                per-weight deviations |δ_i| ≤ K σ_i of the mapped weights (σ_i: the weight's spread on an \
                unverified chip, one-shot programming plus device-to-device variation, from the spec's device \
                model and mapping; stuck-at faults, drift, read noise and the periphery are not part of it). \
                Prints the worst accuracy found at each K beside the unperturbed network's and the Monte-Carlo \
                p01 of the spec's result file, when it exists. The worst accuracy found is an upper bound on \
                the worst case within the bound, not a proof: a perturbation reaching it exists, a worse one \
                may too (Yan, Hu and Shi, ICCAD 2022).

                Example: cimcarlo worst-case runs/quickstart.toml --bound 1,2,3 --test-limit 2000
                """)

        @Argument(help: ArgumentHelp("Run spec (TOML).", valueName: "spec.toml"))
        var spec: String

        @Option(
            help: ArgumentHelp(
                "Bounds K in device sigmas per weight, comma-separated or repeated (default 1,2,3).",
                valueName: "K"))
        var bound: [String] = []

        @Option(
            help: ArgumentHelp(
                "Use only the first N test images (default: the spec's `test_limit`, else all).", valueName: "N"))
        var testLimit: Int?

        @Option(help: ArgumentHelp("Gradient steps per start.", valueName: "N"))
        var steps: Int = 40

        @Option(
            help: ArgumentHelp(
                "Starts: the first from the mapped weights, the others from random vertices of the box.",
                valueName: "N"))
        var starts: Int = 1

        @Option(help: ArgumentHelp("Random seed of the random starts (default: the spec's `seed`).", valueName: "S"))
        var seed: UInt64?

        @OptionGroup var parallelism: ThreadOptions

        /// The bounds asked for, in order.
        var bounds: [Double] {
            let values = bound.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            return values.isEmpty ? [1, 2, 3] : values.map { Double($0.trimmingCharacters(in: .whitespaces)) ?? .nan }
        }

        func validate() throws {
            let texts = bound.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            for (text, value) in zip(texts, bounds) where !(value.isFinite && value > 0) {
                throw ValidationError("--bound takes positive, finite numbers of device sigmas, got \(text)")
            }
            if let testLimit, testLimit < 1 {
                throw ValidationError("--test-limit must be at least 1, got \(testLimit)")
            }
            guard (1...10_000).contains(steps) else {
                throw ValidationError("--steps must be 1 to 10000, got \(steps)")
            }
            guard (1...1000).contains(starts) else {
                throw ValidationError("--starts must be 1 to 1000, got \(starts)")
            }
        }

        func run() throws {
            try reportingErrors {
                var runSpec = try RunSpec.load(path: spec)
                if let testLimit { runSpec.testLimit = testLimit }
                // One search per device model: the periphery a sweep varies is not part of it.
                let runs = runSpec.expanded()
                var deviceModels: [String] = []
                for (_, variant) in runs where !deviceModels.contains(variant.deviceModelPath) {
                    deviceModels.append(variant.deviceModelPath)
                }
                for deviceModel in deviceModels {
                    let variants = runs.filter { $0.spec.deviceModelPath == deviceModel }
                    try search(variants.map(\.spec), sweeping: deviceModels.count > 1)
                }
            }
        }

        /// Searches the first of `variants` (they differ only in their periphery) and prints
        /// the table, with the Monte-Carlo p01 of each variant's result file.
        private func search(_ variants: [RunSpec], sweeping: Bool) throws {
            var variant = variants[0]
            // The inputs as a study loads them, without the policies' selections.
            variant.policies = [WriteVerifyPolicy(kind: .none)]
            let study = try readingInputs("the inputs of \(spec)") { try Study(spec: variant) }
            let search = try WorstCaseSearch(
                network: study.network, mapping: study.mapping, device: study.device, images: study.test,
                steps: steps, starts: starts, threads: parallelism.workerThreads)
            if sweeping { emit("== \(study.device.name)") }
            emit(
                "worst-case search on \(spec): \(variant.modelPath) on \(study.device.name), \(study.test.count) test images, "
                    + "\(steps) steps × \(starts) start\(starts == 1 ? "" : "s")")
            emit(
                String(
                    format:
                        "σ per weight (one-shot programming + device-to-device; no stuck-at faults, drift, read noise or periphery): median %.4f × max|W| of its layer",
                    Self.medianRelativeSigma(search)))
            if variant.periphery.fidelity == .tile || study.device.irDrop != nil {
                emit(
                    "the spec's periphery (DAC, ADC, IR drop) is not part of the search, which perturbs effective weights"
                )
            }
            // A result file that is absent or holds no chip yet has no p01; one that cannot be read is an error.
            let reports = try variants.map { variant -> (String, ResultReport?) in
                guard FileManager.default.fileExists(atPath: variant.outputPath) else {
                    return (variant.outputPath, nil)
                }
                let report = try readingInputs(variant.outputPath) { try ResultReport(path: variant.outputPath) }
                return (variant.outputPath, report.instancesCompleted > 0 ? report : nil)
            }
            // The column: p01 of the unverified chips (`none`) at the first time, from the only result file.
            var column: (label: String, value: Double)?
            if reports.count == 1, let report = reports[0].1, let none = report.policies.firstIndex(of: "none") {
                column = (
                    "none @ \(ResultReport.formatTime(report.timesSeconds[0]))",
                    report.summary.cells[none][0].p01
                )
            }
            func cell(_ text: String, _ width: Int) -> String {
                text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
            }
            let header = [
                "K", "worst found %", "unperturbed %", "MC p01 % (" + (column?.label ?? "-") + ")", "seconds",
            ]
            let widths = [6, 16, 15, header[3].count + 2, 9]
            emit(zip(header, widths).map { cell($0, $1) }.joined(separator: " "))
            var random = SplitMix64(seed: seed ?? variant.seed)
            var carried = false
            for finding in try search.search(bounds: bounds, random: &random) {
                let fromSmaller = finding.foundWithin < finding.bound
                carried = carried || fromSmaller
                let values = [
                    Self.format(finding.bound),
                    String(format: "%.2f", 100 * finding.evaluation.accuracy) + (fromSmaller ? "*" : ""),
                    String(format: "%.2f", 100 * search.clean.accuracy),
                    column.map { String(format: "%.2f", 100 * $0.value) } ?? "-",
                    String(format: "%.1f", finding.seconds),
                ]
                emit(zip(values, widths).map { cell($0, $1) }.joined(separator: " "))
            }
            if carried {
                emit("* found by the search at a smaller K: its perturbation lies inside this K's box too")
            }
            for (path, report) in reports {
                guard let report else {
                    emit("no result file with chips at \(path) for the Monte-Carlo p01 (cimcarlo run \(spec) makes it)")
                    continue
                }
                var cells: [String] = []
                for (policyIndex, policy) in report.policies.enumerated() {
                    for (timeIndex, time) in report.timesSeconds.enumerated() {
                        let p01 = report.summary.cells[policyIndex][timeIndex].p01
                        cells.append(
                            "\(policy) @ \(ResultReport.formatTime(time)) \(String(format: "%.2f", 100 * p01)) %")
                    }
                }
                emit(
                    "Monte-Carlo p01 in \(path) (\(report.instancesCompleted) chips, on its own test images): "
                        + cells.joined(separator: ", "))
                // Scaled-sigma sampling's estimate, when the study has a tail.
                for line in report.tailLines() { emit(line) }
            }
            emit(
                "the worst accuracy found is an upper bound on the worst case within K σ per weight (a perturbation reaching it exists), not a proof"
            )
        }

        /// The median over all mapped weights of σ_i / max|W| of the weight's layer.
        static func medianRelativeSigma(_ search: WorstCaseSearch) -> Double {
            var relative: [Float] = []
            for (layer, sigmas) in zip(search.mapping.layers, search.sigmas) {
                let scale = layer.weights.reduce(0) { max($0, abs($1)) }
                guard scale > 0 else { continue }
                relative += sigmas.map { $0 / scale }
            }
            guard !relative.isEmpty else { return 0 }
            relative.sort()
            return Double(relative[relative.count / 2])
        }

        /// `2` for 2.0, `1.5` for 1.5.
        static func format(_ value: Double) -> String {
            var text = String(value)
            if text.hasSuffix(".0") { text.removeLast(2) }
            return text
        }
    }
}
