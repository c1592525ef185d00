/// `√x` (a decomposed layer norm's standard deviation); `f' = 1 / (2√x)`.
public struct Sqrt: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "sqrt"
    @inline(__always) public func value(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) public func derivative(_ x: Float) -> Float { 0.5 / x.squareRoot() }
}
