internal import CKernels

/// oneDNN's forward convolutions for one workspace (one thread), one per convolution node,
/// made on first use: they pick AVX2/AVX-512 code at run time and read NHWC images directly,
/// without im2col patches. A node whose convolution oneDNN cannot make (or fails to run) is
/// computed by im2col and sgemm instead; tile mode and per-read noise always are (their
/// products are hooks on the sgemm).
final class NativeConvolutions {
    private var handles: [Int: OpaquePointer?] = [:]

    deinit {
        for case let handle?? in handles.values { cimcarlo_convolution_destroy(handle) }
    }

    /// Computes `convolution`'s output for `pass` (bias included); false when it could not.
    func forward(_ convolution: Convolution, _ pass: ForwardPass) -> Bool {
        let handle: OpaquePointer?
        if let made = handles[pass.node] {
            handle = made
        } else {
            let (input, output) = (pass.inputShape, pass.outputShape)
            var shape = cimcarlo_convolution_shape(
                input_channels: Int32(input.channels), input_height: Int32(input.height),
                input_width: Int32(input.width), output_channels: Int32(output.channels),
                output_height: Int32(output.height), output_width: Int32(output.width),
                kernel_height: Int32(convolution.kernelHeight), kernel_width: Int32(convolution.kernelWidth),
                stride_height: Int32(convolution.strideHeight), stride_width: Int32(convolution.strideWidth),
                pad_top: Int32(convolution.padTop), pad_left: Int32(convolution.padLeft),
                pad_bottom: Int32(convolution.padBottom), pad_right: Int32(convolution.padRight),
                dilation_height: Int32(convolution.dilationHeight), dilation_width: Int32(convolution.dilationWidth),
                groups: Int32(convolution.groups))
            handle = cimcarlo_convolution_create(&shape)
            handles[pass.node] = handle
        }
        guard let handle else { return false }
        return convolution.weight.withUnsafeBufferPointer { weight in
            convolution.bias.withUnsafeBufferPointer { bias in
                cimcarlo_convolution_forward(
                    handle, pass.input.baseAddress!, weight.baseAddress!, bias.baseAddress!,
                    pass.output.baseAddress!, Int32(pass.batchSize)) == 0
            }
        }
    }
}
