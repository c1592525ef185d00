/// The mean over each window, per channel. Padding counts toward the divisor only with
/// `countIncludePad` (PyTorch's default, ONNX's `count_include_pad = 1`).
public struct AveragePool: NetworkOperation, Equatable {
    public var window: PoolingWindow
    public var countIncludePad: Bool

    public init(_ window: PoolingWindow, countIncludePad: Bool = false) {
        self.window = window
        self.countIncludePad = countIncludePad
    }

    /// A square window, stride defaulting to the kernel.
    public init(kernel: Int, stride: Int? = nil) {
        self.init(PoolingWindow(kernel: kernel, stride: stride))
    }

    public static let kind = "avgpool2d"

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return try window.outputShape(for: inputs[0])
    }

    /// Calls `body(outputIndex, windowBounds, 1/divisor)` for every output pixel of every image.
    @inline(__always)
    private func forEachWindow(
        _ inShape: ActivationShape, _ outShape: ActivationShape, batchSize: Int,
        _ body: (Int, Int, (top: Int, bottom: Int, left: Int, right: Int, paddedCount: Int), Float) -> Void
    ) {
        var out = 0
        for image in 0..<batchSize {
            for oy in 0..<outShape.height {
                for ox in 0..<outShape.width {
                    let bounds = window.window(oy: oy, ox: ox, input: inShape)
                    let count =
                        countIncludePad
                        ? bounds.paddedCount : (bounds.bottom - bounds.top) * (bounds.right - bounds.left)
                    body(out, image * inShape.count, bounds, count > 0 ? 1 / Float(count) : 0)
                    out += inShape.channels
                }
            }
        }
    }

    public func forward(_ pass: ForwardPass) {
        let (inShape, channels) = (pass.inputShape, pass.inputShape.channels)
        let (input, output) = (pass.input, pass.output)
        forEachWindow(inShape, pass.outputShape, batchSize: pass.batchSize) { out, imageBase, bounds, scale in
            for channel in 0..<channels { output[out + channel] = 0 }
            for row in bounds.top..<bounds.bottom {
                for column in bounds.left..<bounds.right {
                    let base = imageBase + (row * inShape.width + column) * channels
                    for channel in 0..<channels { output[out + channel] += input[base + channel] }
                }
            }
            for channel in 0..<channels { output[out + channel] *= scale }
        }
    }

    /// Gradient: each input gets `g_out / divisor`; curvature: `S_out / divisor²`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let inShape = pass.forward.inputShape
        let channels = inShape.channels
        forEachWindow(inShape, pass.forward.outputShape, batchSize: pass.forward.batchSize) {
            out, imageBase, bounds, scale in
            let factor = pass.mode == .curvature ? scale * scale : scale
            for row in bounds.top..<bounds.bottom {
                for column in bounds.left..<bounds.right {
                    let base = imageBase + (row * inShape.width + column) * channels
                    for channel in 0..<channels {
                        inputGradient[base + channel] += pass.outputGradient[out + channel] * factor
                    }
                }
            }
        }
    }
}

extension AveragePool: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        self.init(try PoolingWindow(modelFile: node), countIncludePad: try node.flag("count_include_pad"))
    }

    func write(modelFile node: ModelFileNode) throws {
        try window.write(modelFile: node)
        try node.set("count_include_pad", countIncludePad ? 1 : 0)
    }
}
