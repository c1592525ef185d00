import CimCarlo
import Foundation
import Testing

/// ONNX graphs built with the `onnx` package's helper API (`Tests/Scripts/onnx_reference_cases.py`),
/// covering every supported op and attribute and several opsets; cimcarlo's clean logits must
/// equal onnxruntime's. Bad files must give one error line naming the node and exit code 2.
struct ONNXReferenceCase: CustomTestStringConvertible, Sendable {
    var name: String
    var description: String
    var directory: String
    var testDescription: String { name }
}

/// The generated cases: made once per test process in a temporary directory.
let onnxCaseDirectory: Result<String, ONNXCaseGenerationError> = {
    let directory = NSTemporaryDirectory() + "cimcarlo-onnx-cases-" + UUID().uuidString
    do {
        let (status, output) = try runPython([repositoryRoot + "/Tests/Scripts/onnx_reference_cases.py", directory])
        guard status == 0 else { return .failure(ONNXCaseGenerationError(output: output)) }
    } catch {
        return .failure(ONNXCaseGenerationError(output: "\(error)"))
    }
    return .success(directory)
}()

struct ONNXCaseGenerationError: Error, CustomStringConvertible {
    var output: String
    var description: String {
        "onnx_reference_cases.py failed (the README's set-up installs onnx and onnxruntime): \(output)"
    }
}

private func listedCases(_ subdirectory: String) -> [[String: Any]] {
    guard case let .success(directory) = onnxCaseDirectory,
        let data = FileManager.default.contents(atPath: directory + subdirectory + "/cases.json"),
        let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]
    else { return [] }
    return list
}

@Suite struct ONNXImporterTests {
    @Test func referenceCasesWereGenerated() throws {
        let directory = try onnxCaseDirectory.get()
        #expect(listedCases("").count >= 30, "cases in \(directory)")
        #expect(listedCases("/bad").count >= 7)
    }

