import Foundation

/// Gradients of a loss with respect to each layer's weights and biases
/// (empty for layers without parameters).
public struct ParameterGradients: Sendable {
    public var weight: [[Float]]
    public var bias: [[Float]]

    /// Zero gradients shaped like `network`'s parameters.
    public init(zeroFor network: Network) {
        weight = network.layers.map { layer in
            switch layer {
            case let .dense(dense): [Float](repeating: 0, count: dense.weight.count)
            case let .conv2d(conv): [Float](repeating: 0, count: conv.weight.count)
            default: []
            }
        }
        bias = network.layers.map { layer in
            switch layer {
            case let .dense(dense): [Float](repeating: 0, count: dense.bias.count)
            case let .conv2d(conv): [Float](repeating: 0, count: conv.bias.count)
            default: []
            }
        }
    }
}

extension NetworkWorkspace {
    /// Mean cross-entropy of the batch just passed forward, its summed loss and correct count;
    /// leaves `∂(mean loss)/∂logits` ready for `backward`.
    public func crossEntropyGradient(labels: UnsafeBufferPointer<Int32>, batchSize: Int) -> (lossSum: Double, correct: Int) {
        SoftmaxCrossEntropy.evaluate(
            logits: UnsafeBufferPointer(rebasing: activations.last![0..<(batchSize * classCount)]),
            labels: labels, batchSize: batchSize, classCount: classCount,
            gradient: gradientBuffers.0, gradientScale: 1 / Float(batchSize))
    }

    /// Back-propagates the logit gradient left by `crossEntropyGradient` through the
    /// batch of the last forward pass, overwriting `gradients`. When `pixelGradient` is
    /// given it receives `∂loss/∂pixels` (NHWC, before normalisation).
    ///
    /// With `squaredWeights` (each layer's weights squared) the pass propagates the diagonal
    /// Gauss–Newton curvature instead (Becker & LeCun 1989; SWIM, Yan et al. DAC 2022): the
    /// caller leaves the logit curvature in place of the logit gradient and squares the
    /// stored activations first (`squareStoredActivations`); then `S_in = S_out · W²`,
    /// `S_W = Σ S_out · x²`, masked through ReLU, routed through max-pool, and scaled by
    /// `1/k⁴` through average pooling.
    public func backward(_ network: Network, batchSize: Int, into gradients: inout ParameterGradients,
                         pixelGradient: UnsafeMutableBufferPointer<Float>? = nil,
                         squaredWeights: [[Float]]? = nil) {
        precondition(supportsBackward, "this workspace was made for inference only")
        var current = gradientBuffers.0
        var other = gradientBuffers.1
        for index in network.layers.indices.reversed() {
            let needInputGradient = index > 0 || pixelGradient != nil
            backward(network.layers[index], index: index, batchSize: batchSize,
                     outputGradient: current, inputGradient: other,
                     needInputGradient: needInputGradient, gradients: &gradients,
                     squaredWeights: squaredWeights?[index], curvature: squaredWeights != nil)
            swap(&current, &other)
        }
        if let pixelGradient {
            let scale = 1 / network.inputStd
            for element in 0..<(batchSize * shapes[0].count) {
                pixelGradient[element] = current[element] * scale
            }
        }
    }

