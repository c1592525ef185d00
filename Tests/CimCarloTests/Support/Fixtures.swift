import CimCarlo
import Foundation
import Testing

/// Whether Debian's dataset-fashion-mnist is installed (the README's set-up installs it).
let fashionMNISTInstalled = FileManager.default.fileExists(
    atPath: DatasetSource.defaultFashionMNISTDirectory + "/t10k-labels-idx1-ubyte.gz")

/// A small network exercising every layer kind: conv2d (stride 1 and 2, padding), ReLU,
/// max and average pooling, flatten, dense.
func makeTinyNetwork(seed: UInt64) -> Network {
    var generator = SplitMix64(seed: seed)
    func values(_ count: Int, scale: Double) -> [Float] {
        (0..<count).map { _ in Float(generator.nextStandardNormal() * scale) }
    }
    return Network(
        inputShape: ActivationShape(height: 12, width: 12, channels: 2), inputMean: 0.3, inputStd: 0.7,
        layers: [
            Convolution(
                name: "conv1", inputChannels: 2, outputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                stride: 2, padding: 1, weight: values(54, scale: 0.4), bias: values(3, scale: 0.1)),
            ReLU(),
            MaxPool(kernel: 2),
            Convolution(
                name: "conv2", inputChannels: 3, outputChannels: 4, kernelHeight: 2, kernelWidth: 3,
                stride: 1, padding: 1, weight: values(72, scale: 0.4), bias: values(4, scale: 0.1)),
            AveragePool(kernel: 2, stride: 1),
            Flatten(),
            Dense(name: "fc1", inputs: 24, outputs: 7, weight: values(168, scale: 0.4), bias: values(7, scale: 0.1)),
            ReLU(),
            Dense(name: "fc2", inputs: 7, outputs: 5, weight: values(35, scale: 0.4), bias: values(5, scale: 0.1)),
        ])
}

/// Random images in [0, 1] and labels for `network`'s input.
func makeRandomImages(for network: Network, count: Int, seed: UInt64) -> LabeledImages {
    var generator = SplitMix64(seed: seed)
    let shape = network.inputShape
    let pixels = (0..<(count * shape.count)).map { _ in Float(generator.nextOpenUnitInterval()) }
    let labels = (0..<count).map { _ in Int32(generator.next() % UInt64(network.classCount)) }
    return LabeledImages(
        pixels: pixels, labels: labels, height: shape.height, width: shape.width, channels: shape.channels)
}

/// The repository's root directory (for the shipped presets, specs and models).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path
}()

/// A shipped device model preset, e.g. `swim-dac22`.
func preset(_ name: String) throws -> DeviceModel {
    try DeviceModel.load(path: repositoryRoot + "/variation-models/\(name).toml").model
}

/// A network of one dense layer `inputs → outputs` holding `weights`, on flat inputs.
func makeSingleLayerNetwork(inputs: Int, outputs: Int, weights: [Float]) -> Network {
    Network(
        inputShape: ActivationShape(features: inputs),
        layers: [
            Dense(
                name: "fc", inputs: inputs, outputs: outputs, weight: weights,
                bias: [Float](repeating: 0, count: outputs))
        ])
}

/// Sample mean and standard deviation.
func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
    let mean = values.reduce(0, +) / Double(values.count)
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (mean, variance.squareRoot())
}

/// A tiny model, dataset, device model and run spec on disk, for end-to-end runs.
struct TinyStudyFixture {
    /// The fixture's RRAM: 2-bit cells, D2D 0.05, level-dependent programming noise, stuck-at
    /// faults, drift and read noise.
    static let deviceModelText = """
        name = "test-rram"
        source = "test fixture"
        [conductance]
        g_min_us = 1.0
        g_max_us = 20.0
        cell_bits = 2
        [d2d]
        sigma = 0.05
        [programming]
        sigma_per_level = [0.02, 0.06, 0.06, 0.03]
        [stuck_at]
        sa0_rate = 0.001
        sa1_rate = 0.001
        [drift]
        t0_s = 1.0
        nu_mean = 0.02
        nu_std = 0.01
        [read_noise]
        sigma = 0.02
        [write_verify]
        tolerance = 0.02
        max_iterations = 10
        pulse_time_s = 1e-7
        """

