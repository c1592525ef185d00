import CimCarlo
import Foundation
import Testing

/// A study with scaled-sigma sampling, through the binary: its plain chips are the plain
/// study's bit for bit, its tail chips fail more as the scale grows, and shards, merge and
/// resume treat the scales as part of the plan.
@Suite(.serialized) struct TailStudyTests {
    let directory = TemporaryDirectory()

    private func accuracy(_ path: String) throws -> ShapedArray<Float> {
        try HDF5File(path: path, mode: .readOnly).read("/accuracy", as: Float.self)
    }

    @Test func plainChipsAreThePlainStudysAndScaledChipsFailMore() throws {
        // The shipped MLP on 200 Fashion-MNIST test images and the generic RRAM.
        let spec = directory.file("mlp.toml")
        try """
        model = "\(repositoryRoot)/models/mlp.h5"
        device_model = "\(repositoryRoot)/variation-models/rram-hfo2.toml"
        instances = 8
        seed = 3
        policies = ["none", "all"]
        times_s = [1.0, 86400.0, 2592000.0]
        accuracy_threshold = 0.8
        test_limit = 200
        output = "out.h5"
        """.write(toFile: spec, atomically: true, encoding: .utf8)
        let plain = directory.file("plain.h5")
        let tail = directory.file("tail.h5")
        #expect(try runCimcarlo(["run", spec, "--output", plain, "--quiet"]).status == 0)
        let run = try runCimcarlo([
            "run", spec, "--output", tail, "--quiet", "--tail-scales", "2,4", "--tail-chips", "12",
        ])
        #expect(run.status == 0, "\(run.standardError)")
        let plainAccuracy = try accuracy(plain)
        let tailAccuracy = try accuracy(tail)
        #expect(tailAccuracy.shape == [8 + 2 * 12, 2, 3])
        #expect(Array(tailAccuracy.values.prefix(plainAccuracy.values.count)) == plainAccuracy.values)
        // Mean accuracy of policy none right after programming, per scale: 1, 2, 4.
        let row = 2 * 3
        func mean(_ rows: Range<Int>) -> Double {
            rows.map { Double(tailAccuracy.values[$0 * row]) }.reduce(0, +) / Double(rows.count)
        }
        #expect(
            mean(0..<8) > mean(8..<20) + 0.01 && mean(8..<20) > mean(20..<32) + 0.01,
            "\(mean(0..<8)) \(mean(8..<20)) \(mean(20..<32))")
        let file = try HDF5File(path: tail, mode: .readOnly)
        #expect(try file.read("/tail/scales", as: Double.self).values == [2, 4])
        #expect(try file.read("/tail/chips", as: Int64.self).values == [12, 12])
        #expect(try file.read("/tail/failures", as: Int64.self).shape == [2, 3, 2])
        let report = try runCimcarlo(["report", tail])
        #expect(report.standardOutput.contains("tail: scaled-sigma sampling, scales 2, 4 × 12 chips"))
        #expect(report.standardOutput.contains("none @ 1 s: P(accuracy < 80.00 %)"), "\(report.standardOutput)")
        let validate = try runPython(["\(repositoryRoot)/analysis/validate_result.py", tail])
        #expect(validate.status == 0, "\(validate.output)")
    }

    @Test func shardsOfATailStudyMergeIntoTheSingleRunAndResumeChecksTheScales() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 5)
        let tailOptions = ["--tail-scales", "1.5,3", "--tail-chips", "10"]
        let single = directory.file("single.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", single, "--quiet"] + tailOptions).status == 0)
        let output = directory.file("merged.h5")
        for index in 0..<3 {
            let shard = try runCimcarlo(
                ["run", fixture.spec, "--output", output, "--shard", "\(index)/3", "--quiet"] + tailOptions)
            #expect(shard.status == 0, "\(shard.standardError)")
        }
        let shards = (0..<3).map { Shard(index: $0, count: 3).filePath(forResult: output) }
        #expect(try runCimcarlo(["merge"] + shards + ["--output", output]).status == 0)
        let compare = try runPython([
            "\(repositoryRoot)/Tests/Scripts/compare_results.py", single, output, "--ignore-attribute", "created_utc",
        ])
        #expect(compare.status == 0, "\(compare.output)")

        let resumed = try runCimcarlo([
            "run", fixture.spec, "--output", shards[0], "--resume", "--quiet", "--tail-scales", "1.5,2.5",
            "--tail-chips",
            "10",
        ])
        #expect(resumed.status == 2)
        #expect(resumed.standardError.contains("cannot resume: its `tail` differs from this run's"))
    }

    @Test func aPilotChoosesSixIncreasingScalesAndSaysHow() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 4)
        let study = try Study(spec: try RunSpec.load(path: fixture.spec))
        let (scales, choice) = try study.automaticTailScales(threads: 2, pilotChips: 10)
        #expect(scales.count == 6 && scales[0] > 1 && zip(scales, scales.dropFirst()).allSatisfy { $0 < $1 })
        #expect(scales.last! >= 1.25 * scales[0] - 0.002, "\(scales)")
        #expect(choice.hasPrefix("chosen automatically from a pilot of 10 chips per scale"), "\(choice)")
        // The same seed chooses the same scales (every shard does this on its own).
        #expect(try study.automaticTailScales(threads: 1, pilotChips: 10).scales == scales)
    }

    @Test func badTailTablesAreOneLine() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 4, extraSpec: "[tail]\nscales = [0.5, 2]")
        let run = try runCimcarlo(["run", fixture.spec, "--output", directory.file("bad.h5"), "--quiet"])
        #expect(run.status == 2)
        #expect(run.standardError.contains("scales"), "\(run.standardError)")
        #expect(run.standardError.split(separator: "\n").count == 1)
    }
}
