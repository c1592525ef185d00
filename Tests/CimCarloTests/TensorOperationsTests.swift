import CimCarlo
import Foundation
import Testing

@testable import CimCarloNetwork
@testable import CimCarloONNX

// Every operation's backward pass against central differences of its own forward pass, at batch 2:
// `.gradient` must add `Σ_i g_i · J_ij` to input element `j`, `.curvature` the diagonal Gauss–Newton
// `Σ_i S_i · J_ij²` (the whole squared column, not just the diagonal of `J`). The Jacobian `J` is taken
// over the whole batch buffer, so derivatives leaking between samples would show too.
//
// Forward passes are Float, so differences use a step of 2⁻⁷ (divided by the step actually taken,
// in Double) on inputs kept ≥ 0.05 away from every kink and tie; each derivative element must then
// lie within 0.3 % of its reference plus 0.03 % of the largest reference element of its vector
// (`Tolerance`). Truncation (h² f‴/6) and rounding (ulp/h) errors stay below ~4e-4 relative here (the
// worst case, Div and Pow near small denominators, uses 15 % of that allowance).

/// How closely a computed derivative vector must match its reference.
private struct Tolerance {
    /// Allowed error relative to each reference element.
    var relative = 3e-3
    /// Allowed error relative to the largest reference element of the vector.
    var absolute = 3e-4
}

/// Seeded draws of test inputs.
private struct Draw {
    var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func normal(_ count: Int, scale: Double = 1, mean: Double = 0) -> [Float] {
        (0..<count).map { _ in Float(mean + scale * generator.nextStandardNormal()) }
    }

    mutating func uniform(_ count: Int, _ range: ClosedRange<Double>) -> [Float] {
        (0..<count).map { _ in
            Float(range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextOpenUnitInterval())
        }
    }

    /// Uniform values in `range`, resampled until at least `gap` from every kink.
    mutating func avoiding(_ kinks: [Float], gap: Float, _ count: Int, _ range: ClosedRange<Double>) -> [Float] {
        (0..<count).map { _ in
            while true {
                let x = uniform(1, range)[0]
                if kinks.allSatisfy({ abs(x - $0) >= gap }) { return x }
            }
        }
    }

    /// Values `0.2 k + offset` (`|k| ≤ 7`) jittered by at most 0.02: values drawn with offsets 0 and
    /// 0.1 stay ≥ 0.06 apart, so maximum and minimum have no near-ties.
    mutating func lattice(_ count: Int, offset: Double) -> [Float] {
        (0..<count).map { _ in
            let k = Double(Int(generator.next() % 15) - 7)
            return Float(0.2 * k + offset + 0.02 * (2 * generator.nextOpenUnitInterval() - 1))
        }
    }

    /// `count` values ≥ 0.09 apart, in random order (no near-ties anywhere in the buffer).
    mutating func distinct(_ count: Int) -> [Float] {
        let levels = (0..<count).map { Double($0) - Double(count - 1) / 2 }.shuffled(using: &generator)
        return levels.map { Float(0.15 * $0 + 0.03 * (2 * generator.nextOpenUnitInterval() - 1)) }
    }
}

/// One operation run on hand-allocated buffers (`batch` samples): forward, then backward.
private struct OperationRun {
    var operation: any NetworkOperation
    var inputShapes: [ActivationShape]
    var batch = 2

    var outputShape: ActivationShape { try! operation.outputShape(for: inputShapes) }

    /// What a backward pass left: the input gradients (prefilled), and the parameter derivatives
    /// (prefilled with garbage, which they must overwrite).
    struct Derivatives {
        var inputs: [[Float]]
        var weight: [Float]
        var bias: [Float]
    }

    func forward(_ inputs: [[Float]]) -> [Float] { run(inputs).output }

    func backward(_ inputs: [[Float]], mode: BackwardPass.Mode, outputDerivative: [Float], prefill: [[Float]])
        -> Derivatives
    {
        run(inputs, backward: (mode, outputDerivative, prefill)).derivatives!
    }

