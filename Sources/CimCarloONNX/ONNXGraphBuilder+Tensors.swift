import CimCarloNetwork
import Foundation

/// The conversion of tensor operations: arithmetic with broadcasting, softmax, reductions,
/// layer normalisation, and data movement (every op that only moves elements is a `Rearrange`).
extension ONNXGraphBuilder {
    // MARK: - Arithmetic

    /// Element-wise arithmetic. On the graph input a constant operand folds into the input
    /// normalisation; a constant Add after a weight layer into its bias (one value per output);
    /// Add and Sum of computed values of one shape are residual additions; everything else is
    /// an `Elementwise` with broadcasting.
    mutating func arithmetic(_ node: Onnx_NodeProto) throws {
        let operands = try node.input.indices.filter { !node.input[$0].isEmpty }.map { try operand($0, of: node) }
        guard operands.count >= 2,
            node.opType == "Sum" || node.opType == "Max" || node.opType == "Min" || operands.count == 2
        else { throw fail("needs two operands, has \(operands.count)") }
        let computed = operands.compactMap { operand -> String? in
            if case let .computed(value) = operand { return value }
            return nil
        }
        if node.opType == "Add" || node.opType == "Sum", computed.count == operands.count,
            computed.allSatisfy({ shapes[$0]! == shapes[computed[0]]! })
        {
            try append(Add(), inputs: computed)
            return
        }
        if operands.count == 2, computed.count == 1, try foldIntoNeighbour(node, operands) { return }
        let function: Elementwise.Function =
            switch node.opType {
            case "Add", "Sum": .add
            case "Sub": .subtract
            case "Mul": .multiply
            case "Div": .divide
            case "Max": .maximum
            case "Min": .minimum
            default: .power
            }
        // Sum, Max and Min of several operands: a chain of binary nodes, the last one the output.
        var result = operands[0]
        for (index, next) in operands.dropFirst().enumerated() {
            let isLast = index == operands.count - 2
            let made = try elementwise(function, result, next, output: isLast ? 0 : nil)
            result = .computed(made)
        }
    }

    /// Folds `x ∘ c` into the input normalisation (on the graph input) or into the bias of the
    /// weight layer that made `x`; false when neither applies.
    private mutating func foldIntoNeighbour(_ node: Onnx_NodeProto, _ operands: [ONNXOperand]) throws -> Bool {
        let dynamicIndex = operands.firstIndex { if case .computed = $0 { true } else { false } }!
        guard case let .computed(operand) = operands[dynamicIndex],
            case let .constant(tensor) = operands[1 - dynamicIndex], tensor.values.allSatisfy(\.isFinite)
        else { return false }
        let constantFirst = dynamicIndex == 1
        guard ["Add", "Sub", "Mul", "Div"].contains(node.opType),
            !(constantFirst && ["Sub", "Div"].contains(node.opType)),
            readOnce(node.input[dynamicIndex])
        else { return false }
        let shape = shapes[operand]!
        if operand == Network.inputName, shape.hasChannelsInnermost, let perChannel = perChannel(tensor, of: shape) {
            try foldIntoInputNormalization(node.opType, perChannel)
            values[node.output[0]] = Network.inputName
            return true
        }
        if node.opType == "Add", let index = nodes.lastIndex(where: { $0.name == operand }),
            var operation = nodes[index].operation as? any CrossbarOperation,
            let perOutput = perChannel(tensor, of: shape), perOutput.count == operation.outputCount
        {
            for output in 0..<operation.outputCount { operation.bias[output] += Float(perOutput[output]) }
            nodes[index].operation = operation
            values[node.output[0]] = operand
            return true
        }
        return false
    }

