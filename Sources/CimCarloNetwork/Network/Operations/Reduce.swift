/// ONNX ReduceMean, ReduceSum, ReduceMax (and GlobalMaxPool) over some axes, digital. The
/// output holds one value per group, in row-major order of the kept axes (reduced axes kept
/// as 1 or dropped, as `keepdims` said at load).
public struct Reduce: NetworkOperation, Equatable {
    public static let kind = "reduce"

    public enum Function: String, Sendable {
        case mean = "ReduceMean"
        case sum = "ReduceSum"
        case maximum = "ReduceMax"
    }

    public var function: Function
    public var input: ActivationShape
    public var output: ActivationShape
    public var groups: AxisGroups

    /// Reduces `input` along `axes` to `output` (row-major, `groups.groupCount` elements).
    public init(function: Function, input: ActivationShape, axes: [Int], output: ActivationShape) {
        self.function = function
        self.input = input
        self.output = output
        groups = AxisGroups(shape: input, axes: axes)
        precondition(output.count == groups.groupCount && output.layout == .rowMajor)
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == [input] else { throw OperationShapeError("was made for an input \(input)") }
        return output
    }

    public func forward(_ pass: ForwardPass) {
        let length = groups.length
        for sample in 0..<pass.batchSize {
            let from = pass.input.baseAddress! + sample &* input.count
            let to = pass.output.baseAddress! + sample &* output.count
            for group in 0..<groups.groupCount {
                let members = group &* length
                var result: Float = function == .maximum ? -.infinity : 0
                for k in 0..<length {
                    let x = from[Int(groups.members[members &+ k])]
                    result = function == .maximum ? max(result, x) : result + x
                }
                to[group] = function == .mean ? result / Float(length) : result
            }
        }
    }

    /// Mean: `g / L` to every member (curvature `S / L²`); sum: `g` (`S`); max: `g` (`S`) to the
    /// first maximal member.
    public func backward(_ pass: BackwardPass) {
        guard let inputGradient = pass.inputGradients[0] else { return }
        let length = groups.length
        let scale: Float =
            function == .mean ? (pass.mode == .curvature ? 1 / Float(length * length) : 1 / Float(length)) : 1
        for sample in 0..<pass.forward.batchSize {
            let from = pass.forward.input.baseAddress! + sample &* input.count
            let target = inputGradient.baseAddress! + sample &* input.count
            let gradient = pass.outputGradient.baseAddress! + sample &* output.count
            for group in 0..<groups.groupCount {
                let members = group &* length
                if function == .maximum {
                    var winner = Int(groups.members[members])
                    for k in 1..<max(length, 1) where from[Int(groups.members[members &+ k])] > from[winner] {
                        winner = Int(groups.members[members &+ k])
                    }
                    target[winner] += gradient[group]
                } else {
                    for k in 0..<length { target[Int(groups.members[members &+ k])] += gradient[group] * scale }
                }
            }
        }
    }
}
