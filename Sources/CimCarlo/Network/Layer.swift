/// One layer of a feed-forward network. Weight layers carry float32 parameters in
/// PyTorch's layout, so models exported from PyTorch need no reordering.
public enum Layer: Sendable, Equatable {
    /// Fully connected: `y = W·x + b`, `W` is `[outputs, inputs]`.
    case dense(DenseLayer)
    /// 2-D convolution (cross-correlation, as in PyTorch) over NHWC activations.
    case conv2d(ConvolutionLayer)
    /// Maximum over non-overlapping or strided windows, per channel.
    case maxPool2d(PoolingLayer)
    /// Mean over windows, per channel.
    case avgPool2d(PoolingLayer)
    /// `max(0, x)`.
    case relu
    /// Reshapes `[H, W, C]` to features in PyTorch's `C·H·W` order.
    case flatten

    /// The `kind` string of the model file schema.
    public var kind: String {
        switch self {
        case .dense: "dense"
        case .conv2d: "conv2d"
        case .maxPool2d: "maxpool2d"
        case .avgPool2d: "avgpool2d"
        case .relu: "relu"
        case .flatten: "flatten"
        }
    }

    /// Whether the layer holds weights that are mapped onto crossbars.
    public var isWeightLayer: Bool {
        switch self {
        case .dense, .conv2d: true
        default: false
        }
    }
}

/// A fully connected layer.
public struct DenseLayer: Sendable, Equatable {
    public var name: String
    public var inputs: Int
    public var outputs: Int
    /// `[outputs, inputs]`, row-major.
    public var weight: [Float]
    /// `[outputs]`.
    public var bias: [Float]

    public init(name: String, inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inputs * outputs && bias.count == outputs, "dense parameters do not fit the shape")
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.weight = weight
        self.bias = bias
    }
}

/// A 2-D convolution with square stride and symmetric zero padding.
public struct ConvolutionLayer: Sendable, Equatable {
    public var name: String
    public var inputChannels: Int
    public var outputChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var stride: Int
    public var padding: Int
    /// `[outputChannels, inputChannels, kernelHeight, kernelWidth]`, row-major; read as the
    /// `[outputChannels, inputChannels·kernelHeight·kernelWidth]` matrix of the im2col product.
    public var weight: [Float]
    /// `[outputChannels]`.
    public var bias: [Float]

    public init(name: String, inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
                stride: Int = 1, padding: Int = 0, weight: [Float], bias: [Float]) {
        precondition(weight.count == outputChannels * inputChannels * kernelHeight * kernelWidth
                     && bias.count == outputChannels, "conv2d parameters do not fit the shape")
        self.name = name
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.stride = stride
        self.padding = padding
        self.weight = weight
        self.bias = bias
    }

    /// Rows of the im2col patch matrix per output pixel: `inputChannels · kernelHeight · kernelWidth`.
    public var patchSize: Int { inputChannels * kernelHeight * kernelWidth }
}

/// A pooling window (square), applied per channel without padding.
public struct PoolingLayer: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int

    public init(kernel: Int, stride: Int? = nil) {
        self.kernel = kernel
        self.stride = stride ?? kernel
    }
}
