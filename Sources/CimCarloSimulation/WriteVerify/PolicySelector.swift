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

    /// The score of every weight of every mapped layer under `kind` (higher = verify first).
    public func scores(_ kind: WriteVerifyPolicy.Kind) -> [[Float]] {
        let random = CounterRandom(seed: seed, instance: 0, purpose: .policySelection)
        let verifiedSpread = VerifiedSpread(device: kind == .variance ? device : .ideal, seed: seed)
        var offset = 0
        return mapping.layers.map { layer in
            let index = layer.nodeIndex
            let weights = network.weights(ofNode: index)
            let m = weights.reduce(0) { max($0, abs($1)) }
            defer { offset += weights.count }
            switch kind {
            case .none, .all:
                return weights.map { _ in 0 }
            case .random:
                return weights.indices.map { Float(random.uniform(offset + $0)) }
            case .magnitude:
                return weights.map { m > 0 ? abs($0) / m : 0 }
            case .gradient:
                return sensitivity!.gradientScores(network: network, node: index)
            case .swim:
                return sensitivity!.swimScores(network: network, node: index)
            case .variance:
                let curvature = sensitivity!.normalizedCurvature(network: network, node: index)
                let removed = removedVariance(layer, scale: m, verifiedSpread: verifiedSpread)
                return zip(curvature, removed).map { $0 * $1 }
            }
        }
    }

    /// Per weight: the variance (units of max|W|²) that write-verifying its devices removes,
    /// `Σ_d c_d² (σ²_one-shot(x_d) − σ²_verified(x_d)) / m²`, the verified spread from the
    /// device's write-verify model (`VerifiedSpread`).
    func removedVariance(_ layer: LayerMapping, scale m: Float, verifiedSpread: VerifiedSpread) -> [Float] {
        guard m > 0 else { return Array(repeating: 0, count: layer.weightCount) }
        let perWeight = layer.devicesPerWeight
        var targets = [Float](repeating: 0, count: perWeight)
        var coefficients = targets
        return (0..<layer.weightCount).map { weightIndex in
            targets.withUnsafeMutableBufferPointer { targets in
                coefficients.withUnsafeMutableBufferPointer { coefficients in
                    layer.encode(
                        weights: weightIndex..<(weightIndex + 1), targets: targets.baseAddress!,
                        coefficients: coefficients.baseAddress!)
                }
            }
            var sum = 0.0
            for index in 0..<perWeight {
                let x = Double(targets[index])
                let removed = device.oneShotVariance(at: x) - verifiedSpread.variance(at: x)
                let coefficient = Double(coefficients[index])
                sum += coefficient * coefficient * removed
            }
            return Float(sum / Double(m * m))
        }
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
