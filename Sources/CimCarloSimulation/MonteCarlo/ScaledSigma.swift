import CimCarloSupport
import Foundation

/// The chips of a study with scaled-sigma sampling (README, "The tail of the distribution"):
/// the plain study's instances `0 ..< plainChips` at scale 1, then `chipsPerScale` instances at
/// each of `scales`, in order. Every instance has its own draws (seed, instance), so the scales
/// are independent samples, and the plain chips are those of the same study without a tail.
public struct TailPlan: Sendable, Equatable {
    /// The scales s > 1 at which every random deviation is s times its standard-normal draw.
    public var scales: [Double]
    public var chipsPerScale: Int
    /// The instances before the tail's: the plain study's chips.
    public var plainChips: Int
    /// How the scales were chosen, when a pilot chose them (`Study.automaticTailScales`); not
    /// part of the plan (the scales are).
    public var choice: String?

    public init(scales: [Double], chipsPerScale: Int, plainChips: Int, choice: String? = nil) {
        precondition(scales.allSatisfy { $0 > 1 } && chipsPerScale > 0 && plainChips >= 0)
        self.scales = scales
        self.chipsPerScale = chipsPerScale
        self.plainChips = plainChips
        self.choice = choice
    }

    public static func == (a: TailPlan, b: TailPlan) -> Bool {
        a.scales == b.scales && a.chipsPerScale == b.chipsPerScale && a.plainChips == b.plainChips
    }

    /// Every instance of the study, plain and tail.
    public var totalChips: Int { plainChips + scales.count * chipsPerScale }

    /// The index in `scales` of instance `instance`, nil for a plain chip.
    public func scaleIndex(of instance: Int) -> Int? {
        instance < plainChips ? nil : (instance - plainChips) / chipsPerScale
    }

    /// The scale instance `instance` is drawn at.
    public func scale(of instance: Int) -> Double { scaleIndex(of: instance).map { scales[$0] } ?? 1 }
}

/// Scaled-sigma sampling's estimate of a rare failure probability (Sun, Li et al., "Fast
/// statistical analysis of rare circuit failure events via scaled-sigma sampling for
/// high-dimensional variation space", IEEE TCAD 34(7), 2015), for one (policy, time).
///
/// At scale s the failures (accuracy below the threshold) are counted; the model
///
///     log P(s) = α + β · log s + γ / s²
///
/// is fitted by least squares weighted by each point's inverse binomial variance of log P̂,
/// m·P̂/(1 − P̂) (delta method), over the scales with 0 < failures < chips; and
/// P(1) = exp(α + γ). Why this form: for a failure region that is a half-space at distance d
/// from the nominal point in the standard-normal space of all deviations, P(s) = Φ(−d/s), and
/// Mills' asymptote Φ(−x) ≈ φ(x)/x gives log P(s) ≈ −log(d√(2π)) + log s − d²/(2s²) — exactly
/// α + β log s + γ/s² with α = −log(d√(2π)), β = 1, γ = −d²/2. Sun et al. show the same form
/// holds asymptotically for general failure regions, β and γ free. The 95 % interval is the
/// bootstrap percentile interval over the chips of each scale: resampling a scale's chips with
/// replacement redraws its failure count as Binomial(m, P̂), and each replicate is refitted.
public struct ScaledSigmaEstimate: Sendable, Equatable {
    public var scales: [Double]
    /// Chips simulated and failures counted at each scale.
    public var chips: [Int]
    public var failures: [Int]
    /// The fitted α, β, γ; NaN when fewer than three scales have 0 < failures < chips.
    public var alpha: Double
    public var beta: Double
    public var gamma: Double
    /// P(1) = exp(α + γ) (at most 1) and its 95 % bootstrap interval.
    public var probability: Double
    public var low: Double
    public var high: Double
    /// Bootstrap replicates drawn, and how many could be fitted (the interval is theirs).
    public var replicates: Int
    public var replicatesFitted: Int