    let network = makeTinyNetwork(seed: 31)
    let images: LabeledImages
    let model: String
    let data: String
    let deviceModel: String
    let spec: String

    init(directory: TemporaryDirectory, instances: Int = 6, sign: String = "differential", extraSpec: String = "")
        throws
    {
        images = makeRandomImages(for: network, count: 50, seed: 32)
        model = directory.file("tiny.h5")
        try network.save(to: model)
        data = directory.file("data.h5")
        try writeHDF5Dataset(images, to: data)
        deviceModel = directory.file("device.toml")
        try Self.deviceModelText.write(toFile: deviceModel, atomically: true, encoding: .utf8)
        spec = directory.file("spec.toml")
        try """
        model = "tiny.h5"
        dataset = "data.h5"
        device_model = "device.toml"
        instances = \(instances)
        seed = 5
        policies = ["none", "all"]
        times_s = [1.0, 3600.0, 86400.0]
        accuracy_threshold = 0.2
        output = "out/result.h5"
        \(extraSpec)
        [mapping]
        weight_bits = 6
        sign = "\(sign)"
        array_rows = 16
        array_cols = 32
        """.write(toFile: spec, atomically: true, encoding: .utf8)
    }
}

/// Writes images as an HDF5 dataset file (`images` float32 [N, C, H, W], `labels` int64 [N]),
/// with the same images as the training split (`train_images`, `train_labels`).
func writeHDF5Dataset(_ images: LabeledImages, to path: String) throws {
    let (count, channels, height, width) = (images.count, images.channels, images.height, images.width)
    var nchw = [Float](repeating: 0, count: images.pixels.count)
    for n in 0..<count {
        for c in 0..<channels {
            for y in 0..<height {
                for x in 0..<width {
                    nchw[((n * channels + c) * height + y) * width + x] =
                        images.pixels[((n * height + y) * width + x) * channels + c]
                }
            }
        }
    }
    let file = try HDF5File(path: path, mode: .createTruncating)
    try file.write(ShapedArray(values: nchw, shape: [count, channels, height, width]), to: "/images")
    try file.write(images.labels.map { Int64($0) }, to: "/labels")
    try file.write(ShapedArray(values: nchw, shape: [count, channels, height, width]), to: "/train_images")
    try file.write(images.labels.map { Int64($0) }, to: "/train_labels")
}

