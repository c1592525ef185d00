import CimCarloNetwork
import Foundation

/// An input of an ONNX node: a computed network value or a constant.
enum ONNXOperand {
    /// A network value (a node's name or `Network.inputName`).
    case computed(String)
    case constant(ONNXTensor)
}

/// The conversion of one ONNX graph, node by node, in a topological order.
struct ONNXGraphBuilder {
    let path: String
    let graph: Onnx_GraphProto
    let opset: Int
    let externalData: ExternalData
    /// Constant tensors by ONNX name.
    var constants: [String: ONNXTensor] = [:]
    /// The network value each computed ONNX tensor is: a node name, or `Network.inputName`.
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
    /// The ONNX nodes in the order they are converted.
    let order: [Onnx_NodeProto]
    /// The ONNX node being converted, for errors.
    var current: Onnx_NodeProto?
    /// Every node's report, in `order`, and every problem found.
    var reports: [ONNXNodeReport] = []
    var problems: [ONNXImportError] = []
    /// ONNX tensors an unsupported node would have made.
    var poisoned: Set<String> = []
    /// For each network node, the ONNX node (index into `order`) it came from.
    var origins: [String: Int] = [:]

    init(model: Onnx_ModelProto, path: String, externalData: ExternalData) throws {
        self.path = path
        self.externalData = externalData
        graph = model.graph
        let versions = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }.map { Int($0.version) }
        guard let opset = versions.first else {
            throw ONNXImportError(path: path, reason: "the model imports no opset of the default ONNX domain")
        }
        guard ONNXImporter.supportedOpsets.contains(opset) else {
            throw ONNXImportError(
                path: path,
                reason:
                    "opset \(opset) is not supported (cimcarlo reads opsets \(ONNXImporter.supportedOpsets.lowerBound) to \(ONNXImporter.supportedOpsets.upperBound); re-export with opset_version in that range)"
            )
        }
        self.opset = opset
        var constants: [String: ONNXTensor] = [:]
        for tensor in graph.initializer {
            constants[tensor.name] = try ONNXTensor(tensor, externalData: externalData) {
                ONNXImportError(path: path, reason: $0)
            }
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
        inputShape = try Self.sampleShape(of: input, path: path)
        order = try Self.topologicalOrder(graph, known: Set(constants.keys).union([input.name]), path: path)
        values[input.name] = Network.inputName
        shapes[Network.inputName] = inputShape
        inputScale = Array(repeating: 1, count: inputShape.channels)
        inputShift = Array(repeating: 0, count: inputShape.channels)
        for node in graph.node {
            for name in node.input where !name.isEmpty { readers[name, default: 0] += 1 }
        }
        for output in graph.output { readers[output.name, default: 0] += 1 }
    }

