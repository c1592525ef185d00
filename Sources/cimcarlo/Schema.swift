import ArgumentParser
import CimCarlo

extension CimCarloCommand {
    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the per-instance datasets of a result file as JSON.",
            discussion: """
                One entry per dataset with a row per chip instance: name, dimensions, NumPy element type, \
                meaning, and, for a dataset written only when the device model gives a value, the attribute \
                that carries it. analysis/result_schema.json holds this output for validate_result.py.

                Example: cimcarlo schema > analysis/result_schema.json
                """)

        func run() throws {
            try reportingErrors { print(try ResultSchema.json(), terminator: "") }
        }
    }
}
