/// The conversion of each supported ONNX op type.
extension ONNXGraphBuilder {
    mutating func convert(_ node: Onnx_NodeProto) throws {
        guard !node.output.isEmpty else { throw fail("has no output") }
        switch node.opType {
        case "Constant": try constantNode(node)
        case "Identity", "Dropout": try passThrough(node)
        case "Conv": try convolution(node)
        case "Gemm": try gemm(node)
        case "MatMul": try matMul(node)
        case "BatchNormalization": try batchNormalization(node)
        case "Relu": try append(ReLU(), inputs: [value(0, of: node)])
        case "Sigmoid": try append(Sigmoid(), inputs: [value(0, of: node)])
        case "Tanh": try append(Tanh(), inputs: [value(0, of: node)])
        case "LeakyRelu": try append(LeakyReLU(alpha: node.float("alpha", default: 0.01)), inputs: [value(0, of: node)])
        case "Clip": try clip(node)
        case "Add", "Sub", "Mul", "Div", "Sum": try arithmetic(node)
        case "Concat": try concat(node)
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool": try append(GlobalAveragePool(), inputs: [value(0, of: node)])
        case "Flatten": try flatten(node)
        case "Reshape": try reshape(node)
        default:
            throw fail(
                "op type \(node.opType) is not supported (supported: \(ONNXImporter.supportedOps.joined(separator: ", ")))"
            )
        }
    }

    private mutating func constantNode(_ node: Onnx_NodeProto) throws {
        let describe: (String) -> ONNXImportError = { fail($0) }
        if let tensor = node.attribute("value"), tensor.hasT {
            constants[node.output[0]] = try ONNXTensor(tensor.t, fail: describe)
        } else if let value = node.attribute("value_float") {
            constants[node.output[0]] = ONNXTensor(dims: [], values: [Double(value.f)])
        } else if let value = node.attribute("value_floats") {
            constants[node.output[0]] = ONNXTensor(dims: [value.floats.count], values: value.floats.map(Double.init))
        } else if let value = node.attribute("value_int") {
            constants[node.output[0]] = ONNXTensor(dims: [], values: [Double(value.i)])
        } else if let value = node.attribute("value_ints") {
            constants[node.output[0]] = ONNXTensor(dims: [value.ints.count], values: value.ints.map(Double.init))
        } else {
            throw fail("only `value`, `value_float(s)` and `value_int(s)` constants are supported")
        }
    }

    /// Identity, and Dropout at inference: the output is the input. A Dropout's mask output must be unused.
    private mutating func passThrough(_ node: Onnx_NodeProto) throws {
        if node.output.count > 1, !node.output[1].isEmpty, readers[node.output[1], default: 0] > 0 {
            throw fail("its mask output is used; only inference (the first output) is supported")
        }
        let name = node.input.first ?? ""
        if let tensor = constants[name] {
            constants[node.output[0]] = tensor
        } else {
            values[node.output[0]] = try value(0, of: node)
        }
    }

    /// Padding from `pads` or `auto_pad`: top, left, bottom, right.
    private func padding(
        _ node: Onnx_NodeProto, input: ActivationShape, kernel: (Int, Int), stride: (Int, Int),
        dilation: (Int, Int)
    ) throws -> [Int] {
        switch node.string("auto_pad", default: "NOTSET") {
        case "NOTSET":
            let pads = node.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else {
                throw fail("`pads` must hold 4 non-negative values for a 2-D op, has \(pads)")
            }
            return pads
        case "VALID":
            return [0, 0, 0, 0]
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            func split(_ size: Int, _ kernel: Int, _ stride: Int, _ dilation: Int) -> (Int, Int) {
                let output = (size + stride - 1) / stride
                let total = max(0, (output - 1) * stride + (kernel - 1) * dilation + 1 - size)
                return mode == "SAME_UPPER" ? (total / 2, total - total / 2) : (total - total / 2, total / 2)
            }
            let vertical = split(input.height, kernel.0, stride.0, dilation.0)
            let horizontal = split(input.width, kernel.1, stride.1, dilation.1)
            return [vertical.0, horizontal.0, vertical.1, horizontal.1]
        case let mode:
            throw fail("auto_pad \(mode) is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)")
        }
    }

