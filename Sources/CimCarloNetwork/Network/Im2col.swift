/// The im2col transform that turns a convolution into one matrix product per group
/// (Chellapilla et al., 2006), for NHWC activations.
///
/// Row `(n, oy, ox)` of group `g`'s patch matrix holds the input window of output pixel
/// `(oy, ox)` of image `n`, ordered `(ky, kx, channel of the group)`. Padded inputs are first
/// copied into a zero-bordered buffer, so every window reads without bounds checks; with one
/// group and no dilation each kernel row is one contiguous run of `kW · C` values.
enum Im2col {
    /// The zero-bordered copy of the input, `[batch, H + top + bottom, W + left + right, C]`.
    static func paddedCount(_ conv: Convolution, input: ActivationShape, batchSize: Int) -> Int {
        conv.hasPadding
            ? batchSize * input.channels * (input.height + conv.padTop + conv.padBottom)
                * (input.width + conv.padLeft + conv.padRight) : 0
    }

    /// Copies the input into the interior of `padded` (when the convolution pads) and returns
    /// the base of what windows read, with its row length in pixels.
    static func source(
        _ conv: Convolution, input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape,
        batchSize: Int, padded: UnsafeMutableBufferPointer<Float>
    ) -> UnsafePointer<Float> {
        guard conv.hasPadding else { return UnsafePointer(input.baseAddress!) }
        let channels = shape.channels
        let paddedHeight = shape.height + conv.padTop + conv.padBottom
        let paddedWidth = shape.width + conv.padLeft + conv.padRight
        padded.update(repeating: 0)
        let rowLength = shape.width * channels
        for image in 0..<batchSize {
            for y in 0..<shape.height {
                let from = input.baseAddress! + (image * shape.height + y) * rowLength
                let to =
                    padded.baseAddress! + ((image * paddedHeight + y + conv.padTop) * paddedWidth + conv.padLeft)
                    * channels
                to.update(from: from, count: rowLength)
            }
        }
        return UnsafePointer(padded.baseAddress!)
    }

    /// Calls `body(sourceOffset, patchOffset, count)` for every contiguous run that group
    /// `group`'s patch matrix copies from the (padded) source, in patch order.
    @inline(__always)
    private static func forEachRun(
        _ conv: Convolution, group: Int, shape: ActivationShape, output: ActivationShape,
        batchSize: Int, _ body: (Int, Int, Int) -> Void
    ) {
        let channels = shape.channels
        let groupChannels = conv.inputChannels / conv.groups
        let paddedHeight = shape.height &+ conv.padTop &+ conv.padBottom
        let paddedWidth = shape.width &+ conv.padLeft &+ conv.padRight
        let imageSize = paddedHeight &* paddedWidth &* channels
        let contiguousRows = conv.groups == 1 && conv.dilationWidth == 1
        let channelOffset = group &* groupChannels
        var patch = 0
        for image in 0..<batchSize {
            let imageBase = image &* imageSize &+ channelOffset
            for oy in 0..<output.height {
                for ox in 0..<output.width {
                    let corner =
                        imageBase &+ ((oy &* conv.strideHeight) &* paddedWidth &+ ox &* conv.strideWidth) &* channels
                    for ky in 0..<conv.kernelHeight {
                        let rowStart = corner &+ (ky &* conv.dilationHeight) &* paddedWidth &* channels
                        if contiguousRows {
                            body(rowStart, patch, conv.kernelWidth &* channels)
                            patch &+= conv.kernelWidth &* channels
                        } else {
                            for kx in 0..<conv.kernelWidth {
                                body(rowStart &+ (kx &* conv.dilationWidth) &* channels, patch, groupChannels)
                                patch &+= groupChannels
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fills group `group`'s patch matrix `[batch · outH · outW, fanIn]` from the (padded) source.
    @inline(never)
    static func gather(
        _ conv: Convolution, group: Int, source: UnsafePointer<Float>, shape: ActivationShape,
        output: ActivationShape, batchSize: Int, into patches: UnsafeMutableBufferPointer<Float>
    ) {
        let destination = patches.baseAddress!
        forEachRun(conv, group: group, shape: shape, output: output, batchSize: batchSize) { from, to, count in
            (destination + to).update(from: source + from, count: count)
        }
    }

    /// The adjoint of `gather`: adds each patch gradient to the (padded) input position it came
    /// from, in `paddedGradient` (the caller zeroes it and moves the interior to the input).
    @inline(never)
    static func scatterAdd(
        _ conv: Convolution, group: Int, patchGradient: UnsafeMutableBufferPointer<Float>,
        shape: ActivationShape, output: ActivationShape, batchSize: Int,
        into paddedGradient: UnsafeMutablePointer<Float>
    ) {
        let source = patchGradient.baseAddress!
        forEachRun(conv, group: group, shape: shape, output: output, batchSize: batchSize) { to, from, count in
            for element in 0..<count { paddedGradient[to &+ element] += source[from &+ element] }
        }
    }

    /// Adds the interior of a padded gradient to the input gradient.
    static func addInterior(
        _ conv: Convolution, paddedGradient: UnsafeMutableBufferPointer<Float>, shape: ActivationShape,
        batchSize: Int, into inputGradient: UnsafeMutableBufferPointer<Float>
    ) {
        let channels = shape.channels
        let paddedHeight = shape.height + conv.padTop + conv.padBottom
        let paddedWidth = shape.width + conv.padLeft + conv.padRight
        let rowLength = shape.width * channels
        for image in 0..<batchSize {
            for y in 0..<shape.height {
                let to = inputGradient.baseAddress! + (image * shape.height + y) * rowLength
                let from =
                    paddedGradient.baseAddress!
                    + ((image * paddedHeight + y + conv.padTop) * paddedWidth + conv.padLeft) * channels
                for element in 0..<rowLength { to[element] += from[element] }
            }
        }
    }

    /// Where each of PyTorch's fan-in positions `(channel, ky, kx)` (channels of one group)
    /// sits in the patch order `(ky, kx, channel)`: `patchOrder[pytorchIndex] = patchIndex`.
    static func patchOrder(_ conv: Convolution) -> [Int] {
        let channels = conv.inputChannels / conv.groups
        var order = [Int](repeating: 0, count: conv.fanIn)
        for channel in 0..<channels {
            for ky in 0..<conv.kernelHeight {
                for kx in 0..<conv.kernelWidth {
                    order[(channel * conv.kernelHeight + ky) * conv.kernelWidth + kx] =
                        (ky * conv.kernelWidth + kx) * channels + channel
                }
            }
        }
        return order
    }

    /// Reorders `[outputs, fanIn]` weights from PyTorch's order to the patch order, optionally squared.
    static func permuteWeights(
        _ weights: UnsafeBufferPointer<Float>, order: [Int],
        into permuted: UnsafeMutableBufferPointer<Float>, squared: Bool = false
    ) {
        let patchSize = order.count
        order.withUnsafeBufferPointer { order in
            for base in stride(from: 0, to: weights.count, by: patchSize) {
                for (source, target) in order.enumerated() {
                    let value = weights[base + source]
                    permuted[base + target] = squared ? value * value : value
                }
            }
        }
    }

    /// The inverse of `permuteWeights`, for weight gradients.
    static func unpermuteWeights(
        _ permuted: UnsafeBufferPointer<Float>, order: [Int],
        into weights: UnsafeMutableBufferPointer<Float>
    ) {
        let patchSize = order.count
        for base in stride(from: 0, to: weights.count, by: patchSize) {
            for (source, target) in order.enumerated() { weights[base + source] = permuted[base + target] }
        }
    }
}
