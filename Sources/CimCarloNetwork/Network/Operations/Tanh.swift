import Foundation

/// The hyperbolic tangent; `f' = 1 − y²`.
public struct Tanh: PointwiseActivation, Equatable {
    public init() {}
    public static let kind = "tanh"
    @inline(__always) public func value(_ x: Float) -> Float { tanh(x) }
    @inline(__always) public func derivative(output y: Float) -> Float { 1 - y * y }
}

extension Tanh: ParameterlessOperation {}
