import CimCarloSimulation

/// Finished instances kept in memory, by row of `instances`.
public final class ResultCollector: ResultSink {
    public private(set) var results: StudyResults
    private let rowOfInstance: [Int: Int]

    public init(instances: [Int], policies: Int, times: Int) {
        results = StudyResults(instances: instances, policies: policies, times: times)
        rowOfInstance = Dictionary(uniqueKeysWithValues: instances.enumerated().map { ($1, $0) })
    }

    public func record(_ result: InstanceResult) throws {
        results.set(result, row: rowOfInstance[result.instance]!)
    }
}
