/// ONNX HardSwish (MobileNetV3), `x · max(0, min(1, x/6 + 1/2))`; `f' = x/3 + 1/2` on (−3, 3),
/// 0 below, 1 above.
public struct HardSwish: ElementwiseFunction, Equatable {
    public init() {}
    public static let kind = "hard_swish"
    @inline(__always) public func value(_ x: Float) -> Float { x * max(0, min(1, x / 6 + 0.5)) }
    @inline(__always) public func derivative(_ x: Float) -> Float { x <= -3 ? 0 : (x >= 3 ? 1 : x / 3 + 0.5) }
}
