import CimCarlo
import Foundation

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
            .conv2d(ConvolutionLayer(name: "conv1", inputChannels: 2, outputChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                     stride: 2, padding: 1, weight: values(54, scale: 0.4), bias: values(3, scale: 0.1))),
            .relu,
            .maxPool2d(PoolingLayer(kernel: 2)),
            .conv2d(ConvolutionLayer(name: "conv2", inputChannels: 3, outputChannels: 4, kernelHeight: 2, kernelWidth: 3,
                                     stride: 1, padding: 1, weight: values(72, scale: 0.4), bias: values(4, scale: 0.1))),
            .avgPool2d(PoolingLayer(kernel: 2, stride: 1)),
            .flatten,
            .dense(DenseLayer(name: "fc1", inputs: 24, outputs: 7, weight: values(168, scale: 0.4), bias: values(7, scale: 0.1))),
            .relu,
            .dense(DenseLayer(name: "fc2", inputs: 7, outputs: 5, weight: values(35, scale: 0.4), bias: values(5, scale: 0.1))),
        ])
}

/// Random images in [0, 1] and labels for `network`'s input.
func makeRandomImages(for network: Network, count: Int, seed: UInt64) -> LabeledImages {
    var generator = SplitMix64(seed: seed)
    let shape = network.inputShape
    let pixels = (0..<(count * shape.count)).map { _ in Float(generator.nextOpenUnitInterval()) }
    let labels = (0..<count).map { _ in Int32(generator.next() % UInt64(network.classCount)) }
    return LabeledImages(pixels: pixels, labels: labels, height: shape.height, width: shape.width, channels: shape.channels)
}