    private func run(
        _ inputs: [[Float]],
        backward: (mode: BackwardPass.Mode, outputDerivative: [Float], prefill: [[Float]])? = nil
    ) -> (output: [Float], derivatives: Derivatives?) {
        let output = outputShape
        precondition(inputs.count == inputShapes.count)
        for (values, shape) in zip(inputs, inputShapes) { precondition(values.count == batch * shape.count) }
        let inputBuffers = inputs.map(makeBuffer)
        let outputBuffer = makeBuffer([Float](repeating: .nan, count: batch * output.count))
        let scratch = makeBuffer(
            [Float](
                repeating: .nan,
                count: operation.scratchCount(inputs: inputShapes, output: output, batchSize: batch, backward: true)))
        let indices = UnsafeMutableBufferPointer<Int32>.allocate(
            capacity: operation.recordedIndexCount(output: output, batchSize: batch))
        indices.initialize(repeating: 0)
        defer {
            inputBuffers.forEach { $0.deallocate() }
            outputBuffer.deallocate()
            scratch.deallocate()
            indices.deallocate()
        }
        let pass = ForwardPass(
            node: 0, inputs: inputBuffers, inputShapes: inputShapes, output: outputBuffer, outputShape: output,
            batchSize: batch, scratch: scratch, recordedIndices: indices, matrixProduct: nil)
        operation.forward(pass)
        let result = Array(outputBuffer)
        guard let backward else { return (result, nil) }
        precondition(backward.outputDerivative.count == result.count)
        let crossbar = operation as? any CrossbarOperation
        let gradients = backward.prefill.map(makeBuffer)
        let outputDerivative = makeBuffer(backward.outputDerivative)
        let weight = makeBuffer([Float](repeating: 1e3, count: crossbar?.weight.count ?? 0))
        let bias = makeBuffer([Float](repeating: 1e3, count: crossbar?.bias.count ?? 0))
        defer {
            gradients.forEach { $0.deallocate() }
            outputDerivative.deallocate()
            weight.deallocate()
            bias.deallocate()
        }
        operation.backward(
            BackwardPass(
                mode: backward.mode, forward: pass, outputGradient: outputDerivative, inputGradients: gradients,
                weightGradient: weight, biasGradient: bias))
        return (result, Derivatives(inputs: gradients.map { Array($0) }, weight: Array(weight), bias: Array(bias)))
    }

    private func makeBuffer(_ values: [Float]) -> UnsafeMutableBufferPointer<Float> {
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = buffer.initialize(fromContentsOf: values)
        return buffer
    }
}

/// The central-difference Jacobian of `f` at `x`, by columns: `columns[j][i] = ∂f_i/∂x_j`.
private func numericJacobian(at x: [Float], step: Float = 1.0 / 128, _ f: ([Float]) -> [Float]) -> [[Double]] {
    x.indices.map { j in
        var (plus, minus) = (x, x)
        plus[j] += step
        minus[j] -= step
        let width = Double(plus[j]) - Double(minus[j])
        return zip(f(plus), f(minus)).map { (Double($0) - Double($1)) / width }
    }
}

/// `Σ_i d_i · J_ij` (or `Σ_i d_i · J_ij²` when `squared`) for every column `j`.
private func propagate(_ columns: [[Double]], _ outputDerivative: [Float], squared: Bool) -> [Double] {
    columns.map { column in
        zip(column, outputDerivative).reduce(0) { $0 + Double($1.1) * (squared ? $1.0 * $1.0 : $1.0) }
    }
}

/// Expects `actual` within `tolerance` of `expected`, element by element, and reports the worst element.
private func expectClose(
    _ actual: [Float], _ expected: [Double], _ label: String, tolerance: Tolerance = Tolerance(),
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, "\(label): \(actual.count) values, expected \(expected.count)")
    let scale = expected.map(abs).max() ?? 0
    #expect(scale > 1e-3, "\(label): the reference vanishes (max \(scale)), the check would be empty")
    var worst = (ratio: 0.0, index: 0)
    for (index, (value, reference)) in zip(actual, expected).enumerated() {
        let allowed = tolerance.relative * abs(reference) + tolerance.absolute * scale
        let ratio = abs(Double(value) - reference) / allowed
        if !worst.ratio.isNaN, ratio.isNaN || ratio > worst.ratio { worst = (ratio, index) }
    }
    #expect(
        worst.ratio <= 1,
        """
        \(label): element \(worst.index) is \(actual[worst.index]), reference \(expected[worst.index]) \
        (error \(worst.ratio) × the allowed \(tolerance.relative) rel + \(tolerance.absolute) × \(scale))
        """,
        sourceLocation: sourceLocation)
}

