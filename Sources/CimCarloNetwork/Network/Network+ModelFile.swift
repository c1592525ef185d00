import CimCarloSupport
import Foundation

/// A model file that cannot be read or does not describe a valid network.
public struct ModelFileError: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .badInput }
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }

    package init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}

/// The HDF5 model file: see README, "Model file format".
///
/// ```
/// attributes on /  format = "cimcarlo.model", format_version = 1 or 2,
///                  input_shape int64 [C, H, W], input_mean, input_std (float32, one or C values),
///                  layer_count, num_classes (int64), plus free-form provenance strings
/// /layers/NN       one group per node, NN = 00, 01, ... in execution order, attributes
///                  kind, name, inputs (strings: node names or "input"; version 2; absent:
///                  the previous node) and the kind's own attributes and datasets.
/// ```
/// Version 1 files (sequential networks) read as chains; cimcarlo writes version 2.
extension Network {
    public static let modelFormat = "cimcarlo.model"
    public static let modelFormatVersion: Int64 = 2

    /// The operation kinds a model file can hold.
    static let modelFileKinds: [String: any ModelFileCodable.Type] = Dictionary(
        uniqueKeysWithValues: [
            Convolution.self, Dense.self, BatchNormalization.self, MaxPool.self, AveragePool.self,
            GlobalAveragePool.self,
            ReLU.self, Clip.self, LeakyReLU.self, Sigmoid.self, Tanh.self, Add.self, Concat.self, Flatten.self,
            Identity.self,
        ].map { ($0.kind, $0 as any ModelFileCodable.Type) })

    /// Writes the network and `provenance` (string attributes on `/`) to a new HDF5 file,
    /// replacing `path` only once the file is complete.
    public func save(to path: String, provenance: [String: String] = [:]) throws {
        let shapes = try activationShapes()
        let temporary = path + ".partial"
        do {
            let file = try HDF5File(path: temporary, mode: .createTruncating)
            try file.setAttribute("format", Self.modelFormat)
            try file.setAttribute("format_version", Self.modelFormatVersion)
            try file.setAttribute(
                "input_shape", [Int64(inputShape.channels), Int64(inputShape.height), Int64(inputShape.width)])
            try file.setAttribute("input_mean", inputMean, asArray: inputMean.count > 1)
            try file.setAttribute("input_std", inputStd, asArray: inputStd.count > 1)
            try file.setAttribute("layer_count", Int64(nodes.count))
            try file.setAttribute("num_classes", Int64(shapes.last!.count))
            for (key, value) in provenance.sorted(by: { $0.key < $1.key }) {
                try file.setAttribute(key, value)
            }
            try file.createGroup("/layers")
            for (index, node) in nodes.enumerated() {
                guard let operation = node.operation as? any ModelFileCodable else {
                    throw ModelFileError(
                        path: path, reason: "node `\(node.name)` (\(node.operation.kind)) cannot be saved")
                }
                let group = ModelFileNode(file: file, group: "/layers/" + Self.layerGroupName(index), path: path)
                try file.createGroup(group.group)
                try group.set("kind", node.operation.kind)
                try group.set("name", node.name)
                try file.setAttribute("inputs", strings: node.inputs, on: group.group)
                try operation.write(modelFile: group)
            }
            try file.flush()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        // Atomic replace: a reader never sees a half-written model.
        if rename(temporary, path) != 0 {
            throw ModelFileError(
                path: path, reason: "cannot move the finished model into place (\(String(cString: strerror(errno))))")
        }
    }

    /// Group name of node `index`: zero-padded so name order is execution order.
    static func layerGroupName(_ index: Int) -> String {
        index < 10 ? "0\(index)" : "\(index)"
    }

    /// Reads and checks a cimcarlo model file (HDF5). `Network.load(from:)` (CimCarloONNX) reads
    /// ONNX graphs as well, by file extension.
    public static func loadHDF5(from path: String) throws -> Network {
        let file: HDF5File
        do {
            file = try HDF5File(path: path, mode: .readOnly)
        } catch let error as HDF5Error {
            throw ModelFileError(path: path, reason: "cannot \(error.operation)")
        }
        func fail(_ reason: String) -> ModelFileError { ModelFileError(path: path, reason: reason) }
        let root = ModelFileNode(file: file, group: "/", path: path)
        func floats(_ name: String) throws -> [Float] {
            guard let values = try? file.numericAttribute(name, as: Float.self), !values.isEmpty,
                values.allSatisfy(\.isFinite)
            else {
                throw fail("/ needs finite number attribute(s) `\(name)`")
            }
            return values
        }
        guard (try? file.stringAttribute("format")) == modelFormat else {
            throw fail("not a cimcarlo model (attribute `format` must be \"\(modelFormat)\")")
        }
        let version = try root.integer("format_version", in: 0...Int(Int32.max))
        guard (1...Int(modelFormatVersion)).contains(version) else {
            throw fail("format_version \(version) unsupported (this cimcarlo reads 1 to \(modelFormatVersion))")
        }
        guard let inputShape = try? file.numericAttribute("input_shape", as: Int64.self),
            inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 && $0 < 1 << 20 })
        else {
            throw fail("/ needs `input_shape` = [C, H, W] with positive entries")
        }
        let inputStd = try floats("input_std")
        guard inputStd.allSatisfy({ $0 > 0 }) else { throw fail("`input_std` must be > 0") }
        let layerCount = try root.integer("layer_count", in: 0...Int(Int32.max))
        guard (1...9999).contains(layerCount) else { throw fail("`layer_count` must be 1 to 9999, is \(layerCount)") }

