import Foundation
import Testing

@testable import CimCarlo

/// The per-device vector forms the sampler uses agree with the device model's scalar definitions.
@Suite struct ChipSimulatorSamplingTests {
    @Test(arguments: [
        Variation(distribution: .gaussian, reference: .range, sigma: 0.03),
        Variation(distribution: .gaussian, reference: .target, sigma: 0.05),
        Variation(distribution: .lognormal, reference: .target, sigma: 0.2),
        Variation(sigmaPerLevel: [0.01, 0.04, 0.02, 0.03]),
        Variation(sigmaPolynomial: [0.26348e-6, 1.9650e-6, -1.1731e-6]),
    ])
    func variationTableMatchesTheScalarDeviation(variation: Variation) {
        var device = DeviceModel.ideal
        device.minimumConductance = 2e-6
        device.maximumConductance = 40e-6
        let targets = (0..<16).map { Float($0) / 15 }
        let table = VariationTable(variation, targets: targets, device: device)
        defer { table.deallocate() }
        let draws = VectorMath.Lanes(-2.5, -1, -0.3, 0, 0.4, 1.1, 2, 3.7)
        for start in [0, 8] {
            let vector = table.deviation(draws, at: start)
            for lane in 0..<8 {
                let x = Double(targets[start + lane])
                let expected = variation.deviation(
                    at: x, standardNormal: Double(draws[lane]), device: device,
                    sigma: variation.sigma(at: x, device: device))
                #expect(abs(Double(vector[lane]) - expected) <= 1e-6 * max(abs(expected), 1e-3))
                #expect(table.deviation(at: start + lane, standardNormal: draws[lane]) == vector[lane])
            }
        }
    }

    @Test func vectorReadNoiseSigmaMatchesTheScalarForm() {
        let noise = ReadNoise(coefficient: 0.0088, exponent: 0.65, floor: 1e-3, maximum: 0.2)
        let x = VectorMath.Lanes(0, 1e-6, 0.001, 0.05, 0.3, 0.5, 0.9, 1)
        let vector = noise.relativeSigma(at: x)
        for lane in 0..<8 {
            let expected = noise.relativeSigma(at: Double(x[lane]))
            #expect(abs(Double(vector[lane]) - expected) <= 1e-6 * expected)
        }
    }
}
