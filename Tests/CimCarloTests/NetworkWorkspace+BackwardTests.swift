import CimCarlo
import Foundation
import Testing

/// Finite-difference checks of the backward pass: every layer kind (conv2d with stride and
/// padding, ReLU, max and average pooling, flatten, dense) lies on the path of these gradients.
@Suite struct GradientCheckTests {
    let network = makeTinyNetwork(seed: 11)
    let images: LabeledImages

    init() {
        images = makeRandomImages(for: network, count: 6, seed: 12)
    }

    private func meanLoss(_ network: Network, pixels: [Float]? = nil) throws -> Double {
        let workspace = try NetworkWorkspace(network: network, batchCapacity: images.count)
        let input = pixels ?? images.pixels
        let logits = input.withUnsafeBufferPointer { workspace.forward(network, pixels: $0, batchSize: images.count) }
        let result = images.labels.withUnsafeBufferPointer {
            SoftmaxCrossEntropy.evaluate(
                logits: logits, labels: $0, batchSize: images.count, classCount: network.classCount)
        }
        return result.lossSum / Double(images.count)
    }

    private func analyticGradients() throws -> (ParameterGradients, [Float]) {
        try CimCarloTests.analyticGradients(network, images: images)
    }

    /// Central difference of the loss along `direction`, against `gradient · direction`.
    private func expectAgreement(
        gradient: [Float], direction: [Float], step: Float = 1e-3,
        loss: (Float) throws -> Double
    ) rethrows {
        let analytic = zip(gradient, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let numeric = (try loss(step) - loss(-step)) / (2 * Double(step))
        #expect(abs(analytic) > 1e-4, "direction should see a gradient")
        #expect(abs(numeric - analytic) <= 2e-2 * abs(analytic) + 2e-4, "numeric \(numeric) vs analytic \(analytic)")
    }

    private func randomDirection(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float(generator.nextStandardNormal()) }
    }

    @Test(arguments: [0, 3, 6, 8])
    func weightAndBiasGradientsMatchFiniteDifferences(layerIndex: Int) throws {
        let (gradients, _) = try analyticGradients()
        for (part, gradient) in [("weight", gradients.weight[layerIndex]), ("bias", gradients.bias[layerIndex])] {
            let direction = randomDirection(gradient.count, seed: UInt64(layerIndex * 10 + part.count))
            try expectAgreement(gradient: gradient, direction: direction) { step in
                var shifted = network
                shifted.modifyParameters(ofNode: layerIndex) { weight, bias in
                    if part == "weight" {
                        for i in weight.indices { weight[i] += step * direction[i] }
                    } else {
                        for i in bias.indices { bias[i] += step * direction[i] }
                    }
                }
                return try meanLoss(shifted)
            }
        }
    }

    @Test func pixelGradientMatchesFiniteDifferences() throws {
        let (_, pixelGradient) = try analyticGradients()
        let direction = randomDirection(pixelGradient.count, seed: 99)
        try expectAgreement(gradient: pixelGradient, direction: direction) { step in
            try meanLoss(network, pixels: zip(images.pixels, direction).map { $0 + step * $1 })
        }
    }

    @Test func crossEntropyOfUniformLogitsIsLogClassCount() {
        let logits = [Float](repeating: 0.5, count: 2 * 4)
        let labels: [Int32] = [1, 3]
        let result = logits.withUnsafeBufferPointer { logits in
            labels.withUnsafeBufferPointer {
                SoftmaxCrossEntropy.evaluate(logits: logits, labels: $0, batchSize: 2, classCount: 4)
            }
        }
        #expect(abs(result.lossSum / 2 - log(4.0)) < 1e-12)
    }
}
