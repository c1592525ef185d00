import CimCarlo

/// The exit codes of the command line, as the README documents them: 0 success, 1 runtime
/// failure, 2 bad usage or bad input (128 + the signal for an interrupted run).
enum ExitStatus {
    static let runtimeFailure: Int32 = 1
    static let badInput: Int32 = 2

    /// The exit code for one of cimcarlo's errors.
    static func code(for kind: CimCarloErrorKind) -> Int32 {
        switch kind {
        case .badInput: badInput
        case .runtimeFailure: runtimeFailure
        }
    }
}
