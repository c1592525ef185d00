import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a reference network (MLP or LeNet-5) and save it as a model file.",
            discussion: """
                Trains with Adam on the training split and reports the test accuracy after every epoch. \
                The exact command and seed are stored in the model file's attributes.

                Example: cimcarlo train --arch lenet5 --epochs 15 --seed 1 --output models/lenet5.h5
                """)

        @Option(help: "Architecture: mlp (784-256-128-10) or lenet5.")
        var arch: ReferenceArchitecture

        @Option(help: "Passes over the training split.")
        var epochs: Int = 15

        @Option(help: "Seed for initialisation and shuffling.")
        var seed: UInt64 = 1

        @Option(help: "Mini-batch size.")
        var batchSize: Int = 128

        @Option(help: ArgumentHelp("Train on the first N training images only (quick checks).", valueName: "N"))
        var trainLimit: Int?

        @Option(help: ArgumentHelp("Where to write the model (HDF5).", valueName: "file.h5"))
        var output: String

        @OptionGroup var data: DatasetOptions

        func validate() throws {
            guard (1...1000).contains(epochs) else {
                throw ValidationError("--epochs must be 1 to 1000, got \(epochs)")
            }
            guard (1...65536).contains(batchSize) else {
                throw ValidationError("--batch-size must be 1 to 65536, got \(batchSize)")
            }
            if let trainLimit, trainLimit < 1 {
                throw ValidationError("--train-limit must be at least 1, got \(trainLimit)")
            }
        }

        func run() throws {
            try reportingErrors {
                BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
                let training = try data.source.load(.train)
                let test = try data.loadTest()
                var generator = SplitMix64(seed: seed)
                var network = arch.makeNetwork(using: &generator)
                try training.checkFits(network, name: data.dataset)
                try test.checkFits(network, name: data.dataset)
                let started = Date()
                var finalTest: Evaluation?
                try Trainer.train(
                    &network, on: training, test: test,
                    configuration: TrainingConfiguration(
                        epochs: epochs, batchSize: batchSize, seed: seed,
                        trainingLimit: trainLimit)
                ) { report in
                    finalTest = report.test
                    emit(
                        String(
                            format: "epoch %3d  loss %.4f  train %.2f %%  test %.2f %%  %.1f s",
                            report.epoch, report.trainLoss, 100 * report.trainAccuracy,
                            100 * (report.test?.accuracy ?? .nan), report.seconds))
                }
                let seconds = Date().timeIntervalSince(started)
                let accuracy = finalTest?.accuracy ?? .nan
                var command = "cimcarlo train --arch \(arch.rawValue) --epochs \(epochs) --seed \(seed)"
                if batchSize != 128 { command += " --batch-size \(batchSize)" }
                if let trainLimit { command += " --train-limit \(trainLimit)" }
                if data.dataset != "fashion-mnist" { command += " --dataset \(data.dataset)" }
                command += " --output \(output)"
                try network.save(
                    to: output,
                    provenance: [
                        "architecture": arch.rawValue,
                        "training_command": command,
                        "training_seed": String(seed),
                        "test_accuracy": String(format: "%.4f", accuracy),
                        "test_images": String(test.count),
                        "training_seconds": String(format: "%.1f", seconds),
                        "trained_with": "cimcarlo \(CimCarloVersion.current)",
                    ])
                print(
                    String(
                        format: "%@: test accuracy %.2f %% on %d images after %d epochs (%.0f s); wrote %@",
                        arch.rawValue, 100 * accuracy, test.count, epochs, seconds, output))
            }
        }
    }
}

extension ReferenceArchitecture: ExpressibleByArgument {}
