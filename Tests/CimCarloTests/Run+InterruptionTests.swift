import CimCarlo
import Foundation
import Testing

/// Interrupted runs lose nothing: SIGINT and SIGTERM stop after the instances in flight with
/// a resume hint; after SIGKILL, `--resume` completes the file to the uninterrupted result.
@Suite(.serialized) struct InterruptionTests {
    let directory = TemporaryDirectory()

    private func accuracy(_ path: String) throws -> [Float] {
        try HDF5File(path: path, mode: .readOnly).read("/accuracy", as: Float.self).values
    }

    /// Starts `cimcarlo run`, waits for its first progress line, then sends `signal` (2 000 tiny
    /// instances, so that the signal lands mid-run in an optimised build too).
    private func interruptedRun(_ arguments: [String], signal: Int32) throws -> (status: Int32, standardError: String) {
        let run = try BackgroundRun(arguments)
        run.waitFor("inst/s")
        run.signal(signal)
        return run.wait()
    }

    @Test(arguments: [SIGINT, SIGTERM, SIGKILL])
    func resumeAfterASignalGivesTheUninterruptedResult(signal: Int32) throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 2000)
        let whole = directory.file("whole-\(signal).h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", whole, "--quiet"]).status == 0)
        let parts = directory.file("parts-\(signal).h5")
        let (status, message) = try interruptedRun(["run", fixture.spec, "--output", parts], signal: signal)
        let done = try HDF5File(path: parts, mode: .readOnly).read("/completed", as: UInt8.self).values
        #expect(done.contains(0) && done.contains(1), "the signal should land mid-run")
        if signal == SIGKILL {
            #expect(status == SIGKILL)
        } else {
            #expect(status == 128 + signal, "\(message)")
            #expect(
                message.contains("finish it with: cimcarlo run \(fixture.spec) --resume --output \(parts)"),
                "\(message)")
            let file = try HDF5File(path: parts, mode: .readOnly)
            #expect(try file.stringAttribute("status") == "partial")
            #expect(try file.scalarAttribute("instances_completed", as: Int64.self) < 2000)
        }
        let resumed = try runCimcarlo(["run", fixture.spec, "--output", parts, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try accuracy(parts) == (try accuracy(whole)))
    }
}
