import Foundation

/// What a run of the built `cimcarlo` binary produced.
struct CommandResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs the `cimcarlo` executable built beside this test bundle.
func runCimcarlo(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: cimcarloExecutable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
    let errorData = Data.readAll(error)
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData.wait(), as: UTF8.self))
}

/// Runs `python3` with `arguments` (the analysis scripts), stdout and stderr together.
func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProgram("/usr/bin/env", ["python3"] + arguments)
}

/// Runs a shell command line with `environment` added, stdout and stderr together.
func runShell(_ command: String, environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    try runProgram("/bin/bash", ["-c", command], environment: environment)
}

/// Runs `executable` with `arguments`, stdout and stderr together.
func runProgram(
    _ executable: String, _ arguments: [String],
    environment: [String: String] = [:]
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

extension Data {
    /// Reads a pipe on a background thread; `wait()` returns everything it delivered.
    fileprivate final class Pending: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)
        init(_ pipe: Pipe) {
            DispatchQueue.global().async {
                self.data = pipe.fileHandleForReading.readDataToEndOfFile()
                self.done.signal()
            }
        }
        func wait() -> Data {
            done.wait()
            return data
        }
    }

    fileprivate static func readAll(_ pipe: Pipe) -> Pending { Pending(pipe) }
}
