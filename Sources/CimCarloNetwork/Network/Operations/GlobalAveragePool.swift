/// The mean over all pixels, per channel: `[1, C, H, W]` to `[1, C, 1, 1]` (ResNet's head).
public struct GlobalAveragePool: NetworkOperation, Equatable {
    public init() {}
    public static let kind = "global_avgpool"

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        guard inputs[0].hasChannelsInnermost else {
            throw OperationShapeError("pools images [1, C, H, W], input is \(inputs[0])")
        }
        return ActivationShape(height: 1, width: 1, channels: inputs[0].channels)
    }

    public func forward(_ pass: ForwardPass) {
        let shape = pass.inputShape
        let scale = 1 / Float(shape.pixels)
        for image in 0..<pass.batchSize {
            let out = pass.output.baseAddress! + image * shape.channels
            for channel in 0..<shape.channels { out[channel] = 0 }
            var from = pass.input.baseAddress! + image * shape.count
            for _ in 0..<shape.pixels {
                for channel in 0..<shape.channels { out[channel] += from[channel] }
                from += shape.channels
            }
            for channel in 0..<shape.channels { out[channel] *= scale }
        }
    }

    /// Gradient: `g_out / P` to every pixel; curvature: `S_out / P²`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let shape = pass.forward.inputShape
        let scale = 1 / Float(shape.pixels)
        let factor = pass.mode == .curvature ? scale * scale : scale
        for element in 0..<inputGradient.count {
            let image = element / shape.count
            inputGradient[element] += pass.outputGradient[image * shape.channels + element % shape.channels] * factor
        }
    }
}

extension GlobalAveragePool: ParameterlessOperation {}
