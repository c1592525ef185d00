import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure Monte-Carlo throughput of realistic studies against this machine's GEMM floor.",
            discussion: """
                Measures sgemm GFLOP/s with the linked OpenBLAS (2048² product, 1 thread and all threads) and the \
                sampler's standard normal draws per second, then seconds per instance of the studies users run, \
                at 1 thread and at all threads: the quickstart (runs/quickstart.toml), PCM drift with global \
                compensation over 4 time points on the MLP and LeNet-5, the SWIM experiment's device on both, \
                the shipped ResNet-8, and LeNet-5 in tile mode (runs/bench/). A workload's floor is the GEMM time \
                of its forward passes (policies × times × test images) at the sgemm rate on the threads used, \
                nothing else. Run it from the repository root (it reads runs/, models/ and variation-models/).

                Example: cimcarlo bench --json
                """)

        @Flag(help: "Print one JSON object per workload instead of a table.")
        var json = false

        @Option(
            help: ArgumentHelp(
                "Instances per worker thread for the light workloads (heavy ones: a third).", valueName: "N"))
        var instances: Int = 6

        @Option(help: ArgumentHelp("Measure only the named workloads (comma-separated).", valueName: "NAMES"))
        var only: String?

        @Option(help: ArgumentHelp("Use only the first N test images (default: the full test split).", valueName: "N"))
        var testLimit: Int?

        @OptionGroup var parallelism: ThreadOptions

        func validate() throws {
            guard instances >= 1 else { throw ValidationError("--instances must be at least 1, got \(instances)") }
            let names = Self.workloads.map(\.0)
            if let only, let unknown = only.split(separator: ",").first(where: { !names.contains(String($0)) }) {
                throw ValidationError(
                    "--only: unknown workload \"\(unknown)\" (allowed: \(names.joined(separator: ", ")))")
            }
            if let testLimit, testLimit < 1 {
                throw ValidationError("--test-limit must be at least 1, got \(testLimit)")
            }
        }

        /// The workloads: name, run spec, and whether it is heavy (a third of the instances).
        static let workloads = [
            ("quickstart", "runs/quickstart.toml", false),
            ("pcm-drift-mlp", "runs/bench/pcm-drift-mlp.toml", false),
            ("pcm-drift-lenet5", "runs/bench/pcm-drift-lenet5.toml", false),
            ("swim-dac22-mlp", "runs/bench/swim-dac22-mlp.toml", false),
            ("swim-dac22-lenet5", "runs/bench/swim-dac22-lenet5.toml", false),
            ("resnet8", "runs/bench/resnet8.toml", true),
            ("lenet5-tile", "runs/bench/lenet5-tile.toml", true),
            ("vit", "runs/bench/vit.toml", true),
            ("resnet18-cifar", "runs/bench/resnet18-cifar.toml", true),
            ("mobilenetv2-cifar", "runs/bench/mobilenetv2-cifar.toml", true),
        ]

        /// Where `scripts/bench_networks.py` writes the generated networks users bring (ResNet-18,
        /// MobileNetV2 with random weights, built with the onnx helper API) and their CIFAR-shaped images.
        static let generatedNetworks = "runs/out/bench-networks"

        func run() throws {
            try reportingErrors {
                let threads = parallelism.workerThreads
                let selected = only.map { Set($0.split(separator: ",").map(String.init)) }
                let rates = Benchmark.Rates.measure(threads: threads)
                if !json {
                    print(
                        String(
                            format:
                                "sgemm %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads); Gaussian %.1f M/s (1 thread)",
                            rates.sgemmGigaflops[1]!, rates.sgemmGigaflops[threads]!, threads,
                            rates.gaussiansPerSecond / 1e6))
                    print(
                        "workload           threads  s/instance  floor s/inst  of floor  parallel eff.  peak RSS"
                            + "    s/pass  ORT s/pass  of ORT  sampling")
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                let chosen = Self.workloads.filter { selected?.contains($0.0) ?? true }
                try generateNetworks(required: chosen.contains(where: { $0.1.contains("-cifar") }))
                for (name, path, heavy) in chosen {
                    var spec = try RunSpec.load(path: path)
                    if let testLimit { spec.testLimit = testLimit }
                    let study = try Study(spec: spec)
                    var samplingSpec = spec
                    samplingSpec.testLimit = 1
                    let sampling = try Study(spec: samplingSpec)
                    let measurements = try Benchmark.measure(
                        name, study: study, sampling: sampling,
                        instancesPerThread: heavy ? max(1, instances / 3) : instances, threads: threads, rates: rates,
                        onnxruntime: { onnxruntimeSecondsPerPass(spec: spec, images: study.test.count, threads: $0) })
                    for measurement in measurements {
                        if json {
                            print(String(decoding: try encoder.encode(measurement), as: UTF8.self))
                        } else {
                            print(
                                name.padding(toLength: 17, withPad: " ", startingAt: 0),
                                String(
                                    format: "%7d  %10.4f  %12.4f  %8.2f  %13.2f  %5.0f MiB  %8.4f  %10@  %6@  %7.1f %%",
                                    measurement.threads, measurement.secondsPerInstance,
                                    measurement.floorSecondsPerInstance, measurement.fractionOfFloor,
                                    measurement.parallelEfficiency,
                                    Double(measurement.peakRssBytes) / 1_048_576, measurement.secondsPerPass,
                                    measurement.onnxruntimeSecondsPerPass.map { String(format: "%.4f", $0) } ?? "–",
                                    measurement.onnxruntimeRatio.map { String(format: "%.2f", $0) } ?? "–",
                                    100 * measurement.samplingShare))
                        }
                    }
                }
            }
        }

        /// Runs `scripts/bench_networks.py` once (its output is kept under `generatedNetworks`): the
        /// generated networks, and ONNX twins of the shipped model files for onnxruntime's figures.
        /// A failure stops the bench when `required` (a workload needs the networks), else the
        /// onnxruntime figures of the model files are left out.
        private func generateNetworks(required: Bool) throws {
            let marker = Self.generatedNetworks + "/cifar_like.h5"
            guard !FileManager.default.fileExists(atPath: marker) else { return }
            let (status, output) = runPython(["scripts/bench_networks.py", Self.generatedNetworks])
            guard status == 0 else {
                let line = output.split(separator: "\n").last.map(String.init) ?? ""
                guard required else {
                    note("cimcarlo: note: no onnxruntime figures for the model files: \(line)")
                    return
                }
                throw failure("scripts/bench_networks.py failed: \(line)", code: ExitStatus.runtimeFailure)
            }
        }

        /// onnxruntime's seconds per pass over the spec's test images on `threads` threads, by
        /// `scripts/ort_timing.py`: the ONNX model itself, or for a cimcarlo model file its ONNX twin
        /// in `generatedNetworks` (same name, `.onnx`) when there is one. Nil when neither exists or
        /// Python lacks onnxruntime (a note says so once).
        private func onnxruntimeSecondsPerPass(spec: RunSpec, images: Int, threads: Int) -> Double? {
            let twin =
                Self.generatedNetworks + "/"
                + ((spec.modelPath as NSString).lastPathComponent as NSString).deletingPathExtension + ".onnx"
            let model = spec.modelPath.lowercased().hasSuffix(".onnx") ? spec.modelPath : twin
            guard FileManager.default.fileExists(atPath: model) else { return nil }
            let dataset: String
            switch spec.dataset {
            case .fashionMNIST: dataset = "fashion-mnist"
            case let .hdf5(path): dataset = path
            }
            let (status, output) = runPython([
                "scripts/ort_timing.py", model, "--dataset", dataset, "--images", "\(images)", "--threads",
                "\(threads)", "--repeats", "3",
            ])
            guard status == 0, let line = output.split(separator: "\n").last,
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let seconds = object["seconds_per_pass"] as? Double
            else {
                note("cimcarlo: note: no onnxruntime figure for \(model): \(output.split(separator: "\n").last ?? "")")
                return nil
            }
            return seconds
        }

        /// Runs `python3 ARGUMENTS` from the working directory; its exit status and output.
        private func runPython(_ arguments: [String]) -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            do {
                try process.run()
            } catch {
                return (127, "cannot run python3: \(error)")
            }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }
}
