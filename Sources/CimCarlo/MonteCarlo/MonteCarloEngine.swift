import Foundation

/// Where finished instances go: the result file, or memory (`ResultCollector`). The engine
/// calls `record` for one instance at a time.
public protocol ResultSink: AnyObject {
    func record(_ result: InstanceResult) throws
}

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

/// Runs chip instances in parallel across worker threads.
///
/// Each worker owns a `ChipSimulator` (buffers allocated once) and takes the next instance
/// from a shared counter; results go to the sink, which is called one at a time (so the
/// single HDF5 writer never sees two threads). Because every draw is keyed by
/// (seed, instance), results do not depend on the thread count or the order.
public enum MonteCarloEngine {
    /// Progress after each recorded instance.
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var elapsedSeconds: Double
        /// Running mean and 95 % CI half-width of the first (policy, time) cell's accuracy.
        public var runningMean: Double
        public var runningHalfWidth: Double
    }

    /// Simulates `instances` with `threads` workers. `sink` receives each result (serialised);
    /// `progress` is called after each. The first error thrown by the sink stops the run.
    public static func run(
        instances: [Int], threads: Int,
        makeSimulator: @escaping @Sendable () throws -> ChipSimulator,
        sink: ResultSink,
        progress: @escaping (Progress) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws {
        guard !instances.isEmpty else { return }
        let workers = max(1, min(threads, instances.count))
        // OpenBLAS threads inside a worker only when workers leave cores idle.
        BLAS.setThreadCount(workers == 1 ? max(1, threads) : 1)
        let state = SharedState(instances: instances, sink: sink, progress: progress)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let simulator: ChipSimulator
            do {
                simulator = try makeSimulator()
            } catch {
                state.fail(error)
                return
            }
            while !shouldStop(), let instance = state.next() {
                let result = simulator.simulate(instance: instance)
                state.deliver(result)
            }
        }
        if let error = state.error { throw error }
    }

    /// The work queue and result sink shared by the workers.
    private final class SharedState: @unchecked Sendable {
        private let lock = NSLock()
        private let instances: [Int]
        private var position = 0
        private let sink: ResultSink
        private let progress: (Progress) -> Void
        private var running = RunningMean()
        private var done = 0
        private let started = Date()
        private(set) var error: Error?

        init(instances: [Int], sink: ResultSink, progress: @escaping (Progress) -> Void) {
            self.instances = instances
            self.sink = sink
            self.progress = progress
        }

        func next() -> Int? {
            lock.withLock {
                guard error == nil, position < instances.count else { return nil }
                defer { position += 1 }
                return instances[position]
            }
        }

        func fail(_ error: Error) {
            lock.withLock { if self.error == nil { self.error = error } }
        }

        func deliver(_ result: InstanceResult) {
            lock.withLock {
                guard error == nil else { return }
                do {
                    try sink.record(result)
                } catch {
                    self.error = error
                    return
                }
                done += 1
                running.add(Double(result.accuracy[0][0]))
                progress(Progress(done: done, total: instances.count, elapsedSeconds: Date().timeIntervalSince(started),
                                  runningMean: running.mean, runningHalfWidth: running.ci95HalfWidth))
            }
        }
    }
}
