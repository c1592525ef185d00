import CimCarloSupport

/// A 2-D convolution (cross-correlation, as in PyTorch and ONNX) with strides, zero padding
/// per side, dilation and groups (depthwise when `groups == inputChannels`).
///
/// Computed per group as one sgemm over the im2col patches (`Im2col`); each group is its own
/// crossbar matrix `[outputChannels / groups, fanIn]`.
public struct Convolution: CrossbarOperation, Equatable {
    public var name: String
    public var inputChannels: Int
    public var outputChannels: Int
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    /// Zero padding per side (ONNX's order: top, left, bottom, right).
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var dilationHeight: Int
    public var dilationWidth: Int
    public var groups: Int
    /// `[outputChannels, inputChannels / groups, kernelHeight, kernelWidth]`, row-major.
    public var weight: [Float]
    /// `[outputChannels]`.
    public var bias: [Float]

    public init(
        name: String, inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
        strideHeight: Int = 1, strideWidth: Int = 1,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
        dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1, weight: [Float], bias: [Float]
    ) {
        self.name = name
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.groups = groups
        self.weight = weight
        self.bias = bias
    }

    /// A square-stride, symmetrically padded, ungrouped convolution.
    public init(
        name: String, inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
        stride: Int = 1, padding: Int = 0, weight: [Float], bias: [Float]
    ) {
        self.init(
            name: name, inputChannels: inputChannels, outputChannels: outputChannels, kernelHeight: kernelHeight,
            kernelWidth: kernelWidth, strideHeight: stride, strideWidth: stride, padTop: padding,
            padLeft: padding, padBottom: padding, padRight: padding, weight: weight, bias: bias)
    }

