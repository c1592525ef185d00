import CimCarlo
import Foundation
import Testing

/// Shards of a study merge into the file a single-machine run writes; shards of another
/// study, missing shards and repeated shards are refused with a line naming them.
@Suite struct ShardMergeTests {
    let directory = TemporaryDirectory()

    /// Seven instances (three shards of 3, 2, 2), a budgeted policy so that selections and
    /// sensitivity scores are part of the plan, and two time points.
    private func study(seed: UInt64 = 5) throws -> Study {
        let fixture = try TinyStudyFixture(directory: directory, instances: 7)
        var spec = try RunSpec.load(path: fixture.spec)
        spec.policies.insert(WriteVerifyPolicy(kind: .swim, budget: 0.25), at: 1)
        return try Study(spec: spec, seed: seed)
    }

    private func shardFiles(_ study: Study, output: String, count: Int = 3, threads: Int = 1) throws -> [String] {
        try (0..<count).map { index in
            let shard = Shard(index: index, count: count)
            try study.run(output: output, threads: threads, shard: shard)
            return shard.filePath(forResult: output)
        }
    }

    /// Every dataset and attribute equal, through h5py (time-recording attributes aside).
    private func expectIdentical(_ first: String, _ second: String) throws {
        let (status, output) = try runPython([
            repositoryRoot + "/Tests/Scripts/compare_results.py", first, second,
            "--ignore-attribute", "created_utc",
        ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("identical"))
    }

    @Test func shardsMergeIntoTheSingleMachineResult() throws {
        let study = try study()
        let single = directory.file("single.h5")
        try study.run(output: single, threads: 2)
        let shards = try shardFiles(study, output: directory.file("sharded.h5"))
        #expect(shards.map { (try? ResultFile.open(path: $0).instances) ?? [] } == [[0, 3, 6], [1, 4], [2, 5]])
        let merged = directory.file("merged.h5")
        // Any order of the shard files gives the same result.
        try ShardMerge.merge(shards: shards.reversed(), output: merged, force: false)
        try expectIdentical(single, merged)
        #expect(try ResultFile.open(path: merged).shard == nil)
        #expect(try ResultReport(path: merged).status == "complete")
    }

    @Test func aShardOfAnotherSeedIsRefused() throws {
        let shards = try shardFiles(try study(seed: 5), output: directory.file("five.h5"))
        let other = try shardFiles(try study(seed: 6), output: directory.file("six.h5"))
        let output = directory.file("mixed.h5")
        #expect {
            try ShardMerge.merge(shards: [shards[0], other[1], shards[2]], output: output, force: false)
        } throws: { error in
            "\(error)" == "\(other[1]): comes from another study than \(shards[0]): its `seed` differs"
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func aMissingShardIsNamed() throws {
        let shards = try shardFiles(try study(), output: directory.file("gap.h5"))
        let output = directory.file("gap-merged.h5")
        #expect {
            try ShardMerge.merge(shards: [shards[0], shards[2]], output: output, force: false)
        } throws: { error in
            "\(error)" == "\(output): cannot merge: missing shard 1/3 (2 instances) of the 7 the plan needs"
        }
        #expect {
            try ShardMerge.merge(shards: [shards[0], shards[1], shards[1], shards[2]], output: output, force: false)
        } throws: { error in
            "\(error)".contains("holds instance 1, which \(shards[1]) holds too")
        }
    }

    @Test func aPartialShardResumesPerShard() throws {
        let study = try study()
        let output = directory.file("resumed.h5")
        let shard = Shard(index: 0, count: 2)
        let stop = StopAfterCalls(3)  // at most 3 of the shard's 4 instances are handed out
        #expect(throws: StudyInterrupted.self) {
            try study.run(output: output, threads: 1, shard: shard, shouldStop: { stop() })
        }
        #expect {
            try ShardMerge.merge(
                shards: [shard.filePath(forResult: output)], output: directory.file("x.h5"), force: false)
        } throws: { error in
            // The instance in flight when the stop came is finished and written too.
            "\(error)".contains("shard 0/2 is partial (") && "\(error)".contains(" of 4 instances)")
        }
        try study.run(output: output, threads: 2, shard: shard, start: .resuming)
        try study.run(output: output, threads: 2, shard: Shard(index: 1, count: 2))
        try ShardMerge.merge(
            shards: (0..<2).map { Shard(index: $0, count: 2).filePath(forResult: output) },
            output: output, force: false)
        let single = directory.file("whole.h5")
        try study.run(output: single, threads: 1)
        try expectIdentical(single, output)
    }

    @Test func theBinaryRefusesAnIncompleteMergeWithOneLineAndExitCodeTwo() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 7)
        let output = directory.file("cli.h5")
        for index in [0, 2] {
            let run = try runCimcarlo(["run", fixture.spec, "--output", output, "--shard", "\(index)/3", "--quiet"])
            try #require(run.status == 0, "\(run.standardError)")
            #expect(run.standardOutput.contains("shard \(index)/3, complete"))
        }
        let shards = [0, 2].map { Shard(index: $0, count: 3).filePath(forResult: output) }
        let merge = try runCimcarlo(["merge"] + shards + ["--output", output])
        #expect(merge.status == 2)
        #expect(
            merge.standardError
                == "cimcarlo: error: \(output): cannot merge: missing shard 1/3 (2 instances) of the 7 the plan needs\n"
        )
        #expect(!FileManager.default.fileExists(atPath: output))
        let badShard = try runCimcarlo(["run", fixture.spec, "--output", output, "--shard", "3/3"])
        #expect(badShard.status == 2)
        #expect(badShard.standardError.contains("--shard must be k/N with 0 ≤ k < N, got 3/3"))
    }

    @Test func shardArgumentsParse() {
        #expect(Shard(parsing: "2/8") == Shard(index: 2, count: 8))
        for bad in ["8/8", "-1/3", "1/0", "1", "a/b", "1/2/3", ""] { #expect(Shard(parsing: bad) == nil, "\(bad)") }
        #expect(Shard(index: 1, count: 3).instances(of: 8) == [1, 4, 7])
        #expect(Shard(index: 2, count: 8).filePath(forResult: "out/study.h5") == "out/study.shard-2-of-8.h5")
    }
}
