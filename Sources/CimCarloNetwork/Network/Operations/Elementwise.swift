import Foundation

/// A binary element-wise function with NumPy broadcasting (ONNX Add, Sub, Mul, Div, Max, Min,
/// Pow, Sum): between two computed values (squeeze-excitation's gate, `x · sigmoid(x)`,
/// attention's residuals) or between a value and a constant (layer scale, `x / √2` in GELU,
/// positional embeddings). Digital, exact.
///
/// Operands are read through tables made at load: a computed operand of the output's shape and
/// layout is read element by element, a broadcast one through per-element offsets; a constant is
/// stored already broadcast, in the output's memory order.
public struct Elementwise: NetworkOperation, Equatable {
    public static let kind = "elementwise"

    /// The function, with ONNX's name for it.
    public enum Function: String, Sendable, CaseIterable {
        case add = "Add"
        case subtract = "Sub"
        case multiply = "Mul"
        case divide = "Div"
        case maximum = "Max"
        case minimum = "Min"
        case power = "Pow"

        @inline(__always) func value(_ x: Float, _ y: Float) -> Float {
            switch self {
            case .add: x + y
            case .subtract: x - y
            case .multiply: x * y
            case .divide: x / y
            case .maximum: max(x, y)
            case .minimum: min(x, y)
            case .power: pow(x, y)
            }
        }

        /// `(∂f/∂x, ∂f/∂y)`. Ties of max and min send the derivative to the first operand.
        @inline(__always) func partials(_ x: Float, _ y: Float) -> (Float, Float) {
            switch self {
            case .add: (1, 1)
            case .subtract: (1, -1)
            case .multiply: (y, x)
            case .divide: (1 / y, -x / (y * y))
            case .maximum: x >= y ? (1, 0) : (0, 1)
            case .minimum: x <= y ? (1, 0) : (0, 1)
            case .power: (y * pow(x, y - 1), x > 0 ? pow(x, y) * log(x) : 0)
            }
        }
    }

    /// Where an operand's values come from.
    public enum Operand: Sendable, Equatable {
        /// Input `index` of the node; `offsets` per output element (memory order) into one sample
        /// of it, or nil when it has the output's shape and layout.
        case input(Int, offsets: [Int32]?)
        /// Per-sample values in the output's memory order.
        case constant([Float])
    }

    public var function: Function
    public var operands: [Operand]
    public var inputShapes: [ActivationShape]
    public var output: ActivationShape

    public init(function: Function, operands: [Operand], inputs: [ActivationShape], output: ActivationShape) {
        precondition(operands.count == 2)
        self.function = function
        self.operands = operands
        inputShapes = inputs
        self.output = output
    }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == inputShapes else {
            throw OperationShapeError(
                "\(function.rawValue) was made for inputs \(inputShapes.map(\.description).joined(separator: ", "))")
        }
        return output
    }

    /// One operand's value at output element `element` of sample `sample`.
    @inline(__always)
    private func load(_ operand: Operand, _ inputs: [UnsafeMutableBufferPointer<Float>], sample: Int, element: Int)
        -> Float
    {
        switch operand {
        case let .input(index, offsets?): inputs[index][sample &* inputShapes[index].count &+ Int(offsets[element])]
        case let .input(index, nil): inputs[index][sample &* output.count &+ element]
        case let .constant(values): values[element]
        }
    }

    public func forward(_ pass: ForwardPass) {
        let count = output.count
        // The common cases without tables — a value and a constant of its shape, or two values
        // of one shape and layout — as plain loops.
        switch (operands[0], operands[1]) {
        case let (.input(index, nil), .constant(values)):
            values.withUnsafeBufferPointer { constant in
                let input = pass.inputs[index].baseAddress!
                for sample in 0..<pass.batchSize {
                    let (from, to) = (input + sample &* count, pass.output.baseAddress! + sample &* count)
                    for element in 0..<count { to[element] = function.value(from[element], constant[element]) }
                }
            }
            return
        case let (.constant(values), .input(index, nil)):
            values.withUnsafeBufferPointer { constant in
                let input = pass.inputs[index].baseAddress!
                for sample in 0..<pass.batchSize {
                    let (from, to) = (input + sample &* count, pass.output.baseAddress! + sample &* count)
                    for element in 0..<count { to[element] = function.value(constant[element], from[element]) }
                }
            }
            return
        case let (.input(first, nil), .input(second, nil)):
            let (x, y) = (pass.inputs[first].baseAddress!, pass.inputs[second].baseAddress!)
            let to = pass.output.baseAddress!
            for element in 0..<(pass.batchSize &* count) { to[element] = function.value(x[element], y[element]) }
            return
        default:
            break
        }
        for sample in 0..<pass.batchSize {
            let out = pass.output.baseAddress! + sample &* count
            for element in 0..<count {
                out[element] = function.value(
                    load(operands[0], pass.inputs, sample: sample, element: element),
                    load(operands[1], pass.inputs, sample: sample, element: element))
            }
        }
    }

    /// Whether both operands read the same input the same way (`x · x`): the node's derivative
    /// with respect to that value is then `∂f/∂x + ∂f/∂y`, squared as one in curvature mode.
    private var readsOneValueTwice: Bool {
        guard case let .input(first, firstOffsets) = operands[0], case let .input(second, secondOffsets) = operands[1]
        else { return false }
        return first == second && firstOffsets == secondOffsets
    }

    /// Gradient: `g_x += g · ∂f/∂x` (summed over broadcast copies); curvature: `S_x += S · (∂f/∂x)²`.
    public func backward(_ pass: BackwardPass) {
        let count = output.count
        let inputs = pass.forward.inputs
        let curvature = pass.mode == .curvature
        let twice = readsOneValueTwice
        for sample in 0..<pass.forward.batchSize {
            for element in 0..<count {
                let x = load(operands[0], inputs, sample: sample, element: element)
                let y = load(operands[1], inputs, sample: sample, element: element)
                let g = pass.outputGradient[sample &* count &+ element]
                var (dx, dy) = function.partials(x, y)
                if twice { (dx, dy) = (dx + dy, 0) }
                accumulate(operands[0], g * (curvature ? dx * dx : dx), pass, sample: sample, element: element)
                accumulate(operands[1], g * (curvature ? dy * dy : dy), pass, sample: sample, element: element)
            }
        }
    }

    @inline(__always)
    private func accumulate(_ operand: Operand, _ value: Float, _ pass: BackwardPass, sample: Int, element: Int) {
        guard case let .input(index, offsets) = operand, let gradient = pass.inputGradients[index] else { return }
        if let offsets {
            gradient[sample &* inputShapes[index].count &+ Int(offsets[element])] += value
        } else {
            gradient[sample &* output.count &+ element] += value
        }
    }
}
