/// Passes its input through (ONNX Identity, and Dropout at inference).
public struct Identity: NetworkOperation, Equatable {
    public init() {}
    public static let kind = "identity"
    public var worksInPlace: Bool { true }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return inputs[0]
    }

    public func forward(_ pass: ForwardPass) {
        guard pass.output.baseAddress != pass.input.baseAddress else { return }
        _ = pass.output.update(fromContentsOf: pass.input)
    }

    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        for element in 0..<inputGradient.count { inputGradient[element] += pass.outputGradient[element] }
    }
}

extension Identity: ParameterlessOperation {}
