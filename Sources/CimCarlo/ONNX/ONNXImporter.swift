import Foundation
import SwiftProtobuf

/// An ONNX model cimcarlo cannot import, naming the file, the node and its op type.
public struct ONNXImportError: CimCarloError, Equatable {
    public var exitCode: Int32 { ExitStatus.badInput }
    public var path: String
    /// The node's name and op type, when a node is at fault.
    public var node: String?
    public var opType: String?
    public var reason: String

    public var description: String {
        guard let node, let opType else { return "\(path): \(reason)" }
        return "\(path): node `\(node)` (\(opType)): \(reason)"
    }
}

/// Reads an ONNX model (opsets 11 to 21) into a `Network`.
///
/// Initializers and `Constant` nodes are folded into the operations that read them; a prefix
/// of constant `Sub`/`Div`/`Mul`/`Add` on the graph input (input normalisation) becomes the
/// network's per-channel `inputMean`/`inputStd`; `MatMul` + `Add` of a constant becomes one
/// dense node, and so does `Gemm`; `Identity` and `Dropout` vanish. Nodes that do not lead to
/// the graph output are dropped. Anything else — an unsupported op, a weight computed at run
/// time, a shape that does not fit — is an `ONNXImportError`.
public enum ONNXImporter {
    /// The opsets of the default domain cimcarlo reads.
    public static let supportedOpsets: ClosedRange<Int> = 11...21

    /// The op types cimcarlo imports.
    public static let supportedOps = [
        "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout", "Flatten",
        "Gemm", "GlobalAveragePool", "Identity", "LeakyRelu", "MatMul", "MaxPool", "Mul", "Relu", "Reshape", "Sigmoid",
        "Sub", "Sum", "Tanh",
    ]

    /// Reads and converts the model at `path`.
    public static func load(path: String) throws -> Network {
        var builder = try ONNXGraphBuilder(model: try parse(path: path), path: path)
        return try builder.build()
    }

    /// The model's metadata (`metadata_props`, plus `producer_name` and `producer_version`).
    public static func metadata(path: String) throws -> [String: String] {
        let model = try parse(path: path)
        var result = Dictionary(model.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
        if model.hasProducerName { result["producer_name"] = model.producerName }
        if model.hasProducerVersion { result["producer_version"] = model.producerVersion }
        return result
    }

    static func parse(path: String) throws -> Onnx_ModelProto {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ONNXImportError(path: path, reason: "cannot read the file")
        }
        let model: Onnx_ModelProto
        do {
            model = try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw ONNXImportError(
                path: path, reason: "not a valid ONNX model (the protobuf does not parse: truncated or another format)")
        }
        guard model.hasGraph, !model.graph.node.isEmpty else {
            throw ONNXImportError(path: path, reason: "not a valid ONNX model (no graph nodes)")
        }
        return model
    }
}

/// The conversion of one ONNX graph, node by node, in the graph's (topological) order.
struct ONNXGraphBuilder {
    let path: String
    let graph: Onnx_GraphProto
    let opset: Int
    /// Constant tensors by ONNX name.
    var constants: [String: ONNXTensor] = [:]
    /// The network value each ONNX tensor is: a node name, or `Network.inputName`.
    var values: [String: String] = [:]
    /// The shape of each network value.
    var shapes: [String: ActivationShape] = [:]
    var nodes: [NetworkNode] = []
    /// The graph input as the first node sees it: `pixel · inputScale + inputShift`, per channel.
    var inputScale: [Double]
    var inputShift: [Double]
    /// Readers of each ONNX tensor (nodes and graph outputs).
    var readers: [String: Int] = [:]
    let inputShape: ActivationShape
    /// The ONNX node being converted, for errors.
    var current: Onnx_NodeProto?

