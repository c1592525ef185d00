import CimCarlo
import Foundation
import Testing

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
