import Foundation

/// Summary of one (policy, time) cell of a Monte-Carlo study.
public struct SummaryStatistics: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    /// Sample standard deviation (n − 1 denominator); 0 for one sample.
    public var std: Double
    /// 95 % confidence interval of the mean, Student t with n − 1 degrees of freedom, clipped
    /// to the values can take (accuracies to [0, 1]).
    public var ci95Low: Double
    public var ci95High: Double
    /// Half the width of the mean's 95 % interval before clipping (sequential stopping's
    /// precision).
    public var halfWidth: Double
    /// The quantiles of `Quantile.levels`, each with its distribution-free 95 % interval.
    public var quantiles: [Quantile]
    /// Fraction of instances that meet the accuracy threshold, and its 95 % Wilson score interval.
    public var yield: Double
    public var yieldLow: Double
    public var yieldHigh: Double

    /// A quantile of the values — the k-th percentile performance (KPP) of Yan, Hu and Shi
    /// for accuracies — with its 95 % confidence interval from order statistics.
    public struct Quantile: Sendable, Equatable {
        /// The level, e.g. 0.01 for the 1st percentile.
        public var level: Double
        /// Linear interpolation between order statistics (NumPy's default); NaN for the levels
        /// below 1 % rarer than one value in the sample (`level × count < 1`).
        public var value: Double
        /// The order statistics that hold the quantile with at least 95 % probability (the
        /// binomial law of the number of values below it, `Statistics.quantileInterval`);
        /// NaN where the sample is too small to bound it on that side.
        public var low: Double
        public var high: Double

        /// Its name in the result file: "p50", "p10", "p05", "p01", "p001", "p0001".
        public var name: String { Self.name(level) }

        static func name(_ level: Double) -> String {
            // The percentage with its decimal point dropped: 5 % → p05, 0.1 % → p001.
            let percent = 100 * level
            return percent >= 1
                ? String(format: "p%02d", Int(percent.rounded()))
                : "p0" + String(format: "%g", percent).replacingOccurrences(of: ".", with: "")
        }

        /// The levels every summary reports.
        public static let levels = [0.5, 0.1, 0.05, 0.01, 0.001, 0.0001]
    }

    /// The quantile at `level` (one of `Quantile.levels`).
    public func quantile(_ level: Double) -> Quantile { quantiles.first { $0.level == level }! }

    public var p01: Double { quantile(0.01).value }
    public var p05: Double { quantile(0.05).value }
    public var p10: Double { quantile(0.1).value }
    public var p50: Double { quantile(0.5).value }

    /// The result file's `/summary/<stat>` names, in order, with their values.
    public var named: [(String, Double)] {
        let first: [(String, Double)] = [
            ("mean", mean), ("std", std), ("ci95_low", ci95Low), ("ci95_high", ci95High), ("p01", p01), ("p05", p05),
            ("p50", p50), ("yield", yield), ("yield_low", yieldLow), ("yield_high", yieldHigh),
        ]
        let values = [0.1, 0.001, 0.0001].map { (Quantile.name($0), quantile($0).value) }
        let intervals = quantiles.flatMap { [($0.name + "_low", $0.low), ($0.name + "_high", $0.high)] }
        return first + values + intervals
    }

    public static let names = SummaryStatistics(
        count: 0, mean: 0, std: 0, ci95Low: 0, ci95High: 0, halfWidth: 0,
        quantiles: Quantile.levels.map { Quantile(level: $0, value: 0, low: 0, high: 0) }, yield: 0, yieldLow: 0,
        yieldHigh: 0
    ).named.map(\.0)
}

