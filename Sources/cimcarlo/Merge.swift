import ArgumentParser
import CimCarlo
import Foundation

extension CimCarloCommand {
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Join the shard files of a study into its result file.",
            discussion: """
                Checks that every shard carries the same plan digest (spec, device model, model and dataset \
                hashes, seed, selections) and that together they hold every instance exactly once, then writes \
                the result a single-machine run of the same spec and seed writes, and prints its summary.

                Example: cimcarlo merge runs/out/quickstart.shard-*-of-4.h5 --output runs/out/quickstart.h5
                """)

        @Argument(help: ArgumentHelp("Shard files written by `cimcarlo run --shard k/N`.", valueName: "shard.h5"))
        var shards: [String]

        @Option(help: ArgumentHelp("The merged result file.", valueName: "file.h5"))
        var output: String

        @Flag(help: "Overwrite an existing result file.")
        var force = false

        func validate() throws {
            guard !shards.isEmpty else { throw ValidationError("give at least one shard file") }
        }

        func run() throws {
            try reportingErrors {
                _ = try readingInputs("the shard files") {
                    try ShardMerge.merge(shards: shards, output: output, force: force)
                }
                emit(try ResultReport(path: output).table())
            }
        }
    }
}