/// Checks `operation`'s backward pass on `inputs` (batch 2) against the numeric Jacobian of its forward
/// pass: every input's gradient and curvature, and for crossbar operations the weight and bias derivatives
/// (written, not added: `Σ g · ∂out/∂w` and `Σ S · (∂out/∂w)²` over the batch).
private func checkBackward(
    _ label: String, _ operation: any NetworkOperation, shapes: [ActivationShape], inputs: [[Float]], seed: UInt64,
    tolerance: Tolerance = Tolerance(), sourceLocation: SourceLocation = #_sourceLocation
) {
    let run = OperationRun(operation: operation, inputShapes: shapes)
    var draw = Draw(seed: seed)
    let outputCount = run.batch * run.outputShape.count
    let outputGradient = draw.normal(outputCount)
    let outputCurvature = draw.uniform(outputCount, 0.5...1.5)
    let prefill = shapes.map { draw.normal(run.batch * $0.count) }
    let gradient = run.backward(inputs, mode: .gradient, outputDerivative: outputGradient, prefill: prefill)
    let curvature = run.backward(inputs, mode: .curvature, outputDerivative: outputCurvature, prefill: prefill)
    for slot in inputs.indices {
        let columns = numericJacobian(at: inputs[slot]) { x in
            var changed = inputs
            changed[slot] = x
            return run.forward(changed)
        }
        expectClose(
            zip(gradient.inputs[slot], prefill[slot]).map { $0 - $1 },
            propagate(columns, outputGradient, squared: false), "\(label): gradient of input \(slot)",
            tolerance: tolerance, sourceLocation: sourceLocation)
        expectClose(
            zip(curvature.inputs[slot], prefill[slot]).map { $0 - $1 },
            propagate(columns, outputCurvature, squared: true), "\(label): curvature of input \(slot)",
            tolerance: tolerance, sourceLocation: sourceLocation)
    }
    guard let crossbar = operation as? any CrossbarOperation else { return }
    for part in ["weight", "bias"] {
        let parameters = part == "weight" ? crossbar.weight : crossbar.bias
        let columns = numericJacobian(at: parameters) { values in
            var changed = crossbar
            if part == "weight" { changed.weight = values } else { changed.bias = values }
            return OperationRun(operation: changed, inputShapes: shapes).forward(inputs)
        }
        expectClose(
            part == "weight" ? gradient.weight : gradient.bias, propagate(columns, outputGradient, squared: false),
            "\(label): \(part) gradient", tolerance: tolerance, sourceLocation: sourceLocation)
        expectClose(
            part == "weight" ? curvature.weight : curvature.bias, propagate(columns, outputCurvature, squared: true),
            "\(label): \(part) curvature", tolerance: tolerance, sourceLocation: sourceLocation)
    }
}

/// An operand of a test `Elementwise` node.
private enum TestOperand {
    case computed(ActivationShape)
    case constant(dimensions: [Int], values: [Float])

    var dimensions: [Int] {
        switch self {
        case let .computed(shape): shape.dimensions
        case let .constant(dimensions, _): dimensions
        }
    }
}

/// An `Elementwise` node laid out as the ONNX importer lays one out: the output takes the layout of
/// the computed operand of its dimensions, a broadcast operand reads through per-element offsets, a
/// constant is stored broadcast in the output's memory order.
private func makeElementwise(_ function: Elementwise.Function, _ a: TestOperand, _ b: TestOperand) throws -> (
    Elementwise, [ActivationShape]
) {
    let dimensions = try Broadcast.dimensions(a.dimensions, b.dimensions)
    var layout = ActivationShape.Layout.rowMajor
    for case let .computed(shape) in [a, b] where shape.dimensions == dimensions {
        layout = shape.layout
        break
    }
    let output = ActivationShape(dimensions: dimensions, layout: layout)
    let outputOffsets = output.offsets()
    var shapes: [ActivationShape] = []
    let operands = [a, b].map { operand -> Elementwise.Operand in
        let sources = Broadcast.sources(from: operand.dimensions, to: dimensions)
        switch operand {
        case let .constant(_, values):
            var stored = [Float](repeating: 0, count: output.count)
            for position in 0..<output.count { stored[Int(outputOffsets[position])] = values[Int(sources[position])] }
            return .constant(stored)
        case let .computed(shape):
            shapes.append(shape)
            guard shape != output else { return .input(shapes.count - 1, offsets: nil) }
            let inputOffsets = shape.offsets()
            var offsets = [Int32](repeating: 0, count: output.count)
            for position in 0..<output.count {
                offsets[Int(outputOffsets[position])] = inputOffsets[Int(sources[position])]
            }
            return .input(shapes.count - 1, offsets: offsets)
        }
    }
    return (Elementwise(function: function, operands: operands, inputs: shapes, output: output), shapes)
}

@Suite struct TensorOperationsTests {
    private let image = ActivationShape(height: 2, width: 3, channels: 2)

