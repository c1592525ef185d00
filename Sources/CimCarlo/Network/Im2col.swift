/// The im2col transform that turns a convolution into one matrix product
/// (Chellapilla et al., 2006), for NHWC activations.
///
/// Row `(n, oy, ox)` of the patch matrix holds the input window of output pixel
/// `(oy, ox)` of image `n`, ordered `(channel, ky, kx)` to match PyTorch's weight layout;
/// zero padding reads as 0.
enum Im2col {
    static func gather(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, conv: ConvolutionLayer,
                       outputShape: ActivationShape, batchSize: Int, into patches: UnsafeMutableBufferPointer<Float>) {
        let (inH, inW, inC) = (shape.height, shape.width, shape.channels)
        let (kH, kW, stride, padding) = (conv.kernelHeight, conv.kernelWidth, conv.stride, conv.padding)
        let source = input.baseAddress!
        var destination = patches.baseAddress!
        for image in 0..<batchSize {
            let imageBase = source + image * inH * inW * inC
            for oy in 0..<outputShape.height {
                let top = oy * stride - padding
                for ox in 0..<outputShape.width {
                    let left = ox * stride - padding
                    // Kernel columns that fall inside the image; the rest read as zero padding.
                    let firstColumn = max(0, -left)
                    let endColumn = min(kW, inW - left)
                    for channel in 0..<inC {
                        for ky in 0..<kH {
                            let iy = top + ky
                            if iy < 0 || iy >= inH || firstColumn >= endColumn {
                                destination.update(repeating: 0, count: kW)
                            } else {
                                let row = imageBase + (iy * inW + left) * inC + channel
                                for kx in 0..<firstColumn { destination[kx] = 0 }
                                for kx in firstColumn..<endColumn { destination[kx] = row[kx * inC] }
                                for kx in endColumn..<kW { destination[kx] = 0 }
                            }
                            destination += kW
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `gather`: adds each patch gradient back to the input pixel it came from.
    static func scatterAdd(patchGradient: UnsafeMutableBufferPointer<Float>, shape: ActivationShape,
                           conv: ConvolutionLayer, outputShape: ActivationShape, batchSize: Int,
                           into inputGradient: UnsafeMutableBufferPointer<Float>) {
        let (inH, inW, inC) = (shape.height, shape.width, shape.channels)
        let (kH, kW) = (conv.kernelHeight, conv.kernelWidth)
        for element in 0..<(batchSize * shape.count) { inputGradient[element] = 0 }
        var row = 0
        for image in 0..<batchSize {
            let imageBase = image * inH * inW * inC
            for oy in 0..<outputShape.height {
                for ox in 0..<outputShape.width {
                    var column = row * conv.patchSize
                    for channel in 0..<inC {
                        for ky in 0..<kH {
                            let iy = oy * conv.stride - conv.padding + ky
                            for kx in 0..<kW {
                                let ix = ox * conv.stride - conv.padding + kx
                                if iy >= 0 && iy < inH && ix >= 0 && ix < inW {
                                    inputGradient[imageBase + (iy * inW + ix) * inC + channel] += patchGradient[column]
                                }
                                column += 1
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
