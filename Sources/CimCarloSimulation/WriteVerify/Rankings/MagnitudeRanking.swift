import CimCarloCrossbar

/// `magnitude`: |w| / max|W| of the layer — the largest weights first.
package struct MagnitudeRanking: SelectionRanking {
    package var formula: String { "magnitude: |w| / max|W|" }

    package func scores(_ selector: PolicySelector) -> [[Float]] {
        selector.mapping.layers.map { layer in
            let weights = selector.network.weights(ofNode: layer.nodeIndex)
            let m = weights.reduce(0) { max($0, abs($1)) }
            return weights.map { m > 0 ? abs($0) / m : 0 }
        }
    }
}
