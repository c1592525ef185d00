import CimCarlo
import Foundation
import Testing

/// The polynomial elementary functions against Foundation's double-precision ones.
@Suite struct VectorMathTests {
    /// Largest relative error of `vector` against `reference` over `inputs`.
    func worstRelativeError(
        _ inputs: [Float], _ vector: (VectorMath.Lanes) -> VectorMath.Lanes, _ reference: (Double) -> Double
    ) -> Double {
        inputs.map { x in
            let expected = reference(Double(x))
            return abs(Double(vector(VectorMath.Lanes(repeating: x))[3]) - expected) / max(abs(expected), 1e-30)
        }.max()!
    }

    @Test func logAndExpAreAccurateToAFewUlps() {
        let positive = (1..<20_000).map { Float($0) * 5e-5 } + (1..<1000).map { Float($0) * 0.37 }
        #expect(worstRelativeError(positive, VectorMath.log, Foundation.log) < 3e-7)
        let exponents = (-870..<880).map { Float($0) * 0.1 }
        #expect(worstRelativeError(exponents, VectorMath.exp, Foundation.exp) < 3e-7)
    }

    /// The sampler's normals (`Sources/CKernels/sampler.c`, on each instruction set the machine
    /// has) against Box–Muller in double precision on its own uniforms: draw `32g + 8w + i` is
    /// word `w` of lane `i`, and words (0, 1) and (2, 3) pair as (u₀, u₁):
    /// `z = √(−2 ln u₀) · (cos 2πu₁, sin 2πu₁)`.
    @Test func samplerNormalsAreBoxMullerOfItsUniforms() {
        let stream = CounterRandom(seed: 3, instance: 1, purpose: .deviceToDevice)
        let count = 1 << 16
        var uniforms = [Float](repeating: 0, count: count)
        var normals = [Float](repeating: 0, count: count)
        uniforms.withUnsafeMutableBufferPointer { stream.fillUniforms($0, firstCounter: 0) }
        normals.withUnsafeMutableBufferPointer { stream.fillNormals($0, firstCounter: 0) }
        var worst = 0.0
        for group in stride(from: 0, to: count, by: 32) {
            for lane in 0..<8 {
                for pair in [0, 16] {
                    let radius = (-2 * Foundation.log(Double(uniforms[group + pair + lane]))).squareRoot()
                    let angle = 2 * Double.pi * Double(uniforms[group + pair + 8 + lane])
                    worst = max(
                        worst, abs(Double(normals[group + pair + lane]) - radius * cos(angle)),
                        abs(Double(normals[group + pair + 8 + lane]) - radius * sin(angle)))
                }
            }
        }
        // |z| ≤ 5.8; a few float ulps of the radius and of the angle's cosine.
        #expect(worst < 4e-6, "largest deviation \(worst)")
    }
}