    @Test(arguments: listedCases("").compactMap { $0["name"] as? String })
    func logitsEqualOnnxruntime(name: String) throws {
        let directory = try onnxCaseDirectory.get()
        let network = try Network.load(from: "\(directory)/\(name).onnx")
        let images = try DatasetSource.hdf5(path: "\(directory)/\(name).h5").load(.test)
        try images.checkFits(network, name: name)
        let expected = try HDF5File(path: "\(directory)/\(name).h5", mode: .readOnly).read("/logits", as: Float.self)
        let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count, supportsBackward: false)
        let logits = images.pixels.withUnsafeBufferPointer {
            Array(workspace.forward(network, pixels: $0, batchSize: images.count))
        }
        #expect(expected.shape == [images.count, network.classCount])
        let scale = max(1e-3, expected.values.map(abs).max()!)
        for (computed, reference) in zip(logits, expected.values) {
            #expect(abs(computed - reference) <= 1e-4 * scale, "\(name): \(computed) vs onnxruntime \(reference)")
        }
    }

    @Test(arguments: listedCases("/bad").compactMap { $0["name"] as? String })
    func badFilesGiveOneErrorLineNamingTheNode(name: String) throws {
        let directory = try onnxCaseDirectory.get()
        let entry = listedCases("/bad").first { $0["name"] as? String == name }!
        let file = "\(directory)/bad/\(entry["file"] as! String)"
        let result = try runCimcarlo(["eval", "--model", file, "--dataset", "\(directory)/conv_basic.h5"])
        #expect(result.status == 2)
        let lines = result.standardError.split(separator: "\n")
        #expect(lines.count == 1, "\(result.standardError)")
        #expect(result.standardError.hasPrefix("cimcarlo: error: \(file): "))
        let nodes = (entry["nodes"] as? [String]) ?? [entry["node"] as? String].compactMap { $0 }
        let opTypes = (entry["op_types"] as? [String]) ?? [entry["op_type"] as? String].compactMap { $0 }
        for node in nodes { #expect(result.standardError.contains("`\(node)`"), "\(result.standardError)") }
        for opType in opTypes { #expect(result.standardError.contains(opType), "\(result.standardError)") }
        if let tensor = entry["tensor"] as? String {
            #expect(result.standardError.contains("`\(tensor)`"), "\(result.standardError)")
        }
    }
}

extension ONNXImporterTests {
    @Test(
        arguments: listedCases("").compactMap { $0["name"] as? String }.filter {
            $0.contains("bn") || $0.contains("batchnorm") || $0.contains("cifar")
        })
    func foldedBatchNormGivesTheDigitalLogits(name: String) throws {
        let directory = try onnxCaseDirectory.get()
        let network = try Network.load(from: "\(directory)/\(name).onnx")
        let (folded, names) = try network.foldingBatchNormalization()
        let images = try DatasetSource.hdf5(path: "\(directory)/\(name).h5").load(.test)
        func logits(_ network: Network) throws -> [Float] {
            let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count, supportsBackward: false)
            return images.pixels.withUnsafeBufferPointer {
                Array(workspace.forward(network, pixels: $0, batchSize: images.count))
            }
        }
        let (digital, fused) = (try logits(network), try logits(folded))
        let scale = digital.map(abs).max()!
        for (a, b) in zip(digital, fused) { #expect(abs(a - b) <= 1e-5 * scale, "\(name): \(a) vs \(b)") }
        let remaining = folded.nodes.filter { $0.operation is BatchNormalization }.count
        #expect(names.count + remaining == network.nodes.filter { $0.operation is BatchNormalization }.count)
        #expect(name == "conv_bn_fanout" ? remaining == 1 : remaining == 0, "\(name): \(remaining) left digital")
    }
}

/// The shipped ResNet-8 (trained and exported by `analysis/train_resnet.py`).
@Suite struct ShippedResNetTests {
    @Test(.enabled(if: fashionMNISTInstalled))
    func cleanAccuracyEqualsPyTorchsRecordedFigure() throws {
        let record =
            try JSONSerialization.jsonObject(
                with: try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/models/resnet8.json")))
            as! [String: Any]
        let network = try Network.load(from: repositoryRoot + "/models/resnet8.onnx")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test)
        #expect(test.count == record["test_images"] as? Int)
        let evaluation = try NetworkWorkspace(network: network, batchCapacity: 250, supportsBackward: false)
            .evaluate(network, on: test)
        let pytorch = record["test_accuracy_pytorch"] as! Double
        // 0.02 points of 10 000 images: at most two images may differ (float rounding at a tie).
        #expect(
            abs(evaluation.accuracy - pytorch) * 100 <= 0.02, "cimcarlo \(evaluation.accuracy) vs PyTorch \(pytorch)")
        // The graph is the one the README describes: batch norm kept, normalisation folded into the input.
        #expect(network.nodes.contains { $0.operation is BatchNormalization })
        #expect(network.nodes.contains { $0.operation is Add })
        #expect(abs(network.inputMean[0] - 0.2860) < 1e-6 && abs(network.inputStd[0] - 0.3530) < 1e-6)
    }
}

