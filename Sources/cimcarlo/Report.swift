import ArgumentParser
import CimCarlo

extension CimCarloCommand {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the summary table of a result file.",
            discussion: """
                Per policy and time: mean accuracy with its 95 % CI, std, the median and the 10th and 1st \
                percentiles (KPP) with distribution-free 95 % CIs, yield at the \
                spec's threshold with its Wilson interval, programming cycles and speed-up against `all`. \
                Works on partial files (statistics over the completed instances).

                Example: cimcarlo report runs/out/quickstart.h5 --json
                """)

        @Argument(help: ArgumentHelp("Result file (HDF5).", valueName: "file.h5"))
        var file: String

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            try reportingErrors {
                let report = try readingInputs(file) { try ResultReport(path: file) }
                print(json ? try report.json() : report.table())
            }
        }
    }
}
