import CimCarlo
import Foundation
import Testing

/// The engine's guarantees: results depend only on (seed, instance); interrupted runs resume
/// to the result an uninterrupted run gives.
@Suite struct StudyTests {
    let directory = TemporaryDirectory()

    private func accuracy(_ path: String) throws -> [Float] {
        try HDF5File(path: path, mode: .readOnly).read("/accuracy", as: Float.self).values
    }

    private func study(instances: Int = 6, seed: UInt64? = nil, sign: String = "differential") throws -> Study {
        let fixture = try TinyStudyFixture(directory: directory, sign: sign)
        return try Study(spec: try RunSpec.load(path: fixture.spec), instances: instances, seed: seed)
    }

    @Test(arguments: ["differential", "sign-magnitude", "offset"])
    func threadCountDoesNotChangeTheResult(sign: String) throws {
        let study = try study(sign: sign)
        try study.run(output: directory.file("one.h5"), threads: 1)
        try study.run(output: directory.file("two.h5"), threads: 2)
        let one = try accuracy(directory.file("one.h5"))
        #expect(one.allSatisfy { !$0.isNaN })
        #expect(one == (try accuracy(directory.file("two.h5"))))
    }

    @Test func seedsDecide() throws {
        try study(seed: 5).run(output: directory.file("a.h5"), threads: 2)
        try study(seed: 5).run(output: directory.file("b.h5"), threads: 2)
        try study(seed: 6).run(output: directory.file("c.h5"), threads: 2)
        #expect(try accuracy(directory.file("a.h5")) == (try accuracy(directory.file("b.h5"))))
        #expect(try accuracy(directory.file("a.h5")) != (try accuracy(directory.file("c.h5"))))
    }

    @Test func resumedRunEqualsUninterruptedRun() throws {
        let study = try study(instances: 8)
        let whole = directory.file("whole.h5")
        let parts = directory.file("parts.h5")
        try study.run(output: whole, threads: 2)
        let recorded = Counter()
        #expect(throws: StudyInterrupted.self) {
            try study.run(output: parts, threads: 2, progress: { _ in recorded.increment() },
                          shouldStop: { recorded.value >= 3 })
        }
        do {
            let partial = try HDF5File(path: parts, mode: .readOnly)
            #expect(try partial.stringAttribute("status") == "partial")
            let done = try partial.scalarAttribute("instances_completed", as: Int64.self)
            #expect(done >= 3 && done < 8)
        }
        let summary = try study.run(output: parts, threads: 2, resume: true)
        #expect(try accuracy(parts) == (try accuracy(whole)))
        #expect(try HDF5File(path: parts, mode: .readOnly).stringAttribute("status") == "complete")
        #expect(summary.cells.count == 2 && summary.cells[0].count == 3)
    }

    @Test func existingResultIsNotOverwrittenWithoutForce() throws {
        let study = try study(instances: 2)
        let path = directory.file("kept.h5")
        try study.run(output: path, threads: 1)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect {
            try study.run(output: path, threads: 1)
        } throws: { error in
            "\(error)" == "\(path): already exists (use --force to overwrite it, or --resume to complete a partial run)"
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        try study.run(output: path, threads: 1, force: true)
    }

    @Test func resumeRefusesAResultOfAnotherSeed() throws {
        let path = directory.file("seeded.h5")
        try study(seed: 5).run(output: path, threads: 1)
        #expect {
            try study(seed: 7).run(output: path, threads: 1, resume: true)
        } throws: { error in
            "\(error)".contains("cannot resume: its `seed` differs from this run's")
        }
    }

    @Test func writeVerifyCostsMorePulsesAndHelpsAccuracyOnAverage() throws {
        let study = try study(instances: 6)
        let path = directory.file("cost.h5")
        try study.run(output: path, threads: 2)
        let report = try ResultReport(path: path)
        #expect(report.policies == ["none", "all"])
        // One-shot programming costs one pulse per device.
        #expect(report.meanWriteCycles[0] == Double(study.mapping.deviceCount))
        #expect(report.meanWriteCycles[1] > report.meanWriteCycles[0])
        #expect(report.speedUpVersusAll[0]! > 1)
    }
}

/// Sequential stopping checks at fixed instance counts, so where it stops — and the file it
/// writes — does not depend on the thread count.
@Suite struct SequentialStoppingTests {
    let directory = TemporaryDirectory()

    @Test func stopsAtTheSameCheckpointForOneAndTwoThreads() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let spec = try RunSpec.load(path: fixture.spec)
        // The widest half-width after the first checkpoint, to aim between two checkpoints.
        let probe = try Study(spec: spec, instances: 16)
        let first = try probe.run(output: directory.file("probe.h5"), threads: 2).widestHalfWidth
        let target = first * 0.7
        let study = try Study(spec: spec, instances: 200, stopping: .targetHalfWidth(target))
        #expect(study.plan.checkpoints.prefix(6) == [16, 24, 32, 48, 64, 96])
        #expect(study.plan.checkpoints.last == 200)
        let one = directory.file("one.h5")
        let two = directory.file("two.h5")
        let summary = try study.run(output: one, threads: 1)
        try study.run(output: two, threads: 2)
        let file = try ResultFile.open(path: one)
        let count = file.instances.count
        #expect(count > 16 && study.plan.checkpoints.contains(count))
        #expect(summary.widestHalfWidth <= target)
        // At the checkpoint before, the target was not yet met.
        let previous = try #require(study.plan.checkpoints.last { $0 < count })
        var firstInstances = try file.results()
        firstInstances.completed = firstInstances.instances.map { $0 < previous }
        let earlier = StudySummary(firstInstances, threshold: study.plan.threshold)
        #expect(earlier.widestHalfWidth > target)
        #expect(try ResultFile.open(path: two).instances.count == count)
        let (status, output) = try runPython([repositoryRoot + "/Tests/Scripts/compare_results.py", one, two,
                                              "--ignore-attribute", "created_utc"])
        #expect(status == 0, "\(output)")
        let reason = try #require(try ResultReport(path: one).stoppingReason)
        #expect(reason.hasPrefix("target reached at \(count) instances"))
    }

    @Test func stopsAtTheMaximumWhenTheTargetIsOutOfReach() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let study = try Study(spec: try RunSpec.load(path: fixture.spec), instances: 20, stopping: .targetHalfWidth(1e-6))
        try study.run(output: directory.file("max.h5"), threads: 2)
        let report = try ResultReport(path: directory.file("max.h5"))
        #expect(report.instancesCompleted == 20)
        #expect(report.stoppingReason?.hasPrefix("maximum of 20 instances reached before the target") == true)
    }
}


/// A thread-safe counter for test callbacks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
