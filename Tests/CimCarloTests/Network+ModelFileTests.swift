import CimCarlo
import Foundation
import Testing

@Suite struct NetworkModelFileTests {
    let directory = TemporaryDirectory()

    @Test(arguments: ReferenceArchitecture.allCases)
    func referenceNetworksRoundTripExactly(architecture: ReferenceArchitecture) throws {
        var generator = SplitMix64(seed: 5)
        let network = architecture.makeNetwork(using: &generator)
        let path = directory.file("\(architecture).h5")
        try network.save(to: path, provenance: ["training_command": "cimcarlo train --arch \(architecture)"])
        #expect(try Network.load(from: path) == network)
        #expect(try Network.provenance(of: path)["training_command"] == "cimcarlo train --arch \(architecture)")
    }

    @Test func everyLayerKindRoundTripsExactly() throws {
        let network = makeTinyNetwork(seed: 3)
        let path = directory.file("tiny.h5")
        try network.save(to: path)
        let loaded = try Network.load(from: path)
        #expect(loaded == network)
        #expect(
            Set(loaded.nodes.map(\.operation.kind)) == ["conv2d", "relu", "maxpool2d", "avgpool2d", "flatten", "dense"])
    }

    /// `analysis/write_model.py` (the PyTorch users' path in) writes a file whose network gives
    /// NumPy's logits: PyTorch weight layouts, flatten order and input normalisation agree.
    @Test func writeModelScriptRoundTripsThroughTheReader() throws {
        let directory = TemporaryDirectory()
        let (model, imagesPath, logitsPath) = (
            directory.file("net.h5"), directory.file("x.f32"), directory.file("y.f32")
        )
        let script = try runPython([
            repositoryRoot + "/Tests/Scripts/write_model_reference.py", model, imagesPath, logitsPath,
        ])
        try #require(script.status == 0, "\(script.output)")
        func floats(_ path: String) throws -> [Float] {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let (pixels, expected) = (try floats(imagesPath), try floats(logitsPath))
        let network = try Network.load(from: model)
        let workspace = try NetworkWorkspace(network: network, batchCapacity: 5)
        let logits = pixels.withUnsafeBufferPointer { Array(workspace.forward(network, pixels: $0, batchSize: 5)) }
        try #require(logits.count == expected.count)
        for (value, reference) in zip(logits, expected) {
            #expect(abs(value - reference) <= 1e-5 * max(1, abs(reference)), "\(value) vs \(reference)")
        }
        // `cimcarlo eval` on the same images, labelled with NumPy's predictions, is right on all.
        let labels: [Int32] = (0..<5).map { row in
            let scores = Array(expected[(row * 4)..<(row * 4 + 4)])
            return Int32(scores.indices.max { scores[$0] < scores[$1] } ?? 0)
        }
        let data = directory.file("data.h5")
        try writeHDF5Dataset(LabeledImages(pixels: pixels, labels: labels, height: 6, width: 6, channels: 1), to: data)
        let eval = try runCimcarlo(["eval", "--model", model, "--dataset", data])
        #expect(eval.status == 0, "\(eval.standardError)")
        #expect(eval.standardOutput.contains("accuracy 100.00 %"), "\(eval.standardOutput)")
    }

    @Test func referenceNetworksHaveTheDocumentedShapes() throws {
        var generator = SplitMix64(seed: 1)
        #expect(
            ReferenceArchitecture.mlp.makeNetwork(using: &generator).parameterCount == 784 * 256 + 256 + 256 * 128 + 128
                + 128 * 10 + 10)
        let lenet = ReferenceArchitecture.lenet5.makeNetwork(using: &generator)
        #expect(
            try lenet.activationShapes().map(\.count) == [
                784, 4704, 4704, 1176, 1600, 1600, 400, 400, 120, 120, 84, 84, 10,
            ])
    }

    @Test func rejectsGarbage() throws {
        let path = directory.file("garbage.h5")
        try Data(repeating: 0x42, count: 4096).write(to: URL(fileURLWithPath: path))
        #expect {
            try Network.load(from: path)
        } throws: { error in
            "\(error)" == "\(path): cannot open it as HDF5 (not an HDF5 file, or damaged)"
        }
    }

    @Test func rejectsTruncatedFiles() throws {
        let path = directory.file("truncated.h5")
        var generator = SplitMix64(seed: 5)
        try ReferenceArchitecture.mlp.makeNetwork(using: &generator).save(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: ModelFileError.self) { try Network.load(from: path) }
    }

    @Test func rejectsNaNWeights() throws {
        var network = makeTinyNetwork(seed: 3)
        network.modifyParameters(ofNode: 6) { weight, _ in weight[4] = .nan }
        let path = directory.file("nan.h5")
        try network.save(to: path)
        #expect {
            try Network.load(from: path)
        } throws: { error in
            "\(error)" == "\(path): /layers/06/weight holds NaN or infinite values"
        }
    }

    @Test func rejectsLayersThatDoNotFit() throws {
        var layers = makeTinyNetwork(seed: 3).nodes.map(\.operation)
        layers.remove(at: 5)  // the flatten before the first dense layer
        let network = Network(inputShape: ActivationShape(height: 12, width: 12, channels: 2), layers: layers)
        let path = directory.file("unfit.h5")
        #expect(throws: NetworkShapeError.self) { try network.save(to: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func rejectsMissingFiles() {
        #expect {
            try Network.load(from: directory.file("absent.h5"))
        } throws: { error in
            "\(error)".hasSuffix("absent.h5: cannot open it (no such file)")
        }
    }
}

extension ReferenceArchitecture: CustomTestArgumentEncodable {}