/// Enums with string raw values name themselves in parameterised test output by that value.
extension CustomTestArgumentEncodable where Self: RawRepresentable, RawValue == String {
    public func encodeTestArgument(to encoder: some Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A small graph network with every operation kind and attribute cimcarlo supports: asymmetric
/// padding and strides, a grouped dilated and a depthwise convolution, batch normalisation, a
/// three-way residual add whose operands fan out, channel concatenation, max and average
/// pooling with padding and ceil mode, clip, leaky ReLU, sigmoid, tanh, global average pooling,
/// flatten, identity and dense layers, ending in 5 logits.
func makeGraphNetwork(seed: UInt64) -> Network {
    var generator = SplitMix64(seed: seed)
    func values(_ count: Int, scale: Double, offset: Double = 0) -> [Float] {
        (0..<count).map { _ in Float(offset + generator.nextStandardNormal() * scale) }
    }
    func node(_ name: String, _ inputs: [String], _ operation: any NetworkOperation) -> NetworkNode {
        NetworkNode(name: name, inputs: inputs, operation: operation)
    }
    let nodes = [
        node(
            "c1", ["input"],
            Convolution(
                name: "c1", inputChannels: 2, outputChannels: 4, kernelHeight: 3, kernelWidth: 2,
                strideHeight: 2, strideWidth: 1, padTop: 0, padLeft: 1, padBottom: 2, padRight: 1,
                weight: values(48, scale: 0.5), bias: values(4, scale: 0.1))),
        node(
            "bn1", ["c1"],
            BatchNormalization(
                channels: 4, gamma: values(4, scale: 0.2, offset: 1), beta: values(4, scale: 0.1),
                mean: values(4, scale: 0.1), variance: values(4, scale: 0.1, offset: 0.8))),
        node("r1", ["bn1"], ReLU()),
        node(
            "c2", ["r1"],
            Convolution(
                name: "c2", inputChannels: 4, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                padTop: 1, padLeft: 2, padBottom: 1, padRight: 2, dilationHeight: 1, dilationWidth: 2,
                groups: 2, weight: values(72, scale: 0.4), bias: values(4, scale: 0.1))),
        node(
            "c3", ["r1"],
            Convolution(
                name: "c3", inputChannels: 4, outputChannels: 4, kernelHeight: 3, kernelWidth: 3,
                stride: 1, padding: 1, weight: values(36, scale: 0.4), bias: values(4, scale: 0.1)
            )
            .grouped(4)),
        node("sum", ["c2", "c3", "r1"], Add()),
        node("leaky", ["sum"], LeakyReLU(alpha: 0.1)),
        node("cat", ["leaky", "r1"], Concat()),
        node(
            "mp", ["cat"],
            MaxPool(
                PoolingWindow(
                    kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1,
                    padTop: 1, padLeft: 0, padBottom: 1, padRight: 1, ceilMode: true))),
        node(
            "ap", ["mp"],
            AveragePool(
                PoolingWindow(
                    kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2,
                    padTop: 1, padLeft: 1, ceilMode: true), countIncludePad: true)),
        node("clip", ["ap"], Clip(minimum: -0.5, maximum: 1.5)),
        node("sig", ["clip"], Sigmoid()),
        node("tanh", ["sig"], Tanh()),
        node("gap", ["tanh"], GlobalAveragePool()),
        node("flat", ["ap"], Flatten()),
        node(
            "fcB", ["flat"],
            Dense(name: "fcB", inputs: 96, outputs: 6, weight: values(576, scale: 0.2), bias: values(6, scale: 0.1))),
        node("id", ["fcB"], Identity()),
        node("head", ["gap", "id"], Concat()),
        node(
            "fc", ["head"],
            Dense(name: "fc", inputs: 14, outputs: 5, weight: values(70, scale: 0.5), bias: values(5, scale: 0.1))),
    ]
    return try! Network(
        inputShape: ActivationShape(height: 9, width: 9, channels: 2), inputMean: [0.3, 0.5],
        inputStd: [0.7, 0.9], nodes: nodes)
}

extension Convolution {
    /// The same convolution with `groups` groups (its weights must already have that shape).
    func grouped(_ groups: Int) -> Convolution {
        var copy = self
        copy.groups = groups
        return copy
    }
}

/// `∂(mean loss)/∂parameters` and `∂(mean loss)/∂pixels` of `network` on `images` (one batch).
func analyticGradients(_ network: Network, images: LabeledImages) throws -> (ParameterGradients, [Float]) {
    let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count)
    var gradients = ParameterGradients(zeroFor: network)
    var pixelGradient = [Float](repeating: 0, count: images.pixels.count)
    _ = images.pixels.withUnsafeBufferPointer { workspace.forward(network, pixels: $0, batchSize: images.count) }
    _ = images.labels.withUnsafeBufferPointer { workspace.crossEntropyGradient(labels: $0, batchSize: images.count) }
    pixelGradient.withUnsafeMutableBufferPointer {
        workspace.backward(network, batchSize: images.count, into: &gradients, pixelGradient: $0)
    }
    return (gradients, pixelGradient)
}
