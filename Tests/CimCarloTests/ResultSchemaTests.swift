import CimCarlo
import Foundation
import Testing

/// The per-instance table is the schema `analysis/validate_result.py` reads, and a result file
/// holds what it lists.
@Suite struct ResultSchemaTests {
    let directory = TemporaryDirectory()

    /// Regenerate with `.build/release/cimcarlo schema > analysis/result_schema.json` after
    /// changing the table.
    @Test func jsonFileMatchesTheTable() throws {
        let stored = try String(contentsOfFile: repositoryRoot + "/analysis/result_schema.json", encoding: .utf8)
        #expect(try ResultSchema.json() == stored)
    }

    @Test func resultFileHoldsEveryDatasetOfTheTableAndReadsItBack() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 3)
        // In [write_verify], the device model's last table: the energy dataset appears too.
        let device = try String(contentsOfFile: fixture.deviceModel, encoding: .utf8)
        try (device + "\nenergy_per_pulse_j = 1e-11\n").write(
            toFile: fixture.deviceModel, atomically: true, encoding: .utf8)
        let study = try Study(spec: try RunSpec.load(path: fixture.spec))
        let path = directory.file("schema.h5")
        try study.run(output: path, threads: 2)
        let result = try ResultFile.open(path: path)
        #expect(ResultSchema.perInstance(for: result.plan).map(\.name) == ResultSchema.perInstance.map(\.name))
        let file = try HDF5File(path: path, mode: .readOnly)
        for dataset in ResultSchema.perInstance(for: result.plan) {
            #expect(try file.shape(of: dataset.path) == dataset.shape(rows: 3, plan: result.plan), "\(dataset.name)")
        }
        let collector = ResultCollector(
            instances: [0, 1, 2], policies: result.plan.policyLabels.count, times: result.plan.timesSeconds.count)
        try study.simulate(instances: [0, 1, 2], into: collector, threads: 2)
        #expect(try result.results() == collector.results)
    }
}
