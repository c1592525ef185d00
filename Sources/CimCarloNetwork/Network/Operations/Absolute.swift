/// ONNX Abs, `|x|`; `f' = sign(x)` (0 at 0).
public struct Absolute: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "abs"
    @inline(__always) public func value(_ x: Float) -> Float { abs(x) }
    @inline(__always) public func derivative(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
