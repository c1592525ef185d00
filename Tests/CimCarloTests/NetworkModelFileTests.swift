import Foundation
import Testing

@testable import CimCarlo

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
