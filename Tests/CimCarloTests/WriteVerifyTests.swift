import Foundation
import Testing

@testable import CimCarlo

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
    /// per device `σ²_d2d + σ²_prog − min(σ²_d2d + σ²_prog, tolerance²/3)`, times `c_d²/m²`.
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
        // 0.02² + 0.05² = 0.0029 one-shot; 0.02²/3 = 1.333e-4 left after verifying.
        let removedPerWeight = 2 * (0.0029 - 0.0004 / 3)
        let scores = selector.scores(.variance)
        for (index, layer) in mapping.layers.enumerated() {
            let m = network.weights(ofNode: layer.nodeIndex).map { abs($0) }.max() ?? 0
            for removed in selector.removedVariance(layer, scale: m) {
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

/// SWIM's Gauss–Newton diagonal against a brute-force computation from finite-difference
/// Jacobians of the logits: `Σ_n Σ_k p_k (1 − p_k) (∂z_k/∂w)²`. The layer-by-layer recursion
/// (which drops cross terms between paths) is exact for the last layer and for a network
/// whose hidden layer has a single unit, which these tests use.
@Suite struct GaussNewtonTests {
    private func bruteForce(_ network: Network, images: LabeledImages, layer: Int) throws -> [Double] {
        let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count)
        func logits(_ network: Network) -> [Double] {
            images.pixels.withUnsafeBufferPointer {
                Array(workspace.forward(network, pixels: $0, batchSize: images.count))
            }
            .map(Double.init)
        }
        let base = logits(network)
        let classes = network.classCount
        let probabilities = (0..<images.count).flatMap { n -> [Double] in
            let row = base[(n * classes)..<((n + 1) * classes)]
            let largest = row.max()!
            let exps = row.map { exp($0 - largest) }
            let total = exps.reduce(0, +)
            return exps.map { $0 / total }
        }
        let weights = network.weights(ofNode: layer)
        return weights.indices.map { index in
            let step = Float(1e-2)
            var plus = network
            var minus = network
            plus.modifyParameters(ofNode: layer) { w, _ in w[index] += step }
            minus.modifyParameters(ofNode: layer) { w, _ in w[index] -= step }
            let (up, down) = (logits(plus), logits(minus))
            var sum = 0.0
            for element in base.indices {
                let jacobian = (up[element] - down[element]) / (2 * Double(step))
                let p = probabilities[element]
                sum += p * (1 - p) * jacobian * jacobian
            }
            return sum
        }
    }

    private func expectClose(_ computed: [Float], _ expected: [Double]) {
        let scale = expected.map(abs).max()!
        #expect(scale > 0)
        for (value, reference) in zip(computed, expected) {
            #expect(abs(Double(value) - reference) <= 2e-2 * scale, "\(value) vs \(reference)")
        }
    }

    @Test func singleUnitBottleneckIsExactInEveryLayer() throws {
        var generator = SplitMix64(seed: 3)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextStandardNormal() * 0.5) } }
        let network = Network(
            inputShape: ActivationShape(features: 6),
            layers: [
                Dense(name: "a", inputs: 6, outputs: 1, weight: values(6), bias: [0.3]),
                ReLU(),
                Dense(name: "b", inputs: 1, outputs: 4, weight: values(4), bias: values(4)),
            ])
        let images = makeRandomImages(for: network, count: 30, seed: 4)
        let sensitivity = try WeightSensitivity.compute(network: network, images: images, batchSize: 7)
        expectClose(sensitivity.curvature[0], try bruteForce(network, images: images, layer: 0))
        expectClose(sensitivity.curvature[2], try bruteForce(network, images: images, layer: 2))
    }

    @Test func lastLayerOfAConvolutionalNetworkIsExact() throws {
        let network = makeTinyNetwork(seed: 17)
        let images = makeRandomImages(for: network, count: 12, seed: 18)
        let sensitivity = try WeightSensitivity.compute(network: network, images: images, batchSize: 5)
        expectClose(sensitivity.curvature[8], try bruteForce(network, images: images, layer: 8))
        // Earlier layers: positive wherever a weight influences the loss, zero-free on average.
        #expect(sensitivity.curvature[0].allSatisfy { $0 >= 0 })
        #expect(sensitivity.curvature[0].reduce(0, +) > 0)
    }

    @Test func gradientIsSummedOverBatchesOfBatchMeans() throws {
        let network = makeTinyNetwork(seed: 17)
        let images = makeRandomImages(for: network, count: 10, seed: 18)
        let whole = try WeightSensitivity.compute(network: network, images: images, batchSize: 10)
        let halves = try WeightSensitivity.compute(network: network, images: images, batchSize: 5)
        // Two batch means summed = 2 × the whole-set mean (same total, each half weighted 1/5).
        for (a, b) in zip(whole.gradient[8], halves.gradient[8]) { #expect(abs(2 * a - b) < 1e-4) }
        // Curvature is a plain sum over samples: independent of the batch size.
        for (a, b) in zip(whole.curvature[8], halves.curvature[8]) { #expect(abs(a - b) < 1e-4 * max(1, abs(a))) }
    }
}

extension PolicySelector.Scope: CustomTestArgumentEncodable {}

@Suite struct BudgetSearchTests {
    @Test func findsTheSmallestBudgetThatReachesTheTarget() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        let spec = try RunSpec.load(path: fixture.spec).searching(.magnitude)
        let study = try Study(spec: spec)
        // Aim between what none and all achieve on these chips.
        let ends = ResultCollector(instances: Array(0..<4), policies: 2, times: spec.timesSeconds.count)
        try study.simulate(
            instances: Array(0..<4), policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
            into: ends, threads: 2)
        let last = spec.timesSeconds.count - 1
        let summary = StudySummary(ends.results, threshold: study.plan.threshold)
        let (noneMean, allMean) = (summary.cells[0][last].mean, summary.cells[1][last].mean)
        try #require(allMean > noneMean)
        let target = (noneMean + allMean) / 2
        let (answer, steps) = try BudgetSearch(
            study: study, kind: .magnitude, target: .mean(target), resolution: 1.0 / 16
        )
        .run(instances: 4, threads: 2)
        let found = try #require(answer)
        #expect(found.summary.mean >= target)
        #expect(found.budget > 0 && found.budget <= 1)
        // Every evaluated budget below the answer missed the target.
        #expect(steps.filter { $0.budget < found.budget }.allSatisfy { !$0.reached })
        #expect(steps.count <= 2 + 4)
    }

    @Test func findsTheSmallestBudgetThatReachesAYieldTarget() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        var spec = try RunSpec.load(path: fixture.spec).searching(.magnitude)
        let last = spec.timesSeconds.count - 1
        // The accuracy threshold halfway between what none and all reach on these chips, so
        // that the yield moves with the budget.
        func summary(_ study: Study) throws -> StudySummary {
            let ends = ResultCollector(instances: Array(0..<8), policies: 2, times: spec.timesSeconds.count)
            try study.simulate(
                instances: Array(0..<8), policies: [WriteVerifyPolicy(kind: .none), WriteVerifyPolicy(kind: .all)],
                into: ends, threads: 2)
            return StudySummary(ends.results, threshold: study.plan.threshold)
        }
        let means = try summary(try Study(spec: spec)).cells.map { $0[last].mean }
        spec.accuracyThreshold = (means[0] + means[1]) / 2
        let study = try Study(spec: spec)
        let yields = try summary(study).cells.map { $0[last].yield }
        try #require(yields[1] > yields[0], "\(yields)")
        let target = (yields[0] + yields[1]) / 2
        let (answer, steps) = try BudgetSearch(
            study: study, kind: .magnitude, target: .yield(target),
            resolution: 1.0 / 16
        ).run(instances: 8, threads: 2)
        let found = try #require(answer)
        #expect(found.summary.yield >= target)
        #expect(found.budget > 0)
        #expect(steps.filter { $0.budget < found.budget }.allSatisfy { !$0.reached && $0.summary.yield < target })
    }
}
