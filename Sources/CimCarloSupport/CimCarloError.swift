/// An error cimcarlo reports to its user: one line (`description`) naming the file, the key
/// and what is allowed, and the process exit code the command line ends with.
public protocol CimCarloError: Error, CustomStringConvertible {
    /// `ExitStatus.badInput` (2) for input the user can fix — a file, key or value — and
    /// `ExitStatus.runtimeFailure` (1) for a failure while running (a full disk, a file that
    /// cannot be created).
    var exitCode: Int32 { get }
}

/// The exit codes of the command line, as the README documents them.
public enum ExitStatus {
    public static let runtimeFailure: Int32 = 1
    public static let badInput: Int32 = 2
}
