/// ONNX LayerNormalization (opset 17; Ba, Kiros & Hinton 2016) over the axes from `axis` on,
/// digital: `y = (x − μ) / √(σ² + ε) · γ + β` per group, with `γ` and `β` per normalised
/// position (broadcast as ONNX does). Exporters before opset 17 write it decomposed, which
/// imports as its elementwise and reduce parts.
public struct LayerNormalization: NetworkOperation, Equatable {
    public static let kind = "layer_norm"
    public var shape: ActivationShape
    public var groups: AxisGroups
    /// `γ` and `β`, one per normalised position (`groups.length`).
    public var scale: [Float]
    public var bias: [Float]
    public var epsilon: Float

    public init(shape: ActivationShape, axes: [Int], scale: [Float], bias: [Float], epsilon: Float) {
        self.shape = shape
        groups = AxisGroups(shape: shape, axes: axes)
        precondition(scale.count == groups.length && bias.count == groups.length)
        self.scale = scale
        self.bias = bias
        self.epsilon = epsilon
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == [shape] else { throw OperationShapeError("was made for an input \(shape)") }
        return shape
    }

    /// The group's mean and `1 / √(σ² + ε)`.
    @inline(__always)
    private func moments(_ input: UnsafeMutablePointer<Float>, members: Int) -> (mean: Float, inverseDeviation: Float) {
        let length = groups.length
        var sum: Float = 0
        for k in 0..<length { sum += input[Int(groups.members[members &+ k])] }
        let mean = sum / Float(length)
        var squares: Float = 0
        for k in 0..<length {
            let centred = input[Int(groups.members[members &+ k])] - mean
            squares += centred * centred
        }
        return (mean, 1 / (squares / Float(length) + epsilon).squareRoot())
    }

    public func forward(_ pass: ForwardPass) {
        let length = groups.length
        for sample in 0..<pass.batchSize {
            let input = pass.input.baseAddress! + sample &* shape.count
            let output = pass.output.baseAddress! + sample &* shape.count
            for group in 0..<groups.groupCount {
                let members = group &* length
                let (mean, inverseDeviation) = moments(input, members: members)
                for k in 0..<length {
                    let offset = Int(groups.members[members &+ k])
                    output[offset] = (input[offset] - mean) * inverseDeviation * scale[k] + bias[k]
                }
            }
        }
    }

    /// With `x̂ = (x − μ)/σ` and `a_i = γ_i g_i`: gradient `(a_j − mean(a) − x̂_j mean(a x̂)) / σ`.
    /// Curvature `S_j = Σ_i S'_i J_ij²` with `J_ij = γ_i/σ (δ_ij − (1 + x̂_i x̂_j)/L)`:
    /// `b_j (1 − 2 c_j) + (B₀ + 2 x̂_j B₁ + x̂_j² B₂) / L²`, `b_i = S'_i γ_i²/σ²`,
    /// `c_j = (1 + x̂_j²)/L`, `B_k = Σ_i b_i x̂_iᵏ`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let length = groups.length
        let count = Float(length)
        for sample in 0..<pass.forward.batchSize {
            let base = sample &* shape.count
            let input = pass.forward.input.baseAddress! + base
            let gradient = pass.outputGradient.baseAddress! + base
            let target = inputGradient.baseAddress! + base
            for group in 0..<groups.groupCount {
                let members = group &* length
                let (mean, inverseDeviation) = moments(input, members: members)
                var (sum0, sum1, sum2): (Float, Float, Float) = (0, 0, 0)
                for k in 0..<length {
                    let offset = Int(groups.members[members &+ k])
                    let normalised = (input[offset] - mean) * inverseDeviation
                    let a =
                        pass.mode == .gradient
                        ? scale[k] * gradient[offset]
                        : gradient[offset] * scale[k] * scale[k] * inverseDeviation * inverseDeviation
                    sum0 += a
                    sum1 += a * normalised
                    sum2 += a * normalised * normalised
                }
                for k in 0..<length {
                    let offset = Int(groups.members[members &+ k])
                    let normalised = (input[offset] - mean) * inverseDeviation
                    if pass.mode == .gradient {
                        let a = scale[k] * gradient[offset]
                        target[offset] += (a - sum0 / count - normalised * sum1 / count) * inverseDeviation
                    } else {
                        let b = gradient[offset] * scale[k] * scale[k] * inverseDeviation * inverseDeviation
                        let c = (1 + normalised * normalised) / count
                        target[offset] +=
                            b * (1 - 2 * c)
                            + (sum0 + 2 * normalised * sum1 + normalised * normalised * sum2) / (count * count)
                    }
                }
            }
        }
    }
}
