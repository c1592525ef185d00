import Foundation

/// `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^(−|x|))` so it never overflows; `f' = sigmoid(x)`.
public struct Softplus: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "softplus"
    @inline(__always) public func value(_ x: Float) -> Float { max(x, 0) + log1p(exp(-abs(x))) }
    @inline(__always) public func derivative(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
}
