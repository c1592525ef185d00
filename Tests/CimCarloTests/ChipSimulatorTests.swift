import CimCarlo
import Foundation
import Testing

/// Closed forms of the device models, checked on sampled chips with fixed seeds.
@Suite struct ChipSimulatorTests {
    /// 200 × 100 weights: `fill` everywhere except weight 0, which is 1 and sets max|W|.
    private func layer(fill: (Int) -> Float) -> Network {
        let weights = (0..<20_000).map { $0 == 0 ? Float(1) : fill($0) }
        return makeSingleLayerNetwork(inputs: 200, outputs: 100, weights: weights)
    }

    private func sampledWeights(
        _ network: Network, device: DeviceModel, mapping: MappingConfiguration,
        times: [Double] = [0], timeIndex: Int? = nil, instance: Int = 0
    ) throws -> [Float] {
        let crossbar = CrossbarMapping(network: network, configuration: mapping, cellBits: device.cellBits)
        let images = makeRandomImages(for: network, count: 2, seed: 1)
        let simulator = try ChipSimulator(
            network: network, mapping: crossbar, device: device,
            policies: [WriteVerifyPolicy(kind: .none)], timesSeconds: times, seed: 42,
            test: images)
        return simulator.sampledNetwork(instance: instance, policyIndex: 0, timeIndex: timeIndex).weights(ofNode: 0)
    }

    @Test func swimWeightNoiseMatchesTheClosedForm() throws {
        var generator = SplitMix64(seed: 9)
        let network = layer { _ in Float(2 * generator.nextOpenUnitInterval() - 1) }
        let mapping = MappingConfiguration(weightBits: 8, signEncoding: .signMagnitude)
        let device = try preset("swim-dac22")
        let quantized = CrossbarMapping(network: network, configuration: mapping, cellBits: 1)
            .quantizedNetwork(network).weights(ofNode: 0)
        var noise: [Double] = []
        for instance in 0..<2 {
            let sampled = try sampledWeights(network, device: device, mapping: mapping, instance: instance)
            noise += zip(sampled, quantized).map { Double($0 - $1) }
        }
        let (mean, std) = meanAndStd(noise)
        // σ · max|W| · sqrt(Σ_{i=1..8} 4^-i) with σ = 0.3, max|W| = 1 (the swim-dac22 preset) …
        let brief = 0.3 * (1 - pow(4, -8.0)).squareRoot() / 3.0.squareRoot()
        // … and exactly, for 255 quantisation levels: σ · sqrt(Σ_{j=0..7} 4^j) / 255.
        let exact = 0.3 * ((pow(4, 8.0) - 1) / 3).squareRoot() / 255
        #expect(abs(std - brief) / brief < 0.02, "std \(std) vs 0.577·σ = \(brief)")
        #expect(abs(std - exact) / exact < 0.02, "std \(std) vs \(exact)")
        #expect(abs(mean) < 4 * std / Double(noise.count).squareRoot())
    }

    @Test func stuckAtRatesMatch() throws {
        var device = DeviceModel.ideal
        device.stuckAtZeroRate = 0.05
        device.stuckAtOneRate = 0.10
        var generator = SplitMix64(seed: 4)
        let network = layer { _ in Float(0.2 + 0.6 * generator.nextOpenUnitInterval()) }
        let original = network.weights(ofNode: 0)
        let sampled = try sampledWeights(
            network, device: device,
            mapping: MappingConfiguration(weightBits: 0, signEncoding: .signMagnitude))
        let changed = Array(zip(sampled, original).dropFirst())
        let stuckLow = Double(changed.filter { $0.0 == 0 }.count) / Double(changed.count)
        let stuckHigh = Double(changed.filter { $0.0 == 1 }.count) / Double(changed.count)
        let untouched = changed.filter { $0.0 != 0 && $0.0 != 1 }
        #expect(untouched.allSatisfy { abs($0.0 - $0.1) < 1e-6 })
        // Binomial standard errors over 19 999 devices: 0.0015 and 0.0021; allow 4.
        #expect(abs(stuckLow - 0.05) < 0.006, "SA0 fraction \(stuckLow)")
        #expect(abs(stuckHigh - 0.10) < 0.0085, "SA1 fraction \(stuckHigh)")
    }

