/// The shape of one sample's activations, channel-last.
public struct ActivationShape: Sendable, Equatable, CustomStringConvertible {
    public var height: Int
    public var width: Int
    public var channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// A flat feature vector.
    public init(features: Int) {
        self.init(height: 1, width: 1, channels: features)
    }

    public var count: Int { height * width * channels }
    public var description: String { "[\(channels), \(height), \(width)]" }
}

/// A shape error in a network description, naming the layer.
public struct NetworkShapeError: Error, CustomStringConvertible, Equatable {
    public var layerIndex: Int
    public var reason: String
    public var description: String { "layer \(layerIndex): \(reason)" }
}

/// A feed-forward classifier: input normalisation, then layers in order, producing logits.
public struct Network: Sendable, Equatable {
    /// Shape of one input image.
    public var inputShape: ActivationShape
    /// Inputs are normalised as `(pixel − inputMean) / inputStd` before the first layer
    /// (pixels in [0, 1]).
    public var inputMean: Float
    public var inputStd: Float
    public var layers: [Layer]

    public init(inputShape: ActivationShape, inputMean: Float = 0, inputStd: Float = 1, layers: [Layer]) {
        self.inputShape = inputShape
        self.inputMean = inputMean
        self.inputStd = inputStd
        self.layers = layers
    }

    /// Activation shape before layer `i` at index `i` and the output shape last
    /// (`layers.count + 1` entries); throws if consecutive layers do not fit.
    public func activationShapes() throws -> [ActivationShape] {
        var shapes = [inputShape]
        var shape = inputShape
        for (index, layer) in layers.enumerated() {
            func fail(_ reason: String) -> NetworkShapeError { NetworkShapeError(layerIndex: index, reason: reason) }
            switch layer {
            case let .dense(dense):
                guard shape.height == 1, shape.width == 1 else {
                    throw fail("dense layer `\(dense.name)` needs a flat input; add a flatten layer before it (input is \(shape))")
                }
                guard shape.channels == dense.inputs else {
                    throw fail("dense layer `\(dense.name)` expects \(dense.inputs) inputs, previous layer gives \(shape.channels)")
                }
                shape = ActivationShape(features: dense.outputs)
            case let .conv2d(conv):
                guard shape.channels == conv.inputChannels else {
                    throw fail("conv2d layer `\(conv.name)` expects \(conv.inputChannels) input channels, gets \(shape.channels)")
                }
                guard conv.stride >= 1, conv.padding >= 0, conv.kernelHeight >= 1, conv.kernelWidth >= 1 else {
                    throw fail("conv2d layer `\(conv.name)` needs stride ≥ 1, padding ≥ 0, kernel ≥ 1")
                }
                let height = (shape.height + 2 * conv.padding - conv.kernelHeight) / conv.stride + 1
                let width = (shape.width + 2 * conv.padding - conv.kernelWidth) / conv.stride + 1
                guard height >= 1, width >= 1, shape.height + 2 * conv.padding >= conv.kernelHeight,
                      shape.width + 2 * conv.padding >= conv.kernelWidth else {
                    throw fail("conv2d layer `\(conv.name)` kernel is larger than its padded input \(shape)")
                }
                shape = ActivationShape(height: height, width: width, channels: conv.outputChannels)
            case let .maxPool2d(pool), let .avgPool2d(pool):
                guard pool.kernel >= 1, pool.stride >= 1, pool.kernel <= shape.height, pool.kernel <= shape.width else {
                    throw fail("pooling window \(pool.kernel) (stride \(pool.stride)) does not fit input \(shape)")
                }
                shape = ActivationShape(height: (shape.height - pool.kernel) / pool.stride + 1,
                                        width: (shape.width - pool.kernel) / pool.stride + 1,
                                        channels: shape.channels)
            case .relu:
                break
            case .flatten:
                shape = ActivationShape(features: shape.count)
            }
            shapes.append(shape)
        }
        guard !layers.isEmpty, shape.height == 1, shape.width == 1 else {
            throw NetworkShapeError(layerIndex: layers.count, reason: "the network must end in a flat vector of class scores, ends in \(shape)")
        }
        return shapes
    }

    /// Number of output classes (size of the last activation).
    public var classCount: Int { (try? activationShapes().last?.count) ?? 0 }

    /// Indices of the dense and conv2d layers, in order.
    public var weightLayerIndices: [Int] { layers.indices.filter { layers[$0].isWeightLayer } }

    /// Number of trainable parameters (weights and biases).
    public var parameterCount: Int {
        layers.reduce(0) { total, layer in
            switch layer {
            case let .dense(dense): total + dense.weight.count + dense.bias.count
            case let .conv2d(conv): total + conv.weight.count + conv.bias.count
            default: total
            }
        }
    }
}