    @Test func rearrangeSendsDerivativesBackAlongItsTable() throws {
        var draw = Draw(seed: 1)
        // A channel-last image [1, 2, 2, 3] transposed to a row-major [1, H, W, C].
        let transposed = ActivationShape(dimensions: [1, 2, 3, 2])
        checkBackward(
            "transpose",
            Rearrange(
                origin: "Transpose", inputs: [image], output: transposed,
                map: .transpose(image.dimensions, permutation: [0, 2, 3, 1])),
            shapes: [image], inputs: [draw.normal(2 * image.count)], seed: 2)

        // A constant class token, then two computed blocks, concatenated along axis 1.
        let (first, second) = (ActivationShape(dimensions: [1, 2, 3]), ActivationShape(dimensions: [1, 1, 3]))
        var concat = LogicalMap.concat([[1, 1, 3], first.dimensions, second.dimensions], axis: 1)
        concat.input = concat.input.map { $0 - 1 }
        concat.constants = [0.3, -0.7, 1.1]
        checkBackward(
            "concat with constants",
            Rearrange(
                origin: "Concat", inputs: [first, second], output: ActivationShape(dimensions: [1, 4, 3]), map: concat),
            shapes: [first, second], inputs: [draw.normal(2 * first.count), draw.normal(2 * second.count)], seed: 3)

        // Two channel-last images concatenated along their channels.
        let narrow = ActivationShape(height: 2, width: 3, channels: 1)
        checkBackward(
            "channel concat",
            Rearrange(
                origin: "Concat", inputs: [image, narrow], output: ActivationShape(height: 2, width: 3, channels: 3),
                map: .concat([image.dimensions, narrow.dimensions], axis: 1)),
            shapes: [image, narrow], inputs: [draw.normal(2 * image.count), draw.normal(2 * narrow.count)], seed: 4)

        // A select with padding (-1 reads the fill) and elements read twice.
        let select = LogicalMap.select(first.dimensions, indices: [[0], [1, -1, 0], [2, -1, 0, 1, 0]], fill: 0.25)
        checkBackward(
            "select with fill",
            Rearrange(origin: "Pad", inputs: [first], output: ActivationShape(dimensions: [1, 3, 5]), map: select),
            shapes: [first], inputs: [draw.normal(2 * first.count)], seed: 5)
    }

    /// Inputs for operand `position` of `function`: no near-ties for maximum and minimum, denominators
    /// away from 0, positive bases for powers.
    private func operandValues(_ function: Elementwise.Function, position: Int, count: Int, draw: inout Draw)
        -> [Float]
    {
        switch (function, position) {
        case (.maximum, _), (.minimum, _): draw.lattice(count, offset: position == 0 ? 0.1 : 0)
        case (.divide, 1): zip(draw.uniform(count, 0.5...1.5), draw.uniform(count, -1...1)).map { $1 < 0 ? -$0 : $0 }
        case (.power, 0): draw.uniform(count, 0.5...1.8)
        case (.power, _): draw.uniform(count, -1.5...1.5)
        default: draw.normal(count)
        }
    }

    @Test(arguments: Elementwise.Function.allCases)
    func elementwiseWithBroadcastAndConstantOperands(function: Elementwise.Function) throws {
        var draw = Draw(seed: 10 + UInt64(Elementwise.Function.allCases.firstIndex(of: function)!))
        let image = ActivationShape(height: 2, width: 2, channels: 3)
        let channels = ActivationShape(dimensions: [1, 3, 1, 1], layout: .channelsLast)
        let tokens = ActivationShape(dimensions: [1, 2, 3])
        let cases: [(String, TestOperand, TestOperand)] = [
            ("same shape", .computed(image), .computed(image)),
            ("[1, C, 1, 1] second", .computed(image), .computed(channels)),
            ("[1, C, 1, 1] first", .computed(channels), .computed(image)),
            ("per-channel constant second", .computed(image), .constant(dimensions: [1, 3, 1, 1], values: [])),
            ("scalar constant first", .constant(dimensions: [1], values: []), .computed(tokens)),
        ]
        for (index, (name, first, second)) in cases.enumerated() {
            var operands = [first, second]
            var inputs: [[Float]] = []
            for position in 0..<2 {
                switch operands[position] {
                case let .computed(shape):
                    inputs.append(operandValues(function, position: position, count: 2 * shape.count, draw: &draw))
                case let .constant(dimensions, _):
                    let count = dimensions.reduce(1, *)
                    operands[position] = .constant(
                        dimensions: dimensions,
                        values: operandValues(function, position: position, count: count, draw: &draw))
                }
            }
            let (operation, shapes) = try makeElementwise(function, operands[0], operands[1])
            checkBackward(
                "\(function.rawValue), \(name)", operation, shapes: shapes, inputs: inputs, seed: 20 + UInt64(index))
        }
        if function == .power {
            // An integer constant exponent on a base of either sign.
            let (operation, shapes) = try makeElementwise(
                .power, .computed(tokens), .constant(dimensions: [1], values: [3]))
            checkBackward("Pow(x, 3)", operation, shapes: shapes, inputs: [draw.normal(2 * tokens.count)], seed: 30)
        }
    }

