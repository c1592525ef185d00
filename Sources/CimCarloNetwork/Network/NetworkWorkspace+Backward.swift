import Foundation

/// Derivatives of a loss with respect to each crossbar node's weights and biases
/// (empty for other nodes), indexed by node.
public struct ParameterGradients: Sendable {
    public var weight: [[Float]]
    public var bias: [[Float]]

    /// Zero gradients shaped like `network`'s parameters.
    public init(zeroFor network: Network) {
        weight = network.nodes.indices.map {
            [Float](repeating: 0, count: network.crossbarOperation(ofNode: $0)?.weight.count ?? 0)
        }
        bias = network.nodes.indices.map {
            [Float](repeating: 0, count: network.crossbarOperation(ofNode: $0)?.bias.count ?? 0)
        }
    }
}

extension NetworkWorkspace {
    /// The gradient buffer of the logits.
    private func logitGradient(batchSize: Int) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: gradients[scoreValue][0..<(batchSize * classCount)])
    }

    private func logits(batchSize: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(buffer(ofValue: scoreValue, batchSize: batchSize))
    }

    /// Mean cross-entropy of the batch just passed forward, its summed loss and correct count;
    /// leaves `∂(mean loss)/∂logits` ready for `backward`.
    public func crossEntropyGradient(labels: UnsafeBufferPointer<Int32>, batchSize: Int) -> (
        lossSum: Double, correct: Int
    ) {
        precondition(supportsBackward, "this workspace was made for inference only")
        return SoftmaxCrossEntropy.evaluate(
            logits: logits(batchSize: batchSize), labels: labels, batchSize: batchSize, classCount: classCount,
            gradient: logitGradient(batchSize: batchSize), gradientScale: 1 / Float(batchSize))
    }

    /// Leaves the diagonal of the cross-entropy Hessian at the logits, `p (1 − p)` per sample
    /// (summed over samples, not averaged), where `backward` expects the logit gradient.
    public func setLogitCurvature(batchSize: Int) {
        precondition(supportsBackward, "this workspace was made for inference only")
        let logits = logits(batchSize: batchSize)
        let curvature = logitGradient(batchSize: batchSize)
        for row in 0..<batchSize {
            let base = row * classCount
            var largest = -Float.infinity
            for cls in 0..<classCount { largest = max(largest, logits[base + cls]) }
            var partition: Double = 0
            for cls in 0..<classCount { partition += exp(Double(logits[base + cls] - largest)) }
            for cls in 0..<classCount {
                let p = exp(Double(logits[base + cls] - largest)) / partition
                curvature[base + cls] = Float(p * (1 - p))
            }
        }
    }

    /// Back-propagates what `crossEntropyGradient` (or `setLogitCurvature`) left at the logits
    /// through the batch of the last forward pass, overwriting `gradients`. Values read by
    /// several nodes sum their derivatives. When `pixelGradient` is given it receives the
    /// derivative with respect to the pixels (NHWC, before normalisation).
    ///
    /// `.curvature` propagates the diagonal Gauss–Newton curvature (Becker & LeCun 1989; SWIM,
    /// Yan et al., DAC 2022): every operation passes `S_in = Σ S_out · (∂out/∂in)²`, weights
    /// collect `S_W = Σ S_out · x²`.
    public func backward(
        _ network: Network, batchSize: Int, into parameterGradients: inout ParameterGradients,
        mode: BackwardPass.Mode = .gradient,
        pixelGradient: UnsafeMutableBufferPointer<Float>? = nil
    ) {
        precondition(supportsBackward, "this workspace was made for inference only")
        for value in 0..<shapes.count where value != scoreValue {
            let gradient = gradients[value]
            for element in 0..<(batchSize * shapes[value].count) { gradient[element] = 0 }
        }
        let needed = valuesNeedingGradient(network, pixels: pixelGradient != nil)
        for index in (0..<scoredNodeCount).reversed() {
            let output = index + 1
            guard needed[output] else { continue }
            let inputs = inputValues[index].map { value -> UnsafeMutableBufferPointer<Float>? in
                needed[value]
                    ? UnsafeMutableBufferPointer(rebasing: gradients[value][0..<(batchSize * shapes[value].count)])
                    : nil
            }
            parameterGradients.weight[index].withUnsafeMutableBufferPointer { weightGradient in
                parameterGradients.bias[index].withUnsafeMutableBufferPointer { biasGradient in
                    network.nodes[index].operation.backward(
                        BackwardPass(
                            mode: mode, forward: forwardPass(node: index, batchSize: batchSize),
                            outputGradient: UnsafeMutableBufferPointer(
                                rebasing: gradients[output][0..<(batchSize * shapes[output].count)]),
                            inputGradients: inputs, weightGradient: weightGradient, biasGradient: biasGradient))
                }
            }
        }
        if let pixelGradient {
            let channels = shapes[0].channels
            for element in 0..<(batchSize * shapes[0].count) {
                let std = network.normalization(channel: element % channels).std
                pixelGradient[element] = gradients[0][element] / (mode == .curvature ? std * std : std)
            }
        }
    }

    /// Which values need a derivative: those on a path from a crossbar node (or from the
    /// pixels, when asked) to the logits.
    private func valuesNeedingGradient(_ network: Network, pixels: Bool) -> [Bool] {
        var reachesParameters = [Bool](repeating: false, count: shapes.count)
        reachesParameters[0] = pixels
        for (index, node) in network.nodes.enumerated() {
            reachesParameters[index + 1] =
                node.operation is any CrossbarOperation
                || inputValues[index].contains { reachesParameters[$0] }
        }
        return reachesParameters
    }
}
