import ArgumentParser
import CimCarlo

/// Where images come from; shared by the subcommands that read a dataset.
struct DatasetOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Dataset: `fashion-mnist` (Debian's dataset-fashion-mnist), `fashion-mnist:DIR`, or an HDF5 file with `images` [N,C,H,W] and `labels` [N].",
            valueName: "source"))
    var dataset: String = "fashion-mnist"

    @Option(help: ArgumentHelp("Use only the first N test images (default: the full test split).", valueName: "N"))
    var testLimit: Int?

    func validate() throws {
        if let testLimit, testLimit < 1 {
            throw ValidationError("--test-limit must be at least 1, got \(testLimit)")
        }
    }

    var source: DatasetSource { DatasetSource(argument: dataset) }

    func loadTest() throws -> LabeledImages {
        try source.load(.test).prefix(testLimit)
    }
}
