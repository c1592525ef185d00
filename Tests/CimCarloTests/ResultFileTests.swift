import CimCarlo
import Foundation
import Testing

/// The result file's `/summary` is what NumPy recomputes from its `/accuracy`
/// (`analysis/validate_result.py`), and the check notices a summary that is not.
@Suite struct ResultFileTests {
    let directory = TemporaryDirectory()

    @Test func summaryIsRecomputedFromTheAccuracies() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 9)
        let path = directory.file("summary.h5")
        try Study(spec: try RunSpec.load(path: fixture.spec)).run(output: path, threads: 2)
        let validator = repositoryRoot + "/analysis/validate_result.py"
        let good = try runPython([validator, path])
        #expect(good.status == 0, "\(good.output)")
        // One cell of the stored mean moved by 1e-6: the recomputation must notice.
        do {
            let file = try HDF5File(path: path, mode: .readWrite)
            let mean = try file.read("/summary/mean", as: Double.self).values
            try file.writeBlock([mean[1] + 1e-6], to: "/summary/mean", start: [0, 1], count: [1, 1])
        }
        let bad = try runPython([validator, path])
        #expect(bad.status == 1)
        #expect(bad.output.contains("/summary/mean differs from its recomputation from /accuracy"), "\(bad.output)")
    }
}