    @Test func pcmProgrammingNoiseAtHalfRange() throws {
        var device = try preset("pcm-aihwkit")
        device.drift = nil
        device.readNoise = nil
        let network = layer { _ in 0.5 }
        let sampled = try sampledWeights(
            network, device: device,
            mapping: MappingConfiguration(weightBits: 0, signEncoding: .signMagnitude))
        let (_, std) = meanAndStd(sampled.dropFirst().map { Double($0) })
        // σ_prog(0.5) = 0.26348 + 1.9650·0.5 − 1.1731·0.25 µS, over g_max = 25 µS (weights in units of max|W|).
        let expected = (0.26348 + 1.9650 * 0.5 - 1.1731 * 0.25) / 25
        #expect(abs(std - expected) / expected < 0.02, "std \(std) vs \(expected)")
    }

    @Test func pcmMeanDriftFactorAfterOneDay() throws {
        var device = try preset("pcm-aihwkit")
        device.programming = .none
        device.readNoise = nil
        let network = layer { _ in 0.5 }
        let day = 86_400.0
        let sampled = try sampledWeights(
            network, device: device,
            mapping: MappingConfiguration(weightBits: 0, signEncoding: .signMagnitude),
            times: [day], timeIndex: 0)
        let factors = sampled.dropFirst().map { Double($0) / 0.5 }
        let (mean, _) = meanAndStd(factors)
        // ν ~ N(μ, σ) at x = 0.5: μ = clip(−0.0155 ln 0.5 + 0.0244, 0.049, 0.1) = 0.049,
        // σ = clip(−0.0125 ln 0.5 − 0.0059, 0.008, 0.045) = 0.008; E[e^(−νL)] = e^(−μL + σ²L²/2),
        // L = ln((t + t0)/t0). (|ν| folding is 6σ away: negligible.)
        let mu = min(max(-0.0155 * log(0.5) + 0.0244, 0.049), 0.1)
        let sigma = min(max(-0.0125 * log(0.5) - 0.0059, 0.008), 0.045)
        let logRatio = log((day + 20) / 20)
        let expected = exp(-mu * logRatio + sigma * sigma * logRatio * logRatio / 2)
        #expect(abs(mean - expected) / expected < 0.005, "mean factor \(mean) vs \(expected)")
    }

    @Test func readNoiseIsRelativeAndFreshPerTimePoint() throws {
        var device = DeviceModel.ideal
        device.readNoise = ReadNoise(coefficient: 0.05)
        let network = layer { _ in 0.5 }
        let mapping = MappingConfiguration(weightBits: 0, signEncoding: .signMagnitude)
        let first = try sampledWeights(network, device: device, mapping: mapping, times: [1, 2], timeIndex: 0)
        let second = try sampledWeights(network, device: device, mapping: mapping, times: [1, 2], timeIndex: 1)
        let (_, std) = meanAndStd(first.dropFirst().map { Double($0) })
        #expect(abs(std - 0.025) / 0.025 < 0.02)  // 5 % of G at x = 0.5
        #expect(first != second)
    }

    @Test(.enabled(if: fashionMNISTInstalled))
    func idealDevicesGiveTheQuantisedAccuracyOnEveryInstance() throws {
        let network = try Network.load(from: repositoryRoot + "/models/lenet5.h5")
        let test = try DatasetSource(argument: "fashion-mnist").load(.test).prefix(300)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(weightBits: 4), cellBits: 1)
        let quantized = mapping.quantizedNetwork(network)
        let clean = try NetworkWorkspace(network: quantized, batchCapacity: 250).evaluate(quantized, on: test)
        let simulator = try ChipSimulator(
            network: network, mapping: mapping, device: try preset("ideal"),
            policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
            timesSeconds: [0, 3600], seed: 1, test: test)
        for instance in 0..<3 {
            let result = simulator.simulate(instance: instance)
            for row in result.accuracy { #expect(row.allSatisfy { $0 == Float(clean.accuracy) }) }
        }
        // 4-bit weights cost accuracy on this network, so the comparison is not vacuous.
        let full = try NetworkWorkspace(network: network, batchCapacity: 250).evaluate(network, on: test)
        #expect(clean.accuracy != full.accuracy || clean.meanLoss != full.meanLoss)
    }
}
