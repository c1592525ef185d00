import Foundation

/// The logistic function `1 / (1 + e^(−x))`; `f' = y (1 − y)`.
public struct Sigmoid: PointwiseActivation, Equatable {
    public init() {}
    public static let kind = "sigmoid"
    @inline(__always) public func value(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
    @inline(__always) public func derivative(output y: Float) -> Float { y * (1 - y) }
}

extension Sigmoid: ParameterlessOperation {}
