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

    @Test func aStudyOfValuesInMemoryGivesTheFileStudysResults() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let spec = try RunSpec.load(path: fixture.spec)
        let fromFiles = try Study(spec: spec, instances: 3)
        let (device, text) = try DeviceModel.load(path: fixture.deviceModel)
        let inMemory = try Study(
            spec: spec, device: device, deviceModelText: text, network: fixture.network, test: fixture.images,
            modelSHA256: "in memory", datasetSHA256: "in memory", instances: 3)
        func results(_ study: Study) throws -> StudyResults {
            let collector = ResultCollector(instances: [0, 1, 2], policies: study.policies.count, times: 3)
            try study.simulate(instances: [0, 1, 2], into: collector, threads: 2)
            return collector.results
        }
        let expected = try results(fromFiles)
        #expect(expected.rows.allSatisfy { $0 != nil })
        #expect(try results(inMemory) == expected)
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
        let stop = StopAfterCalls(4)
        #expect(throws: StudyInterrupted.self) {
            try study.run(output: parts, threads: 2, shouldStop: { stop() })
        }
        do {
            let partial = try HDF5File(path: parts, mode: .readOnly)
            #expect(try partial.stringAttribute("status") == "partial")
            // Each worker's first question is answered "go on": 2 to 4 instances were handed out.
            let done = try partial.scalarAttribute("instances_completed", as: Int64.self)
            #expect(done >= 2 && done <= 4)
        }
        let summary = try study.run(output: parts, threads: 2, start: .resuming)
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
        try study.run(output: path, threads: 1, start: .replacing)
    }

    @Test func resumeRefusesAResultOfAnotherSeed() throws {
        let path = directory.file("seeded.h5")
        try study(seed: 5).run(output: path, threads: 1)
        #expect {
            try study(seed: 7).run(output: path, threads: 1, start: .resuming)
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

    /// Verifying every device pays on a real network: the quickstart's LeNet-5 on the 2-bit RRAM
    /// (4 chips, the first 1 000 test images) is more accurate under `all` than under one-shot
    /// programming on the same chips — the paired difference's CI lies above zero.
    @Test(.enabled(if: fashionMNISTInstalled)) func writeVerifyHelpsAccuracyOnTheQuickstart() throws {
        var spec = try RunSpec.load(path: repositoryRoot + "/runs/quickstart.toml")
        spec.testLimit = 1000
        spec.timesSeconds = [1]
        let study = try Study(spec: spec, instances: 4)
        let results = ResultCollector(instances: Array(0..<4), policies: 2, times: 1)
        try study.simulate(instances: Array(0..<4), into: results, threads: 2)
        let summary = StudySummary(results.results, threshold: study.plan.threshold)
        #expect(summary.differences[1][0].ci95Low > 0, "\(summary.differences[1][0])")
        #expect(summary.cells[1][0].mean > 0.85 && summary.cells[0][0].mean < summary.cells[1][0].mean)
    }
}

/// A stop request that answers "go on" to its first `calls` questions and "stop" after: it
/// bounds the instances handed out whatever the speed of the workers against the recording.
final class StopAfterCalls: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    init(_ calls: Int) { remaining = calls }
    func callAsFunction() -> Bool {
        lock.withLock {
            remaining -= 1
            return remaining < 0
        }
    }
}
