public import LotteryCore
public import LotteryResults
public import LotteryWire
public import Logging

/// The coordinator's side of the protocol as a pure state machine: events in, actions out, no I/O, no clock.
///
/// swift-nio's shape (`NIOAsyncSequenceProducer`'s state machines, `EmbeddedChannel` for tests): the
/// ``CoordinatorLoop`` owns the ROUTER socket, the results store and the mask checks; it feeds this machine what
/// happened (a received message as raw frames, a tick with the time, the answer to an I/O request it was given)
/// with `now` from its monotonic clock, and carries out the returned ``CoordinatorAction``s in order. Each action
/// carries what it acts on (the message and the routing id to send it to, the result to check or record), so the
/// loop keeps no protocol state of its own. Tests drive the machine directly (`CoordinatorStateMachineTests`).
///
/// What it owns (the rules are docs/protocol.md's; scheduling is ``SchedulerStateMachine``'s, embedded here):
/// - **Version negotiation.** A message of another protocol version is answered with REJECT `version_mismatch`
///   naming both versions (in this build's version: the worker learns it from the header and exits).
/// - **Peers.** Which ROUTER routing id is which worker process (HELLO `instance_id`), and the route back to each.
/// - **Tasks.** Task ids, which task of a trial is current, and which worker holds it: stale messages about old
///   tasks are recognised and never change the scheduler's view.
/// - **Credit.** READY is absolute on the wire, additive in the scheduler: the difference is taken here.
/// - **Results.** The scheduler's acceptance rule decides (``SchedulerStateMachine/dropReason(trialID:round:)``);
///   a result it will accept goes out as ``CoordinatorAction/checkResult(_:)`` (the loop checks the masks),
///   comes back as ``CoordinatorEvent/resultChecked(_:)``, goes out as ``CoordinatorAction/record(_:)``, and is
///   acknowledged only when ``CoordinatorEvent/recorded(_:)`` says it is durable.
/// - **Leaving workers** (GIVE_BACK): they get no new task until a new HELLO.
/// - **Closing.** SHUTDOWN `finish` once every trial ended and the mask audit caught up; `drain` on a stop or a
///   store failure; ``shouldExit(now:)`` says when the loop may return.
public struct CoordinatorStateMachine: Sendable {
    /// What the machine is given once: how peers authenticate, what it serves, how tasks are numbered.
    public struct Config: Sendable {
        /// CURVE is on: a HELLO must come with the ZAP user id of an allowed key.
        public var curve: Bool
        /// Datasets served with DATA_CHUNK, by id: bytes and SHA-256 (lower-case hex).
        public var datasets: [String: ServedDataset]
        /// The first task id handed out (the loop uses the wall clock × 1000, so ids differ across restarts).
        public var firstTaskID: Int
        /// The heartbeat interval (seconds): the grace of SHUTDOWN `finish` follows it.
        public var heartbeatInterval: Double

        public init(curve: Bool, datasets: [String: ServedDataset], firstTaskID: Int, heartbeatInterval: Double) {
            self.curve = curve
            self.datasets = datasets
            self.firstTaskID = firstTaskID
            self.heartbeatInterval = heartbeatInterval
        }
    }

    /// A connected peer that said HELLO, by its ROUTER routing id.
    public struct Peer: Sendable, Hashable {
        public var workerID: WorkerID
        public var host: String
        public var instanceID: String
    }

    /// One TASK sent: which trial, to whom.
    public struct Assignment: Sendable, Hashable {
        public var trialID: String
        public var worker: WorkerID
    }

    /// The sweep is ending: SHUTDOWN went out; the loop serves until `closeAt` (or, for a stop, until no trial runs).
    public struct Closing: Sendable, Hashable {
        /// Why it stops early; `nil` when the sweep is complete.
        public var reason: String?
        public var closeAt: Double
    }

    public let config: Config
    public internal(set) var scheduler: SchedulerStateMachine
    public internal(set) var peers: [[UInt8]: Peer] = [:]
    public internal(set) var routes: [WorkerID: [UInt8]] = [:]
    public internal(set) var assignments: [Int: Assignment] = [:]
    /// The current task of each trial that has one.
    public internal(set) var currentTask: [String: Int] = [:]
    public internal(set) var nextTaskID: Int
    /// Workers that sent GIVE_BACK: they are leaving and get no new task (until a new HELLO).
    public internal(set) var leaving: Set<WorkerID> = []
    /// When each worker's unanswered READY arrived (for ``CoordinatorStats/readyToTask``).
    public internal(set) var readyAt: [WorkerID: Double] = [:]
    /// The free slots each worker stated in its last READY since its HELLO (see ``grantStatedCredit(_:)``).
    public internal(set) var statedFree: [WorkerID: Int] = [:]
    /// The scheduler said every trial has ended: close once the mask audit has checked everything
    /// (``CoordinatorEvent/auditIdle``).
    public internal(set) var completeAwaitingAudit = false
    public internal(set) var closing: Closing?
    /// Set by ``CoordinatorEvent/storeFailed(_:)``: no result is accepted any more.
    public internal(set) var storeFailure: String?

