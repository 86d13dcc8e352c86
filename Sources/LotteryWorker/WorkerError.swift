/// Why a worker stopped, or why a trial or dataset could not be handled; `description` is one line for users.
public struct WorkerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, where, and what to do.
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// How ``Worker/run()`` ended normally.
public enum WorkerExit: Sendable, Hashable {
    /// SHUTDOWN `finish`: the sweep is over and every result was acknowledged.
    case finished
    /// SHUTDOWN `drain`: the round in progress was finished and unfinished trials given back.
    case drained
    /// ``Worker/stop(reason:)`` (SIGTERM, SIGINT): running trials were given back.
    case stopped
}
