/// Preallocated buffers for forward and backward passes of one network shape at up to
/// `batchCapacity` samples. One workspace per thread; passes through it allocate nothing.
///
/// Activations are NHWC. Convolutions run as one sgemm over the im2col patch matrix of
/// the whole batch (`[batch·outH·outW, inC·kH·kW]`), dense layers as one sgemm per batch.
public final class NetworkWorkspace {
    public let batchCapacity: Int
    /// Activation shape before each layer, and the output shape last.
    public let shapes: [ActivationShape]

    /// `activations[i]` is the input of layer `i`; the last is the logits.
    var activations: [UnsafeMutableBufferPointer<Float>]
    /// im2col patch matrices of the conv2d layers (empty elsewhere).
    var patches: [UnsafeMutableBufferPointer<Float>]
    /// Conv2d weights in patch order (`Im2col.permuteWeights`), refreshed on every pass;
    /// one more buffer for permuted weight gradients.
    var permutedWeights: [UnsafeMutableBufferPointer<Float>]
    var permutedGradient: UnsafeMutableBufferPointer<Float>
    /// Patch order of each conv2d layer's weights (`Im2col.patchOrder`; empty elsewhere).
    let patchOrders: [[Int]]
    /// Zero-bordered copies of the inputs of padded conv2d layers (empty elsewhere).
    var paddedInputs: [UnsafeMutableBufferPointer<Float>]
    /// Index into the layer input of each max-pool output, for the backward pass.
    var poolArgmax: [UnsafeMutableBufferPointer<Int32>]
    /// Ping-pong buffers for activation gradients, and one for patch gradients.
    var gradientBuffers: (UnsafeMutableBufferPointer<Float>, UnsafeMutableBufferPointer<Float>)
    var patchGradient: UnsafeMutableBufferPointer<Float>

    /// Whether the forward pass keeps what `backward` needs (max-pool winners).
    public let supportsBackward: Bool

    /// Computes a weight layer's matrix product another way (tile-accurate crossbar simulation):
    /// called with the layer index, the input matrix `[rows × inner]` (for conv2d the im2col
    /// patches in `(ky, kx, channel)` order), and the output `[rows × outputs]`, which holds the
    /// bias; the closure adds the product. Nil: one sgemm with the layer's weights.
    public var matrixProduct: ((_ layer: Int, _ input: UnsafePointer<Float>, _ rows: Int, _ inner: Int,
                                _ output: UnsafeMutablePointer<Float>, _ outputs: Int) -> Void)?

    /// Buffers for `network`'s shape. Throws if the layers do not fit together. Inference-only
    /// workspaces (`supportsBackward: false`) skip recording max-pool winners.
    public init(network: Network, batchCapacity: Int, supportsBackward: Bool = true) throws {
        self.supportsBackward = supportsBackward
        precondition(batchCapacity >= 1)
        self.batchCapacity = batchCapacity
        shapes = try network.activationShapes()
        activations = shapes.map { .allocateZeroed(batchCapacity * $0.count) }
        patchOrders = network.layers.map { layer in
            if case let .conv2d(conv) = layer { return Im2col.patchOrder(conv) }
            return []
        }
        var largestPatches = 0
        var largestWeights = 0
        patches = []
        poolArgmax = []
        permutedWeights = []
        paddedInputs = []
        for (index, layer) in network.layers.enumerated() {
            let outputPixels = shapes[index + 1].height * shapes[index + 1].width
            if case let .conv2d(conv) = layer {
                let count = batchCapacity * outputPixels * conv.patchSize
                largestPatches = max(largestPatches, count)
                largestWeights = max(largestWeights, conv.weight.count)
                patches.append(.allocateZeroed(count))
                permutedWeights.append(.allocateZeroed(conv.weight.count))
                let input = shapes[index]
                paddedInputs.append(.allocateZeroed(conv.padding == 0 ? 0 : batchCapacity * input.channels
                    * (input.height + 2 * conv.padding) * (input.width + 2 * conv.padding)))
            } else {
                patches.append(.allocateZeroed(0))
                permutedWeights.append(.allocateZeroed(0))
                paddedInputs.append(.allocateZeroed(0))
            }
            if case .maxPool2d = layer, supportsBackward {
                let buffer = UnsafeMutableBufferPointer<Int32>.allocate(capacity: batchCapacity * shapes[index + 1].count)
                buffer.initialize(repeating: 0)
                poolArgmax.append(buffer)
            } else {
                poolArgmax.append(.allocate(capacity: 0))
            }
        }
        let largestActivation = shapes.map { $0.count }.max()! * batchCapacity
        gradientBuffers = (.allocateZeroed(largestActivation), .allocateZeroed(largestActivation))
        patchGradient = .allocateZeroed(largestPatches)
        permutedGradient = .allocateZeroed(largestWeights)
    }