    /// Scheduler events produced while carrying out scheduler actions (a TASK for a leaving worker, a task that
    /// cannot be built), fed before the current ``event(_:now:)`` returns.
    var queued: [SchedulerEvent] = []
    var actions: [CoordinatorAction] = []
    var now: Double = 0
    /// The time of the latest event: a longer gap than the workers' timeout before the next one is a stall.
    var lastEventAt: Double?

    public init(scheduler: SchedulerStateMachine, config: Config) {
        self.scheduler = scheduler
        self.config = config
        self.nextTaskID = config.firstTaskID
    }

    /// Feeds one event; returns what to do, in order.
    ///
    /// - Parameters:
    ///   - event: What happened (a message, a tick, or the answer to an action that asked for I/O).
    ///   - now: The caller's monotonic clock, in seconds.
    /// - Returns: Actions to carry out in order. Some ask for I/O whose outcome must be fed back before anything
    ///   else (``CoordinatorAction/checkResult(_:)``, ``CoordinatorAction/loadTaskMasks(_:)``,
    ///   ``CoordinatorAction/flushRecords``); the loop does so while carrying them out.
    public mutating func event(_ event: CoordinatorEvent, now: Double) -> [CoordinatorAction] {
        self.now = now
        actions = []
        // The loop feeds a tick at least every quarter heartbeat interval: no event for longer than the workers'
        // timeout means the loop itself did not run (SIGSTOP, a stalled VM, a long disk write), and that gap must
        // not count as anybody's silence (``SchedulerEvent/stalled(since:)``).
        if let last = lastEventAt, now - last > scheduler.config.heartbeatTimeout { feed(.stalled(since: last)) }
        lastEventAt = max(lastEventAt ?? now, now)
        switch event {
        case .received(let inbound):
            received(inbound)
        case .sendFailed(let identity):
            // A connection that is not its worker's route any more (the same process said HELLO on a newer one) was
            // superseded: its close means nothing.
            guard let peer = peers.removeValue(forKey: identity), routes[peer.workerID] == identity else { break }
            routes[peer.workerID] = nil
            // After SHUTDOWN `finish` the workers leave as asked: not a lost worker (nor a warning line each).
            if let closing, closing.reason == nil { break }
            // Not a death: a worker closes its connection before it reconnects (the scheduler's "Liveness").
            feed(.connectionClosed(peer.workerID))
        case .tick(let heardUntil):
            feed(heardUntil.map { .tickLagging(heardUntil: $0) } ?? .tick)
        case .resultChecked(let checked):
            accept(checked)
        case .resultRejected(let check, let reason):
            rejectResult(check, reason: reason)
        case .recorded(let records):
            recorded(records)
        case .taskMasksLoaded(let masks):
            sendTask(masks)
        case .taskNotLoadable(let request, let reason):
            log(.error, "cannot assign \(request.task.trialID): \(reason)")
            queued.append(.trialFailed(request.worker, trialID: request.task.trialID, reason: reason))
        case .auditFailed(let trialID, let round, let reason):
            let text = "round \(round) result failed the mask audit: \(reason)"
            line("trial \(trialID): \(text)", .error)
            if storeFailure == nil {
                actions.append(.journal(kind: "audit-failed", worker: nil, trialID: trialID, message: text))
            }
            feed(.trialCorrupt(trialID: trialID, reason: text))
        case .auditIdle:
            guard completeAwaitingAudit, closing == nil else { break }
            completeAwaitingAudit = false
            let anyFailed = scheduler.trials.values.contains {
                if case .failed = $0.state { return true } else { return false }
            }
            log(.info, "every trial has ended\(anyFailed ? " (some failed)" : ""): telling workers to shut down")
            beginClosing(.finish, reason: nil, grace: min(1, max(0.2, config.heartbeatInterval)))
        case .storeFailed(let reason):
            guard storeFailure == nil else { break }
            storeFailure = reason
            log(.critical, "\(reason). Nothing more is accepted; what is recorded stays intact.")
            beginClosing(.drain, reason: reason, grace: 1)
        case .stopRequested(let reason):
            beginClosing(.drain, reason: reason, grace: 5)
        }
        while !queued.isEmpty { feed(queued.removeFirst()) }
        return actions
    }

