import LotteryCoordinator
import LotteryCore
import LotteryResults
import LotteryWire
import Testing

/// An in-memory coordinator, the way swift-nio's `EmbeddedChannel` runs a handler: a ``CoordinatorStateMachine``
/// fed wire frames and ticks by the test, its actions carried out into lists the test reads. No socket, no store,
/// no clock: time is `now`, set by the test.
///
/// Like ``CoordinatorLoop`` it answers the actions that ask for I/O at once (unless told to hold them): a mask check
/// passes (the bytes are stored as sent), task masks load (placeholder bytes), and records are committed on
/// `flushRecords` and at the end of every event (a burst of one).
struct CoordinatorHarness {
    var machine: CoordinatorStateMachine
    var now: Double = 0
    /// Every message sent, with the routing id it went to, in order.
    var sent: [(to: String, message: WireMessage)] = []
    /// Every log line (event lines and others), in order.
    var logs: [String] = []
    /// `events` table rows: kind, and the trial if any.
    var journal: [(kind: String, trialID: String?)] = []
    /// Peers turned away (``CoordinatorAction/refused(_:)``), in order.
    var refusals: [PeerRefusal] = []
    /// Store writes, in order: "running T on W at R", "done T", "failed T", "branch T", "recorded T/r".
    var store: [String] = []
    /// Hold mask checks (test answers them) instead of passing them.
    var holdChecks = false
    var heldChecks: [ResultToCheck] = []
    /// Hold task-mask loads instead of answering them.
    var holdLoads = false
    var heldLoads: [TaskToLoad] = []
    var pendingRecords: [RecordRequest] = []

    init(
        trials: [PlannedTrial], recorded: [String: Int] = [:], curve: Bool = false, heartbeatInterval: Double = 1
    ) {
        let scheduler = SchedulerStateMachine(
            plan: trials, recorded: recorded,
            config: SchedulerConfig(heartbeatInterval: heartbeatInterval, heartbeatTimeout: 3 * heartbeatInterval))
        machine = CoordinatorStateMachine(
            scheduler: scheduler,
            config: .init(
                curve: curve,
                datasets: ["mnist": ServedDataset(bytes: (0..<3000).map { UInt8($0 % 251) }, checksum: "abc123")],
                firstTaskID: 100, heartbeatInterval: heartbeatInterval))
    }

    // MARK: Feeding

    /// Feeds an event and carries out its actions; returns them.
    @discardableResult
    mutating func feed(_ event: CoordinatorEvent) -> [CoordinatorAction] {
        let actions = machine.event(event, now: now)
        for action in actions { execute(action) }
        return actions
    }

    /// A message from the peer `from` (its routing id), encoded and framed as the ROUTER gives it.
    @discardableResult
    mutating func receive(
        _ message: WireMessage, from peer: String, version: UInt16 = Wire.version, userID: String? = nil
    ) -> [CoordinatorAction] {
        var frames = try! message.encode()
        frames[0] = Wire.header(message.type, version: version)
        return receive(frames: [Array(peer.utf8)] + frames, userID: userID)
    }

    @discardableResult
    mutating func receive(frames: [[UInt8]], userID: String? = nil) -> [CoordinatorAction] {
        let actions = feed(.received(InboundMessage(frames: frames, userID: userID, peerAddress: "10.0.0.9:4242")))
        commit()
        return actions
    }

    mutating func tick(at time: Double) {
        now = time
        feed(.tick(heardUntil: nil))
        commit()
    }

    /// Time passing with the loop running: a tick every quarter second (the loop ticks at least every quarter
    /// heartbeat interval) up to `time`. A jump of `now` without ticks is the loop itself not running (a stall).
    mutating func advance(to time: Double) {
        while now + 0.25 < time { tick(at: now + 0.25) }
        tick(at: time)
    }

    mutating func commit() {
        guard !pendingRecords.isEmpty else { return }
        let batch = pendingRecords
        pendingRecords = []
        for item in batch { store.append("recorded \(item.record.trialID)/\(item.record.round)") }
        feed(.recorded(batch))
    }