    /// The constant as one value per channel of `shape` (its innermost axis: channels of an
    /// image, features of a row-major value), when it broadcasts along that axis only.
    private func perChannel(_ tensor: ONNXTensor, of shape: ActivationShape) -> [Double]? {
        guard (try? Broadcast.dimensions(tensor.dims, shape.dimensions)) == shape.dimensions else { return nil }
        let channelAxis = shape.isImage ? 1 : shape.rank - 1
        let aligned = [Int](repeating: 1, count: shape.rank - tensor.dims.count) + tensor.dims
        guard aligned.enumerated().allSatisfy({ $0.offset == channelAxis || $0.element == 1 }) else { return nil }
        return tensor.count == 1 ? Array(repeating: tensor.values[0], count: shape.channels) : tensor.values
    }

    /// An `Elementwise` node (or a folded constant) for `a ∘ b`; recorded as ONNX output
    /// `output` of the current node when given. Returns the network value.
    @discardableResult
    mutating func elementwise(_ function: Elementwise.Function, _ a: ONNXOperand, _ b: ONNXOperand, output: Int?)
        throws -> String
    {
        let dimensions: [Int]
        do {
            dimensions = try Broadcast.dimensions(self.dimensions(a), self.dimensions(b))
        } catch {
            throw fail(error.reason)
        }
        var layout = ActivationShape.Layout.rowMajor
        for case let .computed(value) in [a, b] where shapes[value]!.dimensions == dimensions {
            layout = shapes[value]!.layout
            break
        }
        if layout == .rowMajor, ActivationShape.canBeImage(dimensions),
            [a, b].contains(where: { if case let .computed(v) = $0 { shapes[v]!.isImage } else { false } })
        {
            layout = .channelsLast
        }
        let shape = ActivationShape(dimensions: dimensions, layout: layout)
        let outputOffsets = shape.offsets()
        var inputs: [String] = []
        var inputShapes: [ActivationShape] = []
        let operands = [a, b].map { operand -> Elementwise.Operand in
            let sources = Broadcast.sources(from: self.dimensions(operand), to: dimensions)
            switch operand {
            case let .constant(tensor):
                var values = [Float](repeating: 0, count: shape.count)
                for position in 0..<shape.count {
                    values[Int(outputOffsets[position])] = Float(tensor.values[Int(sources[position])])
                }
                return .constant(values)
            case let .computed(value):
                // `x ∘ x` reads one input twice (so that its curvature squares the whole derivative).
                let index = inputs.firstIndex(of: value) ?? inputs.count
                if index == inputs.count {
                    inputs.append(value)
                    inputShapes.append(shapes[value]!)
                }
                if shapes[value]! == shape { return .input(index, offsets: nil) }
                let inputOffsets = shapes[value]!.offsets()
                var offsets = [Int32](repeating: 0, count: shape.count)
                for position in 0..<shape.count {
                    offsets[Int(outputOffsets[position])] = inputOffsets[Int(sources[position])]
                }
                return .input(index, offsets: offsets)
            }
        }
        let operation = Elementwise(function: function, operands: operands, inputs: inputShapes, output: shape)
        guard let output else { return try appendIntermediate(operation, inputs: inputs) }
        return try append(operation, inputs: inputs, output: output)
    }

    /// Appends a node that is not an ONNX output (a step of a decomposed op).
    private mutating func appendIntermediate(_ operation: any NetworkOperation, inputs: [String]) throws -> String {
        var name = nodeName(current!) + ".part"
        while name == Network.inputName || shapes[name] != nil { name += "_" }
        do {
            shapes[name] = try operation.outputShape(for: inputs.map { shapes[$0]! })
        } catch {
            throw fail(error.reason)
        }
        nodes.append(NetworkNode(name: name, inputs: inputs, operation: operation))
        return name
    }

    // MARK: - Softmax, reductions, normalisation

    mutating func softmax(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let shape = shapes[input]!
        let axis = try axis(node.int("axis", default: opset >= 13 ? -1 : 1), rank: shape.rank)
        // Before opset 13 the input is coerced to 2-D at `axis`: the softmax spans every axis from it on.
        let axes = opset >= 13 ? [axis] : Array(axis..<shape.rank)
        try append(Softmax(logarithmic: node.opType == "LogSoftmax", shape: shape, axes: axes), inputs: [input])
    }