    /// A 2-D attribute pair (`strides`, `dilations`), 1 by default.
    private func pair(_ node: Onnx_NodeProto, _ name: String) throws -> (Int, Int) {
        guard let values = node.ints(name) else { return (1, 1) }
        guard values.count == 2, values.allSatisfy({ $0 >= 1 }) else {
            throw fail("`\(name)` must hold 2 values ≥ 1 for a 2-D op, has \(values)")
        }
        return (values[0], values[1])
    }

    private mutating func convolution(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let weight = try requiredConstant(1, of: node, "weight")
        guard weight.dims.count == 4 else {
            throw fail("weight has shape \(weight.dims); cimcarlo maps 2-D convolutions ([out, in / groups, kH, kW])")
        }
        let groups = node.int("group", default: 1)
        let (outputs, kernel) = (weight.dims[0], (weight.dims[2], weight.dims[3]))
        if let declared = node.ints("kernel_shape"), declared != [kernel.0, kernel.1] {
            throw fail("kernel_shape \(declared) does not match the weight's \(weight.dims)")
        }
        let bias = try constant(2, of: node, "bias")?.floats ?? Array(repeating: 0, count: outputs)
        guard bias.count == outputs else { throw fail("bias has \(bias.count) values for \(outputs) output channels") }
        let stride = try pair(node, "strides")
        let dilation = try pair(node, "dilations")
        let pads = try padding(node, input: shapes[input]!, kernel: kernel, stride: stride, dilation: dilation)
        try append(
            Convolution(
                name: nodeName(node), inputChannels: weight.dims[1] * groups, outputChannels: outputs,
                kernelHeight: kernel.0, kernelWidth: kernel.1, strideHeight: stride.0, strideWidth: stride.1,
                padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3],
                dilationHeight: dilation.0, dilationWidth: dilation.1, groups: groups, weight: weight.floats, bias: bias
            ),
            inputs: [input])
    }

    /// `Y = α · A · op(B) + β · C` with constant B and C: a dense node with `W = α · op(B)ᵀ`, `b = β · C`.
    private mutating func gemm(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        guard node.int("transA", default: 0) == 0 else {
            throw fail("transA = 1 is not supported (the input must be [N, features])")
        }
        let b = try requiredConstant(1, of: node, "weight")
        guard b.dims.count == 2 else { throw fail("weight must be 2-D, has shape \(b.dims)") }
        let transposed = node.int("transB", default: 0) == 1
        let (inputs, outputs) = transposed ? (b.dims[1], b.dims[0]) : (b.dims[0], b.dims[1])
        let alpha = Double(node.float("alpha", default: 1))
        let beta = Double(node.float("beta", default: 1))
        var weight = [Float](repeating: 0, count: inputs * outputs)
        for output in 0..<outputs {
            for inputIndex in 0..<inputs {
                let source = transposed ? output * inputs + inputIndex : inputIndex * outputs + output
                weight[output * inputs + inputIndex] = Float(alpha * b.values[source])
            }
        }
        var bias = [Float](repeating: 0, count: outputs)
        if let c = try constant(2, of: node, "bias") {
            guard c.count == 1 || c.count == outputs else {
                throw fail("bias has \(c.count) values for \(outputs) outputs")
            }
            bias = (0..<outputs).map { Float(beta * c.values[c.count == 1 ? 0 : $0]) }
        }
        try append(
            Dense(name: nodeName(node), inputs: inputs, outputs: outputs, weight: weight, bias: bias), inputs: [input])
    }

    /// `A · B` with constant `B [in, out]`: a dense node without bias (a following constant Add becomes its bias).
    private mutating func matMul(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let b = try requiredConstant(1, of: node, "weight")
        guard b.dims.count == 2 else { throw fail("weight must be 2-D [in, out], has shape \(b.dims)") }
        let (inputs, outputs) = (b.dims[0], b.dims[1])
        var weight = [Float](repeating: 0, count: inputs * outputs)
        for output in 0..<outputs {
            for inputIndex in 0..<inputs {
                weight[output * inputs + inputIndex] = Float(b.values[inputIndex * outputs + output])
            }
        }
        try append(
            Dense(
                name: nodeName(node), inputs: inputs, outputs: outputs, weight: weight,
                bias: Array(repeating: 0, count: outputs)), inputs: [input])
    }

    private mutating func batchNormalization(_ node: Onnx_NodeProto) throws {
        guard node.int("training_mode", default: 0) == 0 else {
            throw fail("training_mode = 1 is not supported (inference only)")
        }
        if node.output.dropFirst().contains(where: { !$0.isEmpty && readers[$0, default: 0] > 0 }) {
            throw fail("its running-statistics outputs are used; only inference is supported")
        }
        let input = try value(0, of: node)
        let channels = shapes[input]!.channels
        var parameters: [[Float]] = []
        for (index, role) in ["scale", "bias", "mean", "variance"].enumerated() {
            let tensor = try requiredConstant(index + 1, of: node, role)
            guard tensor.count == channels else {
                throw fail("\(role) has \(tensor.count) values for \(channels) channels")
            }
            parameters.append(tensor.floats)
        }
        guard parameters[3].allSatisfy({ $0 >= 0 }) else { throw fail("variance must be ≥ 0") }
        try append(
            BatchNormalization(
                channels: channels, gamma: parameters[0], beta: parameters[1], mean: parameters[2],
                variance: parameters[3], epsilon: node.float("epsilon", default: 1e-5)),
            inputs: [input])
    }

    private mutating func clip(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let minimum =
            try constant(1, of: node, "min").map { Float($0.values[0]) } ?? node.float("min", default: -.infinity)
        let maximum =
            try constant(2, of: node, "max").map { Float($0.values[0]) } ?? node.float("max", default: .infinity)
        try append(Clip(minimum: minimum, maximum: maximum), inputs: [input])
    }

    /// Element-wise arithmetic: a constant operand on the (normalised) graph input folds into the
    /// input normalisation; a constant Add after a dense or convolution node folds into its bias;
    /// Add and Sum of computed tensors are residual additions.
    private mutating func arithmetic(_ node: Onnx_NodeProto) throws {
        let operands = node.input.filter { !$0.isEmpty }
        let constantOperands = operands.filter { constants[$0] != nil }
        if constantOperands.isEmpty {
            guard node.opType == "Add" || node.opType == "Sum" else {
                throw fail(
                    "\(node.opType) of two computed tensors is not supported (only Add and Sum: residual connections)")
            }
            try append(Add(), inputs: try operands.indices.map { try value($0, of: node) })
            return
        }
        guard operands.count == 2, constantOperands.count == 1 else {
            throw fail("needs one computed and one constant operand, or computed operands only")
        }
        let dynamicIndex = constants[operands[0]] == nil ? 0 : 1
        let operand = try value(dynamicIndex, of: node)
        let tensor = try requiredConstant(1 - dynamicIndex, of: node, "operand")
        if constants[node.input[0]] != nil && (node.opType == "Sub" || node.opType == "Div") {
            throw fail("\(node.opType) with the constant first (c − x, c / x) is not supported")
        }
        if operand == Network.inputName && readOnce(node.input[dynamicIndex]) {
            try foldIntoInputNormalization(node.opType, tensor)
            values[node.output[0]] = Network.inputName
            return
        }
        if node.opType == "Add", let index = nodes.lastIndex(where: { $0.name == operand }),
            readOnce(node.input[dynamicIndex]), var operation = nodes[index].operation as? any CrossbarOperation,
            let perOutput = tensor.perChannel(operation.outputCount)
        {
            for output in 0..<operation.outputCount { operation.bias[output] += Float(perOutput[output]) }
            nodes[index].operation = operation
            values[node.output[0]] = operand
            return
        }
        throw fail(
            "a constant operand is supported only as input normalisation (on the graph input) or as a bias after Conv, Gemm or MatMul"
        )
    }

    /// `x' = x · scale + shift` per channel, composed into the input transform.
    private mutating func foldIntoInputNormalization(_ opType: String, _ tensor: ONNXTensor) throws {
        guard let perChannel = tensor.perChannel(inputShape.channels) else {
            throw fail(
                "a normalisation constant must be a scalar or one value per channel ([C], [C,1,1] or [1,C,1,1]), has shape \(tensor.dims)"
            )
        }
        for channel in 0..<inputShape.channels {
            let value = perChannel[channel]
            switch opType {
            case "Sub": inputShift[channel] -= value
            case "Add": inputShift[channel] += value
            case "Mul":
                inputScale[channel] *= value
                inputShift[channel] *= value
            default:
                guard value != 0 else { throw fail("divides by zero") }
                inputScale[channel] /= value
                inputShift[channel] /= value
            }
        }
    }

    private mutating func concat(_ node: Onnx_NodeProto) throws {
        let inputs = try node.input.indices.map { try value($0, of: node) }
        let axis = node.int("axis", default: 1)
        let flat = inputs.allSatisfy { shapes[$0]!.isFlat }
        guard axis == 1 || (axis == -3 && !flat) || (axis == -1 && flat) else {
            throw fail("axis \(axis) is not supported (channels: axis 1)")
        }
        try append(Concat(), inputs: inputs)
    }

    private mutating func pool(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        if node.output.count > 1, !node.output[1].isEmpty, readers[node.output[1], default: 0] > 0 {
            throw fail("its Indices output is used; not supported")
        }
        guard let kernel = node.ints("kernel_shape"), kernel.count == 2, kernel.allSatisfy({ $0 >= 1 }) else {
            throw fail("needs a 2-D `kernel_shape`")
        }
        let stride = try pair(node, "strides")
        guard try pair(node, "dilations") == (1, 1) else { throw fail("dilated pooling is not supported") }
        guard node.int("storage_order", default: 0) == 0 else { throw fail("storage_order 1 is not supported") }
        let pads = try padding(
            node, input: shapes[input]!, kernel: (kernel[0], kernel[1]), stride: stride, dilation: (1, 1))
        let window = PoolingWindow(
            kernelHeight: kernel[0], kernelWidth: kernel[1], strideHeight: stride.0,
            strideWidth: stride.1, padTop: pads[0], padLeft: pads[1], padBottom: pads[2],
            padRight: pads[3], ceilMode: node.int("ceil_mode", default: 0) == 1)
        if node.opType == "MaxPool" {
            try append(MaxPool(window), inputs: [input])
        } else {
            try append(
                AveragePool(window, countIncludePad: node.int("count_include_pad", default: 0) == 1), inputs: [input])
        }
    }

    private mutating func flatten(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        guard node.int("axis", default: 1) == 1 else { throw fail("only axis 1 is supported ([N, C·H·W])") }
        if shapes[input]!.isFlat {
            values[node.output[0]] = input
        } else {
            try append(Flatten(), inputs: [input])
        }
    }

    /// Reshape to `[N, features]` (PyTorch's `x.view(x.size(0), -1)`), a flatten.
    private mutating func reshape(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let target = try requiredConstant(1, of: node, "shape").values.map { Int($0) }
        let features = shapes[input]!.count
        let flattens =
            target.count == 2 && (target[1] == features || (target[1] == -1 && target[0] != -1))
            && (target[0] == 0 || target[0] == -1 || target[0] >= 1)
        guard flattens else {
            throw fail("only a reshape to [N, features] is supported (here \(features) features), target is \(target)")
        }
        if shapes[input]!.isFlat {
            values[node.output[0]] = input
        } else {
            try append(Flatten(), inputs: [input])
        }
    }
}
