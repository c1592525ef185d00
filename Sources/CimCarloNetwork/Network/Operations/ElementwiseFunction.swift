/// A unary element-wise function `y = f(x)` whose derivative needs the input (GELU, erf,
/// hard-swish, …), digital and exact. The activations whose derivative can be read off the
/// output are `PointwiseActivation`s instead, which may overwrite their input.
public protocol ElementwiseFunction: NetworkOperation {
    /// `f(x)`.
    func value(_ x: Float) -> Float
    /// `f'(x)`.
    func derivative(_ x: Float) -> Float
}

extension ElementwiseFunction {
    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs.count == 1 else { throw OperationShapeError("takes one input, has \(inputs.count)") }
        return inputs[0]
    }

    public func forward(_ pass: ForwardPass) {
        let (input, output) = (pass.input, pass.output)
        for element in 0..<output.count { output[element] = value(input[element]) }
    }

    /// Gradient: `g_in += g_out · f'(x)`; curvature: `S_in += S_out · f'(x)²`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let input = pass.forward.input
        for element in 0..<inputGradient.count {
            let slope = derivative(input[element])
            inputGradient[element] += pass.outputGradient[element] * (pass.mode == .curvature ? slope * slope : slope)
        }
    }
}
