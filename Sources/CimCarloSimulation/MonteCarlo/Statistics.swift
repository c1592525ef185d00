import Foundation

/// Summary of one (policy, time) cell of a Monte-Carlo study.
public struct SummaryStatistics: Sendable, Equatable {
    public var count: Int
    public var mean: Double
    /// Sample standard deviation (n − 1 denominator); 0 for one sample.
    public var std: Double
    /// 95 % confidence interval of the mean, Student t with n − 1 degrees of freedom.
    public var ci95Low: Double
    public var ci95High: Double
    /// Quantiles (linear interpolation between order statistics, NumPy's default).
    public var p01: Double
    public var p05: Double
    public var p50: Double
    /// Fraction of instances that meet the accuracy threshold, and its 95 % Wilson score interval.
    public var yield: Double
    public var yieldLow: Double
    public var yieldHigh: Double

    /// The result file's `/summary/<stat>` names, in order, with their values.
    public var named: [(String, Double)] {
        [
            ("mean", mean), ("std", std), ("ci95_low", ci95Low), ("ci95_high", ci95High), ("p01", p01), ("p05", p05),
            ("p50", p50), ("yield", yield), ("yield_low", yieldLow), ("yield_high", yieldHigh),
        ]
    }

    public static let names = [
        "mean", "std", "ci95_low", "ci95_high", "p01", "p05", "p50", "yield", "yield_low", "yield_high",
    ]
}

/// The statistics cimcarlo reports, each against a textbook closed form.
public enum Statistics {
    /// Summarises `values` (e.g. accuracies of all instances); the yield is the fraction of
    /// them that `meetsThreshold` accepts (for accuracies, `AccuracyThreshold.isMet(by:)`).
    public static func summarize(_ values: [Double], meetsThreshold: (Double) -> Bool) -> SummaryStatistics {
        let count = values.count
        guard count > 0 else {
            return SummaryStatistics(
                count: 0, mean: .nan, std: .nan, ci95Low: .nan, ci95High: .nan, p01: .nan,
                p05: .nan, p50: .nan, yield: .nan, yieldLow: .nan, yieldHigh: .nan)
        }
        let mean = values.reduce(0, +) / Double(count)
        let std =
            count > 1
            ? (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(count - 1)).squareRoot() : 0
        let halfWidth = count > 1 ? studentT975(degreesOfFreedom: count - 1) * std / Double(count).squareRoot() : 0
        // NaN last: `sorted()` traps on values without an order, and a damaged file can hold
        // them (reading a result file refuses them; statistics must not crash on them anyway).
        let sorted = values.sorted { $0 < $1 || (!$0.isNaN && $1.isNaN) }
        let successes = values.filter(meetsThreshold).count
        let (low, high) = wilsonInterval(successes: successes, trials: count)
        return SummaryStatistics(
            count: count, mean: mean, std: std, ci95Low: mean - halfWidth, ci95High: mean + halfWidth,
            p01: quantile(sorted: sorted, 0.01), p05: quantile(sorted: sorted, 0.05),
            p50: quantile(sorted: sorted, 0.5),
            yield: Double(successes) / Double(count), yieldLow: low, yieldHigh: high)
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
