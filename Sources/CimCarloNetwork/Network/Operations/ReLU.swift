/// `max(0, x)`.
public struct ReLU: PointwiseActivation, Equatable {
    public init() {}
    public static let kind = "relu"
    @inline(__always) public func value(_ x: Float) -> Float { max(x, 0) }
    @inline(__always) public func derivative(output y: Float) -> Float { y > 0 ? 1 : 0 }
}

extension ReLU: ParameterlessOperation {}
