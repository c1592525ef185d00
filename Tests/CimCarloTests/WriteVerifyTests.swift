import CimCarlo
import Foundation
import Testing

@testable import CimCarloSimulation

/// The iterative write-verify model and the selective policies.
@Suite struct WriteVerifyTests {
    /// 100 × 100 weights spread over (0.1, 0.9) of max|W|, one device per weight.
    private func layer() -> Network {
        var generator = SplitMix64(seed: 12)
        let weights = (0..<10_000).map { $0 == 0 ? Float(1) : Float(0.1 + 0.8 * generator.nextOpenUnitInterval()) }
        return makeSingleLayerNetwork(inputs: 100, outputs: 100, weights: weights)
    }

    private func simulator(_ network: Network, device: DeviceModel, policies: [WriteVerifyPolicy]) throws
        -> ChipSimulator
    {
        let mapping = CrossbarMapping(
            network: network,
            configuration: MappingConfiguration(
                weightBits: 0, signEncoding: .signMagnitude), cellBits: 1)
        return try ChipSimulator(
            network: network, mapping: mapping, device: device, policies: policies,
            timesSeconds: [0], seed: 3, test: makeRandomImages(for: network, count: 2, seed: 1))
    }

    private func gaussianDevice(sigma: Double, tolerance: Double, maxIterations: Int) -> DeviceModel {
        var device = DeviceModel.ideal
        device.programming = Variation(sigma: sigma)
        device.writeVerify = WriteVerify(tolerance: tolerance, maxIterations: maxIterations, pulseTimeSeconds: 1e-7)
        return device
    }

    @Test func verifiedDevicesEndWithinTolerance() throws {
        let network = layer()
        let device = gaussianDevice(sigma: 0.1, tolerance: 0.02, maxIterations: 10_000)
        let sim = try simulator(network, device: device, policies: [WriteVerifyPolicy(kind: .all)])
        let sampled = sim.sampledNetwork(instance: 0, policyIndex: 0, timeIndex: nil).weights(ofNode: 0)
        let errors = zip(sampled, network.weights(ofNode: 0)).map { abs($0 - $1) }
        #expect(errors.allSatisfy { $0 <= 0.02 + 1e-6 })
        // Nearly uniform within the band: std ≈ tolerance / √3.
        let (_, std) = meanAndStd(zip(sampled, network.weights(ofNode: 0)).map { Double($0 - $1) })
        #expect(abs(std - 0.02 / 3.0.squareRoot()) < 0.001)
        // Unverified devices keep their one-shot error, mostly outside the band.
        let oneShot = try simulator(network, device: device, policies: [WriteVerifyPolicy(kind: .none)])
            .sampledNetwork(instance: 0, policyIndex: 0, timeIndex: nil).weights(ofNode: 0)
        #expect(zip(oneShot, network.weights(ofNode: 0)).filter { abs($0 - $1) > 0.02 }.count > 7_000)
    }

    @Test func meanCyclesMatchTheTruncatedGeometricLaw() throws {
        let network = layer()
        let (sigma, tolerance, maxIterations) = (0.1, 0.03, 8)
        let device = gaussianDevice(sigma: sigma, tolerance: tolerance, maxIterations: maxIterations)
        let sim = try simulator(network, device: device, policies: [WriteVerifyPolicy(kind: .all)])
        // Each pulse lands within ±tolerance with p = erf(tol / (σ√2)); pulses until success,
        // at most M: E[cycles] = (1 − (1 − p)^M) / p.
        let p = erf(tolerance / (sigma * 2.0.squareRoot()))
        let expected = (1 - pow(1 - p, Double(maxIterations))) / p
        var cycles: [Double] = []
        for instance in 0..<3 { cycles.append(sim.simulate(instance: instance).writeCycles[0] / 10_000) }
        let mean = cycles.reduce(0, +) / 3
        #expect(abs(mean - expected) / expected < 0.02, "mean cycles \(mean) vs \(expected)")
    }

