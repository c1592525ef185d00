import CimCarlo
import Foundation
import Testing

/// The faults a result file must survive, each through the binary: a second writer, a
/// file-size limit and a full file system (the previous result byte-identical afterwards), a
/// flipped bit, values no run writes, a study read while it runs, and a Slurm shard killed in
/// its first milliseconds. No test leaves a process, mount or lock behind.
@Suite(.serialized) struct ResultFaultTests {
    let directory = TemporaryDirectory()

    private func accuracy(_ path: String) throws -> [Float] {
        try HDF5File(path: path, mode: .readOnly).read("/accuracy", as: Float.self).values
    }

    private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// `cimcarlo` run under a file-size limit of `bytes` (RLIMIT_FSIZE, as `ulimit -f` sets it).
    private func limited(_ bytes: Int, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProgram("/usr/bin/prlimit", ["--fsize=\(bytes):\(bytes)", cimcarloExecutable] + arguments)
    }

    /// One line of text ending in a newline, containing every one of `parts`.
    private func isOneLine(_ text: String, containing parts: [String]) -> Bool {
        text.hasSuffix("\n") && text.dropLast().split(separator: "\n").count == 1 && parts.allSatisfy(text.contains)
    }

    @Test func aSecondWriterIsRefusedNamingTheFirst() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 2000)
        let output = directory.file("shared.h5")
        let first = try BackgroundRun(["run", fixture.spec, "--output", output, "--threads", "1"])
        first.waitFor("inst/s")
        // Stopped, it holds its lock as long as the test needs.
        first.signal(SIGSTOP)
        for options in [[], ["--force"], ["--resume"], ["--continue"]] {
            let second = try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"] + options)
            #expect(second.status == 1, "\(options)")
            #expect(
                isOneLine(
                    second.standardError,
                    containing: [
                        "cimcarlo: error: \(output): is being written by process \(first.pid) on ", "cimcarlo run",
                    ]),
                "\(options): \(second.standardError)")
        }
        first.signal(SIGTERM)
        first.signal(SIGCONT)
        #expect(first.wait().status == 128 + SIGTERM)
        #expect(!exists(output + ".lock"), "a run that ends removes its lock file")
        let resumed = try runCimcarlo(["run", fixture.spec, "--output", output, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
    }

    @Test func reportAndH5pyReadARunningStudy() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 2000)
        let output = directory.file("running.h5")
        // One worker records instances in order, so those done are the first n.
        let run = try BackgroundRun(["run", fixture.spec, "--output", output, "--threads", "1"])
        run.waitFor("inst/s")
        run.signal(SIGSTOP)
        let report = try runCimcarlo(["report", output, "--json"])
        let table = try runCimcarlo(["report", output])
        let h5py = try runPython([
            "-c",
            "import h5py, sys; f = h5py.File(sys.argv[1], 'r', swmr=True); print(int(f['completed'][:].sum()))",
            output,
        ])
        run.signal(SIGCONT)
        #expect(run.wait().status == 0)
        #expect(report.status == 0, "\(report.standardError)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any])
        #expect(object["status"] as? String == "running")
        let done = try #require(object["instances_completed"] as? Int)
        #expect(done > 0 && done < 2000, "the report should land mid-run")
        #expect(table.standardOutput.hasPrefix("\(output): running, \(done) of 2000 instances"))
        #expect(h5py.status == 0 && h5py.output == "\(done)\n", "\(h5py.output)")

        // The report's mean is the final file's mean over its first `done` instances.
        let rows = try #require(object["rows"] as? [[String: Any]])
        let reported = try #require(rows.first?["mean"] as? Double)
        let values = try accuracy(output)
        let perInstance = values.count / 2000
        let first = (0..<done).map { Double(values[$0 * perInstance]) }
        #expect(abs(first.reduce(0, +) / Double(done) - reported) < 1e-12)
        #expect(try runCimcarlo(["report", output]).standardOutput.hasPrefix("\(output): complete, 2000 of 2000"))
    }

    @Test func aFileSizeLimitStopsTheRunAndLeavesTheGoodResultAlone() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 40)
        let good = directory.file("good.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", good, "--quiet"]).status == 0)
        let goodBytes = try bytes(good)
        let goodAccuracy = try accuracy(good)

        // Too small for the file's instances: refused at once, nothing left behind.
        let fresh = directory.file("fresh.h5")
        let small = try limited(4096, ["run", fixture.spec, "--output", fresh, "--quiet"])
        #expect(small.status == 1)
        #expect(isOneLine(small.output, containing: ["\(fresh): cannot create", "file too large"]), "\(small.output)")
        #expect(!exists(fresh) && !exists(fresh + ".lock"))
        let forced = try limited(4096, ["run", fixture.spec, "--output", good, "--force", "--quiet"])
        #expect(forced.status == 1)
        #expect(isOneLine(forced.output, containing: ["\(good).replacing: cannot create", "file too large"]))
        #expect(try bytes(good) == goodBytes)
        #expect(!exists(good + ".replacing"))

        // Room for every instance, not for the summary: the instances are kept, the good result
        // untouched, and --resume finishes the replacement once there is room.
        let almost = goodBytes.count - 1
        let late = try limited(almost, ["run", fixture.spec, "--output", good, "--force", "--quiet"])
        #expect(late.status == 1)
        #expect(
            isOneLine(
                late.output,
                containing: [
                    "file too large; 40 instances are safe in \(good).replacing, finish with --resume once there is room"
                ]),
            "\(late.output)")
        #expect(try bytes(good) == goodBytes)
        #expect(!exists(good + ".writing"))
        let resumed = try runCimcarlo(["run", fixture.spec, "--output", good, "--resume", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(try accuracy(good) == goodAccuracy)
        #expect(!exists(good + ".replacing"))

        let first = try limited(almost, ["run", fixture.spec, "--output", fresh, "--quiet"])
        #expect(isOneLine(first.output, containing: ["40 instances are safe in \(fresh), finish with --resume"]))
        #expect(try runCimcarlo(["report", fresh]).standardOutput.hasPrefix("\(fresh): partial, 40 of 40 instances"))
        #expect(try runCimcarlo(["run", fixture.spec, "--output", fresh, "--resume", "--quiet"]).status == 0)
        #expect(try accuracy(fresh) == goodAccuracy)
    }

    @Test(.enabled(if: getuid() == 0, "mounting a file system needs root"))
    func aFullFileSystemStopsTheRunAndLeavesTheGoodResultAlone() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 40)
        let disk = directory.file("small-disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try runShell("mount -t tmpfs -o size=512k cimcarlo-test \(disk)")
        try #require(mount.status == 0, "\(mount.output)")
        defer { _ = try? runShell("umount \(disk)") }
        let good = disk + "/good.h5"
        #expect(try runCimcarlo(["run", fixture.spec, "--output", good, "--quiet"]).status == 0)
        let goodBytes = try bytes(good)
        // Fill the rest of the disk.
        _ = try runShell("cat /dev/zero > \(disk)/filler 2>/dev/null")
        for (output, options) in [(good, ["--force"]), (disk + "/fresh.h5", [])] {
            let run = try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"] + options)
            #expect(run.status == 1)
            #expect(
                isOneLine(run.standardError, containing: ["cannot", "no space left on device"]), "\(run.standardError)")
        }
        #expect(try bytes(good) == goodBytes)
        #expect(!exists(good + ".replacing") && !exists(disk + "/fresh.h5"))
    }

    @Test func aFlippedBitIsCaughtByTheChecksum() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 40)
        let output = directory.file("flipped.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let chunk = try runPython([
            "-c",
            "import h5py, sys; c = h5py.File(sys.argv[1], 'r')['accuracy'].id.get_chunk_info(0); print(c.byte_offset, c.size)",
            output,
        ])
        let numbers = chunk.output.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try #require(numbers.count == 2, "\(chunk.output)")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: output))
        let position = UInt64(numbers[0] + numbers[1] / 2)
        try handle.seek(toOffset: position)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: position)
        try handle.write(contentsOf: [byte ^ 0x10])
        try handle.close()
        for arguments in [["report", output], ["run", fixture.spec, "--output", output, "--resume", "--quiet"]] {
            let result = try runCimcarlo(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(
                isOneLine(result.standardError, containing: [output, "/accuracy", "checksum mismatch"]),
                "\(result.standardError)")
        }
    }

    @Test func valuesNoRunWritesAreRefused() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 6)
        let output = directory.file("values.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", output, "--quiet"]).status == 0)
        let cases: [(dataset: String, row: Int, write: (HDF5File) throws -> Void, shown: String)] = [
            (
                "/accuracy", 3,
                { try $0.writeBlock([Float(5.43)], to: "/accuracy", start: [3, 0, 0], count: [1, 1, 1]) }, "5.43"
            ),
            (
                "/accuracy", 1,
                { try $0.writeBlock([Float(-0.82)], to: "/accuracy", start: [1, 1, 2], count: [1, 1, 1]) }, "-0.82"
            ),
            ("/loss", 0, { try $0.writeBlock([Float.nan], to: "/loss", start: [0, 0, 0], count: [1, 1, 1]) }, "nan"),
            (
                "/write_cycles", 5,
                { try $0.writeBlock([Double.infinity], to: "/write_cycles", start: [5, 1], count: [1, 1]) }, "inf"
            ),
        ]
        for (index, damage) in cases.enumerated() {
            let damaged = directory.file("values-\(index).h5")
            try FileManager.default.copyItem(atPath: output, toPath: damaged)
            try damage.write(HDF5File(path: damaged, mode: .readWrite))
            let report = try runCimcarlo(["report", damaged, "--json"])
            #expect(report.status == 2)
            #expect(
                isOneLine(
                    report.standardError,
                    containing: [
                        "\(damaged): damaged result file: `\(damage.dataset)` row \(damage.row) (instance \(damage.row)) holds \(damage.shown)"
                    ]),
                "\(report.standardError)")
        }

        // --resume of a partial file, and merge of a shard, refuse them too.
        let partial = directory.file("values-partial.h5")
        try FileManager.default.copyItem(atPath: output, toPath: partial)
        do {
            let file = try HDF5File(path: partial, mode: .readWrite)
            try file.writeBlock([UInt8(0)], to: "/completed", start: [4], count: [1])
            try file.setAttribute("status", "partial")
            try file.writeBlock([Float(7)], to: "/accuracy", start: [2, 0, 0], count: [1, 1, 1])
        }
        let resume = try runCimcarlo(["run", fixture.spec, "--output", partial, "--resume", "--quiet"])
        #expect(resume.status == 2)
        #expect(isOneLine(resume.standardError, containing: ["cannot resume: damaged result file: `/accuracy` row 2"]))
        let shards = (0..<2).map { Shard(index: $0, count: 2).filePath(forResult: directory.file("merged.h5")) }
        for index in 0..<2 {
            let run = try runCimcarlo([
                "run", fixture.spec, "--output", directory.file("merged.h5"), "--shard", "\(index)/2", "--quiet",
            ])
            #expect(run.status == 0)
        }
        try HDF5File(path: shards[1], mode: .readWrite).writeBlock(
            [Float.infinity], to: "/loss", start: [0, 0, 0], count: [1, 1, 1])
        let merge = try runCimcarlo(["merge"] + shards + ["--output", directory.file("merged.h5")])
        #expect(merge.status == 2)
        #expect(
            isOneLine(
                merge.standardError, containing: ["\(shards[1]): damaged result file: `/loss` row 0 (instance 1)"]))
        #expect(!exists(directory.file("merged.h5")))

        // A file with no completed instance says so, in JSON too.
        let empty = directory.file("values-empty.h5")
        try FileManager.default.copyItem(atPath: output, toPath: empty)
        do {
            let file = try HDF5File(path: empty, mode: .readWrite)
            try file.writeBlock([UInt8](repeating: 0, count: 6), to: "/completed", start: [0], count: [6])
            try file.setAttribute("status", "partial")
        }
        let json = try runCimcarlo(["report", empty, "--json"])
        #expect(json.status == 0, "\(json.standardError)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        #expect(object["instances_completed"] as? Int == 0)
        #expect((object["rows"] as? [Any])?.isEmpty == true)
        #expect((object["note"] as? String)?.contains("\(empty): no instance is complete yet") == true)
    }

    @Test func theArrayScriptStartsAnEarlyKilledShardAfreshAndResumesAStartedOne() throws {
        let fixture = try TinyStudyFixture(directory: directory, instances: 6)
        let output = directory.file("slurm/study.h5")
        let slurm = try runCimcarlo(["slurm", fixture.spec, "--shards", "2", "--output", output])
        #expect(slurm.status == 0, "\(slurm.standardError)")
        #expect(slurm.standardOutput.contains("DependencyNeverSatisfied") && slurm.standardOutput.contains("scancel"))
        let reference = directory.file("slurm-reference/study.h5")
        #expect(try runCimcarlo(["run", fixture.spec, "--output", reference, "--shard", "1/2", "--quiet"]).status == 0)
        let referenceShard = Shard(index: 1, count: 2).filePath(forResult: reference)
        let shard = Shard(index: 1, count: 2).filePath(forResult: output)
        // `srun` runs its command here, as the one-task step it is on a cluster.
        let task =
            "srun() { \"$@\"; }; export -f srun; SLURM_ARRAY_TASK_ID=1 bash \(directory.file("slurm/study.slurm/array.sbatch"))"

        // Killed in its first milliseconds: the first few KB of the file.
        try bytes(referenceShard).prefix(4096).write(to: URL(fileURLWithPath: shard))
        let afresh = try runShell(task)
        #expect(afresh.status == 0, "\(afresh.output)")
        #expect(try accuracy(shard) == (try accuracy(referenceShard)))
        #expect(!exists(shard + ".replacing"))

        // Started: a completed row is kept as it is (0.5 here, to tell it from a recomputed
        // one), the row left undone is simulated.
        do {
            let file = try HDF5File(path: shard, mode: .readWrite)
            try file.writeBlock([UInt8(0)], to: "/completed", start: [0], count: [1])
            try file.writeBlock([Float(0.5)], to: "/accuracy", start: [1, 0, 0], count: [1, 1, 1])
            try file.setAttribute("status", "partial")
        }
        let resumed = try runShell(task)
        #expect(resumed.status == 0, "\(resumed.output)")
        var expected = try accuracy(referenceShard)
        expected[expected.count / 3] = 0.5
        #expect(try accuracy(shard) == expected)
    }
}
