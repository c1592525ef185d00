import CimCarloSupport

/// A crossbar operation whose forward pass is one product `input · Wᵀ` (a dense layer): what
/// several passes that differ only in weights can share.
protocol SingleProductOperation: CrossbarOperation {
    /// The product's left matrix for `pass`, `[rows, fanIn]`.
    func productInput(_ pass: ForwardPass) -> (matrix: UnsafePointer<Float>, rows: Int)
    /// The weights in product order, `[outputs, fanIn]`.
    func productWeights(into weights: UnsafeMutableBufferPointer<Float>)
}

extension NetworkWorkspace {
    /// Top-1 accuracy and mean loss of each of `networks` on `images`: networks that differ only
    /// in their crossbar weights (one chip under several policies and time points), evaluated
    /// batch by batch.
    ///
    /// When the first weight layer is dense, everything before it is computed once per batch for
    /// all of them, and the layer's products for all networks are one wide GEMM
    /// `x · [W₁ … W_K]ᵀ`. A first convolution runs per network on oneDNN instead: measured, that
    /// beats sharing its im2col patches in one wide sgemm (LeNet-5's passes from 0.80 to 0.88 of
    /// onnxruntime's speed). Each network's result equals `evaluate(_:on:)` up to the rounding of
    /// the product's summation order.
    public func evaluate(_ networks: ArraySlice<Network>, on images: LabeledImages) -> [Evaluation] {
        guard let reference = networks.first else { return [] }
        guard networks.count > 1, matrixProduct == nil, productEffect == nil, let first = sharedFirstLayer(reference)
        else {
            return networks.map { evaluate($0, on: images) }
        }
        precondition(images.pixelsPerImage == shapes[0].count, "image shape does not match the network input")
        let operations = networks.map { $0.nodes[first].operation as! any SingleProductOperation }
        let outputs = operations[0].outputCount
        let fanIn = operations[0].fanIn
        let width = outputs * networks.count
        let stacked = passBuffer(.stackedWeights, count: width * fanIn)
        for (index, operation) in operations.enumerated() {
            operation.productWeights(
                into: UnsafeMutableBufferPointer(
                    rebasing: stacked[(index * outputs * fanIn)..<((index + 1) * outputs * fanIn)]))
        }
        let wide = passBuffer(.wideProduct, count: batchCapacity * shapes[first + 1].pixels * width)
        var lossSums = [Double](repeating: 0, count: networks.count)
        var corrects = [Int](repeating: 0, count: networks.count)
        images.pixels.withUnsafeBufferPointer { pixels in
            images.labels.withUnsafeBufferPointer { labels in
                for start in stride(from: 0, to: images.count, by: batchCapacity) {
                    let size = min(batchCapacity, images.count - start)
                    loadInput(
                        reference, pixels: UnsafeBufferPointer(rebasing: pixels[(start * images.pixelsPerImage)...]),
                        batchSize: size)
                    run(reference, nodes: 0..<first, batchSize: size)
                    let pass = forwardPass(node: first, batchSize: size)
                    let (input, rows) = operations[0].productInput(pass)
                    BLAS.gemm(
                        transposeB: true, m: rows, n: width, k: fanIn, a: input, lda: fanIn,
                        b: stacked.baseAddress!, ldb: fanIn, c: wide.baseAddress!, ldc: width)
                    for (index, network) in networks.enumerated() {
                        operations[index].bias.withUnsafeBufferPointer { bias in
                            for row in 0..<rows {
                                let from = wide.baseAddress! + (row &* width &+ index &* outputs)
                                let to = pass.output.baseAddress! + row &* outputs
                                for column in 0..<outputs { to[column] = from[column] + bias[column] }
                            }
                        }
                        run(network, nodes: (first + 1)..<scoredNodeCount, batchSize: size)
                        let result = SoftmaxCrossEntropy.evaluate(
                            logits: UnsafeBufferPointer(buffer(ofValue: scoreValue, batchSize: size)),
                            labels: UnsafeBufferPointer(rebasing: labels[start..<(start + size)]),
                            batchSize: size, classCount: classCount)
                        lossSums[index] += result.lossSum
                        corrects[index] += result.correct
                    }
                }
            }
        }
        let count = Double(max(images.count, 1))
        return zip(lossSums, corrects).map { Evaluation(accuracy: Double($1) / count, meanLoss: $0 / count) }
    }

    /// The first weight layer, when passes can share its input: a dense layer (a convolution runs
    /// per pass on oneDNN), and every value computed before it read by nothing after it (the
    /// later nodes may reuse their buffers).
    private func sharedFirstLayer(_ network: Network) -> Int? {
        guard let first = network.nodes.firstIndex(where: { $0.operation is any CrossbarOperation }),
            let operation = network.nodes[first].operation as? any SingleProductOperation, operation.groups == 1,
            inputValues[first].count == 1
        else { return nil }
        let lastUse = network.lastUse
        return (0...first).allSatisfy({ lastUse[$0] <= first }) ? first : nil
    }
}
