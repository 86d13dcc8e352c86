public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One coordinator per results folder: an exclusive `flock(2)` on `DIR/.lock`, held for the coordinator's life.
///
/// The kernel drops the lock when the descriptor closes — when this object is released, or when the process dies
/// in any way (`kill -9` included) — so a lock is never stale. The file itself stays and holds the holder's pid,
/// host and start time, only for the message a second coordinator prints; the lock is the `flock`, not the file.
/// The descriptor is close-on-exec, so worker processes started by `lth sweep` do not inherit (and keep) it.
public final class ResultsFolderLock: Sendable {
    /// The lock file (`DIR/.lock`).
    public let path: String
    let descriptor: Int32

    /// The lock file's name inside a results folder.
    public static let fileName = ".lock"

    /// Takes the lock of `directory` (created if missing) or throws, naming the holder.
    ///
    /// - Throws: ``CoordinatorError`` "results folder DIR is in use by another coordinator (pid P on host H since
    ///   T): …" when another process holds it; a one-line error when the folder or file cannot be created.
    public static func acquire(directory: URL, now: Date = Date()) throws(CoordinatorError) -> ResultsFolderLock {
        let folder = directory.standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CoordinatorError("cannot create the results folder \(folder): \(error.localizedDescription)")
        }
        let path = (folder as NSString).appendingPathComponent(fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CoordinatorError(
                "cannot open \(path): \(String(cString: strerror(errno))); check the folder's permissions")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.holder(fd: fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw CoordinatorError("cannot lock \(path): \(String(cString: strerror(code)))")
            }
            throw CoordinatorError(
                "results folder \(folder) is in use by another coordinator (\(holder)): wait for it to end or stop it, "
                    + "or pass another --out")
        }
        let text = "pid \(getpid())\nhost \(ProcessInfo.processInfo.hostName)\nsince \(Self.timestamp(now))\n"
        _ = ftruncate(fd, 0)
        _ = text.utf8CString.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count - 1, 0) }
        return ResultsFolderLock(path: path, descriptor: fd)
    }

    init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// "pid P on host H since T" from the lock file, or what is known.
    static func holder(fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return "its details are not written yet" }
        var fields: [String: String] = [:]
        for line in String(decoding: buffer[..<count], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return "pid \(fields["pid"] ?? "?") on host \(fields["host"] ?? "?") since \(fields["since"] ?? "?")"
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
