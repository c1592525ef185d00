/// The im2col transform that turns a convolution into one matrix product
/// (Chellapilla et al., 2006), for NHWC activations.
///
/// Row `(n, oy, ox)` of the patch matrix holds the input window of output pixel
/// `(oy, ox)` of image `n`, ordered `(channel, ky, kx)` to match PyTorch's weight layout;
/// zero padding reads as 0.
enum Im2col {
    static func gather(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, conv: ConvolutionLayer,
                       outputShape: ActivationShape, batchSize: Int, into patches: UnsafeMutableBufferPointer<Float>) {
        var row = 0
        let (inH, inW, inC) = (shape.height, shape.width, shape.channels)
        let (kH, kW) = (conv.kernelHeight, conv.kernelWidth)
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
                                    patches[column] = input[imageBase + (iy * inW + ix) * inC + channel]
                                } else {
                                    patches[column] = 0
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
