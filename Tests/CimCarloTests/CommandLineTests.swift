import CimCarlo
import Foundation
import Testing

/// End-to-end runs of the built binary.
@Suite struct CommandLineTests {
    let directory = TemporaryDirectory()

    /// A tiny model and a matching HDF5 dataset on disk.
    private func writeTinyModelAndData() throws -> (model: String, data: String, expected: Evaluation) {
        let network = makeTinyNetwork(seed: 31)
        let images = makeRandomImages(for: network, count: 50, seed: 32)
        let model = directory.file("tiny.h5")
        try network.save(to: model)
        let data = directory.file("data.h5")
        // The dataset schema is NCHW; convert from the in-memory NHWC.
        let shape = network.inputShape
        var nchw = [Float](repeating: 0, count: images.pixels.count)
        for n in 0..<images.count { for c in 0..<shape.channels { for y in 0..<shape.height { for x in 0..<shape.width {
            nchw[((n * shape.channels + c) * shape.height + y) * shape.width + x] =
                images.pixels[((n * shape.height + y) * shape.width + x) * shape.channels + c]
        } } } }
        let file = try HDF5File(path: data, mode: .createTruncating)
        try file.write(HDF5Array(values: nchw, shape: [images.count, shape.channels, shape.height, shape.width]), to: "/images")
        try file.write(images.labels.map { Int64($0) }, to: "/labels")
        let expected = try NetworkWorkspace(network: network, batchCapacity: 16).evaluate(network, on: images)
        return (model, data, expected)
    }

    @Test func evalPrintsTheCleanAccuracy() throws {
        let (model, data, expected) = try writeTinyModelAndData()
        let result = try runCimcarlo(["eval", "--model", model, "--dataset", data])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains(String(format: "accuracy %.2f %%", 100 * expected.accuracy)))
        #expect(result.standardOutput.contains("(50 test images)"))
    }

    @Test func missingModelIsOneLineAndExitCodeTwo() throws {
        let result = try runCimcarlo(["eval", "--model", directory.file("absent.h5")])
        #expect(result.status == 2)
        #expect(result.standardError == "cimcarlo: error: \(directory.file("absent.h5")): cannot open it (no such file)\n")
    }

    @Test func mismatchedDatasetIsOneLineAndExitCodeTwo() throws {
        let (model, _, _) = try writeTinyModelAndData()
        let other = directory.file("other.h5")
        do {
            let file = try HDF5File(path: other, mode: .createTruncating)
            try file.write(HDF5Array(values: [UInt8](repeating: 1, count: 2 * 9), shape: [2, 1, 3, 3]), to: "/images")
            try file.write([Int64(0), 1], to: "/labels")
        }
        let result = try runCimcarlo(["eval", "--model", model, "--dataset", other])
        #expect(result.status == 2)
        #expect(result.standardError == "cimcarlo: error: \(other): images are [1, 3, 3] but the model expects [2, 12, 12]\n")
    }

    @Test func badOptionValuesAreUsageErrorsWithExitCodeTwo() throws {
        let result = try runCimcarlo(["train", "--arch", "mlp", "--epochs", "0", "--output", directory.file("m.h5")])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--epochs must be 1 to 1000, got 0"))
        let unknown = try runCimcarlo(["train", "--arch", "resnet", "--output", directory.file("m.h5")])
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains("resnet"))
    }

    @Test(.enabled(if: fashionMNISTInstalled))
    func trainWritesAModelThatEvalReads() throws {
        let model = directory.file("mlp.h5")
        let trained = try runCimcarlo(["train", "--arch", "mlp", "--epochs", "1", "--seed", "4",
                                       "--train-limit", "2000", "--test-limit", "500", "--output", model])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("epoch   1"))
        let provenance = try Network.provenance(of: model)
        #expect(provenance["training_command"]
                == "cimcarlo train --arch mlp --epochs 1 --seed 4 --train-limit 2000 --output \(model)")
        #expect(provenance["training_seed"] == "4")
        let evaluated = try runCimcarlo(["eval", "--model", model, "--test-limit", "500"])
        #expect(evaluated.status == 0)
        let reported = try #require(provenance["test_accuracy"].flatMap(Double.init))
        #expect(evaluated.standardOutput.contains(String(format: "accuracy %.2f %%", 100 * reported)))
        #expect(reported > 0.5)
    }
}
