import ArgumentParser
import Foundation

/// The worker-thread option shared by the subcommands that run Monte-Carlo instances.
struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Worker threads (default: all cores).", valueName: "N"))
    var threads: Int?

    func validate() throws {
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be 1 to 256, got \(threads)")
        }
    }

    /// The worker count to use.
    var workerThreads: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }
}