        var nodes: [NetworkNode] = []
        for index in 0..<layerCount {
            let node = ModelFileNode(file: file, group: "/layers/" + layerGroupName(index), path: path)
            guard file.exists(node.group) else {
                throw fail("missing layer group \(node.group) (layer_count is \(layerCount))")
            }
            guard let kind = try? file.stringAttribute("kind", on: node.group) else {
                throw node.fail("needs a string attribute `kind`")
            }
            guard let type = modelFileKinds[kind] else {
                throw node.fail(
                    "unknown kind `\(kind)` (allowed: \(modelFileKinds.keys.sorted().joined(separator: ", ")))")
            }
            let name = (try? file.stringAttribute("name", on: node.group)) ?? "\(kind)\(index)"
            let inputs: [String]
            // Version 1 dense layers used `inputs` for their fan-in (an integer), not for graph inputs.
            if node.has("inputs"), (try? file.numericAttribute("inputs", on: node.group, as: Int64.self)) == nil {
                guard let names = try? file.stringsAttribute("inputs", on: node.group), !names.isEmpty else {
                    throw node.fail("attribute `inputs` must name one or more nodes (or \"\(inputName)\")")
                }
                inputs = names
            } else {
                inputs = [nodes.last?.name ?? inputName]
            }
            nodes.append(NetworkNode(name: name, inputs: inputs, operation: try type.init(modelFile: node, name: name)))
        }
        do {
            let network = try Network(
                inputShape: ActivationShape(
                    height: Int(inputShape[1]), width: Int(inputShape[2]), channels: Int(inputShape[0])),
                inputMean: try floats("input_mean"), inputStd: inputStd, nodes: nodes)
            _ = try network.activationShapes()
            return network
        } catch let error as NetworkShapeError {
            throw fail(error.description)
        }
    }

    /// The free-form string attributes of a cimcarlo model file (HDF5): provenance such as the
    /// training command.
    public static func hdf5Provenance(of path: String) throws -> [String: String] {
        let file = try HDF5File(path: path, mode: .readOnly)
        var result: [String: String] = [:]
        for key in [
            "architecture", "training_command", "training_seed", "test_accuracy", "trained_with", "created_utc",
        ] {
            if let value = try? file.stringAttribute(key) { result[key] = value }
        }
        return result
    }
}
