import CimCarloNetwork

/// ONNX's data-movement operators as logical maps (row-major indices), shared by constant
/// folding and by the network's `Rearrange`.
extension LogicalMap {
    /// Steps a row-major multi-index of `dimensions` to the next element (the last axis fastest).
    static func advance(_ index: inout [Int], within dimensions: [Int]) {
        var axis = dimensions.count - 1
        while axis >= 0 {
            index[axis] += 1
            if index[axis] < dimensions[axis] { return }
            index[axis] = 0
            axis -= 1
        }
    }

    /// The same elements in the same order under new dimensions (Reshape, Flatten, Squeeze, Unsqueeze).
    static func reshape(count: Int, to dimensions: [Int]) -> LogicalMap {
        LogicalMap(dimensions: dimensions, elements: (0..<Int32(count)).map { $0 })
    }

    /// Transpose: output axis `i` is input axis `permutation[i]`.
    static func transpose(_ dimensions: [Int], permutation: [Int]) -> LogicalMap {
        let strides = ActivationShape(dimensions: dimensions).strides
        let output = permutation.map { dimensions[$0] }
        return LogicalMap(
            dimensions: output,
            elements: ActivationShape.offsets(dimensions: output, strides: permutation.map { strides[$0] }))
    }

    /// Per axis, the input index each output index reads (-1: the constant `constants[0]`):
    /// Slice, Gather on one axis, Pad, Expand and nearest-neighbour Resize.
    static func select(_ dimensions: [Int], indices: [[Int]], fill: Double? = nil) -> LogicalMap {
        let strides = ActivationShape(dimensions: dimensions).strides
        let output = indices.map(\.count)
        let total = output.reduce(1, *)
        var input = [Int32](repeating: 0, count: total)
        var element = [Int32](repeating: 0, count: total)
        var index = [Int](repeating: 0, count: output.count)
        for position in 0..<total {
            var offset = 0
            var padded = false
            for axis in 0..<output.count {
                let source = indices[axis][index[axis]]
                if source < 0 { padded = true } else { offset += source * strides[axis] }
            }
            if padded {
                input[position] = -1
            } else {
                element[position] = Int32(offset)
            }
            LogicalMap.advance(&index, within: output)
        }
        return LogicalMap(dimensions: output, input: input, element: element, constants: fill.map { [$0] } ?? [])
    }

    /// Concat along `axis` (inputs agree on every other axis).
    static func concat(_ shapes: [[Int]], axis: Int) -> LogicalMap {
        var output = shapes[0]
        output[axis] = shapes.reduce(0) { $0 + $1[axis] }
        let outer = output[..<axis].reduce(1, *)
        var input: [Int32] = []
        var element: [Int32] = []
        for block in 0..<outer {
            for (index, shape) in shapes.enumerated() {
                let inner = shape[axis...].reduce(1, *)
                for offset in 0..<inner {
                    input.append(Int32(index))
                    element.append(Int32(block * inner + offset))
                }
            }
        }
        return LogicalMap(dimensions: output, input: input, element: element)
    }

    /// Expand (NumPy broadcasting of `dimensions` to `output`).
    static func expand(_ dimensions: [Int], to output: [Int]) -> LogicalMap {
        LogicalMap(dimensions: output, elements: Broadcast.sources(from: dimensions, to: output))
    }
}