    /// The reduced axes of a Reduce node: `axes` as attribute or (ReduceSum from 13, the others
    /// from 18) as input; none means all unless `noop_with_empty_axes`.
    func reductionAxes(_ node: Onnx_NodeProto, rank: Int) throws -> [Int]? {
        let axesAsInput = opset >= 18 || (node.opType == "ReduceSum" && opset >= 13)
        let written = axesAsInput ? try constant(1, of: node, "axes")?.integers : node.ints("axes")
        if let written, !written.isEmpty { return try Set(written.map { try axis($0, rank: rank) }).sorted() }
        return node.int("noop_with_empty_axes", default: 0) == 1 ? nil : Array(0..<rank)
    }

    mutating func reduce(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let shape = shapes[input]!
        guard let axes = try reductionAxes(node, rank: shape.rank) else {
            values[node.output[0]] = input
            return
        }
        let keep = node.int("keepdims", default: 1) == 1
        let dimensions = shape.dimensions.enumerated().compactMap { axis, size in
            axes.contains(axis) ? (keep ? 1 : nil) : size
        }
        let function = Reduce.Function(rawValue: node.opType)!
        try append(
            Reduce(function: function, input: shape, axes: axes, output: ActivationShape(dimensions: dimensions)),
            inputs: [input])
    }

    mutating func globalMaxPool(_ node: Onnx_NodeProto) throws {
        let input = try image(try value(0, of: node))
        let shape = shapes[input]!
        try append(
            Reduce(
                function: .maximum, input: shape, axes: [2, 3],
                output: ActivationShape(dimensions: [shape.dimensions[0], shape.dimensions[1], 1, 1])),
            inputs: [input])
    }

    mutating func layerNormalization(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let shape = shapes[input]!
        let first = try axis(node.int("axis", default: -1), rank: shape.rank)
        let normalised = Array(shape.dimensions[first...])
        func expanded(_ tensor: ONNXTensor?, _ role: String, _ fallback: Double) throws -> [Float] {
            guard let tensor else { return Array(repeating: Float(fallback), count: normalised.reduce(1, *)) }
            guard (try? Broadcast.dimensions(tensor.dims, normalised)) == normalised else {
                throw fail(
                    "its \(role) has shape \(tensor.dims), which does not broadcast to the normalised \(normalised)")
            }
            return Broadcast.sources(from: tensor.dims, to: normalised).map { Float(tensor.values[Int($0)]) }
        }
        if node.output.count > 1, node.output.dropFirst().contains(where: { readers[$0, default: 0] > 0 }) {
            throw fail("its mean and inverse-deviation outputs are used; only the normalised output is supported")
        }
        try append(
            LayerNormalization(
                shape: shape, axes: Array(first..<shape.rank),
                scale: try expanded(try requiredConstant(1, of: node, "scale"), "scale", 1),
                bias: try expanded(try constant(2, of: node, "bias"), "bias", 0),
                epsilon: node.float("epsilon", default: 1e-5)),
            inputs: [input])
    }

    // MARK: - Data movement

    /// Concat: along the channels of images (or features of vectors) of computed values, the
    /// `Concat` op; on any other axis, or with constant operands (a class token), a `Rearrange`.
    mutating func concat(_ node: Onnx_NodeProto) throws {
        let operands = try node.input.indices.filter { !node.input[$0].isEmpty }.map { try operand($0, of: node) }
        let rank = dimensions(operands[0]).count
        let axis = try axis(node.int("axis", default: 1), rank: rank)
        let computed = operands.compactMap { operand -> String? in
            if case let .computed(value) = operand { return value }
            return nil
        }
        for operand in operands {
            let other = dimensions(operand)
            guard other.count == rank,
                other.indices.allSatisfy({ $0 == axis || other[$0] == dimensions(operands[0])[$0] })
            else {
                throw fail("inputs \(operands.map { dimensions($0) }) do not agree outside axis \(axis)")
            }
        }
        if computed.count == operands.count, axis == 1,
            computed.allSatisfy({
                shapes[$0]!.hasChannelsInnermost && shapes[$0]!.isImage == shapes[computed[0]]!.isImage
            })
        {
            try append(Concat(), inputs: computed)
            return
        }
        try move(.concat(operands.map(dimensions), axis: axis), operands, origin: "Concat")
    }