    mutating func execute(_ action: CoordinatorAction) {
        switch action {
        case .send(let message, let identity):
            // Whatever the machine sends must encode (the worker decodes it).
            #expect(throws: Never.self) { _ = try message.encode() }
            sent.append((String(decoding: identity, as: UTF8.self), message))
        case .log(_, let text, _):
            logs.append(text)
        case .journal(let kind, _, let trialID, _):
            journal.append((kind, trialID))
        case .refused(let refusal):
            refusals.append(refusal)
        case .checkResult(let check):
            if holdChecks {
                heldChecks.append(check)
            } else {
                feed(
                    .resultChecked(
                        CheckedResult(
                            check: check, maskFile: check.result.mask, nextMaskFile: check.result.nextMask, audit: nil))
                )
            }
        case .record(let request):
            pendingRecords.append(request)
        case .flushRecords:
            commit()
        case .loadTaskMasks(let request):
            if holdLoads {
                heldLoads.append(request)
            } else {
                feed(
                    .taskMasksLoaded(
                        TaskMasks(
                            request: request, startRound: request.task.startRound,
                            resumeMask: request.task.startRound > 0 ? [1, 2, 3] : nil,
                            parentMask: request.task.spec.branch != nil ? [4, 5, 6] : nil)))
            }
        case .startTask(let start):
            store.append("running \(start.trialID) on \(start.worker) at \(start.startRound)")
        case .registerBranch(let trialID, _):
            store.append("branch \(trialID)")
        case .markFailed(let trialID, _):
            store.append("failed \(trialID)")
        case .markDone(let trialID):
            store.append("done \(trialID)")
        }
    }

    // MARK: Reading what was sent

    /// Messages sent to `peer`, and forgets them (so the next look sees only new ones).
    mutating func take(_ peer: String) -> [WireMessage] {
        let mine = sent.filter { $0.to == peer }.map(\.message)
        sent.removeAll { $0.to == peer }
        return mine
    }

    mutating func tasks(_ peer: String) -> [WireMessage.TaskAssignment] {
        take(peer).compactMap { if case .task(let task) = $0 { task } else { nil } }
    }

    // MARK: Worker side

    static func hello(
        _ name: String, instance: String? = nil, slots: Int = 1, running: [WireMessage.TrialProgress] = []
    ) -> WireMessage {
        .hello(
            WireMessage.Hello(
                workerName: name, host: "host-\(name)", instanceID: instance ?? "instance-\(name)", cores: 1,
                slots: slots, cpuKind: "test", buildID: "test", running: running))
    }

    /// HELLO then READY with `credit` (default: its slots); returns the TASKs it got.
    mutating func join(
        _ peer: String, name: String? = nil, instance: String? = nil, slots: Int = 1, credit: Int? = nil
    ) -> [WireMessage.TaskAssignment] {
        receive(Self.hello(name ?? peer, instance: instance ?? "instance-\(peer)", slots: slots), from: peer)
        receive(.ready(WireMessage.Ready(credit: credit ?? slots)), from: peer)
        return tasks(peer)
    }

    static func result(_ task: WireMessage.TaskAssignment, round: Int, final: Bool = false) -> WireMessage {
        result(taskID: task.taskID, trialID: task.trialID, round: round, final: final)
    }

    static func result(taskID: Int, trialID: String, round: Int, final: Bool = false) -> WireMessage {
        .roundResult(
            WireMessage.RoundResult(
                taskID: taskID,
                metrics: RoundMetrics(
                    trialID: trialID, round: round, density: 0.8, layerDensities: [0.8], keptCounts: [8],
                    earlyStopIteration: 100, valLossAtES: 0.2, valAccAtES: 0.9, testAccAtES: 0.9, testAccFinal: 0.9,
                    trainAccFinal: 0.95, seconds: 0.1, curve: [], layers: []),
                mask: [UInt8(round), 1, 2], nextMask: final ? nil : [UInt8(round), 3, 4]))
    }

    /// Every round of `task` from its start round, each ACKed; then TRIAL_DONE.
    mutating func run(_ task: WireMessage.TaskAssignment, on peer: String, rounds: Int) {
        for round in task.startRound...rounds {
            receive(Self.result(task, round: round, final: round == rounds), from: peer)
        }
        receive(
            .trialDone(WireMessage.TrialDone(taskID: task.taskID, trialID: task.trialID, lastRound: rounds)), from: peer
        )
    }
}

extension [WireMessage] {
    var acks: [WireMessage.Ack] { compactMap { if case .ack(let ack) = $0 { ack } else { nil } } }
    var rejects: [WireMessage.Reject] { compactMap { if case .reject(let reject) = $0 { reject } else { nil } } }
    var cancels: [WireMessage.Cancel] { compactMap { if case .cancel(let cancel) = $0 { cancel } else { nil } } }
    var shutdowns: [WireMessage.ShutdownMode] {
        compactMap { if case .shutdown(let shutdown) = $0 { shutdown.mode } else { nil } }
    }
}

extension [CoordinatorAction] {
    var checks: [ResultToCheck] { compactMap { if case .checkResult(let check) = $0 { check } else { nil } } }
}
