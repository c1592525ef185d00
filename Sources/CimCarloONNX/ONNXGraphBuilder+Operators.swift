import CimCarloNetwork

/// The conversion of each supported ONNX op type: weight layers, image operations and the
/// dispatch. Tensor operations are in `+Tensors`, constant folding in `+Folding`.
extension ONNXGraphBuilder {
    mutating func convert(_ node: Onnx_NodeProto) throws {
        if try foldIfConstant(node) { return }
        switch node.opType {
        case "Constant": try constantNode(node)
        case "Identity", "Dropout": try passThrough(node)
        case "Cast": try cast(node)
        case "Conv": try convolution(node)
        case "Gemm": try gemm(node)
        case "MatMul": try matMul(node)
        case "BatchNormalization": try batchNormalization(node)
        case "Relu": try append(ReLU(), inputs: [value(0, of: node)])
        case "Sigmoid": try append(Sigmoid(), inputs: [value(0, of: node)])
        case "Tanh": try append(Tanh(), inputs: [value(0, of: node)])
        case "LeakyRelu": try append(LeakyReLU(alpha: node.float("alpha", default: 0.01)), inputs: [value(0, of: node)])
        case "Clip": try clip(node)
        case "HardSigmoid":
            try append(
                HardSigmoid(alpha: node.float("alpha", default: 0.2), beta: node.float("beta", default: 0.5)),
                inputs: [value(0, of: node)])
        case "HardSwish": try append(HardSwish(), inputs: [value(0, of: node)])
        case "Erf": try append(Erf(), inputs: [value(0, of: node)])
        case "Gelu": try gelu(node)
        case "Exp": try append(Exp(), inputs: [value(0, of: node)])
        case "Log": try append(Log(), inputs: [value(0, of: node)])
        case "Sqrt": try append(Sqrt(), inputs: [value(0, of: node)])
        case "Reciprocal": try append(Reciprocal(), inputs: [value(0, of: node)])
        case "Neg": try append(Negate(), inputs: [value(0, of: node)])
        case "Abs": try append(Absolute(), inputs: [value(0, of: node)])
        case "Softplus": try append(Softplus(), inputs: [value(0, of: node)])
        case "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Pow": try arithmetic(node)
        case "Softmax", "LogSoftmax": try softmax(node)
        case "ReduceMean", "ReduceSum", "ReduceMax": try reduce(node)
        case "GlobalMaxPool": try globalMaxPool(node)
        case "LayerNormalization": try layerNormalization(node)
        case "Concat": try concat(node)
        case "MaxPool", "AveragePool": try pool(node)
        case "GlobalAveragePool": try append(GlobalAveragePool(), inputs: [image(value(0, of: node))])
        case "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "Split", "Expand", "Pad":
            try dataMovement(node)
        case "Resize", "Upsample": try resize(node)
        case _ where ONNXImporter.knownOps.contains(node.opType):
            throw fail(
                "\(node.opType) is read only on constant inputs (shape arithmetic); here it computes on the network's values"
            )
        default:
            throw unsupportedOp(node)
        }
    }

    /// The error for an op type cimcarlo does not read at all.
    func unsupportedOp(_ node: Onnx_NodeProto) -> ONNXImportError {
        ONNXImportError(
            path: path, node: displayName(node), opType: node.opType,
            reason:
                "op type \(node.opType) is not supported (`cimcarlo check` lists the ops cimcarlo runs; express that part of the model with them)"
        )
    }

    private mutating func constantNode(_ node: Onnx_NodeProto) throws {
        let describe: (String) -> ONNXImportError = { fail($0) }
        if let tensor = node.attribute("value"), tensor.hasT {
            constants[node.output[0]] = try ONNXTensor(tensor.t, externalData: externalData, fail: describe)
        } else if let value = node.attribute("value_float") {
            constants[node.output[0]] = ONNXTensor(dims: [], values: [Double(value.f)])
        } else if let value = node.attribute("value_floats") {
            constants[node.output[0]] = ONNXTensor(dims: [value.floats.count], values: value.floats.map(Double.init))
        } else if let value = node.attribute("value_int") {
            constants[node.output[0]] = ONNXTensor(dims: [], values: [Double(value.i)], integral: true)
        } else if let value = node.attribute("value_ints") {
            constants[node.output[0]] = ONNXTensor(
                dims: [value.ints.count], values: value.ints.map(Double.init), integral: true)
        } else {
            throw fail("only `value`, `value_float(s)` and `value_int(s)` constants are supported")
        }
    }

    /// Identity, and Dropout at inference: the output is the input. A Dropout's mask output must be unused.
    private mutating func passThrough(_ node: Onnx_NodeProto) throws {
        if node.output.count > 1, !node.output[1].isEmpty, readers[node.output[1], default: 0] > 0 {
            throw fail("its mask output is used; only inference (the first output) is supported")
        }
        values[node.output[0]] = try value(0, of: node)
    }

