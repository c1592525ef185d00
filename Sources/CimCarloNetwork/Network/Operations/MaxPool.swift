/// The maximum over each window, per channel; padding never wins.
public struct MaxPool: NetworkOperation, Equatable {
    public var window: PoolingWindow

    public init(_ window: PoolingWindow) { self.window = window }
    /// A square window, stride defaulting to the kernel.
    public init(kernel: Int, stride: Int? = nil) { window = PoolingWindow(kernel: kernel, stride: stride) }

    public static let kind = "maxpool2d"

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return try window.outputShape(for: inputs[0])
    }

    /// The index of each output's winning input, for the backward pass.
    public func recordedIndexCount(output: ActivationShape, batchSize: Int) -> Int { output.count * batchSize }

    /// The channel loop is innermost and contiguous in NHWC. Without recorded indices
    /// (inference) the loop is a plain, vectorisable maximum.
    public func forward(_ pass: ForwardPass) {
        let (inShape, outShape) = (pass.inputShape, pass.outputShape)
        let channels = inShape.channels
        let record = !pass.recordedIndices.isEmpty
        let input = pass.input.baseAddress!
        var out = pass.output.baseAddress!
        var winners = pass.recordedIndices.baseAddress
        for image in 0..<pass.batchSize {
            let imageBase = image &* inShape.count
            for oy in 0..<outShape.height {
                for ox in 0..<outShape.width {
                    let bounds = window.window(oy: oy, ox: ox, input: inShape)
                    for channel in 0..<channels { out[channel] = -.infinity }
                    if record { for channel in 0..<channels { winners![channel] = -1 } }
                    for row in bounds.top..<bounds.bottom {
                        for column in bounds.left..<bounds.right {
                            let base = imageBase &+ (row &* inShape.width &+ column) &* channels
                            let from = input + base
                            if record {
                                for channel in 0..<channels where from[channel] > out[channel] || winners![channel] < 0
                                {
                                    out[channel] = from[channel]
                                    winners![channel] = Int32(base + channel)
                                }
                            } else {
                                // A compare and select (Swift's `max` orders NaN and does not vectorise).
                                for channel in 0..<channels {
                                    let value = from[channel]
                                    let current = out[channel]
                                    out[channel] = value > current ? value : current
                                }
                            }
                        }
                    }
                    out += channels
                    if record { winners! += channels }
                }
            }
        }
    }

    /// Routes each output's derivative (or curvature) to the input that won.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let winners = pass.forward.recordedIndices
        for element in 0..<pass.outputGradient.count where winners[element] >= 0 {
            inputGradient[Int(winners[element])] += pass.outputGradient[element]
        }
    }
}

extension MaxPool: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws { self.init(try PoolingWindow(modelFile: node)) }
    func write(modelFile node: ModelFileNode) throws { try window.write(modelFile: node) }
}
