import Foundation
public import Logging
import Synchronization

/// The coordinator runtime: serves one sweep to workers over ZeroMQ until every trial has ended.
///
/// ``start(_:logger:)`` runs the whole coordinator on a dedicated thread (never Swift's cooperative pool: the
/// loop blocks in `zmq_poll`). That thread owns everything stateful, one owner each, no locks: the ROUTER socket,
/// the ``CoordinatorStateMachine`` (protocol and scheduling, pure) and the ``ResultsStore``. This object is only the handle other threads use:
/// wait for the bound endpoint, ask for a stop, wait for the summary.
///
/// What the loop does (docs/protocol.md for the conversation, docs/results.md for the folder):
/// 1. Startup: take the results folder's lock (``ResultsFolderLock``: one coordinator per folder), load the sweep,
///    refuse a non-loopback bind without CURVE keys unless `insecure`, pack each dataset once (``LotteryWire/DatasetBundle``), open or resume the results folder (a different sweep is
///    refused), recover what is recorded, start the ZAP allow-list (CURVE), bind the ROUTER.
/// 2. Loop: poll with a short timeout; feed every message's frames and a tick to the ``CoordinatorStateMachine``
///    (which decodes, negotiates the version, and answers a bad message with REJECT, never fatal); carry out its
///    ``CoordinatorAction``s: TASKs with resume and parent masks read from the store, results' masks checked,
///    recorded (mask file, then rows) and only then acknowledged, heartbeats, cancels; rebuild the CSVs every
///    ``CoordinatorConfig/exportInterval`` seconds.
/// 3. End: when every trial has ended, SHUTDOWN `finish` to every worker, final CSVs, a ``CoordinatorSummary``.
///    On a ``ResultsStore`` write error it stops accepting results at once, sends SHUTDOWN `drain`, keeps what
///    is recorded and returns a summary whose `stoppedEarly` says why.
public final class Coordinator: Sendable {
    struct State {
        var listening: Result<String, CoordinatorError>?
        var finished: Result<CoordinatorSummary, CoordinatorError>?
        var stopReason: String?
    }

    let state = Mutex(State())
    let listeningSignal = DispatchSemaphore(value: 0)
    let finishedSignal = DispatchSemaphore(value: 0)

    init() {}

    /// Starts the coordinator on its own thread and returns at once.
    ///
    /// - Parameters:
    ///   - config: the sweep, endpoint, results folder, keys and timing.
    ///   - logger: where events and errors go (the executable bootstraps logging).
    /// - Returns: the handle: ``waitUntilListening()``, ``stop(reason:)``, ``wait()``.
    public static func start(_ config: CoordinatorConfig, logger: Logger) -> Coordinator {
        let handle = Coordinator()
        let thread = Thread {
            let outcome: Result<CoordinatorSummary, CoordinatorError>
            // One coordinator per results folder, for as long as this one runs (released before `finish`, so a
            // caller that waits can start the next one at once).
            var lock: ResultsFolderLock?
            do {
                lock = try config.folderLock ?? ResultsFolderLock.acquire(directory: config.outputDirectory)
                let loop = try CoordinatorLoop(config: config, logger: logger, handle: handle)
                outcome = .success(loop.run())
            } catch let error as CoordinatorError {
                outcome = .failure(error)
            } catch {
                outcome = .failure(CoordinatorError("\(error)"))
            }
            withExtendedLifetime(lock) {}
            lock = nil
            handle.finish(outcome)
        }
        thread.name = "lth.coordinator"
        thread.stackSize = 8 << 20
        thread.start()
        return handle
    }

    /// Runs the coordinator on the calling thread (which must not be a Swift concurrency thread) until the sweep
    /// ends. Convenience for `start(config, logger: logger).wait()`.
    public static func run(_ config: CoordinatorConfig, logger: Logger) throws(CoordinatorError) -> CoordinatorSummary {
        try start(config, logger: logger).wait().get()
    }

    /// Blocks until the ROUTER is bound; returns the endpoint it is bound to (with the real port when the
    /// config asked for port 0 or `*`), or the startup error.
    public func waitUntilListening() -> Result<String, CoordinatorError> {
        listeningSignal.wait()
        listeningSignal.signal()
        return state.withLock { $0.listening! }
    }

    /// Blocks until the coordinator has stopped; returns its summary or the error that stopped it at startup.
    public func wait() -> Result<CoordinatorSummary, CoordinatorError> {
        finishedSignal.wait()
        finishedSignal.signal()
        return state.withLock { $0.finished! }
    }

    /// Asks the coordinator to stop early (e.g. on SIGINT): it sends SHUTDOWN `drain` to the workers, keeps
    /// serving for a short grace period so their last results are recorded, rebuilds the CSVs and returns.
    /// Safe from any thread; the first reason wins.
    public func stop(reason: String) {
        state.withLock { if $0.stopReason == nil { $0.stopReason = reason } }
    }

    var stopReason: String? { state.withLock { $0.stopReason } }

    func listening(_ result: Result<String, CoordinatorError>) {
        let first = state.withLock { state -> Bool in
            guard state.listening == nil else { return false }
            state.listening = result
            return true
        }
        if first { listeningSignal.signal() }
    }

    func finish(_ result: Result<CoordinatorSummary, CoordinatorError>) {
        if case .failure(let error) = result { listening(.failure(error)) }
        state.withLock { $0.finished = result }
        finishedSignal.signal()
    }
}
