import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a model's clean (noise-free, unquantized) test accuracy.",
            discussion: "Example: cimcarlo eval --model models/lenet5.h5")

        @Option(help: ArgumentHelp("Model file (HDF5, cimcarlo model schema).", valueName: "file.h5"))
        var model: String

        @OptionGroup var data: DatasetOptions

        func run() throws {
            try reportingErrors {
                BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
                let (network, test) = try readingInputs("\(model) and \(data.dataset)") {
                    (try Network.load(from: model), try data.loadTest())
                }
                try test.checkFits(network, name: data.dataset)
                let evaluation = try NetworkWorkspace(network: network, batchCapacity: 500).evaluate(network, on: test)
                print(String(format: "%@: accuracy %.2f %%  loss %.4f  (%d test images)",
                             model, 100 * evaluation.accuracy, evaluation.meanLoss, test.count))
            }
        }
    }
}
