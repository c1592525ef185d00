import Foundation

/// ONNX Softmax and LogSoftmax over a group of axes (one axis from opset 13; the flattened
/// trailing axes before it), digital: `y_j = e^(x_j − m) / Σ e^(x_i − m)` with the group's
/// maximum `m`, or its logarithm.
///
/// A network ending in either is scored as usual: the accuracy from the argmax (unchanged by
/// both), the loss as the cross-entropy of a softmax of what it outputs — for LogSoftmax
/// exactly the model's own log-likelihood, for Softmax that of its probabilities taken as
/// scores (README, "Networks").
public struct Softmax: NetworkOperation, Equatable {
    public static let kind = "softmax"
    /// LogSoftmax instead of Softmax.
    public var logarithmic: Bool
    public var shape: ActivationShape
    public var groups: AxisGroups

    public init(logarithmic: Bool, shape: ActivationShape, axes: [Int]) {
        self.logarithmic = logarithmic
        self.shape = shape
        groups = AxisGroups(shape: shape, axes: axes)
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == [shape] else { throw OperationShapeError("was made for an input \(shape)") }
        return shape
    }

    public var worksInPlace: Bool { true }

    public func forward(_ pass: ForwardPass) {
        let length = groups.length
        for sample in 0..<pass.batchSize {
            let input = pass.input.baseAddress! + sample &* shape.count
            let output = pass.output.baseAddress! + sample &* shape.count
            for group in 0..<groups.groupCount {
                let members = group &* length
                var largest = -Float.infinity
                for k in 0..<length { largest = max(largest, input[Int(groups.members[members &+ k])]) }
                var sum: Float = 0
                if logarithmic {
                    for k in 0..<length { sum += exp(input[Int(groups.members[members &+ k])] - largest) }
                    let logSum = log(sum)
                    for k in 0..<length {
                        let offset = Int(groups.members[members &+ k])
                        output[offset] = (input[offset] - largest) - logSum
                    }
                } else {
                    // Each exponential once, kept in the output (which may be the input: every
                    // element is read before it is written).
                    for k in 0..<length {
                        let offset = Int(groups.members[members &+ k])
                        let value = exp(input[offset] - largest)
                        output[offset] = value
                        sum += value
                    }
                    for k in 0..<length { output[Int(groups.members[members &+ k])] /= sum }
                }
            }
        }
    }

    /// Gradient: softmax `g_j = y_j (g'_j − Σ g'_i y_i)`, log-softmax `g_j = g'_j − p_j Σ g'_i`.
    /// Curvature `S_j = Σ_i S'_i J_ij²`: softmax `y_j² (Σ S'_i y_i²) + S'_j y_j² (1 − 2 y_j)`,
    /// log-softmax `S'_j (1 − 2 p_j) + p_j² Σ S'_i`.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let length = groups.length
        let curvature = pass.mode == .curvature
        for sample in 0..<pass.forward.batchSize {
            let base = sample &* shape.count
            let output = pass.forward.output.baseAddress! + base
            let gradient = pass.outputGradient.baseAddress! + base
            let target = inputGradient.baseAddress! + base
            for group in 0..<groups.groupCount {
                let members = group &* length
                var total: Float = 0
                for k in 0..<length {
                    let offset = Int(groups.members[members &+ k])
                    let p = logarithmic ? exp(output[offset]) : output[offset]
                    switch (logarithmic, curvature) {
                    case (false, false): total += gradient[offset] * p
                    case (false, true): total += gradient[offset] * p * p
                    case (true, _): total += gradient[offset]
                    }
                }
                for k in 0..<length {
                    let offset = Int(groups.members[members &+ k])
                    let p = logarithmic ? exp(output[offset]) : output[offset]
                    let g = gradient[offset]
                    switch (logarithmic, curvature) {
                    case (false, false): target[offset] += p * (g - total)
                    case (false, true): target[offset] += p * p * total + g * p * p * (1 - 2 * p)
                    case (true, false): target[offset] += g - p * total
                    case (true, true): target[offset] += g * (1 - 2 * p) + p * p * total
                    }
                }
            }
        }
    }
}
