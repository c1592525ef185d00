import CimCarlo
import Foundation
import Testing

/// End-to-end runs of the built binary.
@Suite struct CommandLineTests {
    let directory = TemporaryDirectory()

    /// A tiny model and a matching HDF5 dataset on disk.
    private func writeTinyModelAndData() throws -> (model: String, data: String, expected: Evaluation) {
        let fixture = try TinyStudyFixture(directory: directory)
        let expected = try NetworkWorkspace(network: fixture.network, batchCapacity: 16)
            .evaluate(fixture.network, on: fixture.images)
        return (fixture.model, fixture.data, expected)
    }

    /// `Tests/Golden/*.txt` hold the expected help texts; regenerate them with
    /// `COLUMNS=80 .build/release/cimcarlo --help > Tests/Golden/cimcarlo-help.txt` after a deliberate change.
    @Test(arguments: [([], "cimcarlo-help"), (["run"], "cimcarlo-run-help")])
    func helpTextMatchesTheGoldenFile(subcommand: [String], golden: String) throws {
        let result = try runCimcarlo(subcommand + ["--help"], environment: ["COLUMNS": "80"])
        #expect(result.status == 0)
        let expected = try String(contentsOfFile: repositoryRoot + "/Tests/Golden/\(golden).txt", encoding: .utf8)
        #expect(result.standardOutput == expected)
    }

    @Test func everySubcommandHelpHasASummaryAndAnExample() throws {
        for subcommand in ["train", "eval", "map", "run", "report", "search", "worst-case"] {
            let help = try runCimcarlo([subcommand, "--help"], environment: ["COLUMNS": "200"])
            #expect(help.status == 0)
            #expect(help.standardOutput.hasPrefix("OVERVIEW: "), "\(subcommand)")
            #expect(help.standardOutput.contains("Example: cimcarlo \(subcommand)"), "\(subcommand)")
        }
    }

