import CimCarloSimulation
import Foundation

/// The accuracy a chip must reach to count towards the yield, as a number of correctly
/// classified test images.
///
/// Yield compares integers: a chip with `k` of `n` images right yields when
/// `k ≥ requiredCorrect`, the smallest `k` with `k / n ≥ fraction`. Comparing the stored
/// Float accuracy with a Double threshold instead would fail a chip exactly on it
/// (`Float(0.9) < 0.9`).
public struct AccuracyThreshold: Sendable, Equatable {
    /// The threshold as a fraction of the test images, e.g. 0.85.
    public var fraction: Double
    public var testImages: Int
    /// The fewest correct images that meet the threshold: ⌈fraction × n⌉, with fraction × n
    /// rounded to 1e-9 first so that decimal thresholds (0.9 × 10 000) land on their integer.
    public var requiredCorrect: Int

    public init(fraction: Double, testImages: Int) {
        precondition(testImages > 0, "a threshold needs test images")
        self.fraction = fraction
        self.testImages = testImages
        let exact = fraction * Double(testImages)
        let nearest = exact.rounded()
        requiredCorrect = Int(abs(exact - nearest) <= 1e-9 * max(1, abs(exact)) ? nearest : exact.rounded(.up))
    }

    /// The number of correct images an accuracy stands for (exact: accuracies are k / n).
    public func correctImages(_ accuracy: Double) -> Int {
        Int((accuracy * Double(testImages)).rounded())
    }

    /// Whether an accuracy (a fraction k / n of this threshold's test images) meets it.
    public func isMet(by accuracy: Double) -> Bool {
        correctImages(accuracy) >= requiredCorrect
    }
}

/// The per-instance results of a study as its result file holds them: a row for each of
/// `instances`, nil where an instance is not done yet.
public struct StudyResults: Sendable, Equatable {
    /// The instance index of each row.
    public var instances: [Int]
    public var policies: Int
    public var times: Int
    /// Each row's finished instance, nil until it is recorded.
    public var rows: [InstanceResult?]

    public init(instances: [Int], policies: Int, times: Int) {
        self.instances = instances
        self.policies = policies
        self.times = times
        rows = Array(repeating: nil, count: instances.count)
    }

    /// Whether each row holds a finished instance.
    public var completed: [Bool] { rows.map { $0 != nil } }

    /// Stores one finished instance in row `row`.
    public mutating func set(_ result: InstanceResult, row: Int) {
        rows[row] = result
    }
}

/// The statistics of a study — per (policy, time) over the finished instances — computed
/// in this one place for the result file's `/summary`, `cimcarlo report`, `merge`, sequential
/// stopping and the budget search.
public struct StudySummary: Sendable {
    /// `[policy][time]`: accuracy statistics, yield at the threshold.
    public var cells: [[SummaryStatistics]]
    /// `[policy][time]`: accuracy minus the first policy's on the same chips (paired, so its
    /// CI is much narrower than the difference of two independent means).
    public var differences: [[SummaryStatistics]]
    /// Mean programming pulses per chip, per policy.
    public var meanWriteCycles: [Double]
    /// Mean programming time per chip, seconds, per policy.
    public var meanProgrammingTimeSeconds: [Double]

    public init(_ results: StudyResults, threshold: AccuracyThreshold) {
        let (policies, times) = (results.policies, results.times)
        let finished = results.rows.compactMap { $0 }
        func accuracy(_ result: InstanceResult, _ policy: Int, _ time: Int) -> Double {
            Double(result.accuracy[policy][time])
        }
        cells = (0..<policies).map { policy in
            (0..<times).map { time in
                Statistics.summarize(
                    finished.map { accuracy($0, policy, time) }, within: 0...1, meetsThreshold: threshold.isMet(by:))
            }
        }
        differences = (0..<policies).map { policy in
            (0..<times).map { time in
                Statistics.summarize(
                    finished.map { accuracy($0, policy, time) - accuracy($0, 0, time) }, within: -1...1,
                    meetsThreshold: { _ in false })
            }
        }
        func means(_ values: KeyPath<InstanceResult, [Double]>) -> [Double] {
            (0..<policies).map { policy in
                finished.isEmpty
                    ? .nan : finished.map { $0[keyPath: values][policy] }.reduce(0, +) / Double(finished.count)
            }
        }
        meanWriteCycles = means(\.writeCycles)
        meanProgrammingTimeSeconds = means(\.programmingTimeSeconds)
    }

    /// The widest 95 % CI half-width of any (policy, time) mean, in accuracy fractions.
    public var widestHalfWidth: Double {
        cells.joined().map(\.halfWidth).max() ?? .nan
    }
}