    private func backward(_ layer: Layer, index: Int, batchSize: Int,
                          outputGradient: UnsafeMutableBufferPointer<Float>,
                          inputGradient: UnsafeMutableBufferPointer<Float>,
                          needInputGradient: Bool, gradients: inout ParameterGradients,
                          squaredWeights: [Float]?, curvature: Bool) {
        let input = activations[index]
        let output = activations[index + 1]
        let inShape = shapes[index]
        let outShape = shapes[index + 1]
        switch layer {
        case let .dense(dense):
            gradients.weight[index].withUnsafeMutableBufferPointer { weightGradient in
                BLAS.gemm(transposeA: true, m: dense.outputs, n: dense.inputs, k: batchSize,
                          a: outputGradient.baseAddress!, lda: dense.outputs,
                          b: input.baseAddress!, ldb: dense.inputs,
                          c: weightGradient.baseAddress!, ldc: dense.inputs)
            }
            sumRows(outputGradient, rows: batchSize, columns: dense.outputs, into: &gradients.bias[index])
            if needInputGradient {
                (squaredWeights ?? dense.weight).withUnsafeBufferPointer { weight in
                    BLAS.gemm(m: batchSize, n: dense.inputs, k: dense.outputs,
                              a: outputGradient.baseAddress!, lda: dense.outputs,
                              b: weight.baseAddress!, ldb: dense.inputs,
                              c: inputGradient.baseAddress!, ldc: dense.inputs)
                }
            }
        case let .conv2d(conv):
            let rows = batchSize * outShape.height * outShape.width
            BLAS.gemm(transposeA: true, m: conv.outputChannels, n: conv.patchSize, k: rows,
                      a: outputGradient.baseAddress!, lda: conv.outputChannels,
                      b: patches[index].baseAddress!, ldb: conv.patchSize,
                      c: permutedGradient.baseAddress!, ldc: conv.patchSize)
            gradients.weight[index].withUnsafeMutableBufferPointer {
                Im2col.unpermuteWeights(UnsafeBufferPointer(permutedGradient), order: patchOrders[index], into: $0)
            }
            sumRows(outputGradient, rows: rows, columns: conv.outputChannels, into: &gradients.bias[index])
            if needInputGradient {
                (squaredWeights ?? conv.weight).withUnsafeBufferPointer {
                    Im2col.permuteWeights($0, order: patchOrders[index], into: permutedWeights[index])
                }
                BLAS.gemm(m: rows, n: conv.patchSize, k: conv.outputChannels,
                          a: outputGradient.baseAddress!, lda: conv.outputChannels,
                          b: permutedWeights[index].baseAddress!, ldb: conv.patchSize,
                          c: patchGradient.baseAddress!, ldc: conv.patchSize)
                Im2col.scatterAdd(patchGradient: patchGradient, shape: inShape, conv: conv, outputShape: outShape,
                                  batchSize: batchSize, into: inputGradient)
            }
        case .maxPool2d:
            Pooling.maxBackward(outputGradient: outputGradient, argmax: poolArgmax[index],
                                inputCount: batchSize * inShape.count, outputCount: batchSize * outShape.count,
                                inputGradient: inputGradient)
        case let .avgPool2d(pool):
            Pooling.averageBackward(outputGradient: outputGradient, shape: inShape, pool: pool, outputShape: outShape,
                                    batchSize: batchSize, inputGradient: inputGradient)
            if curvature {
                // Curvature scales with the square of ∂y/∂x = 1/k².
                let scale = 1 / Float(pool.kernel * pool.kernel)
                for element in 0..<(batchSize * inShape.count) { inputGradient[element] *= scale }
            }
        case .relu:
            for element in 0..<(batchSize * inShape.count) {
                inputGradient[element] = output[element] > 0 ? outputGradient[element] : 0
            }
        case .flatten:
            Flatten.backward(outputGradient: outputGradient, shape: inShape, batchSize: batchSize,
                             inputGradient: inputGradient)
        }
    }

    /// Squares the stored activations and im2col patches of the last forward pass in place,
    /// for the curvature pass (ReLU masks and max-pool routes are unchanged by squaring).
    public func squareStoredActivations(batchSize: Int) {
        for (index, buffer) in activations.enumerated() {
            for element in 0..<(batchSize * shapes[index].count) { buffer[element] *= buffer[element] }
        }
        for buffer in patches where buffer.count > 0 {
            let used = buffer.count / batchCapacity * batchSize
            for element in 0..<used { buffer[element] *= buffer[element] }
        }
    }

    /// Leaves the diagonal of the cross-entropy Hessian at the logits, `p (1 − p)` per sample
    /// (not averaged), where `backward` expects the logit gradient.
    public func setLogitCurvature(batchSize: Int) {
        let logits = activations.last!
        let curvature = gradientBuffers.0
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

    private func sumRows(_ matrix: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int, into sums: inout [Float]) {
        sums.withUnsafeMutableBufferPointer { sums in
            for column in 0..<columns { sums[column] = 0 }
            for row in 0..<rows {
                let base = row * columns
                for column in 0..<columns { sums[column] += matrix[base + column] }
            }
        }
    }
}
