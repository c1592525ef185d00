/// An error cimcarlo reports to its user: one line (`description`) naming the file, the key
/// and what is allowed, and what kind of failure it is (the command line turns the kind into
/// its exit code).
public protocol CimCarloError: Error, CustomStringConvertible {
    /// `.badInput` for input the user can fix — a file, key or value — and `.runtimeFailure`
    /// for a failure while running (a full disk, a file that cannot be created).
    var kind: CimCarloErrorKind { get }
}

/// Whether a `CimCarloError` is the user's input to fix or a failure while running.
public enum CimCarloErrorKind: Sendable, Equatable {
    /// A file, key or value the user can fix.
    case badInput
    /// A failure while running: a full disk, a file or directory that cannot be created.
    case runtimeFailure
}
