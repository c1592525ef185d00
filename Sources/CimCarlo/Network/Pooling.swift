/// Max and average pooling over NHWC activations, forward and backward.
enum Pooling {
    /// Window maximum per channel; `argmax` records which input won (for the backward pass),
    /// and is skipped (a plain, vectorised maximum) when empty.
    /// The channel loop is innermost and contiguous in NHWC.
    @inline(never)
    static func maxForward(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, pool: PoolingLayer,
                           outputShape: ActivationShape, batchSize: Int,
                           output: UnsafeMutableBufferPointer<Float>, argmax: UnsafeMutableBufferPointer<Int32>) {
        let channels = shape.channels
        if argmax.isEmpty {
            var out = output.baseAddress!
            for image in 0..<batchSize {
                let imageBase = image &* shape.count
                for oy in 0..<outputShape.height {
                    for ox in 0..<outputShape.width {
                        for channel in 0..<channels { out[channel] = -.infinity }
                        for ky in 0..<pool.kernel {
                            for kx in 0..<pool.kernel {
                                let row: Int = (oy &* pool.stride) &+ ky
                                let column: Int = (ox &* pool.stride) &+ kx
                                let offset: Int = imageBase &+ ((row &* shape.width) &+ column) &* channels
                                let window = input.baseAddress! + offset
                                for channel in 0..<channels { out[channel] = max(out[channel], window[channel]) }
                            }
                        }
                        out += channels
                    }
                }
            }
            return
        }
        var out = output.baseAddress!
        var winners = argmax.baseAddress!
        for image in 0..<batchSize {
            let imageBase = image * shape.count
            for oy in 0..<outputShape.height {
                for ox in 0..<outputShape.width {
                    for channel in 0..<channels {
                        out[channel] = -.infinity
                        winners[channel] = 0
                    }
                    for ky in 0..<pool.kernel {
                        for kx in 0..<pool.kernel {
                            let base = imageBase + ((oy * pool.stride + ky) * shape.width + ox * pool.stride + kx) * channels
                            let window = input.baseAddress! + base
                            for channel in 0..<channels where window[channel] > out[channel] {
                                out[channel] = window[channel]
                                winners[channel] = Int32(base + channel)
                            }
                        }
                    }
                    out += channels
                    winners += channels
                }
            }
        }
    }

    /// Routes each output gradient to the input that won the max.
    static func maxBackward(outputGradient: UnsafeMutableBufferPointer<Float>, argmax: UnsafeMutableBufferPointer<Int32>,
                            inputCount: Int, outputCount: Int,
                            inputGradient: UnsafeMutableBufferPointer<Float>) {
        for element in 0..<inputCount { inputGradient[element] = 0 }
        for element in 0..<outputCount {
            inputGradient[Int(argmax[element])] += outputGradient[element]
        }
    }

    @inline(never)
    static func averageForward(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, pool: PoolingLayer,
                               outputShape: ActivationShape, batchSize: Int,
                               output: UnsafeMutableBufferPointer<Float>) {
        let channels = shape.channels
        let scale = 1 / Float(pool.kernel * pool.kernel)
        var out = 0
        for image in 0..<batchSize {
            let imageBase = image * shape.count
            for oy in 0..<outputShape.height {
                for ox in 0..<outputShape.width {
                    for channel in 0..<channels {
                        var sum: Float = 0
                        for ky in 0..<pool.kernel {
                            let rowBase = imageBase + ((oy * pool.stride + ky) * shape.width + ox * pool.stride) * channels
                            for kx in 0..<pool.kernel {
                                sum += input[rowBase + kx * channels + channel]
                            }
                        }
                        output[out] = sum * scale
                        out += 1
                    }
                }
            }
        }
    }

    /// Spreads each output gradient evenly over its window.
    static func averageBackward(outputGradient: UnsafeMutableBufferPointer<Float>, shape: ActivationShape,
                                pool: PoolingLayer, outputShape: ActivationShape, batchSize: Int,
                                inputGradient: UnsafeMutableBufferPointer<Float>) {
        let channels = shape.channels
        let scale = 1 / Float(pool.kernel * pool.kernel)
        for element in 0..<(batchSize * shape.count) { inputGradient[element] = 0 }
        var out = 0
        for image in 0..<batchSize {
            let imageBase = image * shape.count
            for oy in 0..<outputShape.height {
                for ox in 0..<outputShape.width {
                    for channel in 0..<channels {
                        let share = outputGradient[out] * scale
                        for ky in 0..<pool.kernel {
                            let rowBase = imageBase + ((oy * pool.stride + ky) * shape.width + ox * pool.stride) * channels
                            for kx in 0..<pool.kernel {
                                inputGradient[rowBase + kx * channels + channel] += share
                            }
                        }
                        out += 1
                    }
                }
            }
        }
    }
}

/// NHWC to PyTorch's CHW feature order, and back.
enum Flatten {
    @inline(never)
    static func forward(input: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, batchSize: Int,
                        output: UnsafeMutableBufferPointer<Float>) {
        let pixels = shape.height * shape.width
        for image in 0..<batchSize {
            let base = image * shape.count
            for pixel in 0..<pixels {
                for channel in 0..<shape.channels {
                    output[base + channel * pixels + pixel] = input[base + pixel * shape.channels + channel]
                }
            }
        }
    }

    static func backward(outputGradient: UnsafeMutableBufferPointer<Float>, shape: ActivationShape, batchSize: Int,
                         inputGradient: UnsafeMutableBufferPointer<Float>) {
        let pixels = shape.height * shape.width
        for image in 0..<batchSize {
            let base = image * shape.count
            for pixel in 0..<pixels {
                for channel in 0..<shape.channels {
                    inputGradient[base + pixel * shape.channels + channel] = outputGradient[base + channel * pixels + pixel]
                }
            }
        }
    }
}
