public import LotteryWire
public import Logging

/// The worker's side of the protocol as a pure state machine: events in, actions out, no I/O, no clock.
///
/// The I/O thread (``Session``, driven by ``Worker/run()``) owns the DEALER socket, the dataset cache, the download
/// file and the trial threads; it feeds this machine what happened (connected, a message's frames, a trial thread's
/// event, a tick with the time and the trials' positions, the answer to an I/O request) and carries out the
/// returned ``SessionAction``s in order: sends, trial starts and stops, dataset file work, reconnect, exit. Tests
/// drive it directly (`SessionStateMachineTests`).
///
/// Rules (docs/protocol.md, docs/worker.md): HELLO then READY (credit = free slots, sent when it grows); a TASK
/// takes a slot, waits for its dataset (fetched chunk by chunk, one request outstanding) and starts; every
/// ROUND_RESULT is kept until ACKed and resent after a reconnect, oldest first, with the TRIAL_DONE/FAILED that
/// followed it; CANCEL stops a task and drops what it has not delivered; SHUTDOWN `finish` leaves once idle,
/// `drain` stops training, waits briefly for ACKs and gives back the unfinished trials; a coordinator silent for
/// `liveness` heartbeats means reconnect with back-off; another protocol version, REJECT `version_mismatch` or
/// `refused` end the worker.
public struct SessionStateMachine: Sendable {
    enum Mode: Equatable {
        case normal
        /// SHUTDOWN finish: no new work; exit once idle and acknowledged.
        case finishing
        /// SHUTDOWN drain: stop rounds in progress, wait for ACKs, GIVE_BACK, exit.
        case draining
    }

    /// Where one task is.
    enum Phase: Equatable {
        /// Accepted but no slot is free (the coordinator over-sent after a race of absolute READYs).
        case queued
        /// Holds a slot; the I/O thread is asked whether its dataset is cached.
        case checkingData
        /// Holds a slot; its dataset is being fetched.
        case awaitingData
        /// Its thread is training.
        case running
        /// Its thread ended (done, failed, or stopped by a drain).
        case ended
    }

    /// One task this worker holds: queued, waiting for its dataset, training, or ended with results not yet ACKed.
    struct Record: Sendable {
        let task: WireMessage.TaskAssignment
        var phase = Phase.queued
        /// ROUND_RESULTs sent (or to send) and not yet ACKed, oldest first, encoded.
        var unacked: [(round: Int, frames: [[UInt8]])] = []
        var lastAcked: Int?
        /// TRIAL_DONE or TRIAL_FAILED once the thread ended; resent after a reconnect while results are unacked.
        var final: WireMessage?
        var finalSent = false
        /// CANCEL arrived: nothing more is sent for this task.
        var cancelled = false
        /// Stopped by a drain: returned in GIVE_BACK.
        var givenBack = false

        var holdsSlot: Bool { phase != .ended }
        var metadata: Logger.Metadata { ["task": "\(task.taskID)", "trial": "\(task.trialID)"] }
        var returned: WireMessage.ReturnedTrial {
            WireMessage.ReturnedTrial(taskID: task.taskID, trialID: task.trialID, lastRound: lastAcked)
        }
    }

    /// The download in progress (one request outstanding at a time).
    struct Fetch: Sendable, Hashable {
        var ref: WireMessage.DatasetRef
        /// Bytes written so far; the next request asks from here.
        var offset: Int
        var total: Int?
        var requestedAt: Double
    }

    public let config: WorkerConfig
    var records: [Int: Record] = [:]
    var order: [Int] = []
    var isConnected = false
    var lastHeard: Double = 0
    var lastHeartbeat: Double = 0
    var lastHello: Double = -.infinity
    var reconnectDelay: Int
    var lastCredit: Int?
    /// `nil` until the download file is open (``SessionAction/openDownload(_:)`` answered).
    var fetch: Fetch?
    /// The dataset a download file was asked for and not yet answered.
    var opening: WireMessage.DatasetRef?
    var mode = Mode.normal
    var stopping = false
    var drainIdleSince: Double?
    /// Tasks given back by a drain before they started (returned in the final GIVE_BACK).
    var returnedEarly: [WireMessage.ReturnedTrial] = []
    /// Datasets in the cache, for HELLO: as the last ``SessionEvent/connected(datasets:positions:)`` said, plus
    /// those installed since.
    var datasets: [WireMessage.DatasetRef] = []
    /// Where each trial thread is, as the last event that carried positions said.
    var positions: [Int: TrialPosition] = [:]
    /// Set when the worker must leave; the action ``SessionAction/exit(_:)`` says so once.
    public internal(set) var exit: Result<WorkerExit, WorkerError>?
    var now: Double = 0
    var actions: [SessionAction] = []