    public static let kind = "conv2d"
    public var outputCount: Int { outputChannels }
    /// `(inputChannels / groups) · kernelHeight · kernelWidth`.
    public var fanIn: Int { inputChannels / max(groups, 1) * kernelHeight * kernelWidth }
    public var weightShape: [Int] { [outputChannels, inputChannels / max(groups, 1), kernelHeight, kernelWidth] }
    public var productRowOrder: [Int] { Im2col.patchOrder(self) }
    var hasPadding: Bool { padTop != 0 || padLeft != 0 || padBottom != 0 || padRight != 0 }
    /// A 1×1, stride-1, unpadded, ungrouped convolution reads its input as the patch matrix.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1 && !hasPadding && groups == 1
    }
    var groupOutputs: Int { outputChannels / groups }

    public func multiplyAccumulates(output: ActivationShape) -> Int { output.pixels * outputChannels * fanIn }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        let input = inputs[0]
        guard input.isImage else {
            throw OperationShapeError("`\(name)` convolves images [1, C, H, W], its input is \(input)")
        }
        guard inputChannels >= 1, outputChannels >= 1 else {
            throw OperationShapeError("`\(name)` needs at least one input and one output channel")
        }
        guard groups >= 1, inputChannels % groups == 0, outputChannels % groups == 0 else {
            throw OperationShapeError(
                "groups (\(groups)) must divide input (\(inputChannels)) and output (\(outputChannels)) channels")
        }
        guard input.channels == inputChannels else {
            throw OperationShapeError("`\(name)` expects \(inputChannels) input channels, gets \(input.channels)")
        }
        guard min(strideHeight, strideWidth, dilationHeight, dilationWidth, kernelHeight, kernelWidth) >= 1,
            min(padTop, padLeft, padBottom, padRight) >= 0
        else {
            throw OperationShapeError("`\(name)` needs kernel, stride and dilation ≥ 1 and padding ≥ 0")
        }
        guard weight.count == outputChannels * fanIn, bias.count == outputChannels else {
            throw OperationShapeError("`\(name)` parameters do not fit its shape \(weightShape)")
        }
        let spanHeight = (kernelHeight - 1) * dilationHeight + 1
        let spanWidth = (kernelWidth - 1) * dilationWidth + 1
        let paddedHeight = input.height + padTop + padBottom
        let paddedWidth = input.width + padLeft + padRight
        guard paddedHeight >= spanHeight, paddedWidth >= spanWidth else {
            throw OperationShapeError("`\(name)` kernel is larger than its padded input \(input)")
        }
        return ActivationShape(
            height: (paddedHeight - spanHeight) / strideHeight + 1,
            width: (paddedWidth - spanWidth) / strideWidth + 1, channels: outputChannels)
    }

    // Scratch layout: padded input | patches | permuted weights, then for backward passes
    // patch gradient | permuted gradient | padded gradient.
    private func layout(input: ActivationShape, output: ActivationShape, batchSize: Int)
        -> (padded: Int, patches: Int, weights: Int)
    {
        (
            Im2col.paddedCount(self, input: input, batchSize: batchSize),
            isPointwise ? 0 : batchSize * output.pixels * fanIn, weight.count
        )
    }

    public func scratchCount(inputs: [ActivationShape], output: ActivationShape, batchSize: Int, backward: Bool) -> Int
    {
        let (padded, patches, weights) = layout(input: inputs[0], output: output, batchSize: batchSize)
        let forward = padded + patches + weights
        return backward ? forward + batchSize * output.pixels * fanIn + weights + padded : forward
    }

    private struct Scratch {
        var padded, patches, permuted, patchGradient, permutedGradient,
            paddedGradient: UnsafeMutableBufferPointer<Float>
    }

    private func scratch(_ pass: ForwardPass, backward: Bool) -> Scratch {
        let (padded, patches, weights) = layout(
            input: pass.inputShape, output: pass.outputShape, batchSize: pass.batchSize)
        var offset = 0
        func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
            defer { offset += count }
            return UnsafeMutableBufferPointer(rebasing: pass.scratch[offset..<(offset + count)])
        }
        let empty = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        let forward = (take(padded), take(patches), take(weights))
        guard backward else {
            return Scratch(
                padded: forward.0, patches: forward.1, permuted: forward.2,
                patchGradient: empty, permutedGradient: empty, paddedGradient: empty)
        }
        return Scratch(
            padded: forward.0, patches: forward.1, permuted: forward.2,
            patchGradient: take(pass.batchSize * pass.outputShape.pixels * fanIn), permutedGradient: take(weights),
            paddedGradient: take(padded))
    }

    /// Group `group`'s patch matrix: gathered into scratch, or the input itself for pointwise convolutions.
    private func patches(_ pass: ForwardPass, _ scratch: Scratch, source: UnsafePointer<Float>, group: Int)
        -> UnsafeMutableBufferPointer<Float>
    {
        guard !isPointwise else { return pass.input }
        Im2col.gather(
            self, group: group, source: source, shape: pass.inputShape, output: pass.outputShape,
            batchSize: pass.batchSize, into: scratch.patches)
        return scratch.patches
    }

    public func forward(_ pass: ForwardPass) {
        let scratch = scratch(pass, backward: false)
        let rows = pass.batchSize * pass.outputShape.pixels
        pass.output.fillRows(rows, with: bias)
        let source = Im2col.source(
            self, input: pass.input, shape: pass.inputShape, batchSize: pass.batchSize,
            padded: scratch.padded)
        if pass.matrixProduct == nil {
            weight.withUnsafeBufferPointer { Im2col.permuteWeights($0, order: productRowOrder, into: scratch.permuted) }
        }
        for group in 0..<groups {
            let patches = patches(pass, scratch, source: source, group: group)
            let output = pass.output.baseAddress! + group * groupOutputs
            if let product = pass.matrixProduct {
                product(pass.node, group, patches.baseAddress!, rows, fanIn, output, groupOutputs, outputChannels)
                continue
            }
            BLAS.gemm(
                transposeB: true, m: rows, n: groupOutputs, k: fanIn,
                a: patches.baseAddress!, lda: fanIn,
                b: scratch.permuted.baseAddress! + group * groupOutputs * fanIn, ldb: fanIn,
                beta: 1, c: output, ldc: outputChannels)
            pass.productEffect?(
                pass.node, group, patches.baseAddress!, rows, fanIn,
                scratch.permuted.baseAddress! + group * groupOutputs * fanIn, output, groupOutputs, outputChannels)
        }
    }

    /// Per group: `∂W = g_outᵀ · patches` (curvature: `S_outᵀ · patches²`), `∂b = Σ g_out`, and
    /// the patch gradient `g_out · W` (curvature: `S_out · W²`) scattered back to the input.
    public func backward(_ pass: BackwardPass) {
        let forward = pass.forward
        let scratch = scratch(forward, backward: true)
        let curvature = pass.mode == .curvature
        let rows = forward.batchSize * forward.outputShape.pixels
        let order = productRowOrder
        let source = Im2col.source(
            self, input: forward.input, shape: forward.inputShape, batchSize: forward.batchSize,
            padded: scratch.padded)
        let inputGradient = pass.inputGradients[0]
        if inputGradient != nil {
            weight.withUnsafeBufferPointer {
                Im2col.permuteWeights($0, order: order, into: scratch.permuted, squared: curvature)
            }
            if hasPadding { scratch.paddedGradient.update(repeating: 0) }
        }
        for group in 0..<groups {
            var patches = patches(forward, scratch, source: source, group: group)
            if curvature {
                if isPointwise {
                    // Square a copy: the stored input must stay as computed.
                    patches = UnsafeMutableBufferPointer(rebasing: scratch.patchGradient[0..<patches.count])
                    _ = patches.update(fromContentsOf: forward.input)
                }
                for element in 0..<patches.count { patches[element] *= patches[element] }
            }
            let outputGradient = pass.outputGradient.baseAddress! + group * groupOutputs
            let groupWeights = group * groupOutputs * fanIn
            BLAS.gemm(
                transposeA: true, m: groupOutputs, n: fanIn, k: rows,
                a: outputGradient, lda: outputChannels, b: patches.baseAddress!, ldb: fanIn,
                c: scratch.permutedGradient.baseAddress! + groupWeights, ldc: fanIn)
            guard let inputGradient else { continue }
            let patchGradient = isPointwise ? inputGradient : scratch.patchGradient
            BLAS.gemm(
                m: rows, n: fanIn, k: groupOutputs,
                a: outputGradient, lda: outputChannels,
                b: scratch.permuted.baseAddress! + groupWeights, ldb: fanIn,
                beta: isPointwise ? 1 : 0, c: patchGradient.baseAddress!, ldc: fanIn)
            if !isPointwise {
                Im2col.scatterAdd(
                    self, group: group, patchGradient: patchGradient, shape: forward.inputShape,
                    output: forward.outputShape, batchSize: forward.batchSize,
                    into: hasPadding ? scratch.paddedGradient.baseAddress! : inputGradient.baseAddress!)
            }
        }
        Im2col.unpermuteWeights(UnsafeBufferPointer(scratch.permutedGradient), order: order, into: pass.weightGradient)
        sumRows(pass.outputGradient, rows: rows, columns: outputChannels, into: pass.biasGradient)
        if let inputGradient, hasPadding {
            Im2col.addInterior(
                self, paddedGradient: scratch.paddedGradient, shape: forward.inputShape,
                batchSize: forward.batchSize, into: inputGradient)
        }
    }
}

