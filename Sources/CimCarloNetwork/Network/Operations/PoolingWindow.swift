/// The window geometry of max and average pooling: rectangular kernel, strides, zero padding
/// per side, and the rounding of the output size.
public struct PoolingWindow: Sendable, Equatable {
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    /// Padding per side, ONNX's order: top, left, bottom, right.
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    /// Round the output size up (a last, partial window) instead of down, as PyTorch's and
    /// ONNX's `ceil_mode`; a window that would start in the bottom or right padding is dropped.
    public var ceilMode: Bool

    public init(
        kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0, ceilMode: Bool = false
    ) {
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.ceilMode = ceilMode
    }

    /// A square window, stride defaulting to the kernel, no padding.
    public init(kernel: Int, stride: Int? = nil) {
        self.init(
            kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride ?? kernel, strideWidth: stride ?? kernel)
    }

    private func outputLength(_ input: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int) -> Int {
        let span = input + padBefore + padAfter - kernel
        var length = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (length - 1) * stride >= input + padBefore { length -= 1 }
        return length
    }

    func outputShape(for input: ActivationShape) throws(OperationShapeError) -> ActivationShape {
        guard input.isImage else { throw OperationShapeError("pools images [1, C, H, W], input is \(input)") }
        guard kernelHeight >= 1, kernelWidth >= 1, strideHeight >= 1, strideWidth >= 1,
            min(padTop, padLeft, padBottom, padRight) >= 0
        else {
            throw OperationShapeError("needs kernel ≥ 1, stride ≥ 1, padding ≥ 0")
        }
        guard padTop < kernelHeight, padBottom < kernelHeight, padLeft < kernelWidth, padRight < kernelWidth else {
            throw OperationShapeError("padding must be smaller than the kernel")
        }
        guard input.height + padTop + padBottom >= kernelHeight, input.width + padLeft + padRight >= kernelWidth else {
            throw OperationShapeError("window \(kernelHeight)×\(kernelWidth) is larger than its padded input \(input)")
        }
        return ActivationShape(
            height: outputLength(
                input.height, kernel: kernelHeight, stride: strideHeight, padBefore: padTop, padAfter: padBottom),
            width: outputLength(
                input.width, kernel: kernelWidth, stride: strideWidth, padBefore: padLeft, padAfter: padRight),
            channels: input.channels)
    }

    /// The window of output pixel `(oy, ox)` in input coordinates: rows `top ..< bottom` and
    /// columns `left ..< right` clipped to the input, and the number of positions it covers
    /// within the padded input (clipped to the padding, not to the image).
    @inline(__always)
    func window(oy: Int, ox: Int, input: ActivationShape)
        -> (top: Int, bottom: Int, left: Int, right: Int, paddedCount: Int)
    {
        let rowStart = oy * strideHeight - padTop
        let columnStart = ox * strideWidth - padLeft
        let rowEnd = min(rowStart + kernelHeight, input.height + padBottom)
        let columnEnd = min(columnStart + kernelWidth, input.width + padRight)
        return (
            max(rowStart, 0), min(rowEnd, input.height), max(columnStart, 0), min(columnEnd, input.width),
            (rowEnd - rowStart) * (columnEnd - columnStart)
        )
    }
}

extension PoolingWindow {
    init(modelFile node: ModelFileNode) throws {
        let (kernelHeight, kernelWidth) = try node.pair("kernel")
        let (strideHeight, strideWidth) = try node.pair("stride", default: nil)
        let pads = try node.padding()
        self.init(
            kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideHeight: strideHeight,
            strideWidth: strideWidth, padTop: pads.top, padLeft: pads.left, padBottom: pads.bottom,
            padRight: pads.right, ceilMode: try node.flag("ceil_mode"))
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("kernel", [kernelHeight, kernelWidth])
        try node.set("stride", [strideHeight, strideWidth])
        try node.set("padding", [padTop, padLeft, padBottom, padRight])
        try node.set("ceil_mode", ceilMode ? 1 : 0)
    }
}