    /// The fitted log P(s) at scale `s`.
    public func logProbability(at s: Double) -> Double { alpha + beta * log(s) + gamma / (s * s) }
}

public enum ScaledSigma {
    /// The weighted least-squares fit of log P(s) = α + β log s + γ/s², nil without three
    /// scales where 0 < failures < chips.
    public static func fit(scales: [Double], chips: [Int], failures: [Int]) -> (
        alpha: Double, beta: Double, gamma: Double
    )? {
        // Normal equations (Xᵀ W X) θ = Xᵀ W y for rows x = (1, log s, 1/s²).
        var matrix = [[Double]](repeating: [0, 0, 0, 0], count: 3)
        var points = 0
        for ((s, m), f) in zip(zip(scales, chips), failures) where f > 0 && f < m {
            let p = Double(f) / Double(m)
            let weight = Double(m) * p / (1 - p)
            let x = [1, log(s), 1 / (s * s)]
            for row in 0..<3 {
                for column in 0..<3 { matrix[row][column] += weight * x[row] * x[column] }
                matrix[row][3] += weight * x[row] * log(p)
            }
            points += 1
        }
        guard points >= 3, let solution = solve3(matrix) else { return nil }
        return (solution[0], solution[1], solution[2])
    }

    /// Solves a 3 × 3 system given as rows [a₀, a₁, a₂, b] by Gaussian elimination with partial
    /// pivoting; nil when it is singular.
    private static func solve3(_ system: [[Double]]) -> [Double]? {
        var a = system
        for column in 0..<3 {
            let pivot = (column..<3).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            guard abs(a[pivot][column]) > 1e-300 else { return nil }
            a.swapAt(column, pivot)
            for row in (column + 1)..<3 {
                let factor = a[row][column] / a[column][column]
                for k in column..<4 { a[row][k] -= factor * a[column][k] }
            }
        }
        var x = [0.0, 0.0, 0.0]
        for row in stride(from: 2, through: 0, by: -1) {
            let rest = ((row + 1)..<3).reduce(0.0) { $0 + a[row][$1] * x[$1] }
            x[row] = (a[row][3] - rest) / a[row][row]
        }
        return x.allSatisfy(\.isFinite) ? x : nil
    }

    /// The estimate of P(1) from `failures` of `chips` at each of `scales`, with a bootstrap
    /// of `replicates` draws keyed by `seed` (the same numbers every time).
    public static func estimate(
        scales: [Double], chips: [Int], failures: [Int], replicates: Int = 2000, seed: UInt64 = 1
    ) -> ScaledSigmaEstimate {
        let fitted = fit(scales: scales, chips: chips, failures: failures)
        var estimate = ScaledSigmaEstimate(
            scales: scales, chips: chips, failures: failures, alpha: fitted?.alpha ?? .nan,
            beta: fitted?.beta ?? .nan, gamma: fitted?.gamma ?? .nan,
            probability: fitted.map { min(1, exp($0.alpha + $0.gamma)) } ?? .nan, low: .nan, high: .nan,
            replicates: replicates, replicatesFitted: 0)
        guard fitted != nil else { return estimate }
        var probabilities: [Double] = []
        for replicate in 0..<replicates {
            let random = CounterRandom(seed: seed, instance: replicate, purpose: .bootstrap)
            var counter = 0
            let resampled = zip(chips, failures).map { m, f in
                let p = Double(f) / Double(m)
                defer { counter += m }
                return (0..<m).reduce(0) { $0 + (random.uniform(counter + $1) < p ? 1 : 0) }
            }
            if let refit = fit(scales: scales, chips: chips, failures: resampled) {
                probabilities.append(min(1, exp(refit.alpha + refit.gamma)))
            }
        }
        probabilities.sort()
        estimate.replicatesFitted = probabilities.count
        estimate.low = Statistics.quantile(sorted: probabilities, 0.025)
        estimate.high = Statistics.quantile(sorted: probabilities, 0.975)
        return estimate
    }
}