    /// Records `map` applied to `operands` as ONNX output `output`: folded when every operand is
    /// constant, else a `Rearrange` (constant operands become its constants). Images stay
    /// channel-last; other values are row-major.
    mutating func move(_ map: LogicalMap, _ operands: [ONNXOperand], origin: String, output: Int = 0) throws {
        if operands.allSatisfy({ if case .constant = $0 { true } else { false } }) {
            let inputs = operands.map { operand -> [Double] in
                if case let .constant(tensor) = operand { return tensor.values }
                return []
            }
            fold(ONNXTensor(dims: map.dimensions, values: map.apply(inputs)), output: output)
            return
        }
        var computed: [String] = []
        var index: [Int32] = []
        var constantBase: [Int32] = []
        var constants = map.constants
        for operand in operands {
            switch operand {
            case let .computed(value):
                index.append(Int32(computed.count))
                constantBase.append(0)
                computed.append(value)
            case let .constant(tensor):
                index.append(-1)
                constantBase.append(Int32(constants.count))
                constants.append(contentsOf: tensor.values)
            }
        }
        var remapped = map
        remapped.constants = constants
        for position in remapped.input.indices where remapped.input[position] >= 0 {
            let operand = Int(remapped.input[position])
            remapped.input[position] = index[operand]
            if index[operand] < 0 { remapped.element[position] += constantBase[operand] }
        }
        let shape = ActivationShape(dimensions: map.dimensions, layout: ActivationShape.naturalLayout(map.dimensions))
        try append(
            Rearrange(origin: origin, inputs: computed.map { shapes[$0]! }, output: shape, map: remapped),
            inputs: computed, output: output)
    }