    public init(config: WorkerConfig) {
        self.config = config
        reconnectDelay = config.reconnectMinMilliseconds
    }

    var interval: Double { Double(config.heartbeatMilliseconds) / 1000 }

    /// Feeds one event; returns what to do, in order.
    ///
    /// - Parameters:
    ///   - event: What happened.
    ///   - now: The caller's monotonic clock, in seconds.
    /// - Returns: Actions to carry out in order. The dataset actions ask for I/O whose answer is an event, fed
    ///   before anything else.
    public mutating func event(_ event: SessionEvent, now: Double) -> [SessionAction] {
        self.now = now
        actions = []
        guard exit == nil else { return [] }
        switch event {
        case .connected(let datasets, let positions):
            self.datasets = datasets
            self.positions = positions
            connected()
        case .received(let frames):
            received(frames)
        case .tick(let positions):
            self.positions = positions
            tick()
        case .roundResult(let taskID, let round, let frames):
            guard var record = records[taskID], !record.cancelled else { break }
            record.unacked.append((round, frames))
            records[taskID] = record
            if isConnected { actions.append(.sendEncoded(frames)) }
            log(.info, "ROUND_RESULT", record.metadata.merging(["round": "\(round)"], uniquingKeysWith: { $1 }))
        case .trialDone(let taskID, let lastRound):
            ended(taskID) {
                .trialDone(WireMessage.TrialDone(taskID: taskID, trialID: $0.trialID, lastRound: lastRound))
            }
        case .trialFailed(let taskID, let round, let error):
            log(.error, "trial failed", ["task": "\(taskID)", "error": "\(error)"])
            ended(taskID) {
                .trialFailed(WireMessage.TrialFailed(taskID: taskID, trialID: $0.trialID, round: round, error: error))
            }
        case .trialStopped(let taskID):
            guard var record = records[taskID] else { break }
            log(.info, "trial stopped", record.metadata)
            record.phase = .ended
            records[taskID] = record
            if record.cancelled { remove(taskID) } else { records[taskID]?.givenBack = true }
            schedule()
        case .stopRequested(let reason):
            stop(reason: reason)
        case .fatal(let error):
            fail(error)
        case .datasetFound(let taskID):
            if records[taskID]?.phase == .checkingData { start(taskID) }
        case .datasetMissing(let taskID):
            guard records[taskID]?.phase == .checkingData else { break }
            records[taskID]?.phase = .awaitingData
            startFetchIfNeeded()
        case .downloadOpened(let ref, let offset):
            downloadOpened(ref, offset: offset)
        case .datasetAppeared(let ref):
            if opening == ref { opening = nil }
            datasetInstalled(ref)
        case .downloadFailed(let ref, let reason):
            downloadFailed(ref, reason: reason)
        case .datasetInstalled(let ref):
            guard fetch?.ref == ref else { break }
            log(.info, "dataset installed", ["dataset": "\(ref.id)", "bytes": "\(fetch?.offset ?? 0)"])
            fetch = nil
            datasetInstalled(ref)
        }
        return actions
    }

    /// Milliseconds until the next timer (heartbeat), at most one interval, at least 1.
    public func pollTimeout(now: Double) -> Int {
        let remaining = max(0, lastHeartbeat + interval - now)
        return max(1, min(Int(remaining * 1000), config.heartbeatMilliseconds))
    }

    // MARK: - Emitting

    mutating func send(_ message: WireMessage) {
        actions.append(.send(message))
    }

    mutating func log(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata = [:]) {
        actions.append(.log(level, message, metadata))
    }

    mutating func remove(_ id: Int) {
        records[id] = nil
        order.removeAll { $0 == id }
    }

    var orderedRecords: [Record] { order.compactMap { records[$0] } }

    func progress(_ record: Record) -> WireMessage.TrialProgress {
        let position = positions[record.task.taskID]
        return WireMessage.TrialProgress(
            taskID: record.task.taskID, trialID: record.task.trialID,
            round: position?.round ?? record.task.startRound, iteration: position?.iteration ?? 0)
    }
}

