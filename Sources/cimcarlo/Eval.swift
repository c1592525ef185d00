import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a model's clean (noise-free, unquantized) test accuracy.",
            discussion: """
                An ONNX model sees the pixels in [0, 1] unless --input-mean and --input-std give a \
                normalisation (one value, or one per channel).

                Example: cimcarlo eval --model models/lenet5.h5
                Example: cimcarlo eval --model models/resnet8.onnx
                Example: cimcarlo eval --model net.onnx --dataset cifar10.h5 \
                --input-mean 0.4914 0.4822 0.4465 --input-std 0.2470 0.2435 0.2616
                """)

        @Option(help: ArgumentHelp("Model file: HDF5 (cimcarlo model schema) or ONNX (.onnx).", valueName: "file"))
        var model: String

        @Option(
            parsing: .upToNextOption,
            help: ArgumentHelp(
                "Subtracted from the pixels (in [0, 1]) before the model, per channel.",
                valueName: "mean"))
        var inputMean: [Float] = []

        @Option(
            parsing: .upToNextOption,
            help: ArgumentHelp("Divides the pixels after --input-mean, per channel (> 0).", valueName: "std"))
        var inputStd: [Float] = []

        @OptionGroup var data: DatasetOptions

        func validate() throws {
            guard inputStd.allSatisfy({ $0 > 0 && $0.isFinite }), inputMean.allSatisfy(\.isFinite) else {
                throw ValidationError("--input-std must be > 0 and --input-mean finite")
            }
        }

        func run() throws {
            try reportingErrors {
                BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
                var (network, test) = try readingInputs("\(model) and \(data.dataset)") {
                    (try Network.load(from: model), try data.loadTest())
                }
                if !inputMean.isEmpty || !inputStd.isEmpty {
                    network = try network.applyingInputNormalization(
                        mean: inputMean.isEmpty ? [0] : inputMean,
                        std: inputStd.isEmpty ? [1] : inputStd)
                }
                try test.checkFits(network, name: data.dataset)
                let workspace = try NetworkWorkspace(
                    network: network, batchCapacity: NetworkWorkspace.inferenceBatch(for: network),
                    supportsBackward: false)
                let evaluation = workspace.evaluate(network, on: test)
                print(
                    String(
                        format: "%@: accuracy %.2f %%  loss %.4f  (%d test images)",
                        model, 100 * evaluation.accuracy, evaluation.meanLoss, test.count))
            }
        }
    }
}
