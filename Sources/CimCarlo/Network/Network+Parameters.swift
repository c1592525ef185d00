extension Network {
    /// Gives `body` in-place access to the weights and biases of weight layer `index`
    /// (dense or conv2d) without copying them. Other layers are left alone.
    public mutating func modifyParameters(ofLayer index: Int,
                                          _ body: (inout [Float], inout [Float]) throws -> Void) rethrows {
        // Swap the layer out first so its arrays are uniquely referenced while mutated.
        let layer = layers[index]
        layers[index] = .relu
        switch layer {
        case var .dense(dense):
            defer { layers[index] = .dense(dense) }
            try body(&dense.weight, &dense.bias)
        case var .conv2d(conv):
            defer { layers[index] = .conv2d(conv) }
            try body(&conv.weight, &conv.bias)
        default:
            layers[index] = layer
        }
    }

    /// The weights of weight layer `index` (empty for other layers).
    public func weights(ofLayer index: Int) -> [Float] {
        switch layers[index] {
        case let .dense(dense): dense.weight
        case let .conv2d(conv): conv.weight
        default: []
        }
    }
}
