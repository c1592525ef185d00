import CimCarloCrossbar
import CimCarloSupport

/// `random`: a uniform draw per weight from the study's seed (purpose `policySelection`,
/// counter the weight's index among all mapped weights), the same on every chip.
package struct RandomRanking: SelectionRanking {
    package var formula: String { "random: uniform(0, 1) per weight" }

    package func scores(_ selector: PolicySelector) -> [[Float]] {
        let random = CounterRandom(seed: selector.seed, instance: 0, purpose: .policySelection)
        var offset = 0
        return selector.mapping.layers.map { layer in
            defer { offset += layer.weightCount }
            return (0..<layer.weightCount).map { Float(random.uniform(offset + $0)) }
        }
    }
}
