import CimCarlo
import Foundation

/// A study split into a Slurm job array — one array task per shard, each running
/// `cimcarlo run --shard $SLURM_ARRAY_TASK_ID/N` — and a merge job that runs once every
/// array task has succeeded (`sbatch --dependency=afterok:<array job>`).
///
/// The scripts name everything by absolute path (binary, spec, files), so they run from any
/// directory of a cluster whose nodes share the file system.
struct SlurmJob: Sendable {
    /// The `cimcarlo` binary the tasks run.
    var executable: String
    var specPath: String
    /// The merged result file.
    var output: String
    var shards: Int
    var cpusPerTask: Int
    var partition: String?
    /// Slurm's time limit per array task, e.g. `2:00:00`.
    var timeLimit: String?
    /// Further `cimcarlo run` options every shard gets (`--seed`, `--instances`).
    var runArguments: [String]

    init(
        executable: String, specPath: String, output: String, shards: Int, cpusPerTask: Int,
        partition: String? = nil, timeLimit: String? = nil, runArguments: [String] = []
    ) {
        func absolute(_ path: String) -> String {
            path.hasPrefix("/")
                ? path
                : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                    .standardizedFileURL.path
        }
        self.executable = absolute(executable)
        self.specPath = absolute(specPath)
        self.output = absolute(output)
        self.shards = shards
        self.cpusPerTask = cpusPerTask
        self.partition = partition
        self.timeLimit = timeLimit
        self.runArguments = runArguments
    }

    /// The shard files, in shard order.
    var shardFiles: [String] {
        (0..<shards).map { Shard(index: $0, count: shards).filePath(forResult: output) }
    }

    /// The folder of the scripts and the tasks' logs: `out/study.slurm/` for `out/study.h5`.
    var scriptDirectory: String { (output as NSString).deletingPathExtension + ".slurm" }
    var arrayScriptPath: String { scriptDirectory + "/array.sbatch" }
    var mergeScriptPath: String { scriptDirectory + "/merge.sbatch" }

    private var name: String { ((output as NSString).lastPathComponent as NSString).deletingPathExtension }

    private func directives(_ lines: [String]) -> String {
        var all = lines
        if let partition { all.append("--partition=\(partition)") }
        return all.map { "#SBATCH " + $0 }.joined(separator: "\n")
    }

    /// The job-array script.
    var arrayScript: String {
        var lines = [
            "--job-name=cimcarlo-\(name)", "--array=0-\(shards - 1)", "--ntasks=1",
            "--cpus-per-task=\(cpusPerTask)", "--output=\(scriptDirectory)/shard-%a.log",
        ]
        if let timeLimit { lines.append("--time=\(timeLimit)") }
        let run = ([executable, "run", specPath, "--output", output] + runArguments).map(Self.quoted)
            .joined(separator: " ")
        return """
            #!/bin/bash
            \(directives(lines))
            # Written by `cimcarlo slurm`: shard $SLURM_ARRAY_TASK_ID of \(shards) of \(specPath).
            # A task that is run again resumes its shard file when it holds completed instances,
            # and starts it afresh when it is missing, empty or unreadable (`--continue`).
            set -euo pipefail
            srun \(run) --shard "${SLURM_ARRAY_TASK_ID}/\(shards)" --threads "${SLURM_CPUS_PER_TASK:-1}" --quiet --continue

            """
    }

    /// The merge job's script.
    var mergeScript: String {
        let lines = [
            "--job-name=cimcarlo-\(name)-merge", "--ntasks=1", "--cpus-per-task=1",
            "--output=\(scriptDirectory)/merge.log",
        ]
        let merge = ([executable, "merge"] + shardFiles + ["--output", output, "--force"]).map(Self.quoted)
            .joined(separator: " ")
        return """
            #!/bin/bash
            \(directives(lines))
            # Written by `cimcarlo slurm`: joins the \(shards) shard files of \(specPath) into \(output).
            set -euo pipefail
            srun \(merge)

            """
    }

    /// The shell command that submits the array and the merge after it.
    var submitCommand: String {
        "jobid=$(sbatch --parsable \(Self.quoted(arrayScriptPath))) && "
            + "sbatch --dependency=afterok:${jobid%%;*} \(Self.quoted(mergeScriptPath))"
    }

    /// What to do when array tasks fail: the merge job then waits forever
    /// (`DependencyNeverSatisfied`), so it is cancelled, the failed tasks run again (each
    /// resumes its shard), and the merge is submitted after them.
    var recoveryCommands: [String] {
        [
            "sacct -j <array job> --format=JobID,State   # which tasks failed; see \(scriptDirectory)/shard-<k>.log",
            "scancel <merge job>                          # it waits for a dependency that can no longer be met",
            "jobid=$(sbatch --parsable --array=<k>,<k> \(Self.quoted(arrayScriptPath))) && "
                + "sbatch --dependency=afterok:${jobid%%;*} \(Self.quoted(mergeScriptPath))",
        ]
    }

    /// Writes both scripts (executable) into `scriptDirectory`.
    func writeScripts() throws {
        do {
            try FileManager.default.createDirectory(atPath: scriptDirectory, withIntermediateDirectories: true)
            for (path, text) in [(arrayScriptPath, arrayScript), (mergeScriptPath, mergeScript)] {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
                try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            }
        } catch {
            throw ResultFileError(
                path: scriptDirectory, reason: "cannot write the Slurm scripts (\(error.localizedDescription))",
                kind: .runtimeFailure)
        }
    }

    /// `text` as one shell word (single-quoted unless it is plainly safe).
    static func quoted(_ text: String) -> String {
        let safe = CharacterSet(
            charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+=:@%,")
        if !text.isEmpty && text.unicodeScalars.allSatisfy(safe.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
