internal import CKernels
import Foundation

/// ONNX Gelu (opset 20; Hendrycks & Gimpel 2016): exact `x · Φ(x) = 0.5 · x · (1 + erf(x/√2))`,
/// or the tanh approximation `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`. Forward passes
/// of the exact form run on a vector kernel (`Sources/CKernels/elementwise.c`: erf to
/// 1.5 × 10⁻⁷, as PyTorch's vectorised CPU GELU computes it); `value` and the derivative use
/// libm's erf.
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

    public func forward(_ pass: ForwardPass) {
        let (input, output) = (pass.input, pass.output)
        guard tanhApproximation || !Self.exactForm(input.baseAddress!, output.baseAddress!, count: output.count) else {
            return
        }
        for element in 0..<output.count { output[element] = value(input[element]) }
    }

    /// The exact form of `count` values by the vector kernel on version `version` (0 baseline
    /// x86-64, 1 AVX2, 2 AVX-512; −1 this machine's best); false when this CPU lacks the version.
    static func exactForm(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, version: Int = -1
    ) -> Bool {
        cimcarlo_gelu(Int32(version), input, output, Int64(count)) == 0
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
