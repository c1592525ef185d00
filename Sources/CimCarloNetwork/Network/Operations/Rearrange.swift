/// Moves elements without arithmetic: every output element is one element of an input, or a
/// constant. ONNX's Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Slice, Split, Gather with
/// constant indices, Concat on any axis (with constant operands such as a class token), Expand,
/// Pad (constant, reflect, edge), nearest-neighbour Resize, and changes of memory layout are
/// all this one operation with a different table, made at load from the logical shapes.
///
/// Derivatives flow back along the same table (`∂out/∂in` is 1 where an element was copied),
/// so gradient and curvature are the same scatter-add.
public struct Rearrange: NetworkOperation, Equatable {
    public static let kind = "rearrange"
    /// What it came from, for reports (`Transpose`, `Concat`, …).
    public var origin: String
    public var inputShapes: [ActivationShape]
    public var output: ActivationShape
    /// Per output element in memory order: the input it is copied from, or -1 for `constants`.
    public var sourceInput: [Int32]
    /// Per output element: the element's memory offset within one sample of that input, or
    /// its index in `constants`.
    public var sourceElement: [Int32]
    public var constants: [Float]

    /// A rearrangement from a logical map (`map.input[i]`, `map.element[i]` for output element
    /// `i` in row-major order, elements also in row-major order) to values in the given layouts.
    public init(origin: String, inputs: [ActivationShape], output: ActivationShape, map: LogicalMap) {
        precondition(map.dimensions == output.dimensions, "the map's shape is the output's")
        self.origin = origin
        inputShapes = inputs
        self.output = output
        let inputOffsets = inputs.map { $0.offsets() }
        let outputOffsets = output.offsets()
        var sourceInput = [Int32](repeating: -1, count: output.count)
        var sourceElement = [Int32](repeating: 0, count: output.count)
        for position in 0..<output.count {
            let target = Int(outputOffsets[position])
            let input = map.input[position]
            sourceInput[target] = input
            sourceElement[target] =
                input < 0 ? map.element[position] : inputOffsets[Int(input)][Int(map.element[position])]
        }
        self.sourceInput = sourceInput
        self.sourceElement = sourceElement
        constants = map.constants.map(Float.init)
        isIdentity =
            inputs.count == 1 && inputs[0].count == output.count && constants.isEmpty
            && sourceInput.allSatisfy { $0 == 0 } && sourceElement.elementsEqual(0..<Int32(output.count))
    }

    /// Whether every output element is the same element of the single input (a reshape that
    /// keeps memory order): the output may then share the input's memory.
    public let isIdentity: Bool

    public var worksInPlace: Bool { isIdentity }

    public func outputShape(for inputs: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputs == inputShapes else {
            throw OperationShapeError(
                "\(origin) was made for inputs \(inputShapes.map(\.description).joined(separator: ", ")), gets \(inputs.map(\.description).joined(separator: ", "))"
            )
        }
        return output
    }

    public func forward(_ pass: ForwardPass) {
        let count = output.count
        if isIdentity {
            guard pass.output.baseAddress != pass.input.baseAddress else { return }
            _ = pass.output.update(fromContentsOf: pass.input)
            return
        }
        sourceElement.withUnsafeBufferPointer { sources in
            // One input and no constants (transposes, reshapes, slices): a plain gather.
            if inputShapes.count == 1 && constants.isEmpty {
                let size = inputShapes[0].count
                for sample in 0..<pass.batchSize {
                    let out = pass.output.baseAddress! + sample &* count
                    let from = pass.input.baseAddress! + sample &* size
                    for element in 0..<count { out[element] = from[Int(sources[element])] }
                }
                return
            }
            let sizes = inputShapes.map(\.count)
            for sample in 0..<pass.batchSize {
                let out = pass.output.baseAddress! + sample &* count
                for element in 0..<count {
                    let input = Int(sourceInput[element])
                    let source = Int(sources[element])
                    out[element] = input < 0 ? constants[source] : pass.inputs[input][sample &* sizes[input] &+ source]
                }
            }
        }
    }

    public func backward(_ pass: BackwardPass) {
        let count = output.count
        let sizes = inputShapes.map(\.count)
        for sample in 0..<pass.forward.batchSize {
            let gradient = pass.outputGradient.baseAddress! + sample &* count
            for element in 0..<count {
                let input = Int(sourceInput[element])
                guard input >= 0, let inputGradient = pass.inputGradients[input] else { continue }
                inputGradient[sample &* sizes[input] &+ Int(sourceElement[element])] += gradient[element]
            }
        }
    }
}

/// Where each element of a value comes from, in logical (row-major) terms: ONNX's
/// data-movement operators as index tables, shared by constant folding at load and by
/// `Rearrange` in the network.
public struct LogicalMap: Sendable, Equatable {
    /// The result's dimensions.
    public var dimensions: [Int]
    /// Per element: which input (-1: `constants`).
    public var input: [Int32]
    /// Per element: the row-major index in that input (or in `constants`).
    public var element: [Int32]
    public var constants: [Double] = []

    /// An element-by-element map from one input.
    package init(dimensions: [Int], elements: [Int32]) {
        self.dimensions = dimensions
        input = [Int32](repeating: 0, count: elements.count)
        element = elements
    }

    package init(dimensions: [Int], input: [Int32], element: [Int32], constants: [Double] = []) {
        self.dimensions = dimensions
        self.input = input
        self.element = element
        self.constants = constants
    }

    /// Applies the map to row-major values.
    package func apply(_ inputs: [[Double]]) -> [Double] {
        zip(input, element).map { input, element in
            input < 0 ? constants[Int(element)] : inputs[Int(input)][Int(element)]
        }
    }
}