/// The statistics cimcarlo reports, each against a textbook closed form.
public enum Statistics {
    /// Summarises `values` (e.g. accuracies of all instances), which lie in `range` (the mean's
    /// interval is clipped to it); the yield is the fraction of them that `meetsThreshold`
    /// accepts (for accuracies, `AccuracyThreshold.isMet(by:)`).
    public static func summarize(
        _ values: [Double], within range: ClosedRange<Double> = -Double.infinity...Double.infinity,
        meetsThreshold: (Double) -> Bool
    ) -> SummaryStatistics {
        let count = values.count
        guard count > 0 else {
            return SummaryStatistics(
                count: 0, mean: .nan, std: .nan, ci95Low: .nan, ci95High: .nan, halfWidth: .nan,
                quantiles: SummaryStatistics.Quantile.levels.map {
                    .init(level: $0, value: .nan, low: .nan, high: .nan)
                },
                yield: .nan, yieldLow: .nan, yieldHigh: .nan)
        }
        let mean = values.reduce(0, +) / Double(count)
        let std =
            count > 1
            ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)).squareRoot() : 0
        let halfWidth = count > 1 ? studentT975(degreesOfFreedom: count - 1) * std / Double(count).squareRoot() : 0
        // NaN last: `sorted()` traps on values without an order, and a damaged file can hold
        // them (reading a result file refuses them; statistics must not crash on them anyway).
        let sorted = values.sorted { $0 < $1 || (!$0.isNaN && $1.isNaN) }
        let quantiles = SummaryStatistics.Quantile.levels.map { level in
            let interval = quantileInterval(sorted: sorted, level)
            let value = level < 0.01 && level * Double(count) < 1 ? .nan : quantile(sorted: sorted, level)
            return SummaryStatistics.Quantile(level: level, value: value, low: interval.low, high: interval.high)
        }
        let successes = values.filter(meetsThreshold).count
        let (low, high) = wilsonInterval(successes: successes, trials: count)
        return SummaryStatistics(
            count: count, mean: mean, std: std, ci95Low: max(range.lowerBound, mean - halfWidth),
            ci95High: min(range.upperBound, mean + halfWidth), halfWidth: halfWidth, quantiles: quantiles,
            yield: Double(successes) / Double(count), yieldLow: low, yieldHigh: high)
    }

    /// A distribution-free confidence interval for the quantile at `level` of the
    /// distribution `sorted` (ascending) was drawn from: order statistics x₍ₗ₎ ≤ x₍ᵤ₎ with
    /// P(x₍ₗ₎ ≤ ξ ≤ x₍ᵤ₎) ≥ `confidence` for any continuous distribution, because the number B
    /// of values below the quantile ξ is Binomial(n, level): P(x₍ₗ₎ ≤ ξ) = P(B ≥ l) and
    /// P(ξ ≤ x₍ᵤ₎) = P(B < u) (e.g. Hahn & Meeker, Statistical Intervals, 1991, §5.2). The ranks
    /// take at most (1 − confidence)/2 on each side: l is the largest rank with P(B < l) ≤ α/2,
    /// u the smallest with P(B < u) ≥ 1 − α/2. A side is NaN when no rank qualifies (too few
    /// values for so rare a quantile: below the 1st percentile, fewer than 300 or so).
    public static func quantileInterval(sorted: [Double], _ level: Double, confidence: Double = 0.95) -> (
        low: Double, high: Double
    ) {
        let n = sorted.count
        guard n > 0 else { return (.nan, .nan) }
        let tail = (1 - confidence) / 2
        // P(B ≤ k) for k = 0 …, summed in log space (no underflow for large n).
        let logLevel = log(level)
        let logRest = log1p(-level)
        func logGamma(_ x: Double) -> Double { lgamma(x) }
        let logN = logGamma(Double(n) + 1)
        var cumulative = 0.0
        var lowRank: Int? = nil
        var highRank: Int? = nil
        for k in 0..<n {
            let logMass =
                logN - logGamma(Double(k) + 1) - logGamma(Double(n - k) + 1) + Double(k) * logLevel
                + Double(n - k) * logRest
            cumulative += exp(logMass)  // P(B ≤ k) = P(B < k + 1)
            if cumulative <= tail { lowRank = k + 1 }
            if cumulative >= 1 - tail {
                highRank = k + 1
                break
            }
        }
        return (lowRank.map { sorted[$0 - 1] } ?? .nan, highRank.map { sorted[$0 - 1] } ?? .nan)
    }

    /// Quantile `p` of sorted values by linear interpolation (Hyndman & Fan type 7, NumPy's default).
    public static func quantile(sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = p * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    /// The 95 % Wilson score interval of a binomial proportion (Wilson, JASA 1927).
    public static func wilsonInterval(successes: Int, trials: Int, z: Double = 1.959963984540054) -> (
        low: Double, high: Double
    ) {
        guard trials > 0 else { return (.nan, .nan) }
        let n = Double(trials)
        let p = Double(successes) / n
        let denominator = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denominator
        return (max(0, centre - half), min(1, centre + half))
    }

    /// The 0.975 quantile of Student's t: tabulated for 1–30 degrees of freedom, above that the
    /// Cornish–Fisher expansion (Abramowitz & Stegun 26.7.5), accurate to 1e-4.
    public static func studentT975(degreesOfFreedom: Int) -> Double {
        let table = [
            12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
            2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
            2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
        ]
        precondition(degreesOfFreedom >= 1)
        if degreesOfFreedom <= table.count { return table[degreesOfFreedom - 1] }
        let z = 1.959963984540054
        let nu = Double(degreesOfFreedom)
        let g1 = (pow(z, 3) + z) / 4
        let g2 = (5 * pow(z, 5) + 16 * pow(z, 3) + 3 * z) / 96
        let g3 = (3 * pow(z, 7) + 19 * pow(z, 5) + 17 * pow(z, 3) - 15 * z) / 384
        return z + g1 / nu + g2 / (nu * nu) + g3 / (nu * nu * nu)
    }
}

/// Mean and variance updated one value at a time (Welford, Technometrics 1962), for the
/// running estimate on the progress line.
public struct RunningMean: Sendable {
    public private(set) var count = 0
    public private(set) var mean = 0.0
    private var squares = 0.0

    public init() {}

    public mutating func add(_ value: Double) {
        count += 1
        let delta = value - mean
        mean += delta / Double(count)
        squares += delta * (value - mean)
    }

    /// Half-width of the 95 % confidence interval of the mean (0 below two values).
    public var ci95HalfWidth: Double {
        count > 1
            ? Statistics.studentT975(degreesOfFreedom: count - 1) * (squares / Double(count - 1)).squareRoot()
                / Double(count).squareRoot() : 0
    }
}
