import CimCarloCrossbar

/// `gradient`: the first-order sensitivity |max|W| · ∂L/∂w| of the training loss, per-layer
/// max|W| units (`WeightSensitivity.gradientScores`).
package struct GradientRanking: SelectionRanking {
    package var formula: String { "gradient: |grad|, per-layer max|W| units" }

    package func scores(_ selector: PolicySelector) -> [[Float]] {
        selector.mapping.layers.map {
            selector.sensitivity!.gradientScores(network: selector.network, node: $0.nodeIndex)
        }
    }
}
