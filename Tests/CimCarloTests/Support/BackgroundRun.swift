import Foundation

/// The built `cimcarlo` binary running in the background, its stderr gathered as it comes.
final class BackgroundRun {
    let process = Process()
    private let errorPipe = Pipe()
    private let collected = Collected()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: cimcarloExecutable)
        process.arguments = arguments
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        errorPipe.fileHandleForReading.readabilityHandler = { [collected] handle in
            collected.append(handle.availableData)
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits (up to two minutes) until stderr contains `text` or the process ends.
    func waitFor(_ text: String) {
        let deadline = Date().addingTimeInterval(120)
        while !collected.text.contains(text) && process.isRunning && Date() < deadline { usleep(5_000) }
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the process to end; its exit status (or, killed, the signal) and stderr.
    func wait() -> (status: Int32, standardError: String) {
        process.waitUntilExit()
        errorPipe.fileHandleForReading.readabilityHandler = nil
        collected.append(errorPipe.fileHandleForReading.readDataToEndOfFile())
        return (process.terminationStatus, collected.text)
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// The `cimcarlo` executable built beside this test bundle.
var cimcarloExecutable: String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cimcarlo").path
}

/// Bytes gathered from a pipe's readability handler.
private final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
