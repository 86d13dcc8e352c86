import Foundation

/// A child process that failed: the command line, exit status and the tail of its stderr.
struct SubprocessError: Error, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var stderr: String

    var description: String {
        let tail = stderr.split(separator: "\n").suffix(8).joined(separator: "\n  ")
        return "`\(command.joined(separator: " "))` failed with status \(status)" + (tail.isEmpty ? "" : ":\n  \(tail)")
    }
}

/// Runs `command` (looked up on PATH) to completion and returns its stdout.
///
/// - Throws: ``SubprocessError`` on a non-zero exit, or if the program cannot be started.
@discardableResult
func runProcess(_ command: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
        throw SubprocessError(command: command, status: -1, stderr: "cannot start: \(error)")
    }
    // Drain both pipes concurrently so a chatty child cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw SubprocessError(
            command: command, status: process.terminationStatus, stderr: String(decoding: errData, as: UTF8.self))
    }
    return String(decoding: outData, as: UTF8.self)
}
