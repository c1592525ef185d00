import Foundation

/// A model file that cannot be read or does not describe a valid network.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// The HDF5 model file: see README, "Model file format".
///
/// ```
/// attributes on /  format = "cimcarlo.model", format_version = 1,
///                  input_shape int64 [C, H, W], input_mean, input_std (float32),
///                  layer_count, num_classes (int64), plus free-form provenance strings
/// /layers/NN       one group per layer, NN = 00, 01, ... in order, attributes
///                  kind (dense|conv2d|maxpool2d|avgpool2d|relu|flatten), name;
///                  dense: inputs, outputs; conv2d: in_channels, out_channels,
///                  kernel [kH, kW], stride, padding; pools: kernel, stride.
///                  Weight layers hold float32 datasets `weight` (PyTorch layout:
///                  dense [out, in], conv2d [out, in, kH, kW]) and `bias` [out].
/// ```
extension Network {
    public static let modelFormat = "cimcarlo.model"
    public static let modelFormatVersion: Int64 = 1

    /// Writes the network and `provenance` (string attributes on `/`) to a new HDF5 file,
    /// replacing `path` only once the file is complete.
    public func save(to path: String, provenance: [String: String] = [:]) throws {
        let shapes = try activationShapes()
        let temporary = path + ".partial"
        do {
            let file = try HDF5File(path: temporary, mode: .createTruncating)
            try file.setAttribute("format", Self.modelFormat)
            try file.setAttribute("format_version", Self.modelFormatVersion)
            try file.setAttribute("input_shape", [Int64(inputShape.channels), Int64(inputShape.height), Int64(inputShape.width)])
            try file.setAttribute("input_mean", inputMean)
            try file.setAttribute("input_std", inputStd)
            try file.setAttribute("layer_count", Int64(layers.count))
            try file.setAttribute("num_classes", Int64(shapes.last!.count))
            for (key, value) in provenance.sorted(by: { $0.key < $1.key }) {
                try file.setAttribute(key, value)
            }
            try file.createGroup("/layers")
            for (index, layer) in layers.enumerated() {
                let group = "/layers/" + Self.layerGroupName(index)
                try file.createGroup(group)
                try file.setAttribute("kind", layer.kind, on: group)
                switch layer {
                case let .dense(dense):
                    try file.setAttribute("name", dense.name, on: group)
                    try file.setAttribute("inputs", Int64(dense.inputs), on: group)
                    try file.setAttribute("outputs", Int64(dense.outputs), on: group)
                    try file.write(HDF5Array(values: dense.weight, shape: [dense.outputs, dense.inputs]), to: group + "/weight")
                    try file.write(dense.bias, to: group + "/bias")
                case let .conv2d(conv):
                    try file.setAttribute("name", conv.name, on: group)
                    try file.setAttribute("in_channels", Int64(conv.inputChannels), on: group)
                    try file.setAttribute("out_channels", Int64(conv.outputChannels), on: group)
                    try file.setAttribute("kernel", [Int64(conv.kernelHeight), Int64(conv.kernelWidth)], on: group)
                    try file.setAttribute("stride", Int64(conv.stride), on: group)
                    try file.setAttribute("padding", Int64(conv.padding), on: group)
                    try file.write(HDF5Array(values: conv.weight, shape: [conv.outputChannels, conv.inputChannels,
                                                                          conv.kernelHeight, conv.kernelWidth]),
                                   to: group + "/weight")
                    try file.write(conv.bias, to: group + "/bias")
                case let .maxPool2d(pool), let .avgPool2d(pool):
                    try file.setAttribute("name", "\(layer.kind)\(index)", on: group)
                    try file.setAttribute("kernel", Int64(pool.kernel), on: group)
                    try file.setAttribute("stride", Int64(pool.stride), on: group)
                case .relu, .flatten:
                    try file.setAttribute("name", "\(layer.kind)\(index)", on: group)
                }
            }
            try file.flush()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        // Atomic replace: a reader never sees a half-written model.
        if rename(temporary, path) != 0 {
            throw ModelFileError(path: path, reason: "cannot move the finished model into place (\(String(cString: strerror(errno))))")
        }
    }

    /// Group name of layer `index`: zero-padded so name order is layer order.
    static func layerGroupName(_ index: Int) -> String {
        index < 10 ? "0\(index)" : "\(index)"
    }

    /// Reads and checks a model file.
    public static func load(from path: String) throws -> Network {
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw ModelFileError(path: path, reason: "cannot \(error.operation)")
        }
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        func integer(_ name: String, on object: String = "/") throws -> Int {
            guard let value = try? file.scalarAttribute(name, on: object, as: Int64.self) else {
                throw fail("\(object) needs an integer attribute `\(name)`")
            }
            return Int(value)
        }
        func float(_ name: String) throws -> Float {
            guard let value = try? file.scalarAttribute(name, as: Float.self), value.isFinite else {
                throw fail("/ needs a finite number attribute `\(name)`")
            }
            return value
        }
        guard (try? file.stringAttribute("format")) == modelFormat else {
            throw fail("not a cimcarlo model (attribute `format` must be \"\(modelFormat)\")")
        }
        let version = try integer("format_version")
        guard version == modelFormatVersion else {
            throw fail("format_version \(version) unsupported (this cimcarlo reads \(modelFormatVersion))")
        }
        guard let inputShape = try? file.numericAttribute("input_shape", as: Int64.self),
              inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 && $0 < 1 << 20 }) else {
            throw fail("/ needs `input_shape` = [C, H, W] with positive entries")
        }
        let inputStd = try float("input_std")
        guard inputStd > 0 else { throw fail("`input_std` must be > 0") }
        let layerCount = try integer("layer_count")
        guard (1...999).contains(layerCount) else { throw fail("`layer_count` must be 1 to 999, is \(layerCount)") }

        func parameters(_ group: String, _ name: String, shape: [Int]) throws -> [Float] {
            guard let array = try? file.read(group + "/" + name, as: Float.self) else {
                throw fail("\(group) needs a float dataset `\(name)`")
            }
            guard array.shape == shape else {
                throw fail("\(group)/\(name) has shape \(array.shape), its attributes say \(shape)")
            }
            guard array.values.allSatisfy({ $0.isFinite }) else {
                throw fail("\(group)/\(name) holds NaN or infinite values")
            }
            return array.values
        }

        var layers: [Layer] = []
        for index in 0..<layerCount {
            let group = "/layers/" + layerGroupName(index)
            guard file.exists(group) else { throw fail("missing layer group \(group) (layer_count is \(layerCount))") }
            guard let kind = try? file.stringAttribute("kind", on: group) else {
                throw fail("\(group) needs a string attribute `kind`")
            }
            let name = (try? file.stringAttribute("name", on: group)) ?? "\(kind)\(index)"
            func positive(_ attribute: String) throws -> Int {
                let value = try integer(attribute, on: group)
                guard value >= 1 && value < 1 << 24 else { throw fail("\(group) attribute `\(attribute)` must be ≥ 1, is \(value)") }
                return value
            }
            switch kind {
            case "dense":
                let (inputs, outputs) = (try positive("inputs"), try positive("outputs"))
                layers.append(.dense(DenseLayer(
                    name: name, inputs: inputs, outputs: outputs,
                    weight: try parameters(group, "weight", shape: [outputs, inputs]),
                    bias: try parameters(group, "bias", shape: [outputs]))))
            case "conv2d":
                let (inputs, outputs) = (try positive("in_channels"), try positive("out_channels"))
                guard let kernel = try? file.numericAttribute("kernel", on: group, as: Int64.self),
                      kernel.count == 2, kernel.allSatisfy({ $0 >= 1 && $0 < 1 << 12 }) else {
                    throw fail("\(group) needs `kernel` = [kH, kW] ≥ 1")
                }
                let padding = try integer("padding", on: group)
                guard padding >= 0 && padding < 1 << 12 else { throw fail("\(group) attribute `padding` must be ≥ 0") }
                let (kH, kW) = (Int(kernel[0]), Int(kernel[1]))
                layers.append(.conv2d(ConvolutionLayer(
                    name: name, inputChannels: inputs, outputChannels: outputs, kernelHeight: kH, kernelWidth: kW,
                    stride: try positive("stride"), padding: padding,
                    weight: try parameters(group, "weight", shape: [outputs, inputs, kH, kW]),
                    bias: try parameters(group, "bias", shape: [outputs]))))
            case "maxpool2d":
                layers.append(.maxPool2d(PoolingLayer(kernel: try positive("kernel"), stride: try positive("stride"))))
            case "avgpool2d":
                layers.append(.avgPool2d(PoolingLayer(kernel: try positive("kernel"), stride: try positive("stride"))))
            case "relu":
                layers.append(.relu)
            case "flatten":
                layers.append(.flatten)
            default:
                throw fail("\(group) has unknown kind `\(kind)` (allowed: dense, conv2d, maxpool2d, avgpool2d, relu, flatten)")
            }
        }
        let network = Network(
            inputShape: ActivationShape(height: Int(inputShape[1]), width: Int(inputShape[2]), channels: Int(inputShape[0])),
            inputMean: try float("input_mean"), inputStd: inputStd, layers: layers)
        do {
            _ = try network.activationShapes()
        } catch let error as NetworkShapeError {
            throw fail(error.description)
        }
        return network
    }

    /// The free-form string attributes of a model file (provenance such as the training command).
    public static func provenance(of path: String) throws -> [String: String] {
        let file = try HDF5File(path: path, mode: .readOnly)
        var result: [String: String] = [:]
        for key in ["architecture", "training_command", "training_seed", "test_accuracy", "trained_with", "created_utc"] {
            if let value = try? file.stringAttribute(key) { result[key] = value }
        }
        return result
    }
}
