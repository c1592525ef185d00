import Foundation

/// The error function (exported GELU: `0.5 · x · (1 + erf(x / √2))`); `f' = 2/√π · e^(−x²)`.
public struct Erf: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "erf"
    @inline(__always) public func value(_ x: Float) -> Float { erf(x) }
    @inline(__always) public func derivative(_ x: Float) -> Float { 1.1283791671 * exp(-x * x) }
}
