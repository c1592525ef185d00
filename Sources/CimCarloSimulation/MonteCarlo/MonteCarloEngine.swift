import CimCarloSupport
import Foundation
import Synchronization

/// Where finished instances go: the result file, or memory (`ResultCollector`). The engine
/// calls `record` for one instance at a time.
public protocol ResultSink: AnyObject {
    func record(_ result: InstanceResult) throws
}

/// Runs chip instances in parallel across worker threads.
///
/// Each worker thread owns a `ChipSimulator` (buffers allocated once) and takes the next
/// instance from a shared queue; the finished `InstanceResult`s — plain Sendable values — are
/// handed back to the calling thread, which alone records them into the sink and reports
/// progress. The sink (the single HDF5 writer) therefore never leaves the caller's thread, and
/// the compiler checks every value that crosses threads. Because every draw is keyed by
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

    /// Simulates `instances` with `threads` workers. `sink` receives each result on the calling
    /// thread; `progress` is called after each. The first error — making a simulator, or
    /// recording — stops handing out instances; the results already finished are still recorded
    /// and the error is thrown.
    public static func run(
        instances: [Int], threads: Int,
        makeSimulator: @escaping @Sendable () throws -> ChipSimulator,
        sink: ResultSink,
        progress: (Progress) -> Void = { _ in },
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) throws {
        guard !instances.isEmpty else { return }
        let workers = max(1, min(threads, instances.count))
        // OpenBLAS threads inside a worker only when workers leave cores idle.
        BLAS.setThreadCount(workers == 1 ? max(1, threads) : 1)
        let queue = WorkQueue(instances: instances, workers: workers)
        for _ in 0..<workers {
            // Threads of our own, not a Dispatch pool: the caller blocks while it waits for
            // results, and a pool as wide as the cores could leave a worker unscheduled.
            Thread {
                defer { queue.workerFinished() }
                let simulator: ChipSimulator
                do {
                    simulator = try makeSimulator()
                } catch {
                    queue.fail(error)
                    return
                }
                while !shouldStop(), let instance = queue.next() {
                    queue.deliver(simulator.simulate(instance: instance))
                }
            }.start()
        }
        var running = RunningMean()
        var done = 0
        let started = Date()
        while let result = queue.nextResult() {
            do {
                try sink.record(result)
            } catch {
                queue.fail(error)
                continue
            }
            done += 1
            running.add(Double(result.accuracy[0][0]))
            progress(
                Progress(
                    done: done, total: instances.count, elapsedSeconds: Date().timeIntervalSince(started),
                    runningMean: running.mean, runningHalfWidth: running.ci95HalfWidth))
            // A stop request seen here hands out no more instances: at most one per worker is
            // still in flight, and it is recorded when it arrives.
            if shouldStop() { queue.stop() }
        }
        if let error = queue.firstError { throw error }
    }

    /// The instances still to hand out and the results not yet recorded, shared by the workers
    /// and the calling thread.
    private final class WorkQueue: Sendable {
        private struct State {
            var position = 0
            var finished: [InstanceResult] = []
            var runningWorkers: Int
            var error: (any Error)?
            var stopped = false
        }

        private let instances: [Int]
        private let state: Mutex<State>
        /// Signalled once per delivered result and once per finished worker.
        private let events = DispatchSemaphore(value: 0)

        init(instances: [Int], workers: Int) {
            self.instances = instances
            state = Mutex(State(runningWorkers: workers))
        }

        /// The next instance to simulate; nil when all are handed out or a worker failed.
        func next() -> Int? {
            state.withLock { state in
                guard state.error == nil, !state.stopped, state.position < instances.count else { return nil }
                defer { state.position += 1 }
                return instances[state.position]
            }
        }

        func deliver(_ result: InstanceResult) {
            state.withLock { $0.finished.append(result) }
            events.signal()
        }

        func fail(_ error: any Error) {
            state.withLock { state in
                if state.error == nil { state.error = error }
            }
        }

        /// Hands out no more instances.
        func stop() {
            state.withLock { $0.stopped = true }
        }

        func workerFinished() {
            state.withLock { $0.runningWorkers -= 1 }
            events.signal()
        }

        /// Blocks until a result is ready (and returns it) or every worker has finished and
        /// every result has been taken (and returns nil).
        func nextResult() -> InstanceResult? {
            while true {
                let (result, running) = state.withLock { state -> (InstanceResult?, Int) in
                    (state.finished.isEmpty ? nil : state.finished.removeFirst(), state.runningWorkers)
                }
                if let result { return result }
                if running == 0 { return nil }
                events.wait()
            }
        }

        var firstError: (any Error)? { state.withLock { $0.error } }
    }
}
