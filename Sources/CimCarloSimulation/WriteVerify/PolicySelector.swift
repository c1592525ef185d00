import CimCarloCrossbar
import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport
import Foundation

/// Chooses, for each budgeted policy, which weights are write-verified: the top `budget`
/// fraction by the policy's score, across all layers at once (`global`, SWIM's choice: one
/// quantile) or within each layer (`layer`). Exactly `round(budget · weights)` are chosen;
/// ties go to the earlier layer and index.
public struct PolicySelector {
    public enum Scope: String, Sendable, CaseIterable { case global, layer }

    public let network: Network
    public let mapping: CrossbarMapping
    public let device: DeviceModel
    public let seed: UInt64
    public let scope: Scope
    /// Needed by the gradient, swim and variance kinds.
    public let sensitivity: WeightSensitivity?

    public init(
        network: Network, mapping: CrossbarMapping, device: DeviceModel, seed: UInt64, scope: Scope,
        sensitivity: WeightSensitivity?
    ) {
        self.network = network
        self.mapping = mapping
        self.device = device
        self.seed = seed
        self.scope = scope
        self.sensitivity = sensitivity
    }

    /// The score of every weight of every mapped layer under `kind` (higher = verify first;
    /// `SelectionRanking`, one file per kind; zeros for none and all).
    public func scores(_ kind: WriteVerifyPolicy.Kind) -> [[Float]] {
        kind.ranking?.scores(self) ?? mapping.layers.map { Array(repeating: 0, count: $0.weightCount) }
    }

    /// `policy` with its selection filled in (unchanged for none and all).
    public func select(_ policy: WriteVerifyPolicy) -> WriteVerifyPolicy {
        guard policy.kind.isBudgeted else { return policy }
        let scores = scores(policy.kind)
        var selection = scores.map { [UInt8](repeating: 0, count: $0.count) }
        func choose(_ candidates: [(layer: Int, index: Int, score: Float)]) {
            let count = Int((policy.budget * Double(candidates.count)).rounded())
            let ranked = candidates.sorted {
                $0.score != $1.score ? $0.score > $1.score : ($0.layer, $0.index) < ($1.layer, $1.index)
            }
            for chosen in ranked.prefix(count) { selection[chosen.layer][chosen.index] = 1 }
        }
        switch scope {
        case .global:
            choose(
                scores.enumerated().flatMap { layer, values in
                    values.enumerated().map { (layer, $0.offset, $0.element) }
                })
        case .layer:
            for (layer, values) in scores.enumerated() {
                choose(values.enumerated().map { (layer, $0.offset, $0.element) })
            }
        }
        var result = policy
        result.selection = selection
        return result
    }
}
