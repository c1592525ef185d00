import CimCarlo
import Foundation
import Testing

@testable import CimCarloStudy

@Suite struct SweepTests {
    @Test func sweepExpandsIntoOneLabelledRunPerCombination() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory, instances: 2)
        var text = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        text += """

            [periphery]
            fidelity = "tile"
            [sweep]
            adc_bits = [3, 8]
            adc_placement = ["slice", "merged"]
            """
        try text.write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        let runs = try RunSpec.load(path: fixture.spec).expanded()
        #expect(runs.map(\.label) == ["slice-adc3", "slice-adc8", "merged-adc3", "merged-adc8"])
        #expect(runs[3].spec.periphery.adcPlacement == .merged && runs[3].spec.periphery.adcBits == 8)
        #expect(runs[1].spec.outputPath == directory.file("out/result-slice-adc8.h5"))
        let result = try runCimcarlo(["run", fixture.spec, "--quiet"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("sweep summary"))
        for run in runs {
            let file = try HDF5File(path: run.spec.outputPath, mode: .readOnly)
            #expect(try file.stringAttribute("periphery").contains("adc_bits=\(run.spec.periphery.adcBits)"))
        }
    }

    @Test func deviceModelSweepRunsEachModelIntoItsOwnFile() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory, instances: 2)
        // A second device model: the fixture's with ten times the programming noise.
        let noisy = directory.file("noisy.toml")
        try String(contentsOfFile: fixture.deviceModel, encoding: .utf8)
            .replacingOccurrences(
                of: "sigma_per_level = [0.02, 0.06, 0.06, 0.03]",
                with: "sigma_per_level = [0.2, 0.6, 0.6, 0.3]"
            )
            .write(toFile: noisy, atomically: true, encoding: .utf8)
        try
            (String(contentsOfFile: fixture.spec, encoding: .utf8)
            + "\n[sweep]\ndevice_models = [\"device.toml\", \"noisy.toml\"]\n")
            .write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        let runs = try RunSpec.load(path: fixture.spec).expanded()
        #expect(runs.map(\.label) == ["device", "noisy"])
        let result = try runCimcarlo(["run", fixture.spec, "--quiet"])
        try #require(result.status == 0, "\(result.standardError)")
        let reports = try runs.map { try ResultReport(path: $0.spec.outputPath) }
        let texts = try runs.map {
            try HDF5File(path: $0.spec.outputPath, mode: .readOnly).stringAttribute("device_model")
        }
        #expect(texts[0].contains("[0.02, 0.06, 0.06, 0.03]") && texts[1].contains("[0.2, 0.6, 0.6, 0.3]"))
        // Ten times the programming noise takes more verify pulses to bring every device in.
        #expect(reports[1].meanWriteCycles[1] > reports[0].meanWriteCycles[1], "\(reports.map(\.meanWriteCycles))")
        #expect(result.standardOutput.contains("sweep summary"))
        #expect(result.standardOutput.contains("noisy  none @ 1 s"))
    }

    @Test func adcSweepNeedsTileFidelity() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory)
        try (String(contentsOfFile: fixture.spec, encoding: .utf8) + "\n[sweep]\nadc_bits = [4]\n")
            .write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        #expect {
            try RunSpec.load(path: fixture.spec)
        } throws: { error in
            "\(error)".hasSuffix("key `sweep.adc_bits`: sweeping the ADC needs [periphery] fidelity = \"tile\"")
        }
    }
}

@Suite struct RunSpecPathTests {
    /// `map` printed `runs/../models/…`; paths are normalised as the spec resolves them.
    @Test func resolvedPathsAreNormalised() {
        #expect(RunSpec.normalised("runs/../models/vit.onnx") == "models/vit.onnx")
        #expect(RunSpec.normalised("/work/runs/./../models//m.onnx") == "/work/models/m.onnx")
        #expect(RunSpec.normalised("../shared/m.onnx") == "../shared/m.onnx")
        #expect(RunSpec.normalised("a/b/../../..") == "..")
    }

    /// `run --test-limit N` evaluates the first N test images (recorded in the result).
    @Test func runTakesATestLimitOnTheCommandLine() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory, instances: 2)
        let result = try runCimcarlo(["run", fixture.spec, "--quiet", "--test-limit", "7"])
        #expect(result.status == 0, "\(result.standardError)")
        let file = try HDF5File(path: directory.file("out/result.h5"), mode: .readOnly)
        #expect(try file.scalarAttribute("test_images", as: Int64.self) == 7)
    }

    /// A SWIM policy on a dataset file without a training split names itself.
    @Test func swimWithoutATrainingSplitSaysSoNamingThePolicy() throws {
        let directory = TemporaryDirectory()
        let fixture = try TinyStudyFixture(directory: directory, instances: 2)
        // The fixture's dataset without its training split.
        let testOnly = directory.file("test-only.h5")
        do {
            let source = try HDF5File(path: fixture.data, mode: .readOnly)
            let file = try HDF5File(path: testOnly, mode: .createTruncating)
            try file.write(try source.read("/images", as: Float.self), to: "/images")
            try file.write(try source.read("/labels", as: Int64.self).values, to: "/labels")
        }
        var text = try String(contentsOfFile: fixture.spec, encoding: .utf8)
        text = text.replacingOccurrences(of: "policies = [", with: "policies = [\"swim@0.1\", ")
            .replacingOccurrences(of: "dataset = \"data.h5\"", with: "dataset = \"test-only.h5\"")
        try text.write(toFile: fixture.spec, atomically: true, encoding: .utf8)
        let result = try runCimcarlo(["run", fixture.spec, "--quiet"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("policy swim@0.1 ranks weights by a pass over the training split"))
        #expect(result.standardError.contains("train_images"))
        #expect(result.standardError.split(separator: "\n").count == 1)
    }
}
