import Foundation
import Testing

@testable import CimCarlo

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
