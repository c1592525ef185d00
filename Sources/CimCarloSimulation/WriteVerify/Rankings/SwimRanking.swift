import CimCarloCrossbar

/// `swim`: SWIM's second-derivative score |S + 2g| + 1e-6·|w|/max|W| in per-layer max|W| units,
/// S the Gauss–Newton curvature summed over the training images and g the gradient of the
/// batch-mean cross-entropy summed over batches of 128 (Yan, Hu, Shi, DAC 2022, and the SWIM
/// code; `WeightSensitivity.swimScores`).
package struct SwimRanking: SelectionRanking {
    package var formula: String { "swim: |S + 2 grad| + 1e-6 |w| / max|W|, per-layer max|W| units" }

    package func scores(_ selector: PolicySelector) -> [[Float]] {
        selector.mapping.layers.map { selector.sensitivity!.swimScores(network: selector.network, node: $0.nodeIndex) }
    }
}
