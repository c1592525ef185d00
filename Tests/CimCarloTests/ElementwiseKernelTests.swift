import CimCarlo
import Foundation
import Testing

@testable import CimCarloNetwork

/// The vector GELU (`Sources/CKernels/elementwise.c`): within its erf's 1.5 × 10⁻⁷ of the exact
/// function in double precision, without cancellation on the negative side, and the same bits
/// on every instruction set.
@Suite struct ElementwiseKernelTests {
    /// Values from −12 to 12 (odd counts, so the last vector is partial), and the edges.
    static let inputs: [Float] =
        (0..<4_001).map { Float($0) * 0.006 - 12 } + [0, -0, 1e-30, -1e-30, 88, -88, 200, -200, .infinity]

    @Test func exactGeluIsWithinItsErfBoundOfDoublePrecision() throws {
        let inputs = Self.inputs
        var outputs = [Float](repeating: .nan, count: inputs.count)
        #expect(Gelu.exactForm(inputs, &outputs, count: inputs.count))
        for (x, y) in zip(inputs, outputs) {
            let exact = 0.5 * Double(x) * (1 + erf(Double(x) / 2.0.squareRoot()))
            guard exact.isFinite else {
                #expect(y == Float(exact), "x = \(x)")
                continue
            }
            // Half the erf bound times |x|, plus five float roundings; relative on the negative
            // tail, where GELU is erfc's value times x/2 and A&S holds erfc to about 1e-6 there.
            let bound = 0.5 * abs(Double(x)) * 1.5e-7 + 6e-7 * abs(exact) + 1e-30
            let tail = x < -3 ? 2e-6 * abs(exact) : 0
            #expect(abs(Double(y) - exact) <= max(bound, tail), "x = \(x): \(y) vs \(exact)")
        }
    }

    @Test func everyVersionGivesTheSameBits() {
        let inputs = Self.inputs
        var baseline = [Float](repeating: .nan, count: inputs.count)
        #expect(Gelu.exactForm(inputs, &baseline, count: inputs.count, version: 0))
        var compared = 0
        for version in 1...2 {
            var outputs = [Float](repeating: .nan, count: inputs.count)
            guard Gelu.exactForm(inputs, &outputs, count: inputs.count, version: version) else { continue }
            compared += 1
            #expect(outputs.map(\.bitPattern) == baseline.map(\.bitPattern), "version \(version)")
        }
        #expect(compared > 0, "this CPU has neither AVX2 nor AVX-512: nothing to compare")
    }
}