    /// `worst-case` prints one row per bound, says when there is no result file to take the
    /// Monte-Carlo p01 from, and takes it from the study's result once there is one.
    @Test func runsWorstCaseOnATinyStudy() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let arguments = [
            "worst-case", fixture.spec, "--bound", "0.5,1", "--bound", "2", "--steps", "4", "--threads", "2",
        ]
        let before = try runCimcarlo(arguments)
        #expect(before.status == 0, "\(before.standardError)")
        let lines = before.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("worst-case search on \(fixture.spec): "))
        #expect(lines[0].hasSuffix("50 test images, 4 steps × 1 start"))
        let rows = lines.filter { $0.hasPrefix("   0.5 ") || $0.hasPrefix("     1 ") || $0.hasPrefix("     2 ") }
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.split(separator: " ")[3] == "-" })
        let output = (fixture.spec as NSString).deletingLastPathComponent + "/out/result.h5"
        #expect(
            lines.contains(
                "no result file with chips at \(output) for the Monte-Carlo p01 (cimcarlo run \(fixture.spec) makes it)"
            ))
        #expect(lines.last!.hasSuffix("not a proof"))

        let run = try runCimcarlo(["run", fixture.spec, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let p01 = try ResultReport(path: output).summary.cells[0][0].p01
        let after = try runCimcarlo(arguments)
        #expect(after.status == 0, "\(after.standardError)")
        #expect(after.standardOutput.contains("MC p01 % (none @ 1 s)"))
        let row = after.standardOutput.split(separator: "\n").first { $0.hasPrefix("     1 ") }!
        #expect(row.split(separator: " ")[3] == String(format: "%.2f", 100 * p01))
        #expect(
            after.standardOutput.contains("Monte-Carlo p01 in \(output) (6 chips, on its own test images): none @ 1 s ")
        )
    }

    @Test func worstCaseRefusesBadBoundsInOneLine() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        for bound in ["0", "-1", "nan", "inf", "1,x"] {
            let result = try runCimcarlo(["worst-case", fixture.spec, "--bound=\(bound)"])
            #expect(result.status == 2, "\(bound)")
            let bad = bound == "1,x" ? "x" : bound
            #expect(
                result.standardError
                    == "cimcarlo: error: --bound takes positive, finite numbers of device sigmas, got \(bad) (see --help)\n"
            )
        }
    }

    @Test func evalPrintsTheCleanAccuracy() throws {
        let (model, data, expected) = try writeTinyModelAndData()
        let result = try runCimcarlo(["eval", "--model", model, "--dataset", data])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains(String(format: "accuracy %.2f %%", 100 * expected.accuracy)))
        #expect(result.standardOutput.contains("(50 test images)"))
    }

    @Test func missingModelIsOneLineAndExitCodeTwo() throws {
        let result = try runCimcarlo(["eval", "--model", directory.file("absent.h5")])
        #expect(result.status == 2)
        #expect(
            result.standardError == "cimcarlo: error: \(directory.file("absent.h5")): cannot open it (no such file)\n")
    }

    @Test func mismatchedDatasetIsOneLineAndExitCodeTwo() throws {
        let (model, _, _) = try writeTinyModelAndData()
        let other = directory.file("other.h5")
        do {
            let file = try HDF5File(path: other, mode: .createTruncating)
            try file.write(
                ShapedArray(values: [UInt8](repeating: 1, count: 2 * 9), shape: [2, 1, 3, 3]), to: "/images")
            try file.write([Int64(0), 1], to: "/labels")
        }
        let result = try runCimcarlo(["eval", "--model", model, "--dataset", other])
        #expect(result.status == 2)
        #expect(
            result.standardError
                == "cimcarlo: error: \(other): images are [1, 3, 3] but the model expects [2, 12, 12]\n")
    }

    @Test func badOptionValuesAreUsageErrorsWithExitCodeTwo() throws {
        let result = try runCimcarlo(["train", "--arch", "mlp", "--epochs", "0", "--output", directory.file("m.h5")])
        #expect(result.status == 2)
        #expect(result.standardError.contains("--epochs must be 1 to 1000, got 0"))
        let unknown = try runCimcarlo(["train", "--arch", "resnet", "--output", directory.file("m.h5")])
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains("resnet"))
    }

    @Test func badPathsAndOptionsAreOneLine() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        // Bad input exits 2; a directory that cannot be created is a runtime failure, exit 1.
        let cases: [([String], String, Int32)] = [
            (["run", directory.path], "cimcarlo: error: \(directory.path): is a directory, not a TOML file\n", 2),
            (
                ["run", fixture.spec, "--output", "/proc/absent/result.h5"],
                "cimcarlo: error: /proc/absent/result.h5: cannot create its directory /proc/absent\n", 1
            ),
            (
                ["run", fixture.spec, "--threads", "999"],
                "cimcarlo: error: --threads must be 1 to 256, got 999 (see --help)\n", 2
            ),
            (["frobnicate"], "cimcarlo: error: Unexpected argument 'frobnicate' (see --help)\n", 2),
            (
                ["run", fixture.spec, "--resume", "--output", directory.file("never.h5")],
                "cimcarlo: error: \(directory.file("never.h5")): cannot resume: no such file (run without --resume to start it)\n",
                2
            ),
        ]
        for (arguments, message, code) in cases {
            let result = try runCimcarlo(
                arguments + ["--quiet"].filter { _ in arguments.first == "run" && arguments.count > 2 })
            #expect(result.status == code, "\(arguments)")
            #expect(result.standardError == message, "\(arguments)")
        }
    }

    @Test(.enabled(if: fashionMNISTInstalled))
    func trainWritesAModelThatEvalReads() throws {
        let model = directory.file("mlp.h5")
        let trained = try runCimcarlo([
            "train", "--arch", "mlp", "--epochs", "1", "--seed", "4",
            "--train-limit", "2000", "--test-limit", "500", "--output", model,
        ])
        #expect(trained.status == 0, "\(trained.standardError)")
        #expect(trained.standardOutput.contains("epoch   1"))
        let provenance = try Network.provenance(of: model)
        #expect(
            provenance["training_command"]
                == "cimcarlo train --arch mlp --epochs 1 --seed 4 --train-limit 2000 --output \(model)")
        #expect(provenance["training_seed"] == "4")
        let evaluated = try runCimcarlo(["eval", "--model", model, "--test-limit", "500"])
        #expect(evaluated.status == 0)
        let reported = try #require(provenance["test_accuracy"].flatMap(Double.init))
        #expect(evaluated.standardOutput.contains(String(format: "accuracy %.2f %%", 100 * reported)))
        #expect(reported > 0.5)
    }
}
