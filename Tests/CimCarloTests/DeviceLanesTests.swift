import CimCarlo
import Foundation
import Testing

@testable import CimCarloDevices

/// Each effect's formula is written once, generic over `DeviceLanes`: eight lanes give the same
/// bits as the scalar `Float` form device by device, and agree with the `Double` (libm) form.
@Suite struct DeviceLanesTests {
    private let draws = VectorMath.Lanes(-2.5, -1, -0.3, 0, 0.4, 1.1, 2, 3.7)

    @Test func elementaryFunctionsAgreeWithTheCLibrary() {
        let x = VectorMath.Lanes(-20, -3, -0.5, 0, 0.1, 1, 7.5, 40)
        let exponential = VectorMath.Lanes.exp(x)
        let logarithm = VectorMath.Lanes.log(x.absolute + 1e-3)
        for lane in 0..<8 {
            #expect(Float.exp(x[lane]) == exponential[lane])
            #expect(
                abs(Double(exponential[lane]) - Foundation.exp(Double(x[lane]))) <= 2e-7
                    * Foundation.exp(Double(x[lane])))
            let y = Double(abs(x[lane]) + 1e-3)
            #expect(abs(Double(logarithm[lane]) - Foundation.log(y)) <= 2e-7 * max(1, abs(Foundation.log(y))))
        }
    }

    @Test(arguments: [
        Variation(distribution: .gaussian, reference: .range, sigma: 0.03),
        Variation(distribution: .gaussian, reference: .target, sigma: 0.05),
        Variation(distribution: .lognormal, reference: .target, sigma: 0.2),
        Variation(sigmaPerLevel: [0.01, 0.04, 0.02, 0.03]),
        Variation(sigmaPolynomial: [0.26348e-6, 1.9650e-6, -1.1731e-6]),
    ])
    func variationDeviationIsOneFormula(variation: Variation) {
        var device = DeviceModel.ideal
        device.minimumConductance = 2e-6
        device.maximumConductance = 40e-6
        device.cellBits = 2
        let chunk = DeviceChunk()
        chunk.count = 16
        // Grid levels (looked up) and off-grid ones (evaluated directly).
        for index in 0..<16 { chunk.targets[index] = index < 8 ? Float(index % 4) / 3 : Float(index) / 17 }
        let effect = VariationEffect(variation, purpose: .deviceToDevice, device: device)
        effect.sample(chunk, ChipDraws(seed: 1, instance: 0))
        for start in [0, 8] {
            let vector = effect.deviation(draws, at: start)
            for lane in 0..<8 {
                let x = Double(chunk.targets[start + lane])
                let expected = variation.deviation(at: x, standardNormal: Double(draws[lane]), device: device)
                #expect(abs(Double(vector[lane]) - expected) <= 1e-6 * max(abs(expected), 1e-3))
                #expect(effect.deviation(draws[lane], at: start + lane) == vector[lane])
            }
        }
    }

    /// A level table gives `Float(parameter(Double(target)))` exactly, on and off the grid, in
    /// whole and partial lanes, for small grids (matched eight at a time) and large ones.
    @Test(arguments: [1, 2, 4, 5, 8])
    func levelTableIsTheParameterAtEveryTarget(cellBits: Int) {
        let parameter: @Sendable (Double) -> Double = { 0.02 + 0.3 * $0 * $0 - 0.1 * $0 }
        let table = LevelTable(cellBits: cellBits, parameter)
        let gridMax = Float((1 << cellBits) - 1)
        var generator = SplitMix64(seed: UInt64(cellBits))
        let chunk = DeviceChunk()
        chunk.count = 4_000 + cellBits  // a partial last lane
        for index in 0..<chunk.count {
            let level = Float(generator.next() % UInt64(gridMax + 1))
            chunk.targets[index] =
                switch generator.next() % 8 {
                case 0: Float(generator.next() % 1_000) / 999  // off the grid (or on it by chance)
                case 1: level / gridMax + 1e-7
                default: level / gridMax
                }
        }
        let output = DeviceBuffer<Float>(count: DeviceChunk.capacity)
        table.fill(chunk, into: output)
        for index in 0..<chunk.count {
            #expect(output[index] == Float(parameter(Double(chunk.targets[index]))), "device \(index)")
        }
    }

    @Test(arguments: [
        ReadNoise(coefficient: 0.0088, exponent: 0.65, floor: 1e-3, maximum: 0.2),
        ReadNoise(coefficient: 0.01),
        ReadNoise(sigma: .logarithmic(microsiemensPerDecade: 0.0277, maximumMicrosiemens: 50)),
    ])
    func readNoiseSigmaIsOneFormula(noise: ReadNoise) {
        let x = VectorMath.Lanes(0, 1e-6, 0.001, 0.05, 0.3, 0.5, 0.9, 1)
        let vector = noise.relativeSigma(at: x)
        for lane in 0..<8 {
            #expect(noise.relativeSigma(at: x[lane]) == vector[lane])
            let expected: Double = noise.relativeSigma(at: Double(x[lane]))
            #expect(abs(Double(vector[lane]) - expected) <= 1e-6 * max(expected, 1e-9))
        }
    }

    @Test func driftAndRelaxationAreOneFormula() {
        let drift = Drift(
            referenceTimeSeconds: 20, exponentMean: .constant(0.05), exponentStd: .constant(0.01),
            absoluteExponent: true)
        let mean = VectorMath.Lanes(repeating: 0.05)
        let std = VectorMath.Lanes(repeating: 0.01)
        let exponents = drift.exponent(standardNormal: draws * 10, mean: mean, std: std)
        let logTime = VectorMath.Lanes(repeating: 8.5)
        let factors = Drift.factor(logTimeRatio: logTime, exponent: exponents)
        let moved = Relaxation.movement(
            standardNormal: draws, shift: .init(repeating: -0.01), initial: .init(repeating: 0.02),
            perDecade: .init(repeating: -0.004), decades: .init(repeating: 3))
        for lane in 0..<8 {
            let z = Double(draws[lane])
            #expect(exponents[lane] == drift.exponent(standardNormal: draws[lane] * 10, mean: 0.05, std: 0.01))
            #expect(abs(Double(exponents[lane]) - abs(0.05 + 0.1 * z)) < 1e-7)
            #expect(factors[lane] == Drift.factor(logTimeRatio: 8.5, exponent: exponents[lane]))
            #expect(abs(Double(factors[lane]) - pow((8.5 as Double).exponentiated, -Double(exponents[lane]))) < 1e-6)
            #expect(abs(Double(moved[lane]) - (-0.01 + 0.008 * z)) < 1e-7)
        }
    }
}

extension Double {
    /// e^self.
    fileprivate var exponentiated: Double { Foundation.exp(self) }
}
