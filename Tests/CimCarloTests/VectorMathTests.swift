import Foundation
import Testing

@testable import CimCarlo

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

    @Test func logExpAndSqrtAreAccurateToAFewUlps() {
        let positive = (1..<20_000).map { Float($0) * 5e-5 } + (1..<1000).map { Float($0) * 0.37 }
        #expect(worstRelativeError(positive, VectorMath.log, Foundation.log) < 3e-7)
        #expect(worstRelativeError(positive, VectorMath.sqrt, { $0.squareRoot() }) < 3e-7)
        let exponents = (-870..<880).map { Float($0) * 0.1 }
        #expect(worstRelativeError(exponents, VectorMath.exp, Foundation.exp) < 3e-7)
    }

    @Test func cosineAndSineOfTurnsAreAccurate() {
        for step in 0..<10_000 {
            let turns = Float(step) / 10_000
            let (cosine, sine) = VectorMath.cosSinTurns(VectorMath.Lanes(repeating: turns))
            #expect(abs(Double(cosine[0]) - cos(2 * .pi * Double(turns))) < 2e-7)
            #expect(abs(Double(sine[0]) - sin(2 * .pi * Double(turns))) < 2e-7)
        }
    }
}