    /// Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Slice, Gather, Split, Expand and Pad.
    mutating func dataMovement(_ node: Onnx_NodeProto) throws {
        let data = try operand(0, of: node)
        let dims = dimensions(data)
        let count = dims.reduce(1, *)
        let rank = dims.count
        switch node.opType {
        case "Flatten":
            let axis = try axis(node.int("axis", default: 1), rank: rank + 1)
            try move(
                .reshape(count: count, to: [dims[..<axis].reduce(1, *), dims[axis...].reduce(1, *)]), [data],
                origin: "Flatten")
        case "Reshape":
            let target = try requiredConstant(1, of: node, "shape").integers
            let allowZero = node.int("allowzero", default: 0) == 1
            var output = target.enumerated().map { index, size in
                size == 0 && !allowZero && index < rank ? dims[index] : size
            }
            let known = output.filter { $0 != -1 }.reduce(1, *)
            if let inferred = output.firstIndex(of: -1) {
                guard output.filter({ $0 == -1 }).count == 1, known > 0, count % known == 0 else {
                    throw fail("cannot reshape \(dims) to \(target)")
                }
                output[inferred] = count / known
            }
            guard output.allSatisfy({ $0 >= 0 }), output.reduce(1, *) == count else {
                throw fail("cannot reshape \(dims) (\(count) elements) to \(target)")
            }
            try move(.reshape(count: count, to: output), [data], origin: "Reshape")
        case "Squeeze":
            let written = opset >= 13 ? try constant(1, of: node, "axes")?.integers : node.ints("axes")
            let axes =
                try written.map { try $0.map { try axis($0, rank: rank) } } ?? dims.indices.filter { dims[$0] == 1 }
            guard axes.allSatisfy({ dims[$0] == 1 }) else { throw fail("squeezes axes \(axes) of \(dims), not all 1") }
            try move(
                .reshape(count: count, to: dims.indices.filter { !axes.contains($0) }.map { dims[$0] }), [data],
                origin: "Squeeze")
        case "Unsqueeze":
            guard let written = opset >= 13 ? try constant(1, of: node, "axes")?.integers : node.ints("axes") else {
                throw fail("needs its axes")
            }
            let axes = try written.map { try axis($0, rank: rank + written.count) }
            var output: [Int] = []
            var source = dims.makeIterator()
            for position in 0..<(rank + written.count) { output.append(axes.contains(position) ? 1 : source.next()!) }
            try move(.reshape(count: count, to: output), [data], origin: "Unsqueeze")
        case "Transpose":
            let permutation = node.ints("perm") ?? Array((0..<rank).reversed())
            guard permutation.sorted() == Array(0..<rank) else {
                throw fail("perm \(permutation) is not a permutation of \(rank) axes")
            }
            try move(.transpose(dims, permutation: permutation), [data], origin: "Transpose")
        case "Slice":
            try slice(node, data, dims)
        case "Gather":
            let axis = try axis(node.int("axis", default: 0), rank: rank)
            let indices = try requiredConstant(1, of: node, "indices")
            let picked = try indices.integers.map { index -> Int in
                let normalised = index < 0 ? index + dims[axis] : index
                guard (0..<dims[axis]).contains(normalised) else {
                    throw fail("index \(index) is outside axis \(axis) of \(dims)")
                }
                return normalised
            }
            var lists = dims.map { Array(0..<$0) }
            lists[axis] = picked
            var map = LogicalMap.select(dims, indices: lists)
            map.dimensions = Array(dims[..<axis]) + indices.dims + Array(dims[(axis + 1)...])
            try move(map, [data], origin: "Gather")
        case "Split":
            try split(node, data, dims)
        case "Expand":
            let target = try requiredConstant(1, of: node, "shape").integers
            let output: [Int]
            do { output = try Broadcast.dimensions(dims, target) } catch { throw fail(error.reason) }
            try move(.expand(dims, to: output), [data], origin: "Expand")
        default:
            try pad(node, data, dims)
        }
    }

    private mutating func slice(_ node: Onnx_NodeProto, _ data: ONNXOperand, _ dims: [Int]) throws {
        let starts = try requiredConstant(1, of: node, "starts").integers
        let ends = try requiredConstant(2, of: node, "ends").integers
        let axes =
            try constant(3, of: node, "axes")?.integers.map { try axis($0, rank: dims.count) }
            ?? Array(0..<starts.count)
        let steps = try constant(4, of: node, "steps")?.integers ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count,
            steps.allSatisfy({ $0 != 0 })
        else {
            throw fail("starts, ends, axes and steps must agree in length and steps be non-zero")
        }
        var lists = dims.map { Array(0..<$0) }
        for (position, axis) in axes.enumerated() {
            let size = dims[axis]
            let step = steps[position]
            func clamp(_ value: Int, _ low: Int, _ high: Int) -> Int {
                min(max(value < 0 ? value + size : value, low), high)
            }
            let (start, end) =
                step > 0
                ? (clamp(starts[position], 0, size), clamp(ends[position], 0, size))
                : (clamp(starts[position], 0, size - 1), clamp(ends[position], -1, size - 1))
            lists[axis] = Array(stride(from: start, to: end, by: step))
        }
        if case .computed = data, lists.contains(where: \.isEmpty) { throw fail("the slice of \(dims) is empty") }
        try move(.select(dims, indices: lists), [data], origin: "Slice")
    }

