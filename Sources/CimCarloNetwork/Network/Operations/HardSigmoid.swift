/// ONNX HardSigmoid, `max(0, min(1, α·x + β))` (PyTorch's `hardsigmoid` is α = 1/6, β = 0.5);
/// the derivative is α strictly inside the ramp.
public struct HardSigmoid: ElementwiseFunction, Equatable {
    public var alpha: Float
    public var beta: Float
    public init(alpha: Float = 0.2, beta: Float = 0.5) {
        self.alpha = alpha
        self.beta = beta
    }
    public static let kind = "hard_sigmoid"
    @inline(__always) public func value(_ x: Float) -> Float { max(0, min(1, alpha * x + beta)) }
    @inline(__always) public func derivative(_ x: Float) -> Float {
        let ramp = alpha * x + beta
        return ramp > 0 && ramp < 1 ? alpha : 0
    }
}
