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
    public func backward(_ network: Network, batchSize: Int, into gradients: inout ParameterGradients,
                         pixelGradient: UnsafeMutableBufferPointer<Float>? = nil) {
        var current = gradientBuffers.0
        var other = gradientBuffers.1
        for index in network.layers.indices.reversed() {
            let needInputGradient = index > 0 || pixelGradient != nil
            backward(network.layers[index], index: index, batchSize: batchSize,
                     outputGradient: current, inputGradient: other,
                     needInputGradient: needInputGradient, gradients: &gradients)
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
                          needInputGradient: Bool, gradients: inout ParameterGradients) {
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
                dense.weight.withUnsafeBufferPointer { weight in
                    BLAS.gemm(m: batchSize, n: dense.inputs, k: dense.outputs,
                              a: outputGradient.baseAddress!, lda: dense.outputs,
                              b: weight.baseAddress!, ldb: dense.inputs,
                              c: inputGradient.baseAddress!, ldc: dense.inputs)
                }
            }
        case let .conv2d(conv):
            let rows = batchSize * outShape.height * outShape.width
            gradients.weight[index].withUnsafeMutableBufferPointer { weightGradient in
                BLAS.gemm(transposeA: true, m: conv.outputChannels, n: conv.patchSize, k: rows,
                          a: outputGradient.baseAddress!, lda: conv.outputChannels,
                          b: patches[index].baseAddress!, ldb: conv.patchSize,
                          c: weightGradient.baseAddress!, ldc: conv.patchSize)
            }
            sumRows(outputGradient, rows: rows, columns: conv.outputChannels, into: &gradients.bias[index])
            if needInputGradient {
                conv.weight.withUnsafeBufferPointer { weight in
                    BLAS.gemm(m: rows, n: conv.patchSize, k: conv.outputChannels,
                              a: outputGradient.baseAddress!, lda: conv.outputChannels,
                              b: weight.baseAddress!, ldb: conv.patchSize,
                              c: patchGradient.baseAddress!, ldc: conv.patchSize)
                }
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
        case .relu:
            for element in 0..<(batchSize * inShape.count) {
                inputGradient[element] = output[element] > 0 ? outputGradient[element] : 0
            }
        case .flatten:
            Flatten.backward(outputGradient: outputGradient, shape: inShape, batchSize: batchSize,
                             inputGradient: inputGradient)
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
