import CimCarloCrossbar
import CimCarloDevices
import CimCarloNetwork
import CimCarloSupport

/// How a budgeted policy ranks the weights of every mapped layer (higher = write-verified first):
/// one type per kind, in its own file with its formula. `PolicySelector` takes the top
/// `budget` fraction of the scores.
package protocol SelectionRanking {
    /// The score's formula, as `/sensitivity` records it.
    var formula: String { get }
    /// The scores of every weight of every mapped layer of `selector`'s network.
    func scores(_ selector: PolicySelector) -> [[Float]]
}

extension WriteVerifyPolicy.Kind {
    /// How the kind ranks weights; nil for none and all, which select nothing.
    package var ranking: (any SelectionRanking)? {
        switch self {
        case .none, .all: nil
        case .random: RandomRanking()
        case .magnitude: MagnitudeRanking()
        case .gradient: GradientRanking()
        case .swim: SwimRanking()
        case .variance: VarianceRanking()
        }
    }
}
