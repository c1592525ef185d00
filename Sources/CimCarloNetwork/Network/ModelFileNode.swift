import CimCarloSupport

/// One node's group in a model file (`/layers/NN`), with typed, checked access to its
/// attributes and datasets; every failure names the group and the key.
struct ModelFileNode {
    let file: HDF5File
    /// The group, e.g. `/layers/03`.
    let group: String
    /// The model file's path, for errors.
    let path: String

    func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: "\(group): \(reason)") }

    func has(_ name: String) -> Bool { file.hasAttribute(name, on: group) }

    /// Integer attribute(s), scalar or array, each in `range`.
    func integers(_ name: String, in range: ClosedRange<Int> = 1...(1 << 24)) throws -> [Int] {
        guard let values = try? file.numericAttribute(name, on: group, as: Int64.self), !values.isEmpty else {
            throw fail("needs an integer attribute `\(name)`")
        }
        guard values.allSatisfy({ range.contains(Int($0)) }) else {
            throw fail("attribute `\(name)` must be in \(range.lowerBound)…\(range.upperBound), is \(values)")
        }
        return values.map(Int.init)
    }

    func integer(_ name: String, in range: ClosedRange<Int> = 1...(1 << 24)) throws -> Int {
        let values = try integers(name, in: range)
        guard values.count == 1 else { throw fail("attribute `\(name)` must be one integer, is \(values)") }
        return values[0]
    }

    /// A pair `[height, width]` given as one value or two; `fallback` when absent and given.
    func pair(_ name: String, in range: ClosedRange<Int> = 1...(1 << 24), default fallback: Int? = nil) throws -> (
        Int, Int
    ) {
        if !has(name), let fallback { return (fallback, fallback) }
        let values = try integers(name, in: range)
        switch values.count {
        case 1: return (values[0], values[0])
        case 2: return (values[0], values[1])
        default: throw fail("attribute `\(name)` must be one value or [height, width], is \(values)")
        }
    }

    /// Padding `[top, left, bottom, right]` given as one value, two (`[vertical, horizontal]`) or four; 0 when absent.
    func padding(_ name: String = "padding") throws -> (top: Int, left: Int, bottom: Int, right: Int) {
        guard has(name) else { return (0, 0, 0, 0) }
        let values = try integers(name, in: 0...(1 << 12))
        switch values.count {
        case 1: return (values[0], values[0], values[0], values[0])
        case 2: return (values[0], values[1], values[0], values[1])
        case 4: return (values[0], values[1], values[2], values[3])
        default: throw fail("attribute `\(name)` must be one value or [top, left, bottom, right], is \(values)")
        }
    }

    func float(_ name: String, default fallback: Float? = nil) throws -> Float {
        if !has(name), let fallback { return fallback }
        guard let value = try? file.scalarAttribute(name, on: group, as: Float.self), !value.isNaN else {
            throw fail("needs a number attribute `\(name)`")
        }
        return value
    }

    func flag(_ name: String) throws -> Bool {
        has(name) ? try integer(name, in: 0...1) == 1 : false
    }

    /// A float32 dataset of exactly `shape`, finite.
    func parameters(_ name: String, shape: [Int]) throws -> [Float] {
        guard let array = try? file.read(group + "/" + name, as: Float.self) else {
            throw fail("needs a float dataset `\(name)`")
        }
        let dataset = group + "/" + name
        guard array.shape == shape else {
            throw ModelFileError(path: path, reason: "\(dataset) has shape \(array.shape), its attributes say \(shape)")
        }
        guard array.values.allSatisfy(\.isFinite) else {
            throw ModelFileError(path: path, reason: "\(dataset) holds NaN or infinite values")
        }
        return array.values
    }

    func set(_ name: String, _ value: Int) throws { try file.setAttribute(name, Int64(value), on: group) }
    func set(_ name: String, _ values: [Int]) throws { try file.setAttribute(name, values.map(Int64.init), on: group) }
    func set(_ name: String, _ value: Float) throws { try file.setAttribute(name, value, on: group) }
    func set(_ name: String, _ value: String) throws { try file.setAttribute(name, value, on: group) }
    func write(_ name: String, _ values: [Float], shape: [Int]) throws {
        try file.write(ShapedArray(values: values, shape: shape), to: group + "/" + name)
    }
}

/// An operation that can be saved in and read from a model file.
protocol ModelFileCodable: NetworkOperation {
    /// Reads the operation from its node group (`name` is the node's).
    init(modelFile node: ModelFileNode, name: String) throws
    /// Writes its attributes and datasets into its node group (`kind`, `name`, `inputs` are written for it).
    func write(modelFile node: ModelFileNode) throws
}

extension ModelFileCodable {
    func write(modelFile node: ModelFileNode) throws {}
}

/// Operations without parameters are read by kind alone.
protocol ParameterlessOperation: ModelFileCodable { init() }

extension ParameterlessOperation {
    init(modelFile node: ModelFileNode, name: String) throws { self.init() }
}