    /// `x · x` and `x + x` read one value twice (ONNX `Mul(a, a)`): the node's derivative with
    /// respect to it is the sum of both partials, so the curvature is `S · (2x)²`, not `2 · S · x²`.
    @Test(arguments: [Elementwise.Function.multiply, .add])
    func elementwiseReadingOneValueTwice(function: Elementwise.Function) {
        var draw = Draw(seed: 40)
        let shape = ActivationShape(dimensions: [1, 2, 3])
        let operation = Elementwise(
            function: function, operands: [.input(0, offsets: nil), .input(0, offsets: nil)], inputs: [shape],
            output: shape)
        checkBackward(
            "\(function.rawValue)(x, x)", operation, shapes: [shape],
            inputs: [draw.uniform(2 * shape.count, 0.2...1.5)],
            seed: 41)
    }

    @Test func unaryFunctionsMatchTheirNumericDerivatives() {
        let cases: [(any NetworkOperation, kinks: [Float], gap: Float, range: ClosedRange<Double>)] = [
            (HardSigmoid(), [-2.5, 2.5], 0.05, -4...4),
            (HardSigmoid(alpha: 1.0 / 6, beta: 0.5), [-3, 3], 0.05, -4.5...4.5),
            (HardSwish(), [-3, 3], 0.05, -4.5...4.5),
            (Erf(), [], 0, -2.5...2.5),
            (Gelu(), [], 0, -3...3),
            (Gelu(tanhApproximation: true), [], 0, -3...3),
            (Exp(), [], 0, -2...2),
            (Log(), [], 0, 0.3...3),
            (Sqrt(), [], 0, 0.3...3),
            (Reciprocal(), [0], 0.4, -2...2),
            (Negate(), [], 0, -2...2),
            (Absolute(), [0], 0.05, -2...2),
            (Softplus(), [], 0, -4...4),
            // The activations that read their derivative off the output.
            (ReLU(), [0], 0.05, -2...2),
            (LeakyReLU(alpha: 0.1), [0], 0.05, -2...2),
            (Clip(minimum: -1, maximum: 1.5), [-1, 1.5], 0.05, -2.5...2.5),
            (Sigmoid(), [], 0, -4...4),
            (Tanh(), [], 0, -3...3),
        ]
        let shape = ActivationShape(dimensions: [1, 3, 4])
        for (index, (operation, kinks, gap, range)) in cases.enumerated() {
            var draw = Draw(seed: 40 + UInt64(index))
            checkBackward(
                "\(operation.kind) \(index)", operation, shapes: [shape],
                inputs: [draw.avoiding(kinks, gap: gap, 2 * shape.count, range)], seed: 60 + UInt64(index))
        }
    }

    @Test(arguments: [false, true])
    func softmaxOverOneAndTwoAxes(logarithmic: Bool) {
        let rowMajor = ActivationShape(dimensions: [1, 2, 3, 4])
        let image = ActivationShape(height: 2, width: 2, channels: 3)
        let cases: [(ActivationShape, [Int])] = [(rowMajor, [3]), (rowMajor, [2, 3]), (image, [1]), (image, [2, 3])]
        for (index, (shape, axes)) in cases.enumerated() {
            var draw = Draw(seed: 80 + UInt64(index))
            checkBackward(
                "\(logarithmic ? "LogSoftmax" : "Softmax") over \(axes) of \(shape) \(shape.layout)",
                Softmax(logarithmic: logarithmic, shape: shape, axes: axes), shapes: [shape],
                inputs: [draw.normal(2 * shape.count, scale: 1.5)], seed: 90 + UInt64(index))
        }
    }

