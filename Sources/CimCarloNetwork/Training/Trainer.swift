import CimCarloSupport
import Foundation

/// Settings for mini-batch training with Adam.
public struct TrainingConfiguration: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// Adam's step size at the start; it decays on a cosine schedule to 2 % of this by the last epoch.
    public var learningRate: Float
    /// Fixes weight initialisation and the shuffling order.
    public var seed: UInt64
    /// Train on the first `trainingLimit` images only (for quick checks); nil for all.
    public var trainingLimit: Int?

    public init(
        epochs: Int = 15, batchSize: Int = 128, learningRate: Float = 1e-3, seed: UInt64 = 1,
        trainingLimit: Int? = nil
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seed = seed
        self.trainingLimit = trainingLimit
    }
}

/// What one epoch of training achieved.
public struct EpochReport: Sendable {
    public var epoch: Int
    /// Mean cross-entropy over the epoch's mini-batches, nats.
    public var trainLoss: Double
    /// Fraction of training images classified correctly during the epoch.
    public var trainAccuracy: Double
    /// Accuracy on the test split after the epoch, when one was given.
    public var test: Evaluation?
    public var seconds: Double
}

/// Trains a network by mini-batch Adam (Kingma & Ba, 2015) on softmax cross-entropy.
public enum Trainer {
    /// Trains `network` in place and reports after every epoch.
    public static func train(
        _ network: inout Network, on training: LabeledImages, test: LabeledImages?,
        configuration: TrainingConfiguration,
        report: (EpochReport) -> Void = { _ in }
    ) throws {
        let training = training.prefix(configuration.trainingLimit)
        let workspace = try NetworkWorkspace(network: network, batchCapacity: configuration.batchSize)
        let evaluator = try NetworkWorkspace(network: network, batchCapacity: 500)
        var gradients = ParameterGradients(zeroFor: network)
        var optimizer = AdamOptimizer(network: network)
        var generator = SplitMix64(seed: configuration.seed ^ 0x7472_6169_6E)  // "train"
        var order = Array(0..<training.count)
        let imageSize = training.pixelsPerImage
        var batchPixels = [Float](repeating: 0, count: configuration.batchSize * imageSize)
        var batchLabels = [Int32](repeating: 0, count: configuration.batchSize)
        let stepsPerEpoch = (training.count + configuration.batchSize - 1) / configuration.batchSize
        let totalSteps = max(1, configuration.epochs * stepsPerEpoch)

        for epoch in 1...max(1, configuration.epochs) where configuration.epochs > 0 {
            let started = Date()
            order.shuffle(using: &generator)
            var lossSum = 0.0
            var correct = 0
            for step in 0..<stepsPerEpoch {
                let start = step * configuration.batchSize
                let size = min(configuration.batchSize, training.count - start)
                training.pixels.withUnsafeBufferPointer { pixels in
                    batchPixels.withUnsafeMutableBufferPointer { batch in
                        for row in 0..<size {
                            let source = order[start + row] * imageSize
                            for offset in 0..<imageSize {
                                batch[row * imageSize + offset] = pixels[source + offset]
                            }
                        }
                    }
                }
                for row in 0..<size { batchLabels[row] = training.labels[order[start + row]] }
                _ = batchPixels.withUnsafeBufferPointer { pixels in
                    workspace.forward(network, pixels: pixels, batchSize: size)
                }
                let result = batchLabels.withUnsafeBufferPointer { labels in
                    workspace.crossEntropyGradient(labels: labels, batchSize: size)
                }
                lossSum += result.lossSum
                correct += result.correct
                workspace.backward(network, batchSize: size, into: &gradients)
                let progress = Double((epoch - 1) * stepsPerEpoch + step) / Double(totalSteps)
                let rate = configuration.learningRate * Float(0.02 + 0.98 * 0.5 * (1 + cos(Double.pi * progress)))
                optimizer.step(&network, gradients: gradients, learningRate: rate)
            }
            let test = test.map { evaluator.evaluate(network, on: $0) }
            report(
                EpochReport(
                    epoch: epoch, trainLoss: lossSum / Double(training.count),
                    trainAccuracy: Double(correct) / Double(training.count),
                    test: test, seconds: Date().timeIntervalSince(started)))
        }
    }
}
