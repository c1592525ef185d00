import CimCarloSupport

/// A structural or shape error in a network, naming the node.
public struct NetworkShapeError: CimCarloError, Equatable {
    public var kind: CimCarloErrorKind { .badInput }
    /// The node's name (or the network's output, or its input).
    public var node: String
    public var reason: String
    public var description: String { "node `\(node)`: \(reason)" }
}

/// One node of a network graph: an operation applied to named inputs.
public struct NetworkNode: Sendable, Equatable {
    /// Unique within the network.
    public var name: String
    /// Names of the nodes (or `Network.inputName`) whose outputs feed this node, in order.
    public var inputs: [String]
    public var operation: any NetworkOperation

    public init(name: String, inputs: [String], operation: any NetworkOperation) {
        self.name = name
        self.inputs = inputs
        self.operation = operation
    }

    public static func == (lhs: NetworkNode, rhs: NetworkNode) -> Bool {
        lhs.name == rhs.name && lhs.inputs == rhs.inputs && lhs.operation.isEqual(to: rhs.operation)
    }
}

/// A classifier as a directed acyclic graph of operations: input normalisation, then nodes in
/// one topological order; the last node produces the logits.
///
/// Node `i`'s output is value `i + 1`; value 0 is the normalised input.
public struct Network: Sendable, Equatable {
    /// The name by which nodes refer to the network's (normalised) input.
    public static let inputName = "input"

    /// Shape of one input image.
    public var inputShape: ActivationShape
    /// Per-channel input normalisation `x = (pixel − inputMean[c]) / inputStd[c]` (pixels in
    /// [0, 1]); one value applies to every channel.
    public var inputMean: [Float]
    public var inputStd: [Float]
    /// Nodes in execution order (every input is the network input or an earlier node).
    public internal(set) var nodes: [NetworkNode]
    /// For each node, the values it reads (0 = the input, `j + 1` = node `j`).
    public internal(set) var inputValues: [[Int]]

