import Foundation

/// `e^x`; `f' = e^x`.
public struct Exp: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "exp"
    @inline(__always) public func value(_ x: Float) -> Float { exp(x) }
    @inline(__always) public func derivative(_ x: Float) -> Float { exp(x) }
}
