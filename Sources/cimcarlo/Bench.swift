import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure Monte-Carlo throughput against this machine's floor.",
            discussion: """
                Measures sgemm GFLOP/s with the linked OpenBLAS (2048² product, 1 thread and all threads), the \
                engine's Gaussian samples per second, then seconds per instance of Monte-Carlo for the reference \
                MLP and LeNet-5 and the shipped ResNet-8 with swim-dac22 (8-bit sign-magnitude, policy none, full \
                test set) at 1 thread and at all cores, in effective-weight mode, and for MLP and LeNet-5 in tile \
                mode with 8-bit ADCs. The floor per instance \
                is the forward pass's GEMM FLOPs at the single-thread sgemm rate plus the device samples at the \
                Gaussian rate, divided by the threads. \
                Run it from the repository root (it reads models/ and variation-models/).

                Example: cimcarlo bench --json
                """)

        @Flag(help: "Print one JSON object per workload instead of a table.")
        var json = false

        @Option(help: ArgumentHelp("Instances per worker thread for each workload.", valueName: "N"))
        var instances: Int = 6

        @Option(help: ArgumentHelp("Use only the first N test images (default: the full test split).", valueName: "N"))
        var testLimit: Int?

        @OptionGroup var parallelism: ThreadOptions

        func validate() throws {
            guard instances >= 1 else { throw ValidationError("--instances must be at least 1, got \(instances)") }
            if let testLimit, testLimit < 1 {
                throw ValidationError("--test-limit must be at least 1, got \(testLimit)")
            }
        }

        func run() throws {
            try reportingErrors {
                let threads = parallelism.workerThreads
                let device = try DeviceModel.load(path: "variation-models/swim-dac22.toml").model
                let test = try DatasetSource(argument: "fashion-mnist").load(.test).prefix(testLimit)
                let rates = Benchmark.Rates.measure(threads: threads)
                if !json {
                    print(
                        String(
                            format:
                                "sgemm %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads); Gaussian %.1f M/s (1 thread); %d test images",
                            rates.sgemmGigaflopsOneThread, rates.sgemmGigaflopsAllThreads, threads,
                            rates.gaussiansPerSecond / 1e6, test.count))
                    print("workload     threads  s/instance  floor s/inst  of floor  parallel eff.  peak RSS")
                }
                let tile = PeripheryConfiguration(fidelity: .tile, adcBits: 8)
                let workloads = [
                    ("mlp", "models/mlp.h5", PeripheryConfiguration()),
                    ("lenet5", "models/lenet5.h5", PeripheryConfiguration()),
                    ("resnet8", "models/resnet8.onnx", PeripheryConfiguration()),
                    ("mlp", "models/mlp.h5", tile), ("lenet5", "models/lenet5.h5", tile),
                ]
                for (name, path, periphery) in workloads {
                    let network = try Network.load(from: path)
                    try test.checkFits(network, name: "fashion-mnist")
                    let isTile = periphery.fidelity == .tile
                    let measurements = try Benchmark.measureWorkload(
                        "\(name)-swim-dac22-\(isTile ? "tile-adc8" : "effective-weight")", network: network,
                        device: device,
                        test: test, instancesPerThread: isTile || name == "resnet8" ? max(1, instances / 3) : instances,
                        threads: threads,
                        rates: rates, periphery: periphery)
                    for measurement in measurements {
                        if json {
                            let encoder = JSONEncoder()
                            encoder.outputFormatting = [.sortedKeys]
                            encoder.keyEncodingStrategy = .convertToSnakeCase
                            print(String(decoding: try encoder.encode(measurement), as: UTF8.self))
                        } else {
                            let cells = [
                                (name + (isTile ? " tile" : "")).padding(toLength: 11, withPad: " ", startingAt: 0),
                                String(
                                    format: "%7d  %10.4f  %12.4f  %8.2f  %13.2f  %5.0f MiB",
                                    measurement.threads, measurement.secondsPerInstance,
                                    measurement.floorSecondsPerInstance, measurement.fractionOfFloor,
                                    measurement.parallelEfficiency,
                                    Double(measurement.peakRssBytes) / 1_048_576),
                            ]
                            print(cells.joined(separator: "  "))
                        }
                    }
                }
            }
        }
    }
}