    /// Whether the loop may return: the grace after SHUTDOWN is over, or a stop has no running trial left to wait for.
    public func shouldExit(now: Double) -> Bool {
        guard let closing else { return false }
        return now >= closing.closeAt || (closing.reason != nil && !anyTrialRunning)
    }

    /// Whether some live worker still runs a trial (a drain waits for their last results, up to its grace period).
    public var anyTrialRunning: Bool {
        scheduler.workers.values.contains { $0.alive && !$0.running.isEmpty }
    }

    /// The worker a routing id belongs to, if it said HELLO there.
    public func worker(at identity: [UInt8]) -> WorkerID? { peers[identity]?.workerID }

    /// Whether `taskID` is `trialID`'s current task and `worker` holds it.
    public func isCurrent(_ taskID: Int, trialID: String, worker: WorkerID) -> Bool {
        currentTask[trialID] == taskID && assignments[taskID]?.worker == worker
    }

    // MARK: - Emitting

    mutating func send(_ message: WireMessage, to identity: [UInt8]) {
        actions.append(.send(message, to: identity))
    }

    /// Sends to a worker by its id, over the connection its last HELLO came on (nothing if it has none).
    mutating func send(_ message: WireMessage, toWorker worker: WorkerID) {
        guard let identity = routes[worker] else {
            actions.append(.log(.debug, "no connection to \(worker) for \(message.type)", eventLine: false))
            return
        }
        actions.append(.send(message, to: identity))
    }

    /// A log line that is not an event (warnings, errors, the end).
    mutating func log(_ level: Logger.Level, _ text: String) {
        actions.append(.log(level, text, eventLine: false))
    }

    /// An event line (a trial started, a round recorded): shown as a line, or folded into a status line.
    mutating func line(_ text: String, _ level: Logger.Level = .info) {
        actions.append(.log(level, text, eventLine: true))
    }

    mutating func forget(taskID: Int) {
        guard let assignment = assignments.removeValue(forKey: taskID) else { return }
        if currentTask[assignment.trialID] == taskID { currentTask[assignment.trialID] = nil }
    }

    mutating func beginClosing(_ mode: WireMessage.ShutdownMode, reason: String?, grace: Double) {
        guard closing == nil else { return }
        closing = Closing(reason: reason, closeAt: now + grace)
        let text = reason ?? "the sweep is complete"
        for worker in routes.keys.sorted() {
            send(.shutdown(WireMessage.Shutdown(mode: mode, reason: text)), toWorker: worker)
        }
        if let reason { log(.warning, "stopping: \(reason)") }
    }
}

/// A dataset the coordinator serves: the packed bundle and its SHA-256.
public struct ServedDataset: Sendable, Hashable {
    public var bytes: [UInt8]
    public var checksum: String

    public init(bytes: [UInt8], checksum: String) {
        self.bytes = bytes
        self.checksum = checksum
    }
}

/// One message as the ROUTER received it: every frame (the routing id first), and what the socket knows of its peer.
public struct InboundMessage: Sendable, Hashable {
    public var frames: [[UInt8]]
    /// The ZAP user id (the allowed key's name) under CURVE; `nil` without.
    public var userID: String?
    /// `ip:port`, for log lines about peers that never said HELLO.
    public var peerAddress: String?

    public init(frames: [[UInt8]], userID: String? = nil, peerAddress: String? = nil) {
        self.frames = frames
        self.userID = userID
        self.peerAddress = peerAddress
    }
}

/// A round result the scheduler will accept: its masks must be checked (I/O: the store) before it is recorded.
public struct ResultToCheck: Sendable, Hashable {
    public var result: WireMessage.RoundResult
    public var worker: WorkerID
    /// The host of the connection it came on (recorded with the round).
    public var host: String
    public var spec: TrialSpec
}

/// A result whose masks passed: the bytes to store and the audit's job.
public struct CheckedResult: Sendable {
    public var check: ResultToCheck
    public var maskFile: [UInt8]
    public var nextMaskFile: [UInt8]?
    public var audit: MaskAudit.Job?

    public init(check: ResultToCheck, maskFile: [UInt8], nextMaskFile: [UInt8]?, audit: MaskAudit.Job?) {
        self.check = check
        self.maskFile = maskFile
        self.nextMaskFile = nextMaskFile
        self.audit = audit
    }
}

/// A result to record durably (mask file, then rows), then acknowledge when ``CoordinatorEvent/recorded(_:)`` says so.
public struct RecordRequest: Sendable {
    public var record: RecordedRound
    public var taskID: Int
    public var worker: WorkerID
    public var audit: MaskAudit.Job?
}

