import CimCarloSupport

/// A fully connected layer, `y = W·x + b` with `W` `[outputs, inputs]` (ONNX Gemm, or MatMul
/// followed by Add), applied along the last axis: to a flat input, or to every position of a
/// row-major value of any rank (a Linear on every token of `[1, T, F]` is one product with
/// `T` rows per sample).
public struct Dense: CrossbarOperation, Equatable {
    public var name: String
    public var inputs: Int
    public var outputs: Int
    /// `[outputs, inputs]`, row-major.
    public var weight: [Float]
    /// `[outputs]`.
    public var bias: [Float]

    public init(name: String, inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.weight = weight
        self.bias = bias
    }

    public static let kind = "dense"
    public var outputCount: Int { outputs }
    public var fanIn: Int { inputs }
    public var groups: Int { 1 }
    public var weightShape: [Int] { [outputs, inputs] }
    public var productRowOrder: [Int] { Array(0..<inputs) }
    public func multiplyAccumulates(output: ActivationShape) -> Int { output.pixels * inputs * outputs }

    public func outputShape(for inputShapes: [ActivationShape]) throws(OperationShapeError) -> ActivationShape {
        guard inputShapes.count == 1 else { throw OperationShapeError("takes one input, has \(inputShapes.count)") }
        let input = inputShapes[0]
        guard !input.isImage || input.isFlat else {
            throw OperationShapeError(
                "`\(name)` multiplies along the last axis of a row-major value; its input is an image \(input)")
        }
        guard input.channels == inputs else {
            throw OperationShapeError("`\(name)` expects \(inputs) inputs, gets \(input.channels)")
        }
        guard weight.count == inputs * outputs, bias.count == outputs else {
            throw OperationShapeError("`\(name)` parameters do not fit its shape [\(outputs), \(inputs)]")
        }
        guard !input.isImage else { return ActivationShape(features: outputs) }
        var output = input
        output.dimensions[output.rank - 1] = outputs
        return output
    }

    /// Curvature passes square the inputs (batch × inputs) and the weights.
    public func scratchCount(inputs: [ActivationShape], output: ActivationShape, batchSize: Int, backward: Bool) -> Int
    {
        backward ? batchSize * inputs[0].count + weight.count : 0
    }

    public func forward(_ pass: ForwardPass) {
        let rows = pass.batchSize * pass.inputShape.pixels
        pass.output.fillRows(rows, with: bias)
        if let product = pass.matrixProduct {
            product(pass.node, 0, pass.input.baseAddress!, rows, inputs, pass.output.baseAddress!, outputs, outputs)
            return
        }
        weight.withUnsafeBufferPointer { weight in
            BLAS.gemm(
                transposeB: true, m: rows, n: outputs, k: inputs,
                a: pass.input.baseAddress!, lda: inputs, b: weight.baseAddress!, ldb: inputs,
                beta: 1, c: pass.output.baseAddress!, ldc: outputs)
            pass.productEffect?(
                pass.node, 0, pass.input.baseAddress!, rows, inputs, weight.baseAddress!, pass.output.baseAddress!,
                outputs, outputs)
        }
    }

    /// `∂W = g_outᵀ · x`, `∂b = Σ g_out`, `g_in += g_out · W`; in curvature mode with `x²` and `W²`.
    public func backward(_ pass: BackwardPass) {
        let batchSize = pass.forward.batchSize * pass.forward.inputShape.pixels
        var input = UnsafePointer(pass.forward.input.baseAddress!)
        let squaredInput = UnsafeMutableBufferPointer(rebasing: pass.forward.scratch[0..<(batchSize * inputs)])
        let squaredWeight = UnsafeMutableBufferPointer(
            rebasing: pass.forward.scratch[(batchSize * inputs)..<(batchSize * inputs + weight.count)])
        if pass.mode == .curvature {
            for element in 0..<squaredInput.count { squaredInput[element] = input[element] * input[element] }
            input = UnsafePointer(squaredInput.baseAddress!)
        }
        BLAS.gemm(
            transposeA: true, m: outputs, n: inputs, k: batchSize,
            a: pass.outputGradient.baseAddress!, lda: outputs, b: input, ldb: inputs,
            c: pass.weightGradient.baseAddress!, ldc: inputs)
        sumRows(pass.outputGradient, rows: batchSize, columns: outputs, into: pass.biasGradient)
        guard let inputGradient = pass.inputGradients[0] else { return }
        weight.withUnsafeBufferPointer { weight in
            var matrix = weight.baseAddress!
            if pass.mode == .curvature {
                for element in 0..<weight.count { squaredWeight[element] = weight[element] * weight[element] }
                matrix = UnsafePointer(squaredWeight.baseAddress!)
            }
            BLAS.gemm(
                m: batchSize, n: inputs, k: outputs,
                a: pass.outputGradient.baseAddress!, lda: outputs, b: matrix, ldb: inputs,
                beta: 1, c: inputGradient.baseAddress!, ldc: inputs)
        }
    }
}

extension Dense: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        // Version 1 wrote `inputs` and `outputs`; version 2 PyTorch's names (`inputs` lists graph inputs).
        let inputs = try node.integer(node.has("in_features") ? "in_features" : "inputs")
        let outputs = try node.integer(node.has("out_features") ? "out_features" : "outputs")
        self.init(
            name: name, inputs: inputs, outputs: outputs,
            weight: try node.parameters("weight", shape: [outputs, inputs]),
            bias: try node.parameters("bias", shape: [outputs]))
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("in_features", inputs)
        try node.set("out_features", outputs)
        try node.write("weight", weight, shape: weightShape)
        try node.write("bias", bias, shape: [outputs])
    }
}

extension Dense: SingleProductOperation {
    func productInput(_ pass: ForwardPass) -> (matrix: UnsafePointer<Float>, rows: Int) {
        (UnsafePointer(pass.input.baseAddress!), pass.batchSize * pass.inputShape.pixels)
    }

    func productWeights(into weights: UnsafeMutableBufferPointer<Float>) {
        _ = weights.update(fromContentsOf: weight)
    }
}
