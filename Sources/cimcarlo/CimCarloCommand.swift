import ArgumentParser
import CimCarlo
import Foundation

@main
struct CimCarloCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cimcarlo",
        abstract: "Monte-Carlo reliability analysis of neural networks on compute-in-memory accelerators.",
        discussion: """
            Trains or loads a network, maps it onto non-volatile crossbar arrays, samples many chip \
            instances with device variation, and reports the accuracy distribution.

            Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.

            Examples:
              cimcarlo map runs/quickstart.toml
              cimcarlo run runs/quickstart.toml --instances 50 --output /tmp/quick.h5
              cimcarlo report /tmp/quick.h5
            """,
        version: CimCarloVersion.current,
        subcommands: [
            Train.self, Eval.self, Check.self, Map.self, Run.self, Report.self, Search.self, WorstCase.self, Bench.self,
            Merge.self, Slurm.self, Schema.self,
        ]
    )

    /// Parses and runs, mapping argument errors to exit code 2 (bad usage) as documented.
    static func main() {
        // A file-size limit (`ulimit -f`) makes a write fail with EFBIG, reported like a full
        // disk, instead of killing the process.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            // The subcommand has printed its one line already.
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            // One line, as for every other bad input; `--help` shows the usage.
            let text = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data("cimcarlo: error: \(text) (see --help)\n".utf8))
            Foundation.exit(code == .validationFailure ? ExitStatus.badInput : code.rawValue)
        }
    }
}

/// Runs a subcommand body, turning an error into one line on stderr and the documented exit
/// code: the error's own for cimcarlo's errors (2 bad input, 1 runtime failure), 1 for
/// anything else (an I/O failure from Foundation, say).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CimCarloError {
        throw failure(error.description, code: ExitStatus.code(for: error.kind))
    } catch {
        throw failure(error.localizedDescription, code: ExitStatus.runtimeFailure)
    }
}

/// Prints `message` as cimcarlo's one error line and returns the exit code to throw.
func failure(_ message: String, code: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("cimcarlo: error: \(message)\n".utf8))
    return ExitCode(code)
}

/// Writes a line to stdout at once (unbuffered, so progress shows when stdout is a file).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Writes a line to stderr (progress and diagnostics; stdout carries results).
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Runs `body` (reading input files), exiting with a clear error if it has not returned
/// after `CIMCARLO_INPUT_TIMEOUT_S` seconds (default 600). libhdf5 can loop forever on some
/// damaged files; this turns such a hang into an error line and exit code 2.
func readingInputs<T>(_ what: String, _ body: () throws -> T) rethrows -> T {
    let seconds = Double(ProcessInfo.processInfo.environment["CIMCARLO_INPUT_TIMEOUT_S"] ?? "") ?? 600
    let timer = DispatchSource.makeTimerSource(queue: .global())
    timer.schedule(deadline: .now() + seconds)
    timer.setEventHandler {
        FileHandle.standardError.write(
            Data(
                "cimcarlo: error: gave up after \(Int(seconds)) s reading \(what): the HDF5 library did not return (a damaged file?)\n"
                    .utf8))
        // _exit, not exit: nothing may wait for the lock the stuck call holds.
        _exit(ExitStatus.badInput)
    }
    timer.resume()
    defer { timer.cancel() }
    return try body()
}
