internal import CKernels

/// oneDNN's forward convolutions and max-poolings for one workspace (one thread), one per node,
/// made on first use: they pick AVX2/AVX-512 code at run time and read NHWC images directly,
/// without im2col patches. A digital batch normalisation and a ReLU or clip that follow a
/// convolution in place (each the only reader of the value before it) run as its post-ops, in
/// the same pass over the output. A node whose convolution oneDNN cannot make (or fails to
/// run) is computed by im2col and sgemm, its followers on their own; tile mode and per-read
/// noise always are (their products are hooks on the sgemm).
final class NativeKernels {
    private var poolings: [Int: OpaquePointer?] = [:]
    /// The nodes fused after a convolution: a batch normalisation, a residual addition (the
    /// value it adds), then an activation.
    struct Fusion {
        var batchNormalization: Int?
        var residual: (node: Int, value: Int)?
        var activation: Int?
        var followers: Int { [batchNormalization, residual?.node, activation].count { $0 != nil } }
    }

    private var handles: [Int: OpaquePointer?] = [:]
    /// By convolution node.
    let fusions: [Int: Fusion]

    /// Plans the fusions of `network` in a workspace whose value `v` lives in buffer `valueBuffer[v]`.
    init(network: Network, valueBuffer: [Int]) {
        var readers = [[Int]](repeating: [], count: network.nodes.count + 1)
        for (index, values) in network.inputValues.enumerated() {
            for value in values { readers[value].append(index) }
        }
        /// The node that alone reads node `index`'s output in place, if it is `index + 1`.
        func soleInPlaceReader(of index: Int) -> Int? {
            let value = index + 1
            guard readers[value] == [index + 1], index + 1 < network.scoredNodeCount,
                valueBuffer[value + 1] == valueBuffer[value]
            else { return nil }
            return index + 1
        }
        var fusions: [Int: Fusion] = [:]
        for (index, node) in network.nodes.enumerated() where node.operation is Convolution {
            var fusion = Fusion()
            var last = index
            if let next = soleInPlaceReader(of: last), network.nodes[next].operation is BatchNormalization {
                fusion.batchNormalization = next
                last = next
            }
            // A residual connection: an addition of one other value, in place on this one.
            if let next = soleInPlaceReader(of: last), network.nodes[next].operation is Add,
                case let inputs = network.inputValues[next], inputs.count == 2,
                let other = inputs.first(where: { $0 != last + 1 }), inputs.contains(last + 1)
            {
                fusion.residual = (next, other)
                last = next
            }
            if let next = soleInPlaceReader(of: last),
                network.nodes[next].operation is ReLU || network.nodes[next].operation is Clip
            {
                fusion.activation = next
            }
            fusions[index] = fusion
        }
        self.fusions = fusions
    }

    deinit {
        for case let handle?? in handles.values { cimcarlo_convolution_destroy(handle) }
        for case let handle?? in poolings.values { cimcarlo_max_pooling_destroy(handle) }
    }

    /// Computes max-pooling node `pass.node`; false when it could not.
    func forward(_ pooling: MaxPool, _ pass: ForwardPass) -> Bool {
        let handle: OpaquePointer?
        if let made = poolings[pass.node] {
            handle = made
        } else {
            let (input, output, window) = (pass.inputShape, pass.outputShape, pooling.window)
            var shape = cimcarlo_pooling_shape(
                channels: Int32(input.channels), input_height: Int32(input.height), input_width: Int32(input.width),
                output_height: Int32(output.height), output_width: Int32(output.width),
                kernel_height: Int32(window.kernelHeight), kernel_width: Int32(window.kernelWidth),
                stride_height: Int32(window.strideHeight), stride_width: Int32(window.strideWidth),
                pad_top: Int32(window.padTop), pad_left: Int32(window.padLeft))
            handle = cimcarlo_max_pooling_create(&shape)
            poolings[pass.node] = handle
        }
        guard let handle else { return false }
        return cimcarlo_max_pooling_forward(
            handle, pass.input.baseAddress!, pass.output.baseAddress!, Int32(pass.batchSize)) == 0
    }

