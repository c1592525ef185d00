import CimCarlo
import Foundation
import Testing

/// End-to-end runs of `cimcarlo run`, `map` and `report` on the built binary.
@Suite struct RunCommandTests {
    let directory = TemporaryDirectory()

    private func accuracy(_ path: String) throws -> [Float] {
        try HDF5File(path: path, mode: .readOnly).read("/accuracy", as: Float.self).values
    }

    @Test func oneAndTwoThreadsGiveBitIdenticalAccuracy() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let one = try runCimcarlo([
            "run", fixture.spec, "--threads", "1", "--output", directory.file("one.h5"), "--quiet",
        ])
        let two = try runCimcarlo([
            "run", fixture.spec, "--threads", "2", "--output", directory.file("two.h5"), "--quiet",
        ])
        #expect(one.status == 0, "\(one.standardError)")
        #expect(two.status == 0, "\(two.standardError)")
        #expect(one.standardError.isEmpty)
        #expect(try accuracy(directory.file("one.h5")) == (try accuracy(directory.file("two.h5"))))
        #expect(one.standardOutput.contains("none"))
        #expect(one.standardOutput.contains("1 d"))
    }

    @Test func resultFileMeetsTheSchemaReadIndependently() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let run = try runCimcarlo(["run", fixture.spec, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        // The spec's relative output resolves against the spec's directory.
        let output = directory.file("out/result.h5")
        #expect(FileManager.default.fileExists(atPath: output))
        let (status, text) = try runPython([repositoryRoot + "/analysis/validate_result.py", output])
        #expect(status == 0, "\(text)")
        #expect(text == "ok: \(output)\n")
    }

    @Test func xarrayOpensTheResultWithNamedDimensions() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 3)
        let output = directory.file("dims.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let script = """
            import sys, xarray
            ds = xarray.open_dataset(sys.argv[1], engine="h5netcdf")
            a = ds["accuracy"]
            print(a.dims, [str(p) for p in ds["policy"].values], [float(t) for t in ds["time"].values], a.sizes["instance"])
            print(ds["write_cycles"].dims, ds["mean"].dims if "mean" in ds else "")
            """
        let (status, text) = try runPython(["-c", script, output])
        #expect(status == 0, "\(text)")
        #expect(
            text.hasPrefix(
                "('instance', 'policy', 'time') ['none', 'all'] [1.0, 3600.0, 86400.0] 3\n('instance', 'policy')"),
            "\(text)")
    }

    @Test func analysisRendersEveryFigure() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 4)
        let output = directory.file("plots.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let (status, text) = try runPython([
            repositoryRoot + "/analysis/plot_results.py", output, "--out", directory.file("png"),
        ])
        #expect(status == 0, "\(text)")
        for name in ["distribution", "time", "cost", "yield"] {
            let png = directory.file("png/plots-\(name).png")
            let data = try Data(contentsOf: URL(fileURLWithPath: png))
            #expect(data.count > 10_000, "\(name) is \(data.count) bytes")
            #expect(data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(name) is not a PNG")
        }
    }

    @Test func existingOutputNeedsForceAndExitsTwo() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 2)
        let output = directory.file("r.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let again = try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"])
        #expect(again.status == 2)
        #expect(
            again.standardError
                == "cimcarlo: error: \(output): already exists (use --force to overwrite it, or --resume to complete a partial run)\n"
        )
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet", "--force"]).status == 0)
    }

    @Test func reportPrintsJSONWithEveryStatistic() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 3)
        let output = directory.file("r.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let report = try runCimcarlo(["report", output, "--json"])
        #expect(report.status == 0)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        let rows = try #require(object["rows"] as? [[String: Any]])
        #expect(rows.count == 2 * 3)
        for key in SummaryStatistics.names + ["policy", "time_s", "mean_write_cycles"] {
            #expect(rows[0][key] != nil, "missing \(key)")
        }
        #expect(object["status"] as? String == "complete")
    }

    @Test func selectivePoliciesWriteTheirSelectionsAndScores() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 3)
        var text = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "policies = [\"none\", \"all\"]",
            with: "policies = [\"none\", \"swim\", \"magnitude\", \"random@0.5\", \"all\"]\nbudgets = [0.1, 0.3]")
        try text.write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        let output = directory.file("swim.h5")
        let run = try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"])
        #expect(run.status == 0, "\(run.standardError)")
        let file = try HDF5File(path: output, mode: .readOnly)
        #expect(
            try file.readStrings("/policy") == [
                "none", "swim@0.1", "swim@0.3", "magnitude@0.1", "magnitude@0.3", "random@0.5", "all",
            ])
        let budgets = try file.read("/policy_budget", as: Double.self).values
        #expect(
            budgets[0] == 0 && budgets[6] == 1 && abs(budgets[1] - 0.1) < 1.0 / 329 && abs(budgets[5] - 0.5) < 1.0 / 329
        )
        let selection = try file.read("/selection/swim@0.1/conv1", as: UInt8.self)
        #expect(selection.shape == [3, 2, 3, 3])
        #expect(try file.read("/sensitivity/fc2", as: Float.self).shape == [5, 7])
        #expect(try file.stringAttribute("score", on: "/sensitivity").hasPrefix("swim"))
        #expect(try file.read("/summary/diff_mean", as: Double.self).shape == [7, 3])
        let report = try runCimcarlo(["report", output])
        #expect(report.standardOutput.contains("Δ vs none"))
    }

    @Test func mapPrintsEveryWeightLayer() throws {
        let fixture = try TinyStudyFixture(directory: directory)
        let map = try runCimcarlo(["map", fixture.spec])
        #expect(map.status == 0, "\(map.standardError)")
        for name in ["conv1", "conv2", "fc1", "fc2", "total"] { #expect(map.standardOutput.contains(name)) }
    }

    /// The README's tour quotes the quickstart's mapping; it must be what `map` prints.
    @Test(.enabled(if: fashionMNISTInstalled)) func readmeQuotesTheQuickstartsMapping() throws {
        let map = try runCimcarlo(["map", repositoryRoot + "/runs/quickstart.toml"])
        try #require(map.status == 0, "\(map.standardError)")
        let total = try #require(map.standardOutput.split(separator: "\n").first { $0.contains("total") })
        let fields = total.split(separator: " ")
        // `total  <arrays>  <devices>  <utilisation> %`
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let quoted = "491 760 devices on 42 arrays of 128 × 128, 71.5 % of the cells in use"
        #expect(readme.contains(quoted))
        #expect(fields.contains("491760") && fields.contains("42") && fields.contains("71.5"), "\(total)")
    }

    @Test func badSpecValueIsOneLineWithFileAndKey() throws {
        let fixture = try TinyStudyFixture(directory: directory, extraSpec: "")
        let text = try String(contentsOfFile: fixture.spec, encoding: .utf8).replacingOccurrences(
            of: "weight_bits = 6", with: "weight_bits = 40")
        try text.write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        let result = try runCimcarlo(["run", fixture.spec])
        #expect(result.status == 2)
        #expect(
            result.standardError
                == "cimcarlo: error: \(fixture.spec): key `mapping.weight_bits`: must be an integer from 0 to 16, got 40\n"
        )
    }
}