/// Where a trial thread is: IMP round and training iteration (from its ``TrialControl``).
public struct TrialPosition: Sendable, Hashable {
    public var round: Int
    public var iteration: Int

    public init(round: Int, iteration: Int) {
        self.round = round
        self.iteration = iteration
    }
}

/// What happened, as the worker's I/O thread saw it.
public enum SessionEvent: Sendable {
    /// A fresh connection: the datasets in the cache (for HELLO) and where each trial thread is.
    case connected(datasets: [WireMessage.DatasetRef], positions: [Int: TrialPosition])
    /// A message from the coordinator (undecoded: the machine decodes it, version first).
    case received([[UInt8]])
    /// Time passed; where each trial thread is now.
    case tick(positions: [Int: TrialPosition])
    /// A trial thread encoded a round's result.
    case roundResult(taskID: Int, round: Int, frames: [[UInt8]])
    /// A trial thread reported its last round.
    case trialDone(taskID: Int, lastRound: Int)
    /// A trial thread failed; `error` is the human text for TRIAL_FAILED.
    case trialFailed(taskID: Int, round: Int?, error: String)
    /// A trial thread stopped on request (CANCEL or drain).
    case trialStopped(taskID: Int)
    /// SIGTERM/SIGINT: give back everything unfinished and leave.
    case stopRequested(String)
    /// A fatal error found outside the conversation (the coordinator refused this worker's CURVE key).
    case fatal(WorkerError)
    /// The answer to ``SessionAction/findDataset(taskID:_:)``.
    case datasetFound(taskID: Int)
    case datasetMissing(taskID: Int)
    /// The answer to ``SessionAction/openDownload(_:)``: open and locked, `offset` bytes already there (hashed).
    case downloadOpened(WireMessage.DatasetRef, offset: Int)
    /// The answer to ``SessionAction/openDownload(_:)``: another worker on this host installed it meanwhile.
    case datasetAppeared(WireMessage.DatasetRef)
    /// A download could not be opened, written, checked or installed (the file is already abandoned).
    case downloadFailed(WireMessage.DatasetRef, reason: String)
    /// The answer to ``SessionAction/finishDownload(_:)``: checked against its SHA-256 and installed.
    case datasetInstalled(WireMessage.DatasetRef)
}

/// What the worker's I/O thread must do, in order.
public enum SessionAction: Sendable {
    /// Send a message to the coordinator (dropped while disconnected: the machine resends what matters).
    case send(WireMessage)
    /// Send an already encoded ROUND_RESULT (kept until ACKed).
    case sendEncoded([[UInt8]])
    /// Start the task's trial on its own thread.
    case startTrial(WireMessage.TaskAssignment)
    /// Stop the task's trial as soon as possible; it reports nothing more (CANCEL, SHUTDOWN finish, a stop).
    case cancelTrial(taskID: Int)
    /// Stop the task's trial now; a round already finished is still reported (drain).
    case stopTrialAfterRound(taskID: Int)
    /// Is `ref` in the cache? Answer ``SessionEvent/datasetFound(taskID:)`` or ``SessionEvent/datasetMissing(taskID:)``.
    case findDataset(taskID: Int, WireMessage.DatasetRef)
    /// Open (and lock) the download file of `ref`, hashing the bytes a dead worker left; answer
    /// ``SessionEvent/downloadOpened(_:offset:)``, ``SessionEvent/datasetAppeared(_:)`` or
    /// ``SessionEvent/downloadFailed(_:reason:)``.
    case openDownload(WireMessage.DatasetRef)
    /// Append a chunk to the open download (and to its hash); on failure answer ``SessionEvent/downloadFailed(_:reason:)``.
    case writeChunk(WireMessage.DatasetRef, [UInt8])
    /// Every byte is there: check the SHA-256, install, unlink and unlock; answer
    /// ``SessionEvent/datasetInstalled(_:)`` or ``SessionEvent/downloadFailed(_:reason:)``.
    case finishDownload(WireMessage.DatasetRef)
    /// Remove and unlock the download file.
    case abandonDownload(WireMessage.DatasetRef)
    /// Drop the socket now and connect a fresh one after this many milliseconds.
    case reconnect(afterMilliseconds: Int)
    /// Leave ``Worker/run()`` with this outcome.
    case exit(Result<WorkerExit, WorkerError>)
    /// A log line.
    case log(Logger.Level, String, Logger.Metadata)
}
