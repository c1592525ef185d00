/// `1/x`; `f' = −1/x²`.
public struct Reciprocal: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "reciprocal"
    @inline(__always) public func value(_ x: Float) -> Float { 1 / x }
    @inline(__always) public func derivative(_ x: Float) -> Float { -1 / (x * x) }
}