    /// A graph network. Nodes may come in any order; they are put in one topological order
    /// (the given order wherever it already is one). Throws when an input names no node, a
    /// name repeats, or the graph has a cycle.
    public init(
        inputShape: ActivationShape, inputMean: [Float] = [0], inputStd: [Float] = [1],
        nodes: [NetworkNode]
    ) throws {
        self.inputShape = inputShape
        self.inputMean = inputMean
        self.inputStd = inputStd
        var position: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            guard node.name != Self.inputName else {
                throw NetworkShapeError(
                    node: node.name, reason: "`\(Self.inputName)` is reserved for the network input")
            }
            guard position.updateValue(index, forKey: node.name) == nil else {
                throw NetworkShapeError(node: node.name, reason: "the name is used by two nodes")
            }
        }
        for node in nodes {
            for input in node.inputs where input != Self.inputName && position[input] == nil {
                throw NetworkShapeError(node: node.name, reason: "input `\(input)` names no node")
            }
        }
        let (order, stuck) = TopologicalOrder.of(
            sources: nodes.map { Set($0.inputs.filter { $0 != Self.inputName }).map { position[$0]! } })
        if let first = stuck.first {
            throw NetworkShapeError(node: nodes[first].name, reason: "the graph has a cycle through this node")
        }
        self.nodes = order.map { nodes[$0] }
        var value: [String: Int] = [Self.inputName: 0]
        for (index, node) in self.nodes.enumerated() { value[node.name] = index + 1 }
        inputValues = self.nodes.map { $0.inputs.map { value[$0]! } }
    }

    /// A chain: each operation reads the previous one's output. Names are the crossbar
    /// operations' own, else the kind and position (`relu1`).
    public init(
        inputShape: ActivationShape, inputMean: Float = 0, inputStd: Float = 1,
        layers: [any NetworkOperation]
    ) {
        var nodes: [NetworkNode] = []
        for (index, operation) in layers.enumerated() {
            let name = (operation as? any CrossbarOperation)?.name ?? "\(operation.kind)\(index)"
            nodes.append(NetworkNode(name: name, inputs: [nodes.last?.name ?? Self.inputName], operation: operation))
        }
        // A chain of distinct names is always a valid graph.
        try! self.init(inputShape: inputShape, inputMean: [inputMean], inputStd: [inputStd], nodes: nodes)
    }

    /// The network behind an outer normalisation `q = (pixel − mean) / std` (one value or one
    /// per channel): its own normalisation then applies to `q`, so the composition is
    /// `(pixel − mean − M · std) / (std · S)` with its own `M`, `S`.
    public func applyingInputNormalization(mean: [Float], std: [Float]) throws -> Network {
        let channels = inputShape.channels
        for (name, values) in [("input_mean", mean), ("input_std", std)]
        where values.count != 1 && values.count != channels {
            throw NetworkShapeError(
                node: Self.inputName,
                reason: "\(name) has \(values.count) values; the model's input has \(channels) channels")
        }
        func value(_ values: [Float], _ channel: Int) -> Float { values.count == 1 ? values[0] : values[channel] }
        var result = self
        result.inputMean = (0..<channels).map { value(mean, $0) + normalization(channel: $0).mean * value(std, $0) }
        result.inputStd = (0..<channels).map { value(std, $0) * normalization(channel: $0).std }
        return result
    }

    /// The normalisation of channel `c`: `(mean, std)`.
    public func normalization(channel: Int) -> (mean: Float, std: Float) {
        (
            inputMean.count == 1 ? inputMean[0] : inputMean[channel],
            inputStd.count == 1 ? inputStd[0] : inputStd[channel]
        )
    }

    /// The shape of every value: the input first, then each node's output. Throws when a
    /// node's inputs do not fit it, when the normalisation does not fit the input, or when the
    /// network does not end in a flat vector of class scores.
    public func activationShapes() throws -> [ActivationShape] {
        for (name, values) in [("input_mean", inputMean), ("input_std", inputStd)]
        where values.count != 1 && values.count != inputShape.channels {
            throw NetworkShapeError(
                node: Self.inputName,
                reason: "\(name) has \(values.count) values for \(inputShape.channels) channels")
        }
        guard inputStd.allSatisfy({ $0 > 0 && $0.isFinite }), inputMean.allSatisfy(\.isFinite) else {
            throw NetworkShapeError(node: Self.inputName, reason: "input_std must be > 0 and input_mean finite")
        }
        var shapes = [inputShape]
        for (index, node) in nodes.enumerated() {
            do {
                shapes.append(try node.operation.outputShape(for: inputValues[index].map { shapes[$0] }))
            } catch {
                throw NetworkShapeError(node: node.name, reason: "\(node.operation.kind): \(error.reason)")
            }
        }
        guard let last = nodes.last else {
            throw NetworkShapeError(node: Self.inputName, reason: "the network has no nodes")
        }
        guard shapes.last!.isFlat else {
            throw NetworkShapeError(
                node: last.name,
                reason: "the network must end in a flat vector of class scores, ends in \(shapes.last!)")
        }
        return shapes
    }

    /// The number of nodes evaluation runs: all, or all but a final Softmax/LogSoftmax over the
    /// whole output, whose input then holds the class scores. Accuracy (the argmax) is the same
    /// either way, and the cross-entropy of those scores is the model's own negative
    /// log-likelihood; sensitivities start from them.
    public var scoredNodeCount: Int {
        guard let softmax = nodes.last?.operation as? Softmax, softmax.groups.length == softmax.shape.count else {
            return nodes.count
        }
        return nodes.count - 1
    }

    /// The value holding the class scores (see `scoredNodeCount`): 0 is the input, `i + 1` node `i`.
    public var scoreValue: Int {
        scoredNodeCount == nodes.count ? nodes.count : inputValues[nodes.count - 1][0]
    }

    /// Number of output classes (size of the last value).
    public var classCount: Int { (try? activationShapes().last?.count) ?? 0 }

    /// For each value (0 = input, `i + 1` = node `i`), the last node that reads it
    /// (`nodes.count` for the network's output, -1 for values nobody reads).
    var lastUse: [Int] {
        var last = [Int](repeating: -1, count: nodes.count + 1)
        for (index, values) in inputValues.enumerated() {
            for value in values { last[value] = index }
        }
        last[nodes.count] = nodes.count
        return last
    }

    /// The nodes that read node `index`'s output.
    func consumers(ofNode index: Int) -> [Int] {
        inputValues.indices.filter { inputValues[$0].contains(index + 1) }
    }

    /// Replaces the nodes (keeping their order valid) — used by graph rewrites.
    mutating func replaceNodes(_ newNodes: [NetworkNode]) throws {
        self = try Network(inputShape: inputShape, inputMean: inputMean, inputStd: inputStd, nodes: newNodes)
    }

    /// Number of parameters of the crossbar operations (weights and biases).
    public var parameterCount: Int {
        nodes.reduce(0) { total, node in
            guard let operation = node.operation as? any CrossbarOperation else { return total }
            return total + operation.weight.count + operation.bias.count
        }
    }
}
