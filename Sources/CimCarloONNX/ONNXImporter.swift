import CimCarloNetwork
import CimCarloSupport
import Foundation
import SwiftProtobuf

/// An ONNX model cimcarlo cannot import, naming the file, the node and its op type.
public struct ONNXImportError: CimCarloError, Equatable, Sendable {
    public var kind: CimCarloErrorKind { .badInput }
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

/// Several nodes cimcarlo cannot import: the first named, the count given, `check` pointed to.
public struct ONNXImportErrors: CimCarloError, Sendable {
    public var kind: CimCarloErrorKind { .badInput }
    public var problems: [ONNXImportError]
    public var description: String {
        guard problems.count > 1 else { return problems[0].description }
        let each = problems.map { problem in
            problem.node.map { "node `\($0)` (\(problem.opType ?? "")): \(problem.reason)" } ?? problem.reason
        }
        return "\(problems[0].path): \(problems.count) problems: " + each.joined(separator: "; ")
            + " (`cimcarlo check \(problems[0].path)` lists every node and what to do)"
    }
}

/// Where one ONNX node ends up.
public enum ONNXPlacement: String, Sendable, Equatable {
    /// A weight layer mapped onto crossbar arrays.
    case crossbar
    /// Computed digitally, exactly (activations, pooling, attention products, normalisation).
    case digital
    /// Evaluated at load: shape arithmetic, constants, input normalisation, biases, identities.
    case folded = "folded at load"
    /// Does not lead to the graph output.
    case unused = "not used"
    case unsupported
    /// Reads a value an unsupported node would have made.
    case skipped = "after a problem"
}

/// One ONNX node as `cimcarlo check` lists it.
public struct ONNXNodeReport: Sendable, Equatable {
    /// The name as the exporter wrote it (its op type and first output when it wrote none).
    public var name: String
    public var opType: String
    /// The first output's dimensions at batch 1, when known.
    public var outputDimensions: [Int]?
    public var placement: ONNXPlacement
}

/// What `cimcarlo check` reports of an ONNX model: every node, where it runs, and every problem.
public struct ONNXInspection: Sendable {
    public var path: String
    public var opset: Int
    public var irVersion: Int
    public var producer: String
    /// External data files, as the model names them.
    public var externalDataFiles: [String]
    public var nodes: [ONNXNodeReport]
    public var problems: [ONNXImportError]
    /// BatchNormalization nodes in the graph (0 when the exporter folded them into convolutions).
    public var batchNormalizationNodes: Int
    /// The network, when there is no problem.
    public var network: Network?
}

/// Reads an ONNX model (opsets 11 to 21, as PyTorch's exporters write it) into a `Network`.
///
/// Values are read at batch 1 — a graph exported at batch 1 (torch ≥ 2.9's default exporter)
/// or with a symbolic batch runs as it is on every sample — so every shape is known at load
/// and shape arithmetic (`Shape`, `Gather`, `Concat`, `Reshape` of computed shapes, …) folds
/// away. Constant weights of `Conv`, `Gemm` and `MatMul` map onto crossbars; everything else
/// runs digitally (`Rearrange`, `Elementwise`, `Softmax`, `Reduce`, `LayerNormalization`,
/// `ActivationProduct`, …). Constant `Sub`/`Div`/`Mul`/`Add` on the graph input fold into the
/// input normalisation, constant `Add` after a weight layer into its bias; `Identity`,
/// `Dropout` and float `Cast` vanish. Tensors in external files are read from beside the model.
public enum ONNXImporter {
    /// The opsets of the default domain cimcarlo reads.
    public static let supportedOpsets: ClosedRange<Int> = 11...21

    /// The op types cimcarlo imports (those marked in `foldedOnly` only on constants).
    public static let supportedOps = [
        "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape",
        "Conv", "Div", "Dropout", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool",
        "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "Log",
        "LogSoftmax", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Pad", "Pow", "Range", "Reciprocal",
        "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Resize", "Shape", "Sigmoid", "Size", "Slice",
        "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Transpose", "Unsqueeze",
    ]
    /// Op types read only when every input is constant (shape arithmetic).
    public static let foldedOnly = [
        "And", "Ceil", "Equal", "Floor", "Greater", "Less", "Mod", "Not", "Or", "ReduceMin", "ReduceProd", "Where",
    ]

    /// Every op type cimcarlo reads in some form.
    static let knownOps = Set(supportedOps + foldedOnly + ["Upsample"])

    /// Reads and converts the model at `path`; throws its first problem (and how many there are).
    public static func load(path: String) throws -> Network {
        let inspection = try inspect(path: path)
        guard let network = inspection.network else { throw ONNXImportErrors(problems: inspection.problems) }
        return network
    }

    /// Converts the model at `path`, collecting every unsupported node instead of stopping at
    /// the first. Throws only when the file is no usable ONNX graph at all.
    public static func inspect(path: String) throws -> ONNXInspection {
        let model = try parse(path: path)
        let externalData = ExternalData(modelPath: path)
        var builder = try ONNXGraphBuilder(model: model, path: path, externalData: externalData)
        let network = try builder.build()
        return ONNXInspection(
            path: path, opset: builder.opset, irVersion: Int(model.irVersion),
            producer: [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
            externalDataFiles: externalData.locations, nodes: builder.reports, problems: builder.problems,
            batchNormalizationNodes: model.graph.node.filter { $0.opType == "BatchNormalization" }.count,
            network: network)
    }

    /// The files beside the model that hold its external tensors, as absolute paths, in the
    /// order the model first names them (part of what a result depends on).
    public static func externalDataFiles(path: String) throws -> [String] {
        let model = try parse(path: path)
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        var tensors = model.graph.initializer
        for node in model.graph.node where node.opType == "Constant" {
            if let value = node.attribute("value"), value.hasT { tensors.append(value.t) }
        }
        var files: [String] = []
        for tensor in tensors where tensor.dataLocation == .external {
            for entry in tensor.externalData where entry.key == "location" {
                let file = folder.appendingPathComponent(entry.value).standardizedFileURL.path
                if !files.contains(file) { files.append(file) }
            }
        }
        return files
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