    private mutating func split(_ node: Onnx_NodeProto, _ data: ONNXOperand, _ dims: [Int]) throws {
        let axis = try axis(node.int("axis", default: 0), rank: dims.count)
        let parts = node.output.count
        var sizes = opset >= 13 ? try constant(1, of: node, "split")?.integers : node.ints("split")
        if sizes == nil {
            let pieces = opset >= 18 ? node.int("num_outputs", default: parts) : parts
            let size = (dims[axis] + pieces - 1) / pieces
            sizes = (0..<pieces).map { min(size, dims[axis] - $0 * size) }
        }
        guard let sizes, sizes.count == parts, sizes.reduce(0, +) == dims[axis], sizes.allSatisfy({ $0 > 0 }) else {
            throw fail("cannot split axis \(axis) of \(dims) into \(parts) parts")
        }
        var start = 0
        for (output, size) in sizes.enumerated() {
            var lists = dims.map { Array(0..<$0) }
            lists[axis] = Array(start..<(start + size))
            start += size
            guard !node.output[output].isEmpty else { continue }
            try move(.select(dims, indices: lists), [data], origin: "Split", output: output)
        }
    }

    private mutating func pad(_ node: Onnx_NodeProto, _ data: ONNXOperand, _ dims: [Int]) throws {
        let rank = dims.count
        let mode = node.string("mode", default: "constant")
        let written = try requiredConstant(1, of: node, "pads").integers
        let axes = try constant(3, of: node, "axes")?.integers.map { try axis($0, rank: rank) } ?? Array(0..<rank)
        guard written.count == 2 * axes.count else { throw fail("pads \(written) do not fit \(axes.count) axes") }
        let value = try constant(2, of: node, "constant_value")?.values.first ?? 0
        var lists = dims.map { Array(0..<$0) }
        for (position, axis) in axes.enumerated() {
            let (before, after, size) = (written[position], written[position + axes.count], dims[axis])
            lists[axis] = try (-before..<(size + after)).map { index -> Int in
                if (0..<size).contains(index) { return index }
                switch mode {
                case "constant": return -1
                case "edge": return min(max(index, 0), size - 1)
                case "reflect":
                    guard size > 1, before < size, after < size else {
                        throw fail("reflect padding needs pads smaller than the axis")
                    }
                    return index < 0 ? -index : 2 * (size - 1) - index
                default: throw fail("mode \(mode) is not supported (constant, reflect, edge)")
                }
            }
        }
        try move(.select(dims, indices: lists, fill: value), [data], origin: "Pad")
    }

