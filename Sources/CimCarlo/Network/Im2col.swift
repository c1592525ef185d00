/// The im2col transform that turns a convolution into one matrix product
/// (Chellapilla et al., 2006), for NHWC activations.
///
/// Row `(n, oy, ox)` of the patch matrix holds the input window of output pixel `(oy, ox)`
/// of image `n`, ordered `(ky, kx, channel)`: in NHWC memory each kernel row is then one
/// contiguous run of `kW · C` values, copied as a block. Zero padding reads as 0. The
/// weights are permuted to match (`permuteWeights`), from PyTorch's `(channel, ky, kx)` order.
enum Im2col {
    /// Fills the patch matrix. With padding, the input is first copied into the interior of
    /// `padded` (`[batch, H + 2p, W + 2p, C]`, borders kept at zero), so every kernel row is
    /// one contiguous block of `kW · C` values with no bounds checks.
    @inline(never)
    static func gather(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, conv: ConvolutionLayer,
                       outputShape: ActivationShape, batchSize: Int, padded: UnsafeMutableBufferPointer<Float>,
                       into patches: UnsafeMutableBufferPointer<Float>) {
        let (channels, padding) = (shape.channels, conv.padding)
        let paddedHeight = shape.height &+ 2 &* padding
        let paddedWidth = shape.width &+ 2 &* padding
        let rowLength = shape.width &* channels
        let source: UnsafeMutablePointer<Float>
        if padding > 0 {
            for image in 0..<batchSize {
                for y in 0..<shape.height {
                    let from = input.baseAddress! + (image &* shape.height &+ y) &* rowLength
                    let to = padded.baseAddress!
                        + ((image &* paddedHeight &+ y &+ padding) &* paddedWidth &+ padding) &* channels
                    to.update(from: from, count: rowLength)
                }
            }
            source = padded.baseAddress!
        } else {
            source = input.baseAddress!
        }
        let run = conv.kernelWidth &* channels
        let imageSize = paddedHeight &* paddedWidth &* channels
        var destination = patches.baseAddress!
        for image in 0..<batchSize {
            let imageBase = source + image &* imageSize
            for oy in 0..<outputShape.height {
                for ox in 0..<outputShape.width {
                    var from = imageBase + ((oy &* conv.stride) &* paddedWidth &+ ox &* conv.stride) &* channels
                    for _ in 0..<conv.kernelHeight {
                        for element in 0..<run { destination[element] = from[element] }
                        destination += run
                        from += paddedWidth &* channels
                    }
                }
            }
        }
    }

    /// The adjoint of `gather`: adds each patch gradient back to the input pixel it came from.
    @inline(never)
    static func scatterAdd(patchGradient: UnsafeMutableBufferPointer<Float>, shape: ActivationShape,
                           conv: ConvolutionLayer, outputShape: ActivationShape, batchSize: Int,
                           into inputGradient: UnsafeMutableBufferPointer<Float>) {
        for element in 0..<(batchSize * shape.count) { inputGradient[element] = 0 }
        forEachRun(shape: shape, conv: conv, outputShape: outputShape, batchSize: batchSize) { source, patchOffset, count in
            guard let source else { return }
            let to = inputGradient.baseAddress! + source
            let from = patchGradient.baseAddress! + patchOffset
            for element in 0..<count { to[element] += from[element] }
        }
    }

    /// Calls `body(inputOffset, patchOffset, count)` for every run of one kernel row of every
    /// patch: `inputOffset` is where the run starts in the input, or nil for padding.
    @inline(__always)
    private static func forEachRun(shape: ActivationShape, conv: ConvolutionLayer, outputShape: ActivationShape,
                                   batchSize: Int, _ body: (Int?, Int, Int) -> Void) {
        let (inH, inW, inC) = (shape.height, shape.width, shape.channels)
        let (kH, kW, stride, padding) = (conv.kernelHeight, conv.kernelWidth, conv.stride, conv.padding)
        var patchOffset = 0
        for image in 0..<batchSize {
            let imageBase = image * inH * inW * inC
            for oy in 0..<outputShape.height {
                let top = oy * stride - padding
                for ox in 0..<outputShape.width {
                    let left = ox * stride - padding
                    // Kernel columns inside the image; the rest is zero padding.
                    let firstColumn = max(0, -left)
                    let endColumn = max(firstColumn, min(kW, inW - left))
                    for ky in 0..<kH {
                        let iy = top + ky
                        if iy < 0 || iy >= inH || firstColumn == endColumn {
                            body(nil, patchOffset, kW * inC)
                        } else {
                            if firstColumn > 0 { body(nil, patchOffset, firstColumn * inC) }
                            body(imageBase + (iy * inW + left + firstColumn) * inC, patchOffset + firstColumn * inC,
                                 (endColumn - firstColumn) * inC)
                            if endColumn < kW { body(nil, patchOffset + endColumn * inC, (kW - endColumn) * inC) }
                        }
                        patchOffset += kW * inC
                    }
                }
            }
        }
    }

    /// Where each of PyTorch's weight columns `(channel, ky, kx)` sits in the patch order
    /// `(ky, kx, channel)`: `patchOrder(conv)[pytorchIndex] = patchIndex`.
    static func patchOrder(_ conv: ConvolutionLayer) -> [Int] {
        var order = [Int](repeating: 0, count: conv.patchSize)
        for channel in 0..<conv.inputChannels {
            for ky in 0..<conv.kernelHeight {
                for kx in 0..<conv.kernelWidth {
                    order[(channel * conv.kernelHeight + ky) * conv.kernelWidth + kx]
                        = (ky * conv.kernelWidth + kx) * conv.inputChannels + channel
                }
            }
        }
        return order
    }

    /// Reorders weights from PyTorch's `[out, channel, ky, kx]` to the patch order `[out, ky, kx, channel]`.
    static func permuteWeights(_ weights: UnsafeBufferPointer<Float>, order: [Int],
                               into permuted: UnsafeMutableBufferPointer<Float>) {
        let patchSize = order.count
        for base in stride(from: 0, to: weights.count, by: patchSize) {
            for (source, target) in order.enumerated() { permuted[base + target] = weights[base + source] }
        }
    }

    /// The inverse of `permuteWeights`, for weight gradients.
    static func unpermuteWeights(_ permuted: UnsafeBufferPointer<Float>, order: [Int],
                                 into weights: UnsafeMutableBufferPointer<Float>) {
        let patchSize = order.count
        for base in stride(from: 0, to: weights.count, by: patchSize) {
            for (source, target) in order.enumerated() { weights[base + source] = permuted[base + target] }
        }
    }
}