/// A task whose masks must be read from the store (a resume, a branch) before its TASK can go out.
public struct TaskToLoad: Sendable, Hashable {
    public var worker: WorkerID
    public var task: SchedulerTask
}

/// The answer to ``TaskToLoad``: the round it really starts at (0 when no next mask was recorded) and its masks.
public struct TaskMasks: Sendable, Hashable {
    public var request: TaskToLoad
    public var startRound: Int
    public var resumeMask: [UInt8]?
    public var parentMask: [UInt8]?

    public init(request: TaskToLoad, startRound: Int, resumeMask: [UInt8]?, parentMask: [UInt8]?) {
        self.request = request
        self.startRound = startRound
        self.resumeMask = resumeMask
        self.parentMask = parentMask
    }
}

/// A task that starts now: the store marks the trial running and journals where it starts.
public struct TaskStart: Sendable, Hashable {
    public var trialID: String
    public var worker: WorkerID
    public var host: String
    public var taskID: Int
    public var startRound: Int
    /// When the READY this TASK answers arrived, if it is the first TASK since.
    public var readySince: Double?
}

/// What happened, as the coordinator loop saw it.
public enum CoordinatorEvent: Sendable {
    /// A message arrived on the ROUTER (undecoded: the machine decodes it, version check first).
    case received(InboundMessage)
    /// A send to this routing id failed: the peer is gone (ROUTER_MANDATORY's EHOSTUNREACH).
    case sendFailed(identity: [UInt8])
    /// Time passed. `heardUntil`: the loop is behind, and only messages that arrived before then were read.
    case tick(heardUntil: Double?)
    /// The answer to ``CoordinatorAction/checkResult(_:)``: the masks passed.
    case resultChecked(CheckedResult)
    /// The answer to ``CoordinatorAction/checkResult(_:)``: the masks are wrong; never stored.
    case resultRejected(ResultToCheck, reason: String)
    /// These ``CoordinatorAction/record(_:)`` requests are durable (one group commit): acknowledge them.
    case recorded([RecordRequest])
    /// The answer to ``CoordinatorAction/loadTaskMasks(_:)``.
    case taskMasksLoaded(TaskMasks)
    /// The answer to ``CoordinatorAction/loadTaskMasks(_:)`` when the store lacks what the task needs.
    case taskNotLoadable(TaskToLoad, reason: String)
    /// The mask audit found a recorded next mask that does not decode: the trial fails for good.
    case auditFailed(trialID: String, round: Int, reason: String)
    /// The mask audit has checked everything submitted so far.
    case auditIdle
    /// A store write failed: accept nothing more, drain, close.
    case storeFailed(String)
    /// Someone asked the coordinator to stop (SIGINT): drain, close.
    case stopRequested(String)
}

/// What the coordinator loop must do, in order.
public enum CoordinatorAction: Sendable {
    /// Send `message` to the peer with this routing id.
    case send(WireMessage, to: [UInt8])
    /// Log a line. `eventLine`: an event (folded into the status line when one is drawn), not a warning or the end.
    case log(Logger.Level, String, eventLine: Bool)
    /// Append to the results' `events` table.
    case journal(kind: String, worker: WorkerID?, trialID: String?, message: String)
    /// A peer was turned away (a REJECT went out already): journal it at a bounded rate (``RefusalJournal``).
    case refused(PeerRefusal)
    /// Check the result's masks against the store; answer ``CoordinatorEvent/resultChecked(_:)`` or
    /// ``CoordinatorEvent/resultRejected(_:reason:)`` before anything else.
    case checkResult(ResultToCheck)
    /// Record this result (group commit allowed); answer ``CoordinatorEvent/recorded(_:)`` once it is durable.
    case record(RecordRequest)
    /// Commit the pending records now (answer ``CoordinatorEvent/recorded(_:)``): what follows must come after them.
    case flushRecords
    /// Read the task's resume or parent mask from the store; answer ``CoordinatorEvent/taskMasksLoaded(_:)`` or
    /// ``CoordinatorEvent/taskNotLoadable(_:reason:)`` before anything else.
    case loadTaskMasks(TaskToLoad)
    /// Mark the trial running on the worker in the store and journal the task (its TASK follows).
    case startTask(TaskStart)
    /// Register a control branch trial in the store (it is queued).
    case registerBranch(trialID: String, spec: TrialSpec)
    /// The trial failed for good: mark it so in the store; forget its masks.
    case markFailed(trialID: String, reason: String)
    /// The trial's final round is recorded: mark it done in the store; forget its masks.
    case markDone(trialID: String)
}
