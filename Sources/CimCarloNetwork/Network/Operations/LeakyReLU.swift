/// `x` for `x ≥ 0`, `α · x` below (`α > 0`, so the output's sign is the input's).
public struct LeakyReLU: PointwiseActivation, Equatable {
    /// Slope for negative inputs, ONNX's `alpha` (default 0.01).
    public var alpha: Float

    public init(alpha: Float = 0.01) { self.alpha = alpha }

    public static let kind = "leaky_relu"
    @inline(__always) public func value(_ x: Float) -> Float { x >= 0 ? x : alpha * x }
    @inline(__always) public func derivative(output y: Float) -> Float { y >= 0 ? 1 : alpha }
}

extension LeakyReLU: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws { self.init(alpha: try node.float("alpha")) }
    func write(modelFile node: ModelFileNode) throws { try node.set("alpha", alpha) }
}
