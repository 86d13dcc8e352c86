import Foundation
import Synchronization
import LotteryCore
import LotteryWire
public import Logging
import ZeroMQ

/// A worker process's runtime: one DEALER connection to the coordinator, trial slots on their own threads.
///
/// Threads (docs/worker.md):
/// - the thread that calls ``run()`` is the **I/O thread**: it alone creates, uses and closes the DEALER
///   socket. It polls the socket and a wake-up pipe with a timeout of at most a heartbeat interval, and feeds what
///   happened to the session (``Session``, the shell around the pure ``SessionStateMachine``, which decides
///   everything: replies, heartbeats, reconnects, dataset fetches, results kept until acknowledged);
/// - each running trial has its own `Thread` (never Swift's cooperative pool) with single-threaded BLAS. It
///   never touches the socket: it posts encoded results and its end to a locked queue and wakes the I/O thread
///   through the pipe. Its position (round, iteration) is shared through a lock for heartbeats.
///
/// The conversation is docs/protocol.md's: HELLO, READY with credit = free slots, TASK, dataset fetch if needed,
/// ROUND_RESULT per round until ACKed, TRIAL_DONE / TRIAL_FAILED, heartbeats both ways, reconnect with
/// back-off when the coordinator falls silent, CANCEL, SHUTDOWN, GIVE_BACK on ``stop(reason:)``.
/// A message from the coordinator that does not decode is logged and ignored; only a protocol version
/// mismatch (or a REJECT `version_mismatch` / `refused`) ends the worker, with ``WorkerError``.
///
/// Thread-safety: ``run()`` once, on a dedicated thread; ``stop(reason:)`` from any thread.
public final class Worker: Sendable {
    public let config: WorkerConfig
    let logger: Logger
    let mailbox = Mailbox()
    let splits: SplitCache
    private let stopRequest = Mutex<String?>(nil)

