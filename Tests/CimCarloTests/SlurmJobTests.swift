import CimCarlo
import Foundation
import Testing

@testable import cimcarlo

/// The scripts `cimcarlo slurm` writes, run on a real one-node Slurm cluster started for the
/// test (Tests/Scripts/slurm_cluster.sh): the merged result equals a single-machine run.
@Suite struct SlurmJobTests {
    let directory = TemporaryDirectory()

    @Test func jobArrayAndMergeOnARealClusterEqualASingleMachineRun() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 7)
        let cluster = directory.file("cluster")
        let script = repositoryRoot + "/Tests/Scripts/slurm_cluster.sh"
        let started = Date()
        let start = try runShell("\(script) start \(cluster)")
        defer { _ = try? runShell("\(script) stop \(cluster)") }
        // A machine where the daemons cannot start fails the test, saying why; it does not skip.
        try #require(start.status == 0, "the one-node Slurm cluster did not start:\n\(start.output)")
        let slurm = ["SLURM_CONF": cluster + "/slurm.conf"]

        let merged = directory.file("results/cluster.h5")
        let written = try runCimcarlo([
            "slurm", fixture.spec, "--shards", "3", "--cpus-per-task", "1",
            "--output", merged,
        ])
        try #require(written.status == 0, "\(written.standardError)")
        let job = SlurmJob(executable: "cimcarlo", specPath: fixture.spec, output: merged, shards: 3, cpusPerTask: 1)
        #expect(written.standardOutput.contains(job.submitCommand))
        // The printed submission, with the merge waited for.
        let submit = job.submitCommand.replacingOccurrences(
            of: "sbatch --dependency", with: "sbatch --wait --dependency")
        let submitted = try runShell(submit, environment: slurm)
        let logs = (0..<3).map { "\(job.scriptDirectory)/shard-\($0).log" } + ["\(job.scriptDirectory)/merge.log"]
        let logText = logs.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "(no \($0))" }.joined(
            separator: "\n")
        try #require(submitted.status == 0, "sbatch: \(submitted.output)\n\(logText)")
        for shard in job.shardFiles { #expect(FileManager.default.fileExists(atPath: shard)) }
        note(
            String(
                format: "SlurmJobTests: cluster start, 3 shards and the merge took %.1f s",
                Date().timeIntervalSince(started)))

        let single = directory.file("single.h5")
        let run = try runCimcarlo(["run", fixture.spec, "--output", single, "--quiet"])
        try #require(run.status == 0, "\(run.standardError)")
        let (status, output) = try runPython([
            repositoryRoot + "/Tests/Scripts/compare_results.py", single, merged,
            "--ignore-attribute", "created_utc",
        ])
        #expect(status == 0, "\(output)")
    }

    @Test func scriptsNameEverythingByAbsolutePath() {
        let job = SlurmJob(
            executable: "/opt/cimcarlo", specPath: "/data/my study.toml", output: "/data/out/study.h5",
            shards: 4, cpusPerTask: 8, partition: "gpu", timeLimit: "1:00:00",
            runArguments: ["--seed", "3"])
        #expect(job.shardFiles.last == "/data/out/study.shard-3-of-4.h5")
        #expect(job.arrayScript.contains("#SBATCH --array=0-3"))
        #expect(job.arrayScript.contains("#SBATCH --cpus-per-task=8"))
        #expect(job.arrayScript.contains("#SBATCH --partition=gpu"))
        #expect(job.arrayScript.contains("#SBATCH --time=1:00:00"))
        #expect(
            job.arrayScript.contains(
                "srun /opt/cimcarlo run '/data/my study.toml' --output /data/out/study.h5 --seed 3 --shard \"${SLURM_ARRAY_TASK_ID}/4\""
            ))
        #expect(job.mergeScript.contains("merge /data/out/study.shard-0-of-4.h5 /data/out/study.shard-1-of-4.h5"))
        #expect(
            job.submitCommand
                == "jobid=$(sbatch --parsable /data/out/study.slurm/array.sbatch) && sbatch --dependency=afterok:${jobid%%;*} /data/out/study.slurm/merge.sbatch"
        )
    }
}

/// A line on stderr from a test (figures the closing notes quote).
private func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
