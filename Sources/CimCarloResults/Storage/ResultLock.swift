import CimCarloSupport
import Foundation

/// The files cimcarlo keeps beside a result `out.h5` (README, "Faults and concurrent readers"):
///
/// - `out.h5.lock`: the lock of the one process writing the result (`ResultLock`);
/// - `out.h5.replacing`: the result a `--force` run writes while `out.h5` still holds the
///   previous one; renamed over it once complete, kept (and completed by `--resume`) when the
///   run stops early;
/// - `out.h5.writing`: a copy being rewritten (finished, extended, merged), renamed into place
///   once written and flushed; removed when that fails.
public struct ResultPaths: Sendable, Equatable {
    /// The result file.
    public var result: String

    public init(result: String) { self.result = result }

    public var lock: String { result + ".lock" }
    public var replacing: String { result + ".replacing" }
    public var writing: String { result + ".writing" }

    /// The result a file belongs to: the file itself, or the result a `.replacing` file will
    /// replace.
    public init(of file: String) {
        result = file.hasSuffix(".replacing") ? String(file.dropLast(".replacing".count)) : file
    }
}

/// One writer per result: an exclusive `flock` on `out.h5.lock`, held from the start of a run
/// or merge to its end. The kernel releases it when the process ends, however it ends, so a
/// killed run never leaves a lock that blocks the next one (its lock file stays behind, unheld,
/// and the next writer takes it over).
package final class ResultLock {
    private let lockPath: String
    private let descriptor: Int32

    /// Takes the lock of `paths.result` for `purpose` (e.g. "cimcarlo run"), or throws naming
    /// the process that holds it.
    package init(_ paths: ResultPaths, purpose: String) throws {
        lockPath = paths.lock
        let directory = (paths.result as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw ResultFileError(
                    path: paths.result, reason: "cannot create its directory \(directory)", kind: .runtimeFailure)
            }
        }
        // A reader checking `isHeld` holds the lock shared for an instant: a few tries.
        var tries = 0
        while true {
            let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw ResultFileError(
                    path: paths.result,
                    reason: "cannot create its lock file \(lockPath): \(String(cString: strerror(errno)))",
                    kind: .runtimeFailure)
            }
            // A file system without locks (NFS without its lock daemon) cannot guard the
            // result: the run goes on unguarded rather than not at all.
            if flock(descriptor, LOCK_EX | LOCK_NB) != 0, ![ENOLCK, EOPNOTSUPP].contains(errno) {
                let code = errno
                Foundation.close(descriptor)
                tries += 1
                if code == EWOULDBLOCK && tries < 20 {
                    usleep(50_000)
                    continue
                }
                let holder = ((try? String(contentsOfFile: lockPath, encoding: .utf8)) ?? "")
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                throw ResultFileError(
                    path: paths.result,
                    reason: code == EWOULDBLOCK
                        ? "is being written by \(holder.isEmpty ? "another process" : holder); wait for it to end or stop it"
                        : "cannot lock \(lockPath): \(String(cString: strerror(code)))",
                    kind: .runtimeFailure)
            }
            // The previous holder removes the lock file before it lets go: a lock taken on a
            // file that is no longer at `lockPath` guards nothing, so take the new one.
            var held = stat()
            var named = stat()
            if fstat(descriptor, &held) != 0 || stat(lockPath, &named) != 0 || held.st_ino != named.st_ino
                || held.st_dev != named.st_dev
            {
                Foundation.close(descriptor)
                continue
            }
            let holder =
                "process \(getpid()) on \(ProcessInfo.processInfo.hostName) (\(purpose), since \(ISO8601DateFormatter().string(from: Date())))\n"
            _ = ftruncate(descriptor, 0)
            _ = holder.withCString { write(descriptor, $0, strlen($0)) }
            self.descriptor = descriptor
            return
        }
    }

    deinit {
        unlink(lockPath)
        Foundation.close(descriptor)
    }

    /// Whether a process holds the lock of `paths.result` now.
    package static func isHeld(_ paths: ResultPaths) -> Bool {
        let descriptor = open(paths.lock, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { Foundation.close(descriptor) }
        guard flock(descriptor, LOCK_SH | LOCK_NB) == 0 else { return errno == EWOULDBLOCK }
        flock(descriptor, LOCK_UN)
        return false
    }
}
