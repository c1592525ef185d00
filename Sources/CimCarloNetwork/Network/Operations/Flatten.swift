/// Reshapes a sample to a feature vector `[1, features]` in its logical (PyTorch's `C·H·W`)
/// order: channel-last images are transposed, row-major values copied.
public struct Flatten: NetworkOperation, Equatable {
    public init() {}
    public static let kind = "flatten"

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return ActivationShape(features: inputs[0].count)
    }

    public func forward(_ pass: ForwardPass) {
        let shape = pass.inputShape
        guard shape.isImage else {
            _ = pass.output.update(fromContentsOf: pass.input)
            return
        }
        let (input, output) = (pass.input, pass.output)
        for image in 0..<pass.batchSize {
            let base = image * shape.count
            for pixel in 0..<shape.pixels {
                for channel in 0..<shape.channels {
                    output[base + channel * shape.pixels + pixel] = input[base + pixel * shape.channels + channel]
                }
            }
        }
    }

    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let shape = pass.forward.inputShape
        guard shape.isImage else {
            for element in 0..<inputGradient.count { inputGradient[element] += pass.outputGradient[element] }
            return
        }
        for image in 0..<pass.forward.batchSize {
            let base = image * shape.count
            for pixel in 0..<shape.pixels {
                for channel in 0..<shape.channels {
                    inputGradient[base + pixel * shape.channels + channel] +=
                        pass.outputGradient[base + channel * shape.pixels + pixel]
                }
            }
        }
    }
}

extension Flatten: ParameterlessOperation {}