    init(model: Onnx_ModelProto, path: String) throws {
        self.path = path
        graph = model.graph
        let versions = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) }
        guard let opset = versions.first else {
            throw ONNXImportError(path: path, reason: "the model imports no opset of the default ONNX domain")
        }
        guard ONNXImporter.supportedOpsets.contains(opset) else {
            throw ONNXImportError(
                path: path,
                reason:
                    "opset \(opset) is not supported (cimcarlo reads opsets \(ONNXImporter.supportedOpsets.lowerBound) to \(ONNXImporter.supportedOpsets.upperBound))"
            )
        }
        self.opset = opset
        var constants: [String: ONNXTensor] = [:]
        for tensor in graph.initializer {
            constants[tensor.name] = try ONNXTensor(tensor) { ONNXImportError(path: path, reason: $0) }
        }
        self.constants = constants
        let inputs = graph.input.filter { constants[$0.name] == nil }
        guard inputs.count == 1, let input = inputs.first else {
            throw ONNXImportError(
                path: path,
                reason:
                    "the graph must have one image input, has \(inputs.count) (\(inputs.map(\.name).joined(separator: ", ")))"
            )
        }
        let dims = input.type.tensorType.shape.dim.map { dimension -> Int? in
            if case let .dimValue(value)? = dimension.value, value > 0 { return Int(value) }
            return nil
        }
        switch dims.count {
        case 4:
            guard let channels = dims[1], let height = dims[2], let width = dims[3] else {
                throw ONNXImportError(
                    path: path,
                    reason:
                        "input `\(input.name)` must have fixed channels, height and width, has \(input.type.tensorType.shape.dim.map { $0.dimParam.isEmpty ? "\($0.dimValue)" : $0.dimParam })"
                )
            }
            inputShape = ActivationShape(height: height, width: width, channels: channels)
        case 2:
            guard let features = dims[1] else {
                throw ONNXImportError(path: path, reason: "input `\(input.name)` must have a fixed number of features")
            }
            inputShape = ActivationShape(features: features)
        default:
            throw ONNXImportError(
                path: path,
                reason:
                    "input `\(input.name)` has rank \(dims.count); cimcarlo reads images [N, C, H, W] or flat features [N, F]"
            )
        }
        values[input.name] = Network.inputName
        shapes[Network.inputName] = inputShape
        inputScale = Array(repeating: 1, count: inputShape.channels)
        inputShift = Array(repeating: 0, count: inputShape.channels)
        for node in graph.node {
            for name in node.input where !name.isEmpty { readers[name, default: 0] += 1 }
        }
        for output in graph.output { readers[output.name, default: 0] += 1 }
    }

    // MARK: - Errors and lookups

    func fail(_ reason: String) -> ONNXImportError {
        guard let current else { return ONNXImportError(path: path, reason: reason) }
        return ONNXImportError(path: path, node: nodeName(current), opType: current.opType, reason: reason)
    }

    /// The node's name, or its op type and first output when it has none; PyTorch's scoped
    /// names (`/layer1/layer1.0/conv1/Conv`) lose their slashes (`layer1.layer1.0.conv1.Conv`),
    /// which would nest groups in result files.
    func nodeName(_ node: Onnx_NodeProto) -> String {
        let name = node.name.isEmpty ? "\(node.opType)_\(node.output.first ?? "")" : node.name
        return name.split(separator: "/").joined(separator: ".")
    }

    /// The network value of input `index` of the current node (it must be computed, not constant).
    func value(_ index: Int, of node: Onnx_NodeProto) throws -> String {
        guard index < node.input.count, !node.input[index].isEmpty else { throw fail("input \(index) is missing") }
        let name = node.input[index]
        if let value = values[name] { return value }
        if constants[name] != nil {
            throw fail("input `\(name)` is a constant; cimcarlo expects a computed tensor there")
        }
        throw fail("input `\(name)` is produced by no node before it")
    }

    /// The constant input `index` of the current node, nil when absent (empty name or too few inputs).
    func constant(_ index: Int, of node: Onnx_NodeProto, _ role: String) throws -> ONNXTensor? {
        guard index < node.input.count, !node.input[index].isEmpty else { return nil }
        let name = node.input[index]
        guard let tensor = constants[name] else {
            throw fail(
                "its \(role) `\(name)` is computed at run time; cimcarlo maps only constant weights (initializers or Constant nodes)"
            )
        }
        guard tensor.values.allSatisfy(\.isFinite) else {
            throw fail("its \(role) `\(name)` holds NaN or infinite values")
        }
        return tensor
    }

    func requiredConstant(_ index: Int, of node: Onnx_NodeProto, _ role: String) throws -> ONNXTensor {
        guard let tensor = try constant(index, of: node, role) else { throw fail("needs its \(role) (input \(index))") }
        return tensor
    }

    /// Whether `name` is read by exactly one node (so it may be folded into its reader).
    func readOnce(_ name: String) -> Bool { readers[name, default: 0] == 1 }

    // MARK: - Building

    /// Appends a network node for the current ONNX node, reading `inputs`, and checks its shape.
    mutating func append(_ operation: any NetworkOperation, inputs: [String]) throws {
        let node = current!
        var name = nodeName(node)
        while name == Network.inputName || shapes[name] != nil { name += "_" }
        do {
            shapes[name] = try operation.outputShape(for: inputs.map { shapes[$0]! })
        } catch {
            throw fail(error.reason)
        }
        nodes.append(NetworkNode(name: name, inputs: inputs, operation: operation))
        values[node.output[0]] = name
    }

    mutating func build() throws -> Network {
        for node in graph.node {
            current = node
            guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                throw fail("domain `\(node.domain)` is not supported (only the default ONNX domain)")
            }
            try convert(node)
        }
        current = nil
        guard graph.output.count == 1, let output = graph.output.first else {
            throw ONNXImportError(
                path: path, reason: "the graph must have one output (the logits), has \(graph.output.count)")
        }
        guard let last = values[output.name], last != Network.inputName else {
            throw ONNXImportError(
                path: path, reason: "the graph output `\(output.name)` is not computed by any node cimcarlo maps")
        }
        // Keep the nodes the output depends on, with the output last.
        var needed: Set<String> = [last]
        for node in nodes.reversed() where needed.contains(node.name) { needed.formUnion(node.inputs) }
        var kept = nodes.filter { needed.contains($0.name) && $0.name != last }
        kept.append(nodes.first { $0.name == last }!)
        guard inputScale.allSatisfy({ $0 > 0 }) else {
            throw ONNXImportError(
                path: path, reason: "the input normalisation scales a channel by a non-positive factor")
        }
        do {
            let network = try Network(
                inputShape: inputShape, inputMean: zip(inputScale, inputShift).map { Float(-$1 / $0) },
                inputStd: inputScale.map { Float(1 / $0) }, nodes: kept)
            _ = try network.activationShapes()
            return network
        } catch let error as NetworkShapeError {
            throw ONNXImportError(path: path, reason: error.description)
        }
    }
}