    @Test(arguments: [Reduce.Function.mean, .sum, .maximum])
    func reductions(function: Reduce.Function) {
        let rowMajor = ActivationShape(dimensions: [1, 2, 3, 4])
        let image = ActivationShape(height: 2, width: 2, channels: 3)
        let cases: [(ActivationShape, [Int], [Int])] = [
            (rowMajor, [3], [1, 2, 3]), (rowMajor, [1, 3], [1, 1, 3, 1]), (image, [2, 3], [1, 3, 1, 1]),
        ]
        for (index, (shape, axes, output)) in cases.enumerated() {
            var draw = Draw(seed: 100 + UInt64(index))
            checkBackward(
                "\(function.rawValue) over \(axes) of \(shape) \(shape.layout)",
                Reduce(function: function, input: shape, axes: axes, output: ActivationShape(dimensions: output)),
                shapes: [shape], inputs: [draw.distinct(2 * shape.count)], seed: 110 + UInt64(index))
        }
    }

    @Test func layerNormalization() {
        let cases: [(ActivationShape, [Int])] = [
            (ActivationShape(dimensions: [1, 2, 5]), [2]),
            (ActivationShape(dimensions: [1, 2, 3, 2]), [2, 3]),
            (ActivationShape(height: 2, width: 2, channels: 3), [1, 2, 3]),
        ]
        for (index, (shape, axes)) in cases.enumerated() {
            var draw = Draw(seed: 120 + UInt64(index))
            let length = axes.reduce(1) { $0 * shape.dimensions[$1] }
            let operation = LayerNormalization(
                shape: shape, axes: axes, scale: draw.normal(length, scale: 0.5, mean: 1),
                bias: draw.normal(length, scale: 0.3), epsilon: 1e-5)
            checkBackward(
                "LayerNormalization over \(axes) of \(shape) \(shape.layout)", operation, shapes: [shape],
                inputs: [draw.normal(2 * shape.count, scale: 1.5, mean: 0.7)], seed: 130 + UInt64(index))
        }
    }

    @Test func activationProductWithBroadcastingAndLayouts() throws {
        func shape(_ dimensions: [Int], _ layout: ActivationShape.Layout = .rowMajor) -> ActivationShape {
            ActivationShape(dimensions: dimensions, layout: layout)
        }
        let cases: [(ActivationShape, ActivationShape)] = [
            (shape([1, 2, 3, 4]), shape([1, 1, 4, 5])),
            (shape([1, 2, 3, 4], .channelsLast), shape([1, 1, 4, 2])),
            (shape([1, 1, 3, 4]), shape([1, 2, 4, 5], .channelsLast)),
            (shape([1, 3, 4]), shape([1, 4, 3])),
        ]
        for (index, (left, right)) in cases.enumerated() {
            var draw = Draw(seed: 140 + UInt64(index))
            checkBackward(
                "\(left) \(left.layout) · \(right) \(right.layout)", try ActivationProduct(left: left, right: right),
                shapes: [left, right], inputs: [draw.normal(2 * left.count), draw.normal(2 * right.count)],
                seed: 150 + UInt64(index))
        }
    }

    /// Two-tap linear interpolation from `n` to `m` positions (align-corners), clamped at the end as the
    /// importer clamps: `(low, high, fraction)` per output position.
    private func linearTaps(_ n: Int, _ m: Int) -> [(low: Int, high: Int, fraction: Float)] {
        (0..<m).map { index in
            let x = Double(index) * Double(n - 1) / Double(m - 1)
            let low = min(Int(x), n - 1)
            return (low, min(low + 1, n - 1), Float(x - Double(low)))
        }
    }

    @Test func linearResizeWithHandMadeTables() {
        var draw = Draw(seed: 160)
        // Row-major [1, 2, 4] to [1, 2, 7] along the last axis: two taps.
        let rows = ActivationShape(dimensions: [1, 2, 4])
        var sources: [Int32] = []
        var weights: [Float] = []
        for row in 0..<2 {
            for tap in linearTaps(4, 7) {
                sources += [Int32(row * 4 + tap.low), Int32(row * 4 + tap.high)]
                weights += [1 - tap.fraction, tap.fraction]
            }
        }
        checkBackward(
            "2 taps along the last axis",
            LinearResize(
                input: rows, output: ActivationShape(dimensions: [1, 2, 7]), taps: 2, sources: sources,
                weights: weights),
            shapes: [rows], inputs: [draw.normal(2 * rows.count)], seed: 161)

        // A channel-last image [1, 2, 2, 3] to [1, 2, 3, 5], bilinear: four taps, in memory order (h, w, c).
        let (channels, width) = (image.channels, image.width)
        sources = []
        weights = []
        for vertical in linearTaps(2, 3) {
            for horizontal in linearTaps(3, 5) {
                for channel in 0..<channels {
                    let rowTaps = [(vertical.low, 1 - vertical.fraction), (vertical.high, vertical.fraction)]
                    let columnTaps = [
                        (horizontal.low, 1 - horizontal.fraction), (horizontal.high, horizontal.fraction),
                    ]
                    for (row, rowWeight) in rowTaps {
                        for (column, columnWeight) in columnTaps {
                            sources.append(Int32((row * width + column) * channels + channel))
                            weights.append(rowWeight * columnWeight)
                        }
                    }
                }
            }
        }
        checkBackward(
            "bilinear on a channel-last image",
            LinearResize(
                input: image, output: ActivationShape(height: 3, width: 5, channels: 2), taps: 4, sources: sources,
                weights: weights),
            shapes: [image], inputs: [draw.normal(2 * image.count)], seed: 162)
    }

