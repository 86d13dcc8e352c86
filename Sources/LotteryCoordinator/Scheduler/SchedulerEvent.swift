public import LotteryCore

/// How the scheduler names a worker *process*: the name it said in HELLO (for people; it may repeat), made unique
/// by the scheduler when another live process already uses it (`vm`, `vm#2`, `vm#3`…). Logs, progress and the
/// results show it. One id belongs to one process (one HELLO `instance_id`) while that process is alive.
public typealias WorkerID = String

/// Where a worker is in a trial, as reported by its heartbeats: IMP round and training iteration.
public struct TrialProgress: Sendable, Hashable {
    public var round: Int
    public var iteration: Int

    public init(round: Int, iteration: Int) {
        self.round = round
        self.iteration = iteration
    }
}

/// One unit of work handed to a worker: run `spec` (the whole IMP trial) starting at `startRound`.
///
/// `startRound` is the last recorded round + 1 (0 for a fresh trial). A worker resuming at round r > 0
/// rebuilds round r from the spec and the recorded round r−1 mask (DESIGN.md "Data flow", point 5).
/// A branch (control) trial is a one-round trial whose only round is numbered 0.
public struct SchedulerTask: Sendable, Hashable {
    public var trialID: String
    public var spec: TrialSpec
    public var startRound: Int

    public init(trialID: String, spec: TrialSpec, startRound: Int) {
        self.trialID = trialID
        self.spec = spec
        self.startRound = startRound
    }
}

/// Knobs of the scheduler. Times are seconds on the caller's monotonic clock.
public struct SchedulerConfig: Sendable, Hashable {
    /// How often the coordinator heartbeats each worker (``SchedulerAction/sendHeartbeat(_:)`` on ticks).
    public var heartbeatInterval: Double
    /// A worker not heard from for longer than this is dead (Paranoid Pirate: 3 missed heartbeats).
    public var heartbeatTimeout: Double
    /// A running trial whose progress (round, iteration) has not moved for longer than this is hung.
    public var trialTimeLimit: Double
    /// Consecutive bad ends (failure report, hang, worker death) without a recorded round before a trial
    /// fails for good.
    public var maxTries: Int

    /// The one default of the trial time limit, 1,800 s: a trial's progress (round, iteration) moves every 100
    /// iterations, so 30 minutes without a move is a hang even for the slowest conv round on a loaded host.
    public static let defaultTrialTimeLimit: Double = 1_800

    /// - Parameters:
    ///   - heartbeatInterval: Seconds between heartbeats to each worker (default 1).
    ///   - heartbeatTimeout: Seconds of silence before a worker is dead (default 3 × interval).
    ///   - trialTimeLimit: Seconds without progress before a trial is hung (default ``defaultTrialTimeLimit``).
    ///   - maxTries: Bad ends in a row before a trial fails (default 3).
    public init(
        heartbeatInterval: Double = 1, heartbeatTimeout: Double? = nil,
        trialTimeLimit: Double = SchedulerConfig.defaultTrialTimeLimit, maxTries: Int = 3
    ) {
        precondition(heartbeatInterval > 0 && trialTimeLimit > 0 && maxTries >= 1, "scheduler config out of range")
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout ?? 3 * heartbeatInterval
        self.trialTimeLimit = trialTimeLimit
        self.maxTries = maxTries
    }
}

