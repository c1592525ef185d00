import Foundation

/// ONNX Gelu (opset 20; Hendrycks & Gimpel 2016): exact `x · Φ(x) = 0.5 · x · (1 + erf(x/√2))`,
/// or the tanh approximation `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
public struct Gelu: ElementwiseFunction, Equatable {
    /// Whether the tanh approximation is used (`approximate = "tanh"`).
    public var tanhApproximation: Bool
    public init(tanhApproximation: Bool = false) { self.tanhApproximation = tanhApproximation }
    public static let kind = "gelu"

    private static let sqrtTwoOverPi: Float = 0.7978845608

    @inline(__always) public func value(_ x: Float) -> Float {
        guard tanhApproximation else { return 0.5 * x * (1 + erf(x * 0.7071067812)) }
        return 0.5 * x * (1 + tanh(Self.sqrtTwoOverPi * (x + 0.044715 * x * x * x)))
    }

    /// Exact: `Φ(x) + x · φ(x)`; tanh form: `0.5 (1 + t) + 0.5 x (1 − t²) · √(2/π) (1 + 3 · 0.044715 x²)`.
    @inline(__always) public func derivative(_ x: Float) -> Float {
        guard tanhApproximation else {
            return 0.5 * (1 + erf(x * 0.7071067812)) + x * 0.3989422804 * exp(-0.5 * x * x)
        }
        let t = tanh(Self.sqrtTwoOverPi * (x + 0.044715 * x * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.sqrtTwoOverPi * (1 + 0.134145 * x * x)
    }
}