    /// One sample of the graph input: its declared shape with the batch (1, `N`, symbolic or
    /// unknown) read as 1. Images `[N, C, H, W]` lie channel-last; other ranks row-major.
    static func sampleShape(of input: Onnx_ValueInfoProto, path: String) throws -> ActivationShape {
        let declared = input.type.tensorType.shape.dim
        let written = declared.map { $0.dimParam.isEmpty ? "\($0.dimValue)" : $0.dimParam }
        guard (2...5).contains(declared.count) else {
            throw ONNXImportError(
                path: path,
                reason:
                    "input `\(input.name)` has rank \(declared.count) (\(written)); cimcarlo reads images [N, C, H, W], vectors [N, F] and sequences [N, T, F]"
            )
        }
        var dimensions = [1]
        var count = 1
        for dimension in declared.dropFirst() {
            guard case let .dimValue(value)? = dimension.value, value > 0 else {
                throw ONNXImportError(
                    path: path,
                    reason: "input `\(input.name)` must have fixed sizes after the batch axis, has \(written)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(value))
            guard !overflow, product <= 1 << 31 else {
                throw ONNXImportError(
                    path: path, reason: "input `\(input.name)` declares \(written): too many elements per sample")
            }
            count = product
            dimensions.append(Int(value))
        }
        return ActivationShape(dimensions: dimensions, layout: ActivationShape.naturalLayout(dimensions))
    }

    /// The nodes in a topological order (the file's order wherever it is one). Throws, naming
    /// the nodes, when two write one tensor, when an input is made by nothing, or on a cycle.
    static func topologicalOrder(_ graph: Onnx_GraphProto, known: Set<String>, path: String) throws
        -> [Onnx_NodeProto]
    {
        func name(_ node: Onnx_NodeProto) -> String {
            node.name.isEmpty ? "\(node.opType)_\(node.output.first ?? "")" : node.name
        }
        var producer: [String: Int] = [:]
        for (index, node) in graph.node.enumerated() {
            for output in node.output where !output.isEmpty {
                if known.contains(output) {
                    throw ONNXImportError(
                        path: path, node: name(node), opType: node.opType,
                        reason: "writes `\(output)`, which is already a graph input or initializer")
                }
                if let other = producer.updateValue(index, forKey: output) {
                    throw ONNXImportError(
                        path: path, node: name(node), opType: node.opType,
                        reason:
                            "writes `\(output)`, which node `\(name(graph.node[other]))` (\(graph.node[other].opType)) also writes (every tensor needs one producer)"
                    )
                }
            }
        }
        let sources = try graph.node.map { node in
            try Set(node.input.filter { !$0.isEmpty && !known.contains($0) }).map { input in
                guard let source = producer[input] else {
                    throw ONNXImportError(
                        path: path, node: name(node), opType: node.opType,
                        reason: "its input `\(input)` is made by no node and is no initializer or graph input")
                }
                return source
            }
        }
        let (order, stuck) = TopologicalOrder.of(sources: sources)
        if let first = stuck.first {
            let cycle = stuck.prefix(6).map { "`\(name(graph.node[$0]))` (\(graph.node[$0].opType))" }
            throw ONNXImportError(
                path: path, node: name(graph.node[first]), opType: graph.node[first].opType,
                reason: "the graph has a cycle through \(cycle.joined(separator: ", "))")
        }
        return order.map { graph.node[$0] }
    }

    // MARK: - Errors and lookups

    func fail(_ reason: String) -> ONNXImportError {
        guard let current else { return ONNXImportError(path: path, reason: reason) }
        return ONNXImportError(path: path, node: displayName(current), opType: current.opType, reason: reason)
    }

    /// The node's name as the exporter wrote it, or its op type and first output when it wrote none.
    func displayName(_ node: Onnx_NodeProto) -> String {
        node.name.isEmpty ? "\(node.opType)_\(node.output.first ?? "")" : node.name
    }

    /// The node's name for network nodes and result files: PyTorch's scoped names
    /// (`/layer1/layer1.0/conv1/Conv`) lose their slashes (`layer1.layer1.0.conv1.Conv`), which
    /// would nest groups in result files.
    func nodeName(_ node: Onnx_NodeProto) -> String {
        displayName(node).split(separator: "/").joined(separator: ".")
    }

    /// Input `index` of `node`, computed or constant; throws when it is missing.
    func operand(_ index: Int, of node: Onnx_NodeProto) throws -> ONNXOperand {
        guard index < node.input.count, !node.input[index].isEmpty else { throw fail("input \(index) is missing") }
        let name = node.input[index]
        if let value = values[name] { return .computed(value) }
        if let tensor = constants[name] { return .constant(tensor) }
        throw fail("input `\(name)` is produced by no node before it")
    }

    /// The network value of input `index` of the current node (it must be computed, not constant).
    func value(_ index: Int, of node: Onnx_NodeProto) throws -> String {
        guard case let .computed(value) = try operand(index, of: node) else {
            throw fail("input `\(node.input[index])` is a constant; cimcarlo expects a computed tensor there")
        }
        return value
    }

    /// The constant input `index` of the current node, nil when absent (empty name or too few inputs).
    func constant(_ index: Int, of node: Onnx_NodeProto, _ role: String) throws -> ONNXTensor? {
        guard index < node.input.count, !node.input[index].isEmpty else { return nil }
        let name = node.input[index]
        guard let tensor = constants[name] else {
            throw fail(
                "its \(role) `\(name)` is computed at run time; cimcarlo needs it constant (an initializer, a Constant node, or shape arithmetic on static shapes)"
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

    /// The dimensions of an operand.
    func dimensions(_ operand: ONNXOperand) -> [Int] {
        switch operand {
        case let .computed(value): shapes[value]!.dimensions
        case let .constant(tensor): tensor.dims
        }
    }

    /// `axis` (negative from the end) as an index into `rank` axes.
    func axis(_ axis: Int, rank: Int) throws -> Int {
        let normalised = axis < 0 ? axis + rank : axis
        guard (0..<rank).contains(normalised) else { throw fail("axis \(axis) is outside rank \(rank)") }
        return normalised
    }

    // MARK: - Building

    /// Appends a network node for the current ONNX node, reading `inputs`, and records it as
    /// ONNX output `output`. Returns the node's name.
    @discardableResult
    mutating func append(_ operation: any NetworkOperation, inputs: [String], output: Int = 0) throws -> String {
        let node = current!
        var name = nodeName(node)
        if output > 0 { name += "_\(output)" }
        while name == Network.inputName || shapes[name] != nil { name += "_" }
        let shape: ActivationShape
        do {
            shape = try operation.outputShape(for: inputs.map { shapes[$0]! })
        } catch {
            throw fail(error.reason)
        }
        guard shape.count >= 1, shape.count <= 1 << 31 else {
            throw fail("its output \(shape) has \(shape.count == 0 ? "no" : "too many") elements")
        }
        shapes[name] = shape
        nodes.append(NetworkNode(name: name, inputs: inputs, operation: operation))
        values[node.output[output]] = name
        return name
    }

    /// Records ONNX output `output` of the current node as a constant.
    mutating func fold(_ tensor: ONNXTensor, output: Int = 0) {
        constants[current!.output[output]] = tensor
    }

    mutating func build() throws -> Network? {
        for node in order {
            current = node
            let before = nodes.count
            var placement = ONNXPlacement.digital
            if node.input.contains(where: { poisoned.contains($0) }) {
                // Still named when its op type is unknown, so that every unsupported op is listed at once.
                placement = .skipped
                if !ONNXImporter.knownOps.contains(node.opType) {
                    problems.append(unsupportedOp(node))
                    placement = .unsupported
                }
                poisoned.formUnion(node.output)
            } else {
                do {
                    guard node.domain.isEmpty || node.domain == "ai.onnx" else {
                        throw fail("domain `\(node.domain)` is not supported (only the default ONNX domain)")
                    }
                    guard !node.output.isEmpty else { throw fail("has no output") }
                    try convert(node)
                    if nodes.count == before {
                        placement = .folded
                    } else if nodes[before...].contains(where: { $0.operation is any CrossbarOperation }) {
                        placement = .crossbar
                    }
                } catch let error as ONNXImportError {
                    nodes.removeSubrange(before...)
                    problems.append(error)
                    placement = .unsupported
                    poisoned.formUnion(node.output)
                }
            }
            for network in nodes[before...] { origins[network.name] = reports.count }
            let first = node.output.first ?? ""
            let dimensions = values[first].flatMap { shapes[$0]?.dimensions } ?? constants[first]?.dims
            reports.append(
                ONNXNodeReport(
                    name: displayName(node), opType: node.opType, outputDimensions: dimensions, placement: placement))
        }
        current = nil
        guard problems.isEmpty else { return nil }
        do {
            return try finish()
        } catch let error as ONNXImportError {
            problems.append(error)
            return nil
        }
    }

    /// The network that computes the graph output, from what `build` converted.
    private mutating func finish() throws -> Network {
        guard graph.output.count == 1, let output = graph.output.first else {
            throw ONNXImportError(
                path: path, reason: "the graph must have one output (the class scores), has \(graph.output.count)")
        }
        guard let last = values[output.name], last != Network.inputName else {
            throw ONNXImportError(
                path: path,
                reason:
                    "the graph output `\(output.name)` is \(constants[output.name] != nil ? "a constant" : "not computed by any node cimcarlo maps")"
            )
        }
        // Keep the nodes the output depends on, with the output last.
        var needed: Set<String> = [last]
        for node in nodes.reversed() where needed.contains(node.name) { needed.formUnion(node.inputs) }
        var kept = nodes.filter { needed.contains($0.name) && $0.name != last }
        kept.append(nodes.first { $0.name == last }!)
        // Nodes that made network nodes the output does not need are "not used"; nodes folded at
        // load keep that placement.
        let used = Set(kept.compactMap { origins[$0.name] })
        for index in reports.indices where reports[index].placement != .folded && !used.contains(index) {
            reports[index].placement = .unused
        }
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
