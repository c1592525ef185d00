extension Network {
    /// The network with every batch normalisation that directly follows a convolution or dense
    /// node (and is that node's only reader) folded into its weights and bias:
    /// `W'[o, ·] = scale_o · W[o, ·]`, `b'_o = scale_o · b_o + shift_o`, with
    /// `scale = γ / √(σ² + ε)` and `shift = β − μ · scale` — what chips that do not compute
    /// batch normalisation digitally program. Returns the names of the folded nodes; batch
    /// normalisations that cannot be folded stay digital.
    public func foldingBatchNormalization() throws -> (network: Network, folded: [String]) {
        var nodes = self.nodes
        var removed = Set<Int>()
        var renamed: [String: String] = [:]
        var folded: [String] = []
        for (index, node) in self.nodes.enumerated() {
            guard let normalization = node.operation as? BatchNormalization,
                let producerValue = inputValues[index].first, producerValue > 0
            else { continue }
            let producer = producerValue - 1
            guard var operation = nodes[producer].operation as? any CrossbarOperation,
                consumers(ofNode: producer) == [index],
                operation.outputCount == normalization.channels
            else { continue }
            let (scale, shift) = (normalization.scale, normalization.shift)
            let fanIn = operation.fanIn
            for output in 0..<operation.outputCount {
                for element in (output * fanIn)..<((output + 1) * fanIn) { operation.weight[element] *= scale[output] }
                operation.bias[output] = operation.bias[output] * scale[output] + shift[output]
            }
            nodes[producer].operation = operation
            removed.insert(index)
            renamed[node.name] = nodes[producer].name
            folded.append(node.name)
        }
        guard !folded.isEmpty else { return (self, []) }
        let kept = nodes.indices.filter { !removed.contains($0) }.map { index in
            var node = nodes[index]
            node.inputs = node.inputs.map { renamed[$0] ?? $0 }
            return node
        }
        var network = self
        try network.replaceNodes(kept)
        return (network, folded)
    }
}