    @Test func denseAlongTheLastAxisWithWeightDerivatives() {
        var draw = Draw(seed: 170)
        let cases: [(ActivationShape, Int)] = [
            (ActivationShape(dimensions: [1, 3, 4]), 5),
            (ActivationShape(features: 4), 3),
            (ActivationShape(dimensions: [1, 4, 1, 1], layout: .channelsLast), 2),
        ]
        for (index, (shape, outputs)) in cases.enumerated() {
            let inputs = shape.channels
            let dense = Dense(
                name: "fc", inputs: inputs, outputs: outputs, weight: draw.normal(inputs * outputs, scale: 0.5),
                bias: draw.normal(outputs, scale: 0.1))
            checkBackward(
                "Dense on \(shape) \(shape.layout)", dense, shapes: [shape], inputs: [draw.normal(2 * shape.count)],
                seed: 171 + UInt64(index))
        }
    }
}

/// SWIM's curvature through a transformer-like graph against a brute force that knows nothing of
/// the operations' backward passes: each node's Jacobian by central differences of its forward pass
/// alone, `S` pushed back node by node as `(J²)ᵀ S` from `p (1 − p)` at the logits, and
/// `Σ S_out · (∂out/∂w)²` collected at every weight — the same diagonal approximation (cross terms
/// between paths dropped), computed independently. The gradient goes along the same Jacobians
/// (exact chain rule). Each derivative must lie within 0.5 % of its reference plus 0.05 % of the largest
/// of its layer (a little looser than for single operations: the Float differences compound through a
/// dozen nodes; the worst error seen is ~1e-4 relative).
@Suite struct TransformerCurvatureTests {
    /// Tokens [1, 3, 4] → patch-like Dense → LayerNormalization → q, k, v Dense → q · kᵀ (a Rearrange
    /// transpose) → × 0.5 → Softmax over the last axis → · v → Gelu → + the embedding → mean over the
    /// tokens → Dense to 3 classes.
    static func makeNetwork(seed: UInt64) throws -> Network {
        var draw = Draw(seed: seed)
        let tokens = ActivationShape(dimensions: [1, 3, 4])
        let scores = ActivationShape(dimensions: [1, 3, 3])
        func dense(_ name: String, _ inputs: Int, _ outputs: Int, scale: Double = 0.6) -> Dense {
            Dense(
                name: name, inputs: inputs, outputs: outputs, weight: draw.normal(inputs * outputs, scale: scale),
                bias: draw.normal(outputs, scale: 0.2))
        }
        func node(_ name: String, _ inputs: [String], _ operation: any NetworkOperation) -> NetworkNode {
            NetworkNode(name: name, inputs: inputs, operation: operation)
        }
        return try Network(
            inputShape: tokens,
            nodes: [
                node("embed", [Network.inputName], dense("embed", 4, 4)),
                node(
                    "norm", ["embed"],
                    LayerNormalization(
                        shape: tokens, axes: [2], scale: draw.normal(4, scale: 0.3, mean: 1),
                        bias: draw.normal(4, scale: 0.2), epsilon: 1e-5)),
                node("q", ["norm"], dense("q", 4, 4, scale: 0.8)),
                node("k", ["norm"], dense("k", 4, 4, scale: 0.8)),
                node("v", ["norm"], dense("v", 4, 4)),
                node(
                    "kT", ["k"],
                    Rearrange(
                        origin: "Transpose", inputs: [tokens], output: ActivationShape(dimensions: [1, 4, 3]),
                        map: .transpose(tokens.dimensions, permutation: [0, 2, 1]))),
                node(
                    "scores", ["q", "kT"],
                    try ActivationProduct(left: tokens, right: ActivationShape(dimensions: [1, 4, 3]))),
                node(
                    "scaled", ["scores"],
                    Elementwise(
                        function: .multiply,
                        operands: [.input(0, offsets: nil), .constant([Float](repeating: 0.5, count: 9))],
                        inputs: [scores], output: scores)),
                node("attention", ["scaled"], Softmax(logarithmic: false, shape: scores, axes: [2])),
                node("mixed", ["attention", "v"], try ActivationProduct(left: scores, right: tokens)),
                node("gelu", ["mixed"], Gelu()),
                node(
                    "residual", ["gelu", "embed"],
                    Elementwise(
                        function: .add, operands: [.input(0, offsets: nil), .input(1, offsets: nil)],
                        inputs: [tokens, tokens], output: tokens)),
                node(
                    "pool", ["residual"],
                    Reduce(function: .mean, input: tokens, axes: [1], output: ActivationShape(features: 4))),
                node("head", ["pool"], dense("head", 4, 3, scale: 1.2)),
            ])
    }