    /// Computes convolution node `pass.node` of `network` (bias and fused followers included);
    /// the number of followers it computed, or nil when it could not compute the node.
    /// `value(v)` is the workspace's buffer of value `v` (a fused residual addition reads one).
    func forward(
        _ convolution: Convolution, _ pass: ForwardPass, network: Network,
        value: (Int) -> UnsafeMutableBufferPointer<Float>
    ) -> Int? {
        let fusion = fusions[pass.node] ?? Fusion()
        let handle: OpaquePointer?
        if let made = handles[pass.node] {
            handle = made
        } else {
            handle = make(convolution, pass, network: network, fusion: fusion)
            handles[pass.node] = handle
        }
        guard let handle else { return nil }
        let normalization = fusion.batchNormalization.map { network.nodes[$0].operation as! BatchNormalization }
        let (scale, shift) = (normalization?.scale ?? [0], normalization?.shift ?? [0])
        let residual = fusion.residual.map { UnsafePointer(value($0.value).baseAddress!) }
        let done = convolution.weight.withUnsafeBufferPointer { weight in
            convolution.bias.withUnsafeBufferPointer { bias in
                scale.withUnsafeBufferPointer { scale in
                    shift.withUnsafeBufferPointer { shift in
                        cimcarlo_convolution_forward(
                            handle, pass.input.baseAddress!, weight.baseAddress!, bias.baseAddress!,
                            scale.baseAddress!, shift.baseAddress!, residual, pass.output.baseAddress!,
                            Int32(pass.batchSize)) == 0
                    }
                }
            }
        }
        return done ? fusion.followers : nil
    }

    private func make(_ convolution: Convolution, _ pass: ForwardPass, network: Network, fusion: Fusion)
        -> OpaquePointer?
    {
        var shape = Self.shape(convolution, input: pass.inputShape, output: pass.outputShape)
        var epilogue = cimcarlo_convolution_epilogue(
            scales: fusion.batchNormalization == nil ? 0 : 1, residual: fusion.residual == nil ? 0 : 1, activation: 0,
            minimum: 0, maximum: 0)
        if let activation = fusion.activation {
            if let clip = network.nodes[activation].operation as? Clip {
                (epilogue.activation, epilogue.minimum, epilogue.maximum) = (2, clip.minimum, clip.maximum)
            } else {
                epilogue.activation = 1
            }
        }
        return cimcarlo_convolution_create(&shape, &epilogue)
    }

    private static func shape(_ convolution: Convolution, input: ActivationShape, output: ActivationShape)
        -> cimcarlo_convolution_shape
    {
        cimcarlo_convolution_shape(
            input_channels: Int32(input.channels), input_height: Int32(input.height),
            input_width: Int32(input.width), output_channels: Int32(output.channels),
            output_height: Int32(output.height), output_width: Int32(output.width),
            kernel_height: Int32(convolution.kernelHeight), kernel_width: Int32(convolution.kernelWidth),
            stride_height: Int32(convolution.strideHeight), stride_width: Int32(convolution.strideWidth),
            pad_top: Int32(convolution.padTop), pad_left: Int32(convolution.padLeft),
            pad_bottom: Int32(convolution.padBottom), pad_right: Int32(convolution.padRight),
            dilation_height: Int32(convolution.dilationHeight), dilation_width: Int32(convolution.dilationWidth),
            groups: Int32(convolution.groups))
    }

    /// `convolution` (with its bias, then a ReLU when `relu`) of the `batch` NHWC images `input`
    /// by the direct kernel (`Sources/CKernels/direct_convolution.c`) on version `version` (0
    /// baseline x86-64, 1 AVX2, 2 AVX-512); nil when the kernel does not take the shape or this
    /// CPU lacks the version. For tests that the versions agree.
    static func directConvolution(
        _ convolution: Convolution, input: [Float], inputShape: ActivationShape, batch: Int, relu: Bool, version: Int
    ) throws -> [Float]? {
        let outputShape = try convolution.outputShape(for: [inputShape])
        var shape = Self.shape(convolution, input: inputShape, output: outputShape)
        var epilogue = cimcarlo_convolution_epilogue(
            scales: 0, residual: 0, activation: relu ? 1 : 0, minimum: 0, maximum: 0)
        guard cimcarlo_direct_convolution_supported(&shape) != 0 else { return nil }
        var scratch = [Float](repeating: 0, count: Int(cimcarlo_direct_convolution_scratch(&shape)))
        var output = [Float](repeating: .nan, count: batch * outputShape.count)
        let status = cimcarlo_direct_convolution_forward(
            Int32(version), &shape, &epilogue, input, convolution.weight, convolution.bias, nil, nil, &output,
            Int32(batch), &scratch)
        return status == 0 ? output : nil
    }
}
