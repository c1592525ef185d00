/// Batch normalisation at inference (Ioffe & Szegedy, 2015), per channel:
/// `y = γ · (x − μ) / √(σ² + ε) + β = scale · x + shift`.
///
/// Digital by default: computed exactly as trained. `Network.foldingBatchNormalization()`
/// moves it into the preceding convolution's weights instead (`[mapping] batchnorm = "fold"`).
public struct BatchNormalization: NetworkOperation, Equatable {
    public var channels: Int
    /// γ, β, running mean μ and running variance σ², each `[channels]`.
    public var gamma: [Float]
    public var beta: [Float]
    public var mean: [Float]
    public var variance: [Float]
    /// ε added to the variance (PyTorch's default 1e-5).
    public var epsilon: Float

    public init(channels: Int, gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Float = 1e-5) {
        precondition(
            [gamma, beta, mean, variance].allSatisfy { $0.count == channels },
            "batch-norm parameters need one value per channel")
        self.channels = channels
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
    }

    public static let kind = "batchnorm"
    public var worksInPlace: Bool { true }

    /// `γ / √(σ² + ε)` per channel.
    public var scale: [Float] { (0..<channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() } }
    /// `β − μ · scale` per channel.
    public var shift: [Float] {
        let scale = scale
        return (0..<channels).map { beta[$0] - mean[$0] * scale[$0] }
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        guard inputs[0].hasChannelsInnermost else {
            throw OperationShapeError("normalises axis 1 of images or of [1, C] vectors, input is \(inputs[0])")
        }
        guard inputs[0].channels == channels else {
            throw OperationShapeError("has \(channels) channels, its input \(inputs[0].channels)")
        }
        return inputs[0]
    }

    public func forward(_ pass: ForwardPass) {
        let (scale, shift) = (scale, shift)
        let (input, output) = (pass.input, pass.output)
        var element = 0
        for _ in 0..<(pass.batchSize * pass.outputShape.pixels) {
            for channel in 0..<channels {
                output[element] = input[element] * scale[channel] + shift[channel]
                element += 1
            }
        }
    }

    /// Gradient: `g_in += scale · g_out`; curvature: `S_in += scale² · S_out`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let factors = scale.map { pass.mode == .curvature ? $0 * $0 : $0 }
        for element in 0..<inputGradient.count {
            inputGradient[element] += pass.outputGradient[element] * factors[element % channels]
        }
    }
}

extension BatchNormalization: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        let channels = try node.integer("channels")
        self.init(
            channels: channels, gamma: try node.parameters("gamma", shape: [channels]),
            beta: try node.parameters("beta", shape: [channels]), mean: try node.parameters("mean", shape: [channels]),
            variance: try node.parameters("variance", shape: [channels]), epsilon: try node.float("epsilon"))
        guard variance.allSatisfy({ $0 >= 0 }), epsilon >= 0, epsilon.isFinite else {
            throw node.fail("variance and epsilon must be ≥ 0")
        }
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("channels", channels)
        try node.set("epsilon", epsilon)
        for (key, values) in [("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)] {
            try node.write(key, values, shape: [channels])
        }
    }
}