    deinit {
        activations.forEach { $0.deallocate() }
        patches.forEach { $0.deallocate() }
        permutedWeights.forEach { $0.deallocate() }
        paddedInputs.forEach { $0.deallocate() }
        permutedGradient.deallocate()
        poolArgmax.forEach { $0.deallocate() }
        gradientBuffers.0.deallocate()
        gradientBuffers.1.deallocate()
        patchGradient.deallocate()
    }

    /// Number of classes the network scores.
    public var classCount: Int { shapes.last!.count }

    /// Runs the forward pass on `batchSize` images (NHWC pixels in [0, 1]) and returns the
    /// logits, `[batchSize, classCount]`, valid until the next pass.
    @discardableResult
    public func forward(_ network: Network, pixels: UnsafeBufferPointer<Float>, batchSize: Int)
        -> UnsafeBufferPointer<Float>
    {
        precondition(batchSize <= batchCapacity && pixels.count >= batchSize * shapes[0].count)
        let input = activations[0]
        let inputCount = batchSize * shapes[0].count
        let scale = 1 / network.inputStd
        let offset = network.inputMean
        for index in 0..<inputCount {
            input[index] = (pixels[index] - offset) * scale
        }
        for (index, layer) in network.layers.enumerated() {
            forward(layer, index: index, batchSize: batchSize)
        }
        return UnsafeBufferPointer(rebasing: activations.last![0..<(batchSize * classCount)])
    }

    private func forward(_ layer: Layer, index: Int, batchSize: Int) {
        let input = activations[index]
        let output = activations[index + 1]
        let inShape = shapes[index]
        let outShape = shapes[index + 1]
        switch layer {
        case let .dense(dense):
            fillRows(output, rows: batchSize, with: dense.bias)
            if let matrixProduct {
                matrixProduct(index, input.baseAddress!, batchSize, dense.inputs, output.baseAddress!, dense.outputs)
                return
            }
            dense.weight.withUnsafeBufferPointer { weight in
                BLAS.gemm(transposeB: true, m: batchSize, n: dense.outputs, k: dense.inputs,
                          a: input.baseAddress!, lda: dense.inputs, b: weight.baseAddress!, ldb: dense.inputs,
                          beta: 1, c: output.baseAddress!, ldc: dense.outputs)
            }
        case let .conv2d(conv):
            let rows = batchSize * outShape.height * outShape.width
            Im2col.gather(input: input, shape: inShape, conv: conv, outputShape: outShape,
                          batchSize: batchSize, padded: paddedInputs[index], into: patches[index])
            fillRows(output, rows: rows, with: conv.bias)
            if let matrixProduct {
                matrixProduct(index, patches[index].baseAddress!, rows, conv.patchSize, output.baseAddress!, conv.outputChannels)
                return
            }
            conv.weight.withUnsafeBufferPointer {
                Im2col.permuteWeights($0, order: patchOrders[index], into: permutedWeights[index])
            }
            BLAS.gemm(transposeB: true, m: rows, n: conv.outputChannels, k: conv.patchSize,
                      a: patches[index].baseAddress!, lda: conv.patchSize,
                      b: permutedWeights[index].baseAddress!, ldb: conv.patchSize,
                      beta: 1, c: output.baseAddress!, ldc: conv.outputChannels)
        case let .maxPool2d(pool):
            Pooling.maxForward(input: input, shape: inShape, pool: pool, outputShape: outShape,
                               batchSize: batchSize, output: output, argmax: poolArgmax[index])
        case let .avgPool2d(pool):
            Pooling.averageForward(input: input, shape: inShape, pool: pool, outputShape: outShape,
                                   batchSize: batchSize, output: output)
        case .relu:
            for element in 0..<(batchSize * inShape.count) {
                output[element] = max(input[element], 0)
            }
        case .flatten:
            Flatten.forward(input: input, shape: inShape, batchSize: batchSize, output: output)
        }
    }

    /// Sets every row of a `[rows, row.count]` matrix to `row`.
    private func fillRows(_ matrix: UnsafeMutableBufferPointer<Float>, rows: Int, with row: [Float]) {
        row.withUnsafeBufferPointer { source in
            for start in stride(from: 0, to: rows * source.count, by: source.count) {
                UnsafeMutableRawPointer(matrix.baseAddress! + start)
                    .copyMemory(from: source.baseAddress!, byteCount: source.count * MemoryLayout<Float>.stride)
            }
        }
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// A new zero-filled buffer; the caller deallocates it.
    static func allocateZeroed(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 0)
        return buffer
    }
}
