import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Slurm: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a Slurm job array that runs a study in shards, and its merge job.",
            discussion: """
                Writes out/<study>.slurm/array.sbatch (one array task per shard: cimcarlo run --shard \
                $SLURM_ARRAY_TASK_ID/N) and merge.sbatch (cimcarlo merge of every shard into the result), and \
                prints the command that submits both, the merge depending on the array (afterok). The nodes \
                must share the file system that holds this binary, the spec and its inputs.

                Example: cimcarlo slurm runs/quickstart.toml --shards 32 --cpus-per-task 8 --time 1:00:00
                """)

        @Argument(help: ArgumentHelp("Run spec (TOML).", valueName: "spec.toml"))
        var spec: String

        @Option(help: ArgumentHelp("Number of shards (array tasks).", valueName: "N"))
        var shards: Int

        @Option(help: ArgumentHelp("Slurm partition (default: the cluster's default).", valueName: "P"))
        var partition: String?

        @Option(help: ArgumentHelp("CPUs per array task; each task runs that many worker threads.", valueName: "C"))
        var cpusPerTask = 1

        @Option(help: ArgumentHelp("Time limit per array task, in Slurm's format (e.g. 2:00:00).", valueName: "T"))
        var time: String?

        @Option(help: ArgumentHelp("Result file (default: the spec's `output`).", valueName: "file.h5"))
        var output: String?

        @Option(help: ArgumentHelp("Number of chip instances (default: the spec's `instances`).", valueName: "N"))
        var instances: Int?

        @Option(help: ArgumentHelp("Random seed (default: the spec's `seed`).", valueName: "S"))
        var seed: UInt64?

        func validate() throws {
            guard (1...100_000).contains(shards) else {
                throw ValidationError("--shards must be 1 to 100000, got \(shards)")
            }
            guard (1...1024).contains(cpusPerTask) else {
                throw ValidationError("--cpus-per-task must be 1 to 1024, got \(cpusPerTask)")
            }
            if let instances, instances < 1 {
                throw ValidationError("--instances must be at least 1, got \(instances)")
            }
        }

        func run() throws {
            try reportingErrors {
                let runSpec = try RunSpec.load(path: spec)
                guard runSpec.sweep.isEmpty else {
                    throw ConfigurationError(
                        file: spec, key: "sweep",
                        message: "a sweep is several studies; give `cimcarlo slurm` one spec per study")
                }
                let total = instances ?? runSpec.instances
                guard shards <= total else {
                    throw failure(
                        "--shards (\(shards)) cannot exceed the instances (\(total))", code: ExitStatus.badInput)
                }
                var arguments: [String] = []
                if let instances { arguments += ["--instances", "\(instances)"] }
                if let seed { arguments += ["--seed", "\(seed)"] }
                let job = SlurmJob(
                    executable: Self.executablePath, specPath: spec, output: output ?? runSpec.outputPath,
                    shards: shards, cpusPerTask: cpusPerTask, partition: partition, timeLimit: time,
                    runArguments: arguments)
                try job.writeScripts()
                emit(
                    "wrote \(job.arrayScriptPath) (\(shards) array tasks) and \(job.mergeScriptPath); submit both with:"
                )
                emit(job.submitCommand)
                emit("if array tasks fail, the merge job stays PENDING (DependencyNeverSatisfied); then:")
                for command in job.recoveryCommands { emit("  " + command) }
            }
        }

        /// This binary's absolute path (the array tasks run the same build).
        static var executablePath: String {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        }
    }
}
