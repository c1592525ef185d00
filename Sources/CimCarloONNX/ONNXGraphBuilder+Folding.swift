import CimCarloNetwork
import Foundation

/// Constant folding at load: shape arithmetic (`Shape`, `Gather`, `Concat`, `Cast`, …) and any
/// supported op whose inputs are all constant becomes a constant, so it never reaches the engine.
extension ONNXGraphBuilder {
    /// Folds the current node when it can be evaluated at load; false when it computes on the
    /// network's values.
    mutating func foldIfConstant(_ node: Onnx_NodeProto) throws -> Bool {
        switch node.opType {
        case "Shape":
            var dims = try dimensions(operand(0, of: node))
            let rank = dims.count
            func clampAxis(_ value: Int) -> Int { min(max(value < 0 ? value + rank : value, 0), rank) }
            let start = clampAxis(node.int("start", default: 0))
            let end = clampAxis(node.int("end", default: rank))
            dims = start < end ? Array(dims[start..<end]) : []
            fold(ONNXTensor(dims: [dims.count], values: dims.map(Double.init), integral: true))
            return true
        case "Size":
            fold(
                ONNXTensor(
                    dims: [], values: [Double(try dimensions(operand(0, of: node)).reduce(1, *))], integral: true))
            return true
        default:
            break
        }
        let inputs = node.input.filter { !$0.isEmpty }
        guard !inputs.isEmpty, node.opType != "Constant", inputs.allSatisfy({ constants[$0] != nil }) else {
            return false
        }
        let tensors = inputs.map { constants[$0]! }
        func constantInput(_ index: Int) -> ONNXTensor? {
            index < node.input.count && !node.input[index].isEmpty ? constants[node.input[index]] : nil
        }
        switch node.opType {
        case "Identity", "Dropout":
            fold(tensors[0])
        case "Cast":
            let target = node.int("to", default: 1)
            let integral: Set<Int> = [2, 3, 4, 5, 6, 7, 12, 13]
            let values = tensors[0].values.map { value -> Double in
                if target == 9 { return value != 0 ? 1 : 0 }
                return integral.contains(target) ? value.rounded(.towardZero) : value
            }
            fold(ONNXTensor(dims: tensors[0].dims, values: values, integral: integral.contains(target) || target == 9))
        case "ConstantOfShape":
            let dims = tensors[0].integers
            guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, *) <= 1 << 28 else {
                throw fail("cannot fill shape \(dims)")
            }
            var fill = 0.0
            if let value = node.attribute("value"), value.hasT {
                fill = try ONNXTensor(value.t, externalData: externalData) { fail($0) }.values.first ?? 0
            }
            fold(ONNXTensor(dims: dims, values: Array(repeating: fill, count: dims.reduce(1, *))))
        case "Range":
            let (start, limit, delta) = (tensors[0].values[0], tensors[1].values[0], tensors[2].values[0])
            guard delta != 0 else { throw fail("delta is 0") }
            let count = max(Int(((limit - start) / delta).rounded(.up)), 0)
            fold(
                ONNXTensor(
                    dims: [count], values: (0..<count).map { start + Double($0) * delta },
                    integral: tensors.allSatisfy(\.integral)))
        case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mod", "Equal", "Less", "Greater", "And", "Or":
            var result = tensors[0]
            for next in tensors.dropFirst() { result = try binary(node, result, next) }
            fold(result)
        case "Where":
            let dims: [Int]
            do {
                dims = try Broadcast.dimensions(
                    Broadcast.dimensions(tensors[0].dims, tensors[1].dims), tensors[2].dims)
            } catch {
                throw fail(error.reason)
            }
            let sources = tensors.map { Broadcast.sources(from: $0.dims, to: dims) }
            fold(
                ONNXTensor(
                    dims: dims,
                    values: (0..<dims.reduce(1, *)).map {
                        tensors[0].values[Int(sources[0][$0])] != 0
                            ? tensors[1].values[Int(sources[1][$0])] : tensors[2].values[Int(sources[2][$0])]
                    }))
        case "Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil", "Exp", "Log", "Relu", "Sigmoid", "Not", "Tanh", "Erf":
            let function: (Double) -> Double =
                switch node.opType {
                case "Neg": { -$0 }
                case "Abs": { abs($0) }
                case "Sqrt": { $0.squareRoot() }
                case "Reciprocal": { 1 / $0 }
                case "Floor": { $0.rounded(.down) }
                case "Ceil": { $0.rounded(.up) }
                case "Exp": { exp($0) }
                case "Log": { log($0) }
                case "Relu": { max($0, 0) }
                case "Sigmoid": { 1 / (1 + exp(-$0)) }
                case "Tanh": { tanh($0) }
                case "Erf": { erf($0) }
                default: { $0 == 0 ? 1 : 0 }
                }
            fold(ONNXTensor(dims: tensors[0].dims, values: tensors[0].values.map(function)))
        case "ReduceProd", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin":
            let dims = tensors[0].dims
            guard let axes = try reductionAxes(node, rank: dims.count) else {
                fold(tensors[0])
                return true
            }
            let groups = AxisGroups(
                shape: ActivationShape(dimensions: dims.isEmpty ? [1] : dims), axes: dims.isEmpty ? [0] : axes)
            let reduced = (0..<groups.groupCount).map { group -> Double in
                let members = (0..<groups.length).map {
                    tensors[0].values[Int(groups.members[group * groups.length + $0])]
                }
                switch node.opType {
                case "ReduceProd": return members.reduce(1, *)
                case "ReduceSum": return members.reduce(0, +)
                case "ReduceMean": return members.reduce(0, +) / Double(max(members.count, 1))
                case "ReduceMax": return members.max() ?? -.infinity
                default: return members.min() ?? .infinity
                }
            }
            let keep = node.int("keepdims", default: 1) == 1
            let output = dims.enumerated().compactMap { axis, size in axes.contains(axis) ? (keep ? 1 : nil) : size }
            fold(
                ONNXTensor(dims: output, values: reduced, integral: tensors[0].integral && node.opType != "ReduceMean"))
        case "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Gather", "Split", "Expand", "Pad",
            "Concat":
            guard constantInput(0) != nil else { return false }
            if node.opType == "Concat" { try concat(node) } else { try dataMovement(node) }
        default:
            return false
        }
        return true
    }

    /// An element-wise binary op on constants, with broadcasting.
    private func binary(_ node: Onnx_NodeProto, _ a: ONNXTensor, _ b: ONNXTensor) throws -> ONNXTensor {
        let dims: [Int]
        do {
            dims = try Broadcast.dimensions(a.dims, b.dims)
        } catch {
            throw fail(error.reason)
        }
        let (left, right) = (Broadcast.sources(from: a.dims, to: dims), Broadcast.sources(from: b.dims, to: dims))
        let integral = a.integral && b.integral
        let values = (0..<dims.reduce(1, *)).map { position -> Double in
            let (x, y) = (a.values[Int(left[position])], b.values[Int(right[position])])
            switch node.opType {
            case "Add", "Sum": return x + y
            case "Sub": return x - y
            case "Mul": return x * y
            // Integer division truncates (shape arithmetic divides int64 tensors).
            case "Div": return integral && y != 0 ? (x / y).rounded(.towardZero) : x / y
            case "Pow": return pow(x, y)
            case "Max": return max(x, y)
            case "Min": return min(x, y)
            case "Mod": return y == 0 ? 0 : x - (x / y).rounded(.down) * y
            case "Equal": return x == y ? 1 : 0
            case "Less": return x < y ? 1 : 0
            case "Greater": return x > y ? 1 : 0
            case "And": return x != 0 && y != 0 ? 1 : 0
            default: return x != 0 || y != 0 ? 1 : 0
            }
        }
        let comparison = ["Equal", "Less", "Greater", "And", "Or"].contains(node.opType)
        return ONNXTensor(dims: dims, values: values, integral: integral || comparison)
    }
}