/// `sums[c] = Σ_r matrix[r, c]`.
func sumRows(
    _ matrix: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int,
    into sums: UnsafeMutableBufferPointer<Float>
) {
    for column in 0..<columns { sums[column] = 0 }
    for row in 0..<rows {
        let base = row * columns
        for column in 0..<columns { sums[column] += matrix[base + column] }
    }
}

extension Convolution: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        let (inputs, outputs) = (try node.integer("in_channels"), try node.integer("out_channels"))
        let groups = node.has("groups") ? try node.integer("groups") : 1
        guard inputs % groups == 0, outputs % groups == 0 else {
            throw node.fail("`groups` (\(groups)) must divide in_channels (\(inputs)) and out_channels (\(outputs))")
        }
        let kernel = try node.integers("kernel", in: 1...(1 << 12))
        guard kernel.count == 2 else { throw node.fail("needs `kernel` = [kH, kW] ≥ 1") }
        let (strideHeight, strideWidth) = try node.pair("stride")
        let (dilationHeight, dilationWidth) = try node.pair("dilation", default: 1)
        let pads = try node.padding()
        self.init(
            name: name, inputChannels: inputs, outputChannels: outputs, kernelHeight: kernel[0],
            kernelWidth: kernel[1], strideHeight: strideHeight, strideWidth: strideWidth, padTop: pads.top,
            padLeft: pads.left, padBottom: pads.bottom, padRight: pads.right, dilationHeight: dilationHeight,
            dilationWidth: dilationWidth, groups: groups, weight: [], bias: [])
        weight = try node.parameters("weight", shape: weightShape)
        bias = try node.parameters("bias", shape: [outputs])
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("in_channels", inputChannels)
        try node.set("out_channels", outputChannels)
        try node.set("kernel", [kernelHeight, kernelWidth])
        try node.set("stride", [strideHeight, strideWidth])
        try node.set("padding", [padTop, padLeft, padBottom, padRight])
        try node.set("dilation", [dilationHeight, dilationWidth])
        try node.set("groups", groups)
        try node.write("weight", weight, shape: weightShape)
        try node.write("bias", bias, shape: [outputChannels])
    }
}