/// The shipped ViT (trained and exported by `analysis/train_vit.py` with torch's default
/// exporter: opset 20, batch 1, weights in `vit.onnx.data`).
@Suite struct ShippedViTTests {
    @Test(.enabled(if: fashionMNISTInstalled))
    func cleanAccuracyEqualsPyTorchsRecordedFigure() throws {
        let record =
            try JSONSerialization.jsonObject(
                with: try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/models/vit.json")))
            as! [String: Any]
        let network = try Network.load(from: repositoryRoot + "/models/vit.onnx")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test)
        let evaluation = try NetworkWorkspace(
            network: network, batchCapacity: NetworkWorkspace.inferenceBatch(for: network), supportsBackward: false
        ).evaluate(network, on: test)
        let pytorch = record["test_accuracy_pytorch"] as! Double
        #expect(
            abs(evaluation.accuracy - pytorch) * 100 <= 0.02, "cimcarlo \(evaluation.accuracy) vs PyTorch \(pytorch)")
        // Attention runs digitally between activations; layer norm and GELU are their own ops.
        #expect(network.nodes.filter { $0.operation is ActivationProduct }.count == 6)
        #expect(network.nodes.contains { $0.operation is LayerNormalization })
        #expect(network.nodes.contains { $0.operation is Gelu })
    }

    /// `check` lists every node of the ViT (the external data file named) and exits 0.
    @Test func checkListsEveryNode() throws {
        let result = try runCimcarlo(["check", repositoryRoot + "/models/vit.onnx"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("external data: vit.onnx.data"))
        #expect(result.standardOutput.contains("opset 20"))
        for placement in ["crossbar", "digital", "folded at load"] {
            #expect(result.standardOutput.contains(placement))
        }
        #expect(result.standardOutput.contains("LayerNormalization"))
    }
}

extension ONNXImporterTests {
    /// `check` names every unsupported node at once (three different ops) with exit 2, and
    /// `eval` names all three on its one line.
    @Test func checkListsEveryUnsupportedNode() throws {
        let directory = try onnxCaseDirectory.get()
        let file = "\(directory)/bad/three_unsupported.onnx"
        let check = try runCimcarlo(["check", file])
        #expect(check.status == 2)
        let problems = check.standardOutput.split(separator: "\n").filter { $0.contains("is not supported") }
        #expect(problems.count == 3, "\(check.standardOutput)")
        for (node, op) in [("projection_einsum", "Einsum"), ("sequence_lstm", "LSTM"), ("feature_topk", "TopK")] {
            #expect(problems.contains { $0.contains("`\(node)` (\(op))") }, "\(node)")
        }
        #expect(check.standardError == "cimcarlo: error: \(file): 3 problems (listed above)\n")
    }
}

extension ONNXImporterTests {
    /// A run spec naming an ONNX model runs end to end: SWIM through batch norm and residual
    /// adds, folded batch norm reported by `map` and in the result, the spec's normalisation.
    @Test func runSpecsTakeONNXModels() throws {
        let cases = try onnxCaseDirectory.get()
        let directory = TemporaryDirectory()
        let data = directory.file("data.h5")
        // Training images for the sensitivity pass: the test images again.
        let images = try DatasetSource.hdf5(path: "\(cases)/cifar_shaped.h5").load(.test)
        try writeHDF5Dataset(images, to: data)
        let spec = directory.file("spec.toml")
        try """
        model = "\(cases)/cifar_shaped.onnx"
        dataset = "data.h5"
        input_mean = [0.5, 0.5, 0.5]
        input_std = [0.25, 0.25, 0.25]
        device_model = "\(repositoryRoot)/variation-models/rram-hfo2.toml"
        instances = 3
        policies = ["none", "swim@0.2", "all"]
        times_s = [1.0]
        output = "out.h5"
        [mapping]
        weight_bits = 6
        batchnorm = "fold"
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let map = try runCimcarlo(["map", spec])
        #expect(map.status == 0, "\(map.standardError)")
        #expect(
            map.standardOutput.contains("batch normalisation: folded into the preceding weights before quantisation"))
        let run = try runCimcarlo(["run", spec, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let file = try HDF5File(path: directory.file("out.h5"), mode: .readOnly)
        #expect(try file.stringAttribute("batchnorm", on: "/mapping") == "fold")
        let accuracy = try file.read("/accuracy", as: Float.self)
        #expect(accuracy.shape == [3, 3, 1] && accuracy.values.allSatisfy { $0 >= 0 && $0 <= 1 })
        let layers = try file.readStrings("/mapping/name")
        #expect(try file.read("/sensitivity/\(layers[0])", as: Float.self).values.contains { $0 > 0 })
    }
}
