/// An element-wise activation `y = f(x)` whose derivative can be read off its output, so it
/// may overwrite its input: ReLU, clip, leaky ReLU, sigmoid, tanh.
public protocol PointwiseActivation: NetworkOperation {
    /// `f(x)`.
    func value(_ x: Float) -> Float
    /// `f'(x)` expressed through `y = f(x)`.
    func derivative(output y: Float) -> Float
}

extension PointwiseActivation {
    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return inputs[0]
    }

    public var worksInPlace: Bool { true }

    public func forward(_ pass: ForwardPass) {
        let (input, output) = (pass.input, pass.output)
        for element in 0..<output.count { output[element] = value(input[element]) }
    }

    /// Gradient: `g_in += g_out · f'(x)`; curvature: `S_in += S_out · f'(x)²`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let output = pass.forward.output
        let outputGradient = pass.outputGradient
        for element in 0..<inputGradient.count {
            let slope = derivative(output: output[element])
            inputGradient[element] += outputGradient[element] * (pass.mode == .curvature ? slope * slope : slope)
        }
    }
}