    @Test func stuckDevicesCostMaximumCycles() throws {
        let network = layer()
        var device = gaussianDevice(sigma: 0.05, tolerance: 0.01, maxIterations: 17)
        device.stuckAtOneRate = 1
        let sim = try simulator(
            network, device: device, policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)])
        let result = sim.simulate(instance: 0)
        #expect(result.writeCycles == [10_000, 10_000 * 17])
        #expect(result.programmingTimeSeconds[1] == 10_000 * 17 * 1e-7)
    }

    @Test func policyNamesRoundTrip() {
        #expect(WriteVerifyPolicy(name: "swim@0.1")?.description == "swim@0.1")
        #expect(WriteVerifyPolicy(name: "random@1")?.description == "random@1")
        #expect(WriteVerifyPolicy(name: "all")?.budget == 1)
        for bad in ["swim", "swim@1.5", "all@0.5", "best@0.1", "magnitude@x"] {
            #expect(WriteVerifyPolicy(name: bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: PolicySelector.Scope.allCases)
    func selectionPicksExactlyTheBudget(scope: PolicySelector.Scope) throws {
        let network = makeTinyNetwork(seed: 5)
        let images = makeRandomImages(for: network, count: 20, seed: 6)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(), cellBits: 2)
        let selector = PolicySelector(
            network: network, mapping: mapping, device: try preset("rram-hfo2"), seed: 1,
            scope: scope, sensitivity: try WeightSensitivity.compute(network: network, images: images))
        let sizes = mapping.layers.map(\.weightCount)
        for kind in WriteVerifyPolicy.Kind.allCases where kind.isBudgeted {
            for budget in [0, 0.013, 0.1, 0.5, 1] {
                let policy = selector.select(WriteVerifyPolicy(kind: kind, budget: budget))
                let chosen = policy.selection.map { $0.reduce(0) { $0 + Int($1) } }
                if scope == .global {
                    #expect(
                        chosen.reduce(0, +) == Int((budget * Double(sizes.reduce(0, +))).rounded()), "\(kind)@\(budget)"
                    )
                } else {
                    #expect(chosen == sizes.map { Int((budget * Double($0)).rounded()) }, "\(kind)@\(budget)")
                }
            }
        }
    }

    /// The `variance` score is the curvature times the variance write-verify removes:
    /// per device `σ²_d2d + σ²_prog − σ²_verified`, times `c_d²/m²`.
    /// Unquantised differential pairs have `c = ±m`, so every weight removes twice that.
    @Test func varianceScoresAreCurvatureTimesTheRemovedVariance() throws {
        let network = makeTinyNetwork(seed: 5)
        let images = makeRandomImages(for: network, count: 20, seed: 6)
        let mapping = CrossbarMapping(
            network: network, configuration: MappingConfiguration(weightBits: 0, signEncoding: .differential),
            cellBits: 1)
        var device = DeviceModel.ideal
        device.deviceToDevice = Variation(sigma: 0.02)
        device.programming = Variation(sigma: 0.05)
        device.writeVerify = WriteVerify(tolerance: 0.02)
        let sensitivity = try WeightSensitivity.compute(network: network, images: images)
        let selector = PolicySelector(
            network: network, mapping: mapping, device: device, seed: 1, scope: .global, sensitivity: sensitivity)
        // 0.02² + 0.05² = 0.0029 one-shot; what verifying leaves comes from the redraw model.
        let verified = VerifiedSpread(device: device, seed: 1).variance(at: 0.5)
        #expect(verified > 0.0001 && verified < 0.00015)  // ≈ τ²/3 = 1.33e-4: nearly uniform in the band
        let removedPerWeight = 2 * (0.0029 - verified)
        let scores = selector.scores(.variance)
        for (index, layer) in mapping.layers.enumerated() {
            let m = network.weights(ofNode: layer.nodeIndex).map { abs($0) }.max() ?? 0
            let spread = VerifiedSpread(device: device, seed: 1)
            for removed in VarianceRanking().removedVariance(layer, scale: m, device: device, verifiedSpread: spread) {
                #expect(abs(Double(removed) - removedPerWeight) < 1e-6, "\(layer.name)")
            }
            let curvature = sensitivity.normalizedCurvature(network: network, node: layer.nodeIndex)
            for (score, c) in zip(scores[index], curvature) {
                #expect(abs(Double(score) - Double(c) * removedPerWeight) <= 1e-5 * max(1e-12, abs(Double(c))))
            }
        }
    }

    @Test func selectionTakesTheHighestScores() throws {
        let network = makeTinyNetwork(seed: 5)
        let mapping = CrossbarMapping(network: network, configuration: MappingConfiguration(), cellBits: 2)
        let selector = PolicySelector(
            network: network, mapping: mapping, device: .ideal, seed: 1, scope: .global,
            sensitivity: nil)
        let policy = selector.select(WriteVerifyPolicy(kind: .magnitude, budget: 0.2))
        let scores = selector.scores(.magnitude)
        let chosen = zip(scores.joined(), policy.selection.joined()).filter { $0.1 == 1 }.map(\.0)
        let rest = zip(scores.joined(), policy.selection.joined()).filter { $0.1 == 0 }.map(\.0)
        #expect(chosen.min()! >= rest.max()!)
    }
}

extension PolicySelector.Scope: CustomTestArgumentEncodable {}
