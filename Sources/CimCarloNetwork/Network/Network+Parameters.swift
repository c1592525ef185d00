extension Network {
    /// Indices of the nodes whose weights map onto crossbars, in execution order.
    public var weightNodeIndices: [Int] {
        nodes.indices.filter { nodes[$0].operation is any CrossbarOperation }
    }

    /// The crossbar operation of node `index`, nil for other operations.
    public func crossbarOperation(ofNode index: Int) -> (any CrossbarOperation)? {
        nodes[index].operation as? any CrossbarOperation
    }

    /// Gives `body` in-place access to the weights and biases of crossbar node `index`
    /// without copying them. Other nodes are left alone.
    public mutating func modifyParameters(
        ofNode index: Int,
        _ body: (inout [Float], inout [Float]) throws -> Void
    ) rethrows {
        guard var operation = nodes[index].operation as? any CrossbarOperation else { return }
        // Take the arrays out first so they are uniquely referenced while mutated.
        nodes[index].operation = Identity()
        var (weight, bias) = (operation.weight, operation.bias)
        (operation.weight, operation.bias) = ([], [])
        defer {
            (operation.weight, operation.bias) = (weight, bias)
            nodes[index].operation = operation
        }
        try body(&weight, &bias)
    }

    /// The weights of crossbar node `index` (empty for other nodes).
    public func weights(ofNode index: Int) -> [Float] {
        crossbarOperation(ofNode: index)?.weight ?? []
    }

    /// The index of the node called `name`.
    public func nodeIndex(named name: String) -> Int? {
        nodes.firstIndex { $0.name == name }
    }
}