    /// - Parameters:
    ///   - config: endpoint, keys, slots, cache folder, timings, HELLO facts. `slots` and timings must be ≥ 1
    ///     (programmer error otherwise; `lth-worker` validates its flags).
    ///   - logger: every event is logged here, with `task` and `trial` metadata where one is concerned; the
    ///     default discards everything (tests), executables pass their bootstrapped logger.
    public init(
        config: WorkerConfig, logger: Logger = Logger(label: "lth-worker", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        precondition(config.slots >= 1, "WorkerConfig.slots must be ≥ 1, got \(config.slots)")
        precondition(config.heartbeatMilliseconds >= 1 && config.liveness >= 1, "WorkerConfig: bad heartbeat timing")
        self.config = config
        self.logger = logger
        self.splits = SplitCache(capacity: config.cachedSplits)
    }

    /// Asks the worker to leave: stop taking work, GIVE_BACK running trials (with their last acknowledged
    /// round), flush the socket for at most `flushMilliseconds`, and return ``WorkerExit/stopped`` from ``run()``.
    ///
    /// Safe from any thread, e.g. a `DispatchSource` signal handler; it only sets a flag and wakes the I/O thread.
    public func stop(reason: String) {
        stopRequest.withLock { if $0 == nil { $0 = reason } }
        mailbox.pipe.wake()
    }

    var requestedStop: String? { stopRequest.withLock { $0 } }

    /// Runs the worker on the calling thread until SHUTDOWN, ``stop(reason:)`` or a fatal error.
    ///
    /// - Returns: how it ended.
    /// - Throws: ``WorkerError`` for a version mismatch or a refused HELLO (the message says what to do), or
    ///   when the socket cannot be set up (bad endpoint, keys).
    public func run() throws -> WorkerExit {
        BLAS.setThreads(1)
        let context = try ZMQContext()
        let session = Session(worker: self)
        var socket = try makeSocket(context)
        // Connection events: the only way a CURVE client learns that the coordinator refused its key.
        var monitor = try socket.monitor()
        try connect(socket)
        session.connected()
        var waitingUntil: ContinuousClock.Instant? = nil

        while true {
            // 1. Send what the session queued (only while connected; the session keeps results to resend).
            if waitingUntil == nil {
                for frames in session.takeOutgoing() {
                    do {
                        try socket.send(frames, dontWait: true)
                    } catch {
                        logger.warning(
                            "send failed, the message is dropped (results are resent after a reconnect)",
                            metadata: ["error": "\(error)"])
                    }
                }
            } else {
                _ = session.takeOutgoing()
            }

            if let exit = session.exit {
                switch exit {
                case .success(let how):
                    try? socket.set(.linger, config.flushMilliseconds)
                    logger.info("worker exits", metadata: ["how": "\(how)"])
                    return how
                case .failure(let error):
                    throw error
                }
            }

            // 2. Wait for the socket, the wake-up pipe or the next timer.
            var poller = ZMQPoller()
            let socketIndex = poller.add(socket)
            let pipeIndex = poller.add(fileDescriptor: mailbox.pipe.readDescriptor)
            let monitorIndex = poller.add(monitor)
            let ready: [Int]
            do {
                ready = try poller.poll(timeoutMilliseconds: session.pollTimeout())
            } catch {
                throw WorkerError("polling the coordinator connection failed: \(error)")
            }

            // 3. Coordinator messages (after a stop request, so a TASK that arrives with it is given back at once).
            if let reason = requestedStop, session.exit == nil { session.stop(reason: reason) }
            if waitingUntil == nil && ready.contains(socketIndex) && session.exit == nil {
                while let frames = try? socket.receive(timeoutMilliseconds: 0) {
                    session.received(frames)
                    if session.exit != nil || session.wantsReconnect != nil { break }
                }
            }
            _ = pipeIndex
            if ready.contains(monitorIndex) {
                while let event = try? monitor.nextEvent(timeoutMilliseconds: 0) {
                    if let refusal = refusal(event) { session.fatal(refusal) }
                }
            }

            // 4. Trial threads, stop requests, timers.
            for event in mailbox.take() { session.handle(event) }
            if let reason = requestedStop, session.exit == nil { session.stop(reason: reason) }
            session.tick()

            // 5. Reconnect: drop the socket now, connect a fresh one after the back-off.
            if let delay = session.wantsReconnect {
                session.wantsReconnect = nil
                socket = try makeSocket(context)
                monitor = try socket.monitor()
                waitingUntil = .now + .milliseconds(delay)
                logger.warning("reconnecting", metadata: ["in_ms": "\(delay)", "endpoint": "\(config.endpoint)"])
            }
            if let until = waitingUntil, ContinuousClock.now >= until {
                socket = try makeSocket(context)
                monitor = try socket.monitor()
                try connect(socket)
                waitingUntil = nil
                session.connected()
            }
        }
    }

    /// A DEALER for the coordinator: frame limit, CURVE if configured; not connected yet (it is also the placeholder
    /// held while waiting to reconnect).
    private func makeSocket(_ context: ZMQContext) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, type: .dealer)
        try socket.set(.maxMessageSize, Wire.maxFrameBytes)
        if let curve = config.curve {
            try socket.configureCurveClient(keyPair: curve.keyPair, serverKey: curve.serverKey)
        }
        return socket
    }

    /// The coordinator's CURVE server refused this worker's key (its ZAP handler answered 400): the worker cannot get
    /// in until an admin allows the key, so it stops with a message saying which file to add where. Other handshake
    /// events (a coordinator restarting, a temporary ZAP failure) are left to the reconnect logic.
    func refusal(_ event: ZMQMonitorEvent) -> WorkerError? {
        guard case .handshakeFailedAuth = event.kind, event.value == 400, let curve = config.curve else {
            if case .handshakeFailedAuth = event.kind {
                logger.warning("the coordinator's authentication failed", metadata: ["zap_status": "\(event.value)"])
            }
            return nil
        }
        let file = curve.publicKeyFile.map { "its public key file \($0)" } ?? "its public key"
        return WorkerError(
            "the coordinator at \(config.endpoint) refused this worker's key \(curve.keyPair.publicKey.z85) (CURVE, "
                + "ZAP status 400): add \(file) to the coordinator's workers/ folder (the allow-list in its --keys "
                + "folder, e.g. `cp \(curve.publicKeyFile ?? "NAME.key") KEYS/workers/`), restart the coordinator, "
                + "then this worker")
    }

    private func connect(_ socket: borrowing ZMQSocket) throws {
        do {
            try socket.connect(config.endpoint)
        } catch {
            throw WorkerError("cannot connect to '\(config.endpoint)': \(error) (expected e.g. tcp://host:5555)")
        }
        logger.info("connecting", metadata: ["endpoint": "\(config.endpoint)", "curve": "\(config.curve != nil)"])
    }
}