/// Something that happened, as the coordinator loop saw it (wire messages translated, plus clock ticks).
public enum SchedulerEvent: Sendable, Hashable {
    /// A worker said HELLO: the name it gave (may repeat across processes), the id of its process (HELLO
    /// `instance_id`, new at every process start), its host, how many trials it runs at once.
    /// Answered with ``SchedulerAction/workerJoined(_:instance:sameProcess:)`` naming the ``WorkerID`` it gets.
    /// The protocol version is not the scheduler's business: a peer of another version never gets this far
    /// (``CoordinatorStateMachine`` answers its first message with REJECT `version_mismatch`).
    case workerHello(name: String, instance: String, host: String, slots: Int)
    /// The worker has `credit` more free slots (additive, as in the ZeroMQ Guide's credit-based flow control).
    case workerReady(WorkerID, credit: Int)
    /// The worker is alive; `progress` says where each of its trials is.
    case heartbeat(WorkerID, progress: [String: TrialProgress])
    /// A round's result arrived (metrics + mask). `isFinalRound`: the trial ends with this round.
    case roundResult(WorkerID, trialID: String, round: Int, isFinalRound: Bool)
    /// The worker finished the trial and freed its slot.
    case trialDone(WorkerID, trialID: String)
    /// The trial failed on the worker (an error, not a crash) and its slot is free.
    case trialFailed(WorkerID, trialID: String, reason: String)
    /// The worker is shutting down gracefully and hands these trials back unfinished.
    case givenBack(WorkerID, trialIDs: [String])
    /// The worker is gone for sure (it gave its trials back and left, or another process took its connection):
    /// dead now, its trials requeued.
    case workerGone(WorkerID)
    /// The worker's connection was seen to close. Not a death: a worker closes its old connection before every
    /// reconnect. It gets no task until it says HELLO again (the same instance: a reconnect, its trials kept) and
    /// is dead only once silent for ``SchedulerConfig/heartbeatTimeout``.
    case connectionClosed(WorkerID)
    /// The coordinator's own loop did not run from `since` until now (SIGSTOP, a stalled VM, a long disk write):
    /// it read nothing and sent no heartbeat meanwhile. Longer than the timeout, the workers gave up on it and
    /// reconnect with back-off: nobody is declared silent from that gap, and messages read until the loop has caught
    /// up count as heard at `since` (``SchedulerStateMachine/StallCatchUp``).
    case stalled(since: Double)
    /// The trial's recorded results are unusable (the coordinator's mask audit failed): it fails for good, even if
    /// it had finished, and its worker (if any) is told to stop.
    case trialCorrupt(trialID: String, reason: String)
    /// Time passed: check heartbeats and hung trials, send heartbeats.
    case tick
    /// Like ``tick``, from a coordinator that is behind: messages that arrived after `heardUntil` may still be
    /// waiting in its socket, so silence and stalled progress count only up to then (a worker is not dead
    /// because the coordinator has not read its heartbeat yet). Heartbeats are still sent on time.
    case tickLagging(heardUntil: Double)
}

/// What the coordinator loop must do, in order.
public enum SchedulerAction: Sendable, Hashable {
    /// A HELLO was accepted: the process `instance` is now the worker `id` (route its messages there). `sameProcess`:
    /// that process was already registered and alive (a reconnect), so it keeps its trials; otherwise it starts
    /// with none, and any trial it says it still runs must be cancelled.
    case workerJoined(WorkerID, instance: String, sameProcess: Bool)
    /// Send the task to the worker (it held credit; one credit is spent).
    case assign(WorkerID, SchedulerTask)
    /// Record the round durably (mask file, then rows), then acknowledge it to the worker.
    case acceptResult(WorkerID, trialID: String, round: Int)
    /// Acknowledge the result but do not record it: a duplicate, out of order, or for a finished trial.
    case dropResult(WorkerID, trialID: String, round: Int, reason: String)
    /// Tell the peer it is refused (no slots, or not registered: it should say HELLO).
    case reject(WorkerID, RejectReason)
    /// The worker is presumed dead; it gets no tasks until it says HELLO again.
    case markWorkerDead(WorkerID, reason: String)
    /// Ask the worker to stop a trial it no longer owns (hung, or finished elsewhere). Harmless to ignore:
    /// whatever it still sends is dropped or accepted by the same rules as any result.
    case cancel(WorkerID, trialID: String)
    /// The trial went back to the queue; it will resume at `fromRound`.
    case requeue(trialID: String, fromRound: Int)
    /// A control branch trial now exists (its parent's round mask is recorded): record it, it is queued.
    case branchCreated(trialID: String, spec: TrialSpec)
    /// The trial failed for good (``SchedulerConfig/maxTries`` bad ends in a row).
    case markTrialFailed(trialID: String, reason: String)
    /// The trial's final round is recorded.
    case trialFinished(trialID: String)
    /// Every trial, branch trials included, is finished or failed. Sent once.
    case sweepComplete(anyFailed: Bool)
    /// Send a heartbeat to the worker.
    case sendHeartbeat(WorkerID)
    /// Something worth a line in the log.
    case log(String)
}

/// Why the scheduler refused a worker's message: a case, not text, so the wire's REJECT code follows from it.
public enum RejectReason: Sendable, Hashable, CustomStringConvertible {
    /// HELLO announced fewer than one slot.
    case noSlots(Int)
    /// A message from a worker that never said HELLO (or whose id was never registered).
    case unknownWorker
    /// A message from a worker presumed dead: its trials were requeued; it must say HELLO again.
    case presumedDead

    public var description: String {
        switch self {
        case .noSlots(let slots): return "HELLO with \(slots) slots; a worker needs at least 1"
        case .unknownWorker: return "unknown worker: say HELLO first"
        case .presumedDead: return "presumed dead and its trials requeued: drop them and say HELLO again"
        }
    }
}