    /// Resize (and the older Upsample) of images: nearest (a `Rearrange`) or linear (a
    /// `LinearResize`), with scales or sizes and ONNX's coordinate transformations.
    mutating func resize(_ node: Onnx_NodeProto) throws {
        let input = try value(0, of: node)
        let shape = shapes[input]!
        let dims = shape.dimensions
        let mode = node.string("mode", default: "nearest")
        guard mode == "nearest" || mode == "linear" else {
            throw fail("mode \(mode) is not supported (nearest, linear)")
        }
        guard node.int("antialias", default: 0) == 0 else { throw fail("antialias = 1 is not supported") }
        let scalesInput = node.opType == "Upsample" ? 1 : 2
        var scales = try constant(scalesInput, of: node, "scales")?.values ?? []
        let sizes = node.opType == "Upsample" ? nil : try constant(3, of: node, "sizes")?.integers
        let axes = try node.ints("axes").map { try $0.map { try axis($0, rank: dims.count) } } ?? Array(dims.indices)
        var output = dims
        if let sizes, !sizes.isEmpty {
            guard sizes.count == axes.count else { throw fail("sizes \(sizes) do not fit \(axes.count) axes") }
            for (position, axis) in axes.enumerated() { output[axis] = sizes[position] }
            scales = dims.indices.map { Double(output[$0]) / Double(dims[$0]) }
        } else {
            guard scales.count == axes.count else { throw fail("needs scales or sizes for \(axes.count) axes") }
            var full = [Double](repeating: 1, count: dims.count)
            for (position, axis) in axes.enumerated() {
                full[axis] = scales[position]
                output[axis] = Int((Double(dims[axis]) * scales[position]).rounded(.down))
            }
            scales = full
        }
        guard output.allSatisfy({ $0 >= 1 }) else { throw fail("resizes \(dims) to \(output)") }
        let transformation = node.string(
            "coordinate_transformation_mode", default: node.opType == "Upsample" ? "asymmetric" : "half_pixel")
        /// The input coordinate of output index `index` on `axis`.
        func source(_ index: Int, axis: Int) throws -> Double {
            let (inSize, outSize, scale) = (Double(dims[axis]), Double(output[axis]), scales[axis])
            let x = Double(index)
            switch transformation {
            case "half_pixel": return (x + 0.5) / scale - 0.5
            case "pytorch_half_pixel": return outSize > 1 ? (x + 0.5) / scale - 0.5 : 0
            case "asymmetric": return x / scale
            case "align_corners": return outSize > 1 ? x * (inSize - 1) / (outSize - 1) : 0
            default:
                throw fail(
                    "coordinate_transformation_mode \(transformation) is not supported (half_pixel, pytorch_half_pixel, asymmetric, align_corners)"
                )
            }
        }
        if mode == "nearest" {
            let rounding = node.string("nearest_mode", default: "round_prefer_floor")
            let lists = try dims.indices.map { axis in
                try (0..<output[axis]).map { index -> Int in
                    guard dims[axis] != output[axis] || scales[axis] != 1 else { return index }
                    let x = try source(index, axis: axis)
                    let nearest: Double
                    switch rounding {
                    case "round_prefer_floor": nearest = x - x.rounded(.down) == 0.5 ? x.rounded(.down) : x.rounded()
                    case "round_prefer_ceil": nearest = x.rounded()
                    case "floor": nearest = x.rounded(.down)
                    case "ceil": nearest = x.rounded(.up)
                    default: throw fail("nearest_mode \(rounding) is not supported")
                    }
                    return min(max(Int(nearest), 0), dims[axis] - 1)
                }
            }
            try move(.select(dims, indices: lists), [.computed(input)], origin: "Resize")
            return
        }
        // Linear: per axis two taps and their weights; the product over the resized axes.
        let resized = dims.indices.filter { dims[$0] != output[$0] || scales[$0] != 1 }
        var taps: [[(Int, Int, Double)]] = []
        for axis in dims.indices {
            taps.append(
                try (0..<output[axis]).map { index in
                    guard resized.contains(axis) else { return (index, index, 0) }
                    let x = min(max(try source(index, axis: axis), 0), Double(dims[axis] - 1))
                    let low = Int(x.rounded(.down))
                    return (low, min(low + 1, dims[axis] - 1), x - Double(low))
                })
        }
        let target = ActivationShape(
            dimensions: output, layout: shape.isImage ? .channelsLast : .rowMajor)
        let strides = shape.strides
        let tapCount = 1 << resized.count
        var sources = [Int32](repeating: 0, count: target.count * tapCount)
        var weights = [Float](repeating: 0, count: target.count * tapCount)
        let outputOffsets = target.offsets()
        var index = [Int](repeating: 0, count: output.count)
        for position in 0..<target.count {
            let memory = Int(outputOffsets[position])
            for tap in 0..<tapCount {
                var offset = 0
                var weight = 1.0
                for axis in output.indices {
                    let (low, high, fraction) = taps[axis][index[axis]]
                    if let bit = resized.firstIndex(of: axis) {
                        let upper = (tap >> bit) & 1 == 1
                        offset += (upper ? high : low) * strides[axis]
                        weight *= upper ? fraction : 1 - fraction
                    } else {
                        offset += low * strides[axis]
                    }
                }
                sources[memory * tapCount + tap] = Int32(offset)
                weights[memory * tapCount + tap] = Float(weight)
            }
            LogicalMap.advance(&index, within: output)
        }
        try append(
            LinearResize(input: shape, output: target, taps: tapCount, sources: sources, weights: weights),
            inputs: [input])
    }
}
