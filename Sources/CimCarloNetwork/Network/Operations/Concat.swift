/// Concatenation along channels (ONNX axis 1, innermost in memory) of inputs with the same
/// height and width (Inception, DenseNet). Concatenation on other axes is a `Rearrange`.
public struct Concat: NetworkOperation, Equatable {
    public init() {}
    public static let kind = "concat"

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard !inputs.isEmpty else { throw OperationShapeError("needs at least one input") }
        let channels = inputs.reduce(0) { $0 + $1.channels }
        if inputs.allSatisfy({ $0.isFlat && $0.hasChannelsInnermost }) {
            return inputs.allSatisfy(\.isImage)
                ? ActivationShape(height: 1, width: 1, channels: channels) : ActivationShape(features: channels)
        }
        guard
            inputs.allSatisfy({
                $0.isImage && $0.height == inputs[0].height && $0.width == inputs[0].width
            })
        else {
            throw OperationShapeError(
                "inputs must be images of one height and width, or vectors, have \(inputs.map(\.description).joined(separator: ", "))"
            )
        }
        return ActivationShape(height: inputs[0].height, width: inputs[0].width, channels: channels)
    }

    /// Calls `body(input, offset)` with each input's channel offset in the output.
    private func forEachInput(_ shapes: [ActivationShape], _ body: (Int, Int) -> Void) {
        var offset = 0
        for (index, shape) in shapes.enumerated() {
            body(index, offset)
            offset += shape.channels
        }
    }

    public func forward(_ pass: ForwardPass) {
        let outputChannels = pass.outputShape.channels
        forEachInput(pass.inputShapes) { index, offset in
            let channels = pass.inputShapes[index].channels
            let input = pass.inputs[index]
            for pixel in 0..<(pass.batchSize * pass.outputShape.pixels) {
                let from = pixel * channels
                let to = pixel * outputChannels + offset
                for channel in 0..<channels { pass.output[to + channel] = input[from + channel] }
            }
        }
    }

    public func backward(_ pass: BackwardPass) {
        let outputChannels = pass.forward.outputShape.channels
        forEachInput(pass.forward.inputShapes) { index, offset in
            guard let inputGradient = pass.inputGradients[index] else { return }
            let channels = pass.forward.inputShapes[index].channels
            for pixel in 0..<(pass.forward.batchSize * pass.forward.outputShape.pixels) {
                let to = pixel * channels
                let from = pixel * outputChannels + offset
                for channel in 0..<channels { inputGradient[to + channel] += pass.outputGradient[from + channel] }
            }
        }
    }
}

extension Concat: ParameterlessOperation {}
