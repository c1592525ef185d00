/// The element-wise sum of two or more inputs of one shape (residual connections).
/// Each input receives the output's derivative (and its curvature, `(∂y/∂x)² = 1`).
public struct Add: NetworkOperation, Equatable {
    public init() {}
    public static let kind = "add"
    /// Each element is read before it is written, so the output may be the first or second input.
    public var worksInPlace: Bool { true }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count >= 2 else { throw OperationShapeError("needs at least two inputs, has \(inputs.count)") }
        guard inputs.allSatisfy({ $0 == inputs[0] }) else {
            throw OperationShapeError(
                "inputs must have one shape, have \(inputs.map(\.description).joined(separator: ", "))")
        }
        return inputs[0]
    }

    public func forward(_ pass: ForwardPass) {
        let output = pass.output
        let (first, second) = (pass.inputs[0], pass.inputs[1])
        for element in 0..<output.count { output[element] = first[element] + second[element] }
        for input in pass.inputs.dropFirst(2) {
            for element in 0..<output.count { output[element] += input[element] }
        }
    }

    public func backward(_ pass: BackwardPass) {
        for case let inputGradient? in pass.inputGradients {
            for element in 0..<inputGradient.count { inputGradient[element] += pass.outputGradient[element] }
        }
    }
}

extension Add: ParameterlessOperation {}
