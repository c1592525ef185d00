import Foundation

/// Softmax cross-entropy over logits, the classification loss cimcarlo reports
/// (`/loss` is its mean) and trains with.
public enum SoftmaxCrossEntropy {
    /// Summed loss `Σ −log softmax(z)[label]` and the number of correct top-1 predictions
    /// (argmax, first index on ties) over `batchSize` rows of `logits`.
    /// When `gradient` is given it receives `gradientScale · (softmax(z) − onehot(label))`.
    public static func evaluate(
        logits: UnsafeBufferPointer<Float>, labels: UnsafeBufferPointer<Int32>, batchSize: Int, classCount: Int,
        gradient: UnsafeMutableBufferPointer<Float>? = nil, gradientScale: Float = 1
    ) -> (lossSum: Double, correct: Int) {
        var lossSum = 0.0
        var correct = 0
        for row in 0..<batchSize {
            let base = row * classCount
            var largest = logits[base]
            var predicted = 0
            for cls in 1..<classCount where logits[base + cls] > largest {
                largest = logits[base + cls]
                predicted = cls
            }
            let label = Int(labels[row])
            if predicted == label { correct += 1 }
            var partition = 0.0
            for cls in 0..<classCount {
                partition += exp(Double(logits[base + cls] - largest))
            }
            lossSum += log(partition) - Double(logits[base + label] - largest)
            if let gradient {
                for cls in 0..<classCount {
                    let probability = exp(Double(logits[base + cls] - largest)) / partition
                    gradient[base + cls] = gradientScale * Float(probability - (cls == label ? 1 : 0))
                }
            }
        }
        return (lossSum, correct)
    }
}

/// Accuracy and loss of a network on a labelled set.
public struct Evaluation: Sendable, Equatable {
    /// Fraction of images classified correctly (top-1), in [0, 1].
    public var accuracy: Double
    /// Mean cross-entropy, nats.
    public var meanLoss: Double

    public init(accuracy: Double, meanLoss: Double) {
        self.accuracy = accuracy
        self.meanLoss = meanLoss
    }
}

extension NetworkWorkspace {
    /// Top-1 accuracy and mean loss of `network` on `images`, in batches of `batchCapacity`.
    public func evaluate(_ network: Network, on images: LabeledImages) -> Evaluation {
        precondition(images.pixelsPerImage == shapes[0].count, "image shape does not match the network input")
        var lossSum = 0.0
        var correct = 0
        images.pixels.withUnsafeBufferPointer { pixels in
            images.labels.withUnsafeBufferPointer { labels in
                for start in stride(from: 0, to: images.count, by: batchCapacity) {
                    let size = min(batchCapacity, images.count - start)
                    let logits = scores(
                        network,
                        pixels: UnsafeBufferPointer(
                            rebasing: pixels[(start * images.pixelsPerImage)...]), batchSize: size)
                    let result = SoftmaxCrossEntropy.evaluate(
                        logits: logits, labels: UnsafeBufferPointer(rebasing: labels[start..<(start + size)]),
                        batchSize: size, classCount: classCount)
                    lossSum += result.lossSum
                    correct += result.correct
                }
            }
        }
        let count = Double(max(images.count, 1))
        return Evaluation(accuracy: Double(correct) / count, meanLoss: lossSum / count)
    }
}
