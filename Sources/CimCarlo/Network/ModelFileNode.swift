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
    func pair(_ name: String, in range: ClosedRange<Int> = 1...(1 << 24), default fallback: Int? = nil) throws -> (Int, Int) {
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
        try file.write(HDF5Array(values: values, shape: shape), to: group + "/" + name)
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

extension ReLU: ParameterlessOperation {}
extension Sigmoid: ParameterlessOperation {}
extension Tanh: ParameterlessOperation {}
extension Identity: ParameterlessOperation {}
extension Add: ParameterlessOperation {}
extension Concat: ParameterlessOperation {}
extension Flatten: ParameterlessOperation {}
extension GlobalAveragePool: ParameterlessOperation {}

extension PoolingWindow {
    init(modelFile node: ModelFileNode) throws {
        let (kernelHeight, kernelWidth) = try node.pair("kernel")
        let (strideHeight, strideWidth) = try node.pair("stride", default: nil)
        let pads = try node.padding()
        self.init(kernelHeight: kernelHeight, kernelWidth: kernelWidth, strideHeight: strideHeight,
                  strideWidth: strideWidth, padTop: pads.top, padLeft: pads.left, padBottom: pads.bottom,
                  padRight: pads.right, ceilMode: try node.flag("ceil_mode"))
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("kernel", [kernelHeight, kernelWidth])
        try node.set("stride", [strideHeight, strideWidth])
        try node.set("padding", [padTop, padLeft, padBottom, padRight])
        try node.set("ceil_mode", ceilMode ? 1 : 0)
    }
}

extension MaxPool: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws { self.init(try PoolingWindow(modelFile: node)) }
    func write(modelFile node: ModelFileNode) throws { try window.write(modelFile: node) }
}

extension AveragePool: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        self.init(try PoolingWindow(modelFile: node), countIncludePad: try node.flag("count_include_pad"))
    }

    func write(modelFile node: ModelFileNode) throws {
        try window.write(modelFile: node)
        try node.set("count_include_pad", countIncludePad ? 1 : 0)
    }
}

extension Clip: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        self.init(minimum: try node.float("min", default: -.infinity), maximum: try node.float("max", default: .infinity))
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("min", minimum)
        try node.set("max", maximum)
    }
}

extension LeakyReLU: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws { self.init(alpha: try node.float("alpha")) }
    func write(modelFile node: ModelFileNode) throws { try node.set("alpha", alpha) }
}

extension BatchNormalization: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        let channels = try node.integer("channels")
        self.init(channels: channels, gamma: try node.parameters("gamma", shape: [channels]),
                  beta: try node.parameters("beta", shape: [channels]), mean: try node.parameters("mean", shape: [channels]),
                  variance: try node.parameters("variance", shape: [channels]), epsilon: try node.float("epsilon"))
        guard variance.allSatisfy({ $0 >= 0 }), epsilon >= 0, epsilon.isFinite else {
            throw node.fail("variance and epsilon must be ≥ 0")
        }
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("channels", channels)
        try node.set("epsilon", epsilon)
        for (key, values) in [("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)] {
            try node.write(key, values, shape: [channels])
        }
    }
}

extension Dense: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        // Version 1 wrote `inputs` and `outputs`; version 2 PyTorch's names (`inputs` lists graph inputs).
        let inputs = try node.integer(node.has("in_features") ? "in_features" : "inputs")
        let outputs = try node.integer(node.has("out_features") ? "out_features" : "outputs")
        self.init(name: name, inputs: inputs, outputs: outputs,
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

extension Convolution: ModelFileCodable {
    init(modelFile node: ModelFileNode, name: String) throws {
        let (inputs, outputs) = (try node.integer("in_channels"), try node.integer("out_channels"))
        let groups = node.has("groups") ? try node.integer("groups") : 1
        guard inputs % groups == 0, outputs % groups == 0 else {
            throw node.fail("`groups` (\(groups)) must divide in_channels (\(inputs)) and out_channels (\(outputs))")
        }
        let kernel = try node.integers("kernel", in: 1...(1 << 12))
        guard kernel.count == 2 else { throw node.fail("needs `kernel` = [kH, kW] ≥ 1") }
        let (strideHeight, strideWidth) = try node.pair("stride")
        let (dilationHeight, dilationWidth) = try node.pair("dilation", default: 1)
        let pads = try node.padding()
        self.init(name: name, inputChannels: inputs, outputChannels: outputs, kernelHeight: kernel[0],
                  kernelWidth: kernel[1], strideHeight: strideHeight, strideWidth: strideWidth, padTop: pads.top,
                  padLeft: pads.left, padBottom: pads.bottom, padRight: pads.right, dilationHeight: dilationHeight,
                  dilationWidth: dilationWidth, groups: groups, weight: [], bias: [])
        weight = try node.parameters("weight", shape: weightShape)
        bias = try node.parameters("bias", shape: [outputs])
    }

    func write(modelFile node: ModelFileNode) throws {
        try node.set("in_channels", inputChannels)
        try node.set("out_channels", outputChannels)
        try node.set("kernel", [kernelHeight, kernelWidth])
        try node.set("stride", [strideHeight, strideWidth])
        try node.set("padding", [padTop, padLeft, padBottom, padRight])
        try node.set("dilation", [dilationHeight, dilationWidth])
        try node.set("groups", groups)
        try node.write("weight", weight, shape: weightShape)
        try node.write("bias", bias, shape: [outputChannels])
    }
}
