/// The reference networks cimcarlo trains itself for Fashion-MNIST.
public enum ReferenceArchitecture: String, CaseIterable, Sendable {
    /// Multilayer perceptron 784-256-128-10 with ReLU.
    case mlp
    /// LeNet-5 (LeCun et al., 1998) in its modern form: ReLU and max-pooling,
    /// conv 6@5×5 (padding 2) → pool 2 → conv 16@5×5 → pool 2 → 120 → 84 → 10.
    case lenet5

    /// Fashion-MNIST training-split pixel statistics (pixels in [0, 1]); the standard
    /// values used by torchvision examples.
    public static let fashionMNISTMean: Float = 0.2860
    public static let fashionMNISTStd: Float = 0.3530

    /// A freshly initialised network for 28×28 grey images and 10 classes.
    ///
    /// Weights are He-uniform, `U(±√(6 / fan_in))` (He et al., 2015), suited to ReLU;
    /// biases start at zero.
    public func makeNetwork<G: RandomNumberGenerator>(using generator: inout G) -> Network {
        func dense(_ name: String, _ inputs: Int, _ outputs: Int) -> Dense {
            Dense(
                name: name, inputs: inputs, outputs: outputs,
                weight: heUniform(count: inputs * outputs, fanIn: inputs, using: &generator),
                bias: [Float](repeating: 0, count: outputs))
        }
        func conv(_ name: String, _ inputs: Int, _ outputs: Int, kernel: Int, padding: Int) -> Convolution {
            let fanIn = inputs * kernel * kernel
            return Convolution(
                name: name, inputChannels: inputs, outputChannels: outputs, kernelHeight: kernel, kernelWidth: kernel,
                stride: 1, padding: padding,
                weight: heUniform(count: outputs * fanIn, fanIn: fanIn, using: &generator),
                bias: [Float](repeating: 0, count: outputs))
        }
        let layers: [any NetworkOperation]
        switch self {
        case .mlp:
            layers = [Flatten(), dense("fc1", 784, 256), ReLU(), dense("fc2", 256, 128), ReLU(), dense("fc3", 128, 10)]
        case .lenet5:
            layers = [
                conv("conv1", 1, 6, kernel: 5, padding: 2), ReLU(), MaxPool(kernel: 2),
                conv("conv2", 6, 16, kernel: 5, padding: 0), ReLU(), MaxPool(kernel: 2),
                Flatten(), dense("fc1", 400, 120), ReLU(), dense("fc2", 120, 84), ReLU(), dense("fc3", 84, 10),
            ]
        }
        return Network(
            inputShape: ActivationShape(height: 28, width: 28, channels: 1),
            inputMean: Self.fashionMNISTMean, inputStd: Self.fashionMNISTStd, layers: layers)
    }
}

private func heUniform<G: RandomNumberGenerator>(count: Int, fanIn: Int, using generator: inout G) -> [Float] {
    let bound = (6 / Double(fanIn)).squareRoot()
    return (0..<count).map { _ in Float((2 * generator.nextOpenUnitInterval() - 1) * bound) }
}