    @Test func swimCurvatureMatchesNodeByNodeNumericJacobians() throws {
        let network = try Self.makeNetwork(seed: 200)
        let (count, batchSize) = (5, 2)
        var draw = Draw(seed: 201)
        let images = LabeledImages(
            pixels: draw.normal(count * 12), labels: (0..<count).map { Int32($0 % 3) }, height: 3, width: 1,
            channels: 4)
        let sensitivity = try WeightSensitivity.compute(network: network, images: images, batchSize: batchSize)

        let shapes = try network.activationShapes()
        let weightCounts = network.nodes.map { ($0.operation as? Dense)?.weight.count ?? 0 }
        var curvature = weightCounts.map { [Double](repeating: 0, count: $0) }
        var gradient = curvature
        for sample in 0..<count {
            // The batch-mean loss of this sample's batch weighs its gradient.
            let batchWeight = 1 / Double(min(batchSize, count - sample / batchSize * batchSize))
            var values = [Array(images.pixels[(sample * 12)..<((sample + 1) * 12)])]
            let runs = network.nodes.indices.map { index in
                OperationRun(
                    operation: network.nodes[index].operation,
                    inputShapes: network.inputValues[index].map { shapes[$0] }, batch: 1)
            }
            for index in network.nodes.indices {
                values.append(runs[index].forward(network.inputValues[index].map { values[$0] }))
            }
            let logits = values.last!.map(Double.init)
            let exponentials = logits.map { exp($0 - logits.max()!) }
            let p = exponentials.map { $0 / exponentials.reduce(0, +) }
            var valueCurvature = shapes.map { [Double](repeating: 0, count: $0.count) }
            var valueGradient = valueCurvature
            valueCurvature[shapes.count - 1] = p.map { $0 * (1 - $0) }
            valueGradient[shapes.count - 1] = p.indices.map {
                batchWeight * (p[$0] - ($0 == Int(images.labels[sample]) ? 1 : 0))
            }
            for index in network.nodes.indices.reversed() {
                let inputs = network.inputValues[index].map { values[$0] }
                let (outputCurvature, outputGradient) = (valueCurvature[index + 1], valueGradient[index + 1])
                func pushBack(_ columns: [[Double]]) -> (curvature: [Double], gradient: [Double]) {
                    (
                        columns.map { zip($0, outputCurvature).reduce(0) { $0 + $1.1 * $1.0 * $1.0 } },
                        columns.map { zip($0, outputGradient).reduce(0) { $0 + $1.1 * $1.0 } }
                    )
                }
                for (slot, value) in network.inputValues[index].enumerated() where value != 0 {
                    let columns = numericJacobian(at: inputs[slot]) { x in
                        var changed = inputs
                        changed[slot] = x
                        return runs[index].forward(changed)
                    }
                    let (s, g) = pushBack(columns)
                    for element in s.indices {
                        valueCurvature[value][element] += s[element]
                        valueGradient[value][element] += g[element]
                    }
                }
                if let dense = network.nodes[index].operation as? Dense {
                    let columns = numericJacobian(at: dense.weight) { weight in
                        var changed = dense
                        changed.weight = weight
                        return OperationRun(operation: changed, inputShapes: runs[index].inputShapes, batch: 1)
                            .forward(inputs)
                    }
                    let (s, g) = pushBack(columns)
                    for element in s.indices {
                        curvature[index][element] += s[element]
                        gradient[index][element] += g[element]
                    }
                }
            }
        }
        let tolerance = Tolerance(relative: 5e-3, absolute: 5e-4)
        for (index, node) in network.nodes.enumerated() where weightCounts[index] > 0 {
            expectClose(
                sensitivity.curvature[index], curvature[index], "\(node.name) weight curvature", tolerance: tolerance)
            expectClose(
                sensitivity.gradient[index], gradient[index], "\(node.name) weight gradient", tolerance: tolerance)
        }
    }
}
