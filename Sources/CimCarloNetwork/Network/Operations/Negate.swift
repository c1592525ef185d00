/// ONNX Neg, `−x`; `f' = −1`.
public struct Negate: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "neg"
    @inline(__always) public func value(_ x: Float) -> Float { -x }
    @inline(__always) public func derivative(_ x: Float) -> Float { -1 }
}