    /// A Cast of a computed value to a floating-point type changes nothing here (cimcarlo
    /// computes in float32); casts of constants fold.
    private mutating func cast(_ node: Onnx_NodeProto) throws {
        let floating: Set<Int> = [1, 10, 11, 16]  // float, float16, double, bfloat16
        guard floating.contains(node.int("to", default: 1)) else {
            throw fail(
                "casts a computed value to element type \(node.int("to", default: 1)); only float casts are supported")
        }
        values[node.output[0]] = try value(0, of: node)
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

    mutating func convolution(_ node: Onnx_NodeProto) throws {
        let input = try image(try value(0, of: node))
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
        let input = try rowMajor(try value(0, of: node))
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

    /// `A · B`: with a constant `B [in, out]` a dense node along A's last axis, without bias (a
    /// following constant Add becomes its bias); between two computed values a digital product.
    private mutating func matMul(_ node: Onnx_NodeProto) throws {
        switch (try operand(0, of: node), try operand(1, of: node)) {
        case let (.computed(left), .computed(right)):
            do {
                try append(try ActivationProduct(left: shapes[left]!, right: shapes[right]!), inputs: [left, right])
            } catch let error as OperationShapeError {
                throw fail(error.reason)
            }
        case let (.computed(input), .constant(b)):
            guard b.dims.count == 2 else {
                throw fail(
                    "its constant weight must be 2-D [in, out], has shape \(b.dims) (batched constant weights are not supported)"
                )
            }
            guard shapes[input]!.rank >= 2 else {
                throw fail("multiplies a vector \(shapes[input]!); cimcarlo needs rank ≥ 2")
            }
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
                    bias: Array(repeating: 0, count: outputs)), inputs: [rowMajor(input)])
        default:
            throw fail(
                "multiplies a constant by a computed value (W · x); cimcarlo maps x · W (export Linear layers as they are)"
            )
        }
    }

    private mutating func batchNormalization(_ node: Onnx_NodeProto) throws {
        guard node.int("training_mode", default: 0) == 0 else {
            throw fail("training_mode = 1 is not supported (inference only)")
        }
        if node.output.dropFirst().contains(where: { !$0.isEmpty && readers[$0, default: 0] > 0 }) {
            throw fail("its running-statistics outputs are used; only inference is supported")
        }
        var input = try value(0, of: node)
        if shapes[input]!.rank == 4 { input = try image(input) }
        guard shapes[input]!.hasChannelsInnermost else {
            throw fail("normalises images [1, C, H, W] and vectors [1, C]; its input is \(shapes[input]!)")
        }
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

    /// ONNX Gelu (opset 20): exact or tanh approximation.
    private mutating func gelu(_ node: Onnx_NodeProto) throws {
        let approximation = node.string("approximate", default: "none")
        guard approximation == "none" || approximation == "tanh" else {
            throw fail("approximate = \(approximation) is not supported (none, tanh)")
        }
        try append(Gelu(tanhApproximation: approximation == "tanh"), inputs: [value(0, of: node)])
    }

    /// `x' = x · scale + shift` per channel, composed into the input transform (`perChannel`:
    /// the constant operand, one value per input channel).
    mutating func foldIntoInputNormalization(_ opType: String, _ perChannel: [Double]) throws {
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

    private mutating func pool(_ node: Onnx_NodeProto) throws {
        let input = try image(try value(0, of: node))
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

    /// An image value for `value`: rank-4 values in row-major layout are copied channel-last
    /// (free when the two orders agree); other ranks are refused.
    mutating func image(_ value: String) throws -> String {
        let shape = shapes[value]!
        guard ActivationShape.canBeImage(shape.dimensions) else {
            throw fail("works on images [1, C, H, W]; its input is \(shape)")
        }
        guard !shape.isImage else { return value }
        return try relayout(value, to: .channelsLast)
    }

    /// A row-major value for `value` (what products along the last axis read).
    mutating func rowMajor(_ value: String) throws -> String {
        guard shapes[value]!.isImage else { return value }
        return try relayout(value, to: .rowMajor)
    }

    /// `value` copied into `layout` (a node named after the current one).
    private mutating func relayout(_ value: String, to layout: ActivationShape.Layout) throws -> String {
        let shape = shapes[value]!
        let target = ActivationShape(dimensions: shape.dimensions, layout: layout)
        let rearrange = Rearrange(
            origin: "layout", inputs: [shape], output: target,
            map: .reshape(count: shape.count, to: shape.dimensions))
        var name = nodeName(current!) + (layout == .channelsLast ? ".nhwc" : ".rows")
        while name == Network.inputName || shapes[name] != nil { name += "_" }
        shapes[name] = target
        nodes.append(NetworkNode(name: name, inputs: [value], operation: rearrange))
        return name
    }
}
