public import LotteryCore

/// The coordinator's scheduling logic as a pure state machine: events in, actions out.
///
/// No I/O and no clock reads (swift-nio's state-machine style): the coordinator loop translates wire
/// messages and timer ticks into ``SchedulerEvent``s, passes its monotonic clock as `now`, and carries out
/// the returned ``SchedulerAction``s in order. Tests drive it directly.
///
/// Rules (docs/sweep-spec.md, "Scheduling"):
/// - **Credit.** A task goes only to a live worker holding credit (ZeroMQ Guide, load-balancing broker);
///   READY adds credit, capped at the worker's slots. Among workers with credit, the one with most credit
///   gets the next task (ties: the one that said HELLO first), so load spreads across hosts.
/// - **Queue order.** Branch (control) trials first, so a figure's controls finish with its tickets; then
///   top-level trials in plan order. A requeued trial goes to the front of its queue (finish started work).
/// - **Identity.** A worker is a process (HELLO `instance_id`), not a name: names may repeat (several unnamed
///   workers on one host) and get told apart as `name#2`, `name#3`…. A HELLO from a registered, live instance is
///   a reconnect (it keeps its trials); from a new instance it is a new worker, even under a live name (a
///   restart: the old process's trials are requeued when *it* is found dead, never because another said HELLO).
/// - **Liveness.** A worker silent for ``SchedulerConfig/heartbeatTimeout`` is dead: its trials are requeued from
///   their last recorded round + 1, and it gets nothing until HELLO. A closed connection alone is not a death (a
///   worker closes it before every reconnect): it gets no task until HELLO and dies only if it stays silent. The
///   coordinator's own stall is nobody's silence (`SchedulerStateMachine+Liveness.swift`). A trial whose progress
///   has not moved for ``SchedulerConfig/trialTimeLimit`` is hung: requeued, and its worker asked to cancel it.
/// - **Results, exactly once per (trial, round).** The next round not yet recorded (last recorded + 1) is
///   accepted *from any worker*, even one presumed dead or no longer assigned: training is deterministic,
///   so whoever computed round r computed the same numbers, and accepting never loses the round the trial
///   needs next. Rounds already recorded are dropped as duplicates; a round beyond the next one (a gap) is
///   dropped too. Dropped results are still acknowledged.
/// - **Tries.** A failure report, a hang, or the death of the worker running it is one bad end; after
///   ``SchedulerConfig/maxTries`` bad ends *in a row* the trial fails for good. Recording a round resets the
///   count, so a healthy trial survives any number of host deaths as long as it makes progress between
///   them, while a poison trial (crashing every worker at the same round) fails after 3. A worker that
///   hands trials back on a graceful shutdown costs them no try.
/// - **Branches.** When a top-level trial with `controls` records round r ≥ 1, its branch trials for round
///   r (control kinds × `controls_seeds`) are created and queued.
/// - **Completion.** When every trial, branches included, is finished or failed: ``SchedulerAction/sweepComplete(anyFailed:)``, once.
public struct SchedulerStateMachine: Sendable {
    /// Where a trial is.
    public enum TrialState: Sendable, Hashable {
        case queued
        case running(worker: WorkerID, startRound: Int)
        case done
        case failed(reason: String)

        public var isTerminal: Bool {
            switch self {
            case .done, .failed: return true
            case .queued, .running: return false
            }
        }
    }

    /// What the scheduler knows about one trial (top-level or branch).
    public struct TrialInfo: Sendable, Hashable {
        public let id: String
        public let spec: TrialSpec
        public var isBranch: Bool { spec.branch != nil }
        public internal(set) var state: TrialState
        /// Last round recorded durably; `nil` before round 0 is.
        public internal(set) var lastRecordedRound: Int?
        /// Bad ends in a row since the last recorded round.
        public internal(set) var tries: Int
        /// Last progress heard for the current run, and when it last moved (or the run started).
        public internal(set) var progress: TrialProgress?
        public internal(set) var progressMovedAt: Double

        /// The round a new run starts at: last recorded + 1.
        public var nextRound: Int { (lastRecordedRound ?? -1) + 1 }
    }

    /// What the scheduler knows about one worker process.
    public struct WorkerInfo: Sendable, Hashable {
        public let id: WorkerID
        /// The name it said in HELLO (`id` is this name, or `name#k` when another live process had it).
        public internal(set) var name: String
        /// Its process's HELLO `instance_id`.
        public internal(set) var instance: String
        public internal(set) var host: String
        public internal(set) var slots: Int
        /// Tasks it asked for and has not been given yet.
        public internal(set) var credit: Int
        public internal(set) var alive: Bool
        /// Whether it has a connection to send to: false once its connection was seen to close, until it says HELLO
        /// again. A closed connection is not a death (a worker closes its old connection before every reconnect);
        /// a disconnected worker gets no task and is dead only once silent for the timeout.
        public internal(set) var connected: Bool
        /// When its latest message arrived, as far as the coordinator can tell: one read while it catches up after
        /// its own stall counts as of the stall's start (``SchedulerEvent/stalled(since:)``).
        public internal(set) var lastSeen: Double
        var lastHeartbeatSent: Double
        /// Trials assigned to it and not yet finished, failed, given back or taken away, in assignment order.
        public internal(set) var running: [String]
        let joinOrder: Int
    }

    public let config: SchedulerConfig
    public internal(set) var trials: [String: TrialInfo] = [:]
    public internal(set) var workers: [WorkerID: WorkerInfo] = [:]
    /// Top-level trial ids in plan order.
    public let topLevelIDs: [String]
    /// Every trial id in creation order (plan order, then branches as created).
    public private(set) var allIDs: [String] = []
    var branchQueue: [String] = []
    var topQueue: [String] = []
    var joinCounter = 0
    /// The worker id of each process (HELLO `instance_id`) ever registered.
    var instances: [String: WorkerID] = [:]
    /// Controls a later spec version added to registered top-level trials (``PlannedTrial/addedControls``).
    var addedControls: [String: AddedControls] = [:]
    var completeAnnounced = false
    /// No worker is declared silent before this time: after the coordinator's own stall, the workers it left
    /// without heartbeats reconnect with a back-off that grew while it stalled (``SchedulerEvent/stalled(since:)``).
    public internal(set) var silenceGraceUntil: Double = -.infinity
    /// Set by a stall until the loop has read everything that arrived before it ended: messages read meanwhile may
    /// have been sent at any time during the stall, so they count as heard at its start.
    public internal(set) var catchingUp: StallCatchUp?

    /// A scheduler for `plan`, resuming from what a results database recorded.
    ///
    /// Finished trials never rerun; failed trials stay failed (omit them from `failed` to retry them);
    /// the others resume at their last recorded round + 1. Branch trials of every recorded parent round
    /// r ≥ 1 are recreated (their own state is looked up by id in the same maps) and queued ahead of
    /// top-level trials. No actions are emitted here: send ``SchedulerEvent/tick`` first.
    /// - Parameters:
    ///   - plan: Top-level trials in queue order (``SweepPlan/trials``).
    ///   - recorded: Last recorded round per trial id (top-level and branch).
    ///   - finished: Ids of trials whose final round is recorded.
    ///   - failed: Ids of trials that failed for good, with the reason.
    ///   - config: Timeouts and tries.
    public init(
        plan: [PlannedTrial], recorded: [String: Int] = [:], finished: Set<String> = [],
        failed: [String: String] = [:], config: SchedulerConfig
    ) {
        self.config = config
        self.topLevelIDs = plan.map(\.id)
        func add(_ id: String, _ spec: TrialSpec, queue: inout [String]) {
            guard trials[id] == nil else { return }
            let state: TrialState
            if finished.contains(id) {
                state = .done
            } else if let reason = failed[id] {
                state = .failed(reason: reason)
            } else {
                state = .queued
                queue.append(id)
            }
            trials[id] = TrialInfo(
                id: id, spec: spec, state: state, lastRecordedRound: recorded[id], tries: 0, progress: nil,
                progressMovedAt: 0
            )
            allIDs.append(id)
        }
        for trial in plan { add(trial.id, trial.spec, queue: &topQueue) }
        for trial in plan where trial.addedControls != nil { addedControls[trial.id] = trial.addedControls }
        for trial in plan {
            guard let last = recorded[trial.id] else { continue }
            for round in 0...last {  // round 0 spawns only one-shot branches
                for branch in RoundEstimate.branches(of: trial.spec, adding: trial.addedControls, round: round) {
                    add(branch.trialID, branch, queue: &branchQueue)
                }
            }
        }
    }

    // MARK: - Events

    /// Feeds one event; returns what to do, in order.
    ///
    /// - Parameters:
    ///   - event: What happened.
    ///   - now: The caller's monotonic clock, in seconds.
    /// - Returns: Actions to carry out in order (records before acknowledgements, etc.).
    public mutating func event(_ event: SchedulerEvent, now: Double) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        switch event {
        case .workerHello(let name, let instance, let host, let slots):
            hello(name: name, instance: instance, host: host, slots: slots, now: now, into: &actions)
        case .workerReady(let id, let credit):
            if registered(id, now: now, into: &actions) {
                let before = workers[id]!.credit
                workers[id]!.credit = min(before + max(credit, 0), workers[id]!.slots)
                if before + credit > workers[id]!.slots {
                    actions.append(
                        .log("worker \(id) announced more credit than its \(workers[id]!.slots) slots; capped"))
                }
            }
        case .heartbeat(let id, let progress):
            if registered(id, now: now, into: &actions) {
                for (trialID, point) in progress {
                    guard case .running(id, _)? = trials[trialID]?.state, trials[trialID]!.progress != point else {
                        continue
                    }
                    trials[trialID]!.progress = point
                    trials[trialID]!.progressMovedAt = now
                }
            }
        case .roundResult(let id, let trialID, let round, let isFinal):
            if workers[id]?.alive == true { heard(id, now: now) }
            result(from: id, trialID: trialID, round: round, isFinal: isFinal, now: now, into: &actions)
        case .trialDone(let id, let trialID):
            if registered(id, now: now, into: &actions) { done(id, trialID: trialID, into: &actions) }
        case .trialFailed(let id, let trialID, let reason):
            if registered(id, now: now, into: &actions) {
                if release(trialID, from: id) {
                    badEnd(trialID, reason: "failed on worker \(id): \(reason)", into: &actions)
                } else {
                    actions.append(.log("ignored failure of \(trialID) from \(id), which no longer runs it: \(reason)"))
                }
            }
        case .givenBack(let id, let trialIDs):
            if registered(id, now: now, into: &actions) {
                for trialID in trialIDs where release(trialID, from: id) {
                    requeue(trialID, into: &actions)
                }
            }
        case .workerGone(let id):
            if workers[id]?.alive == true { kill(id, reason: "it left", into: &actions) }
        case .connectionClosed(let id):
            connectionClosed(id, now: now, into: &actions)
        case .stalled(let since):
            stalled(since: since, now: now, into: &actions)
        case .trialCorrupt(let trialID, let reason):
            guard let trial = trials[trialID] else { break }
            if case .failed = trial.state { break }
            if case .running(let worker, _) = trial.state, release(trialID, from: worker) {
                actions.append(.cancel(worker, trialID: trialID))
            }
            trials[trialID]!.state = .failed(reason: reason)
            actions.append(.markTrialFailed(trialID: trialID, reason: reason))
        case .tick:
            tick(now: now, heardUntil: now, into: &actions)
        case .tickLagging(let heardUntil):
            tick(now: now, heardUntil: min(heardUntil, now), into: &actions)
        }
        dispatch(now: now, into: &actions)
        if !completeAnnounced, allIDs.allSatisfy({ trials[$0]!.state.isTerminal }) {
            completeAnnounced = true
            let anyFailed = trials.values.contains { if case .failed = $0.state { return true } else { return false } }
            actions.append(.sweepComplete(anyFailed: anyFailed))
        }
        return actions
    }

    /// True if `id` is a live registered worker (and marks it seen); otherwise rejects it.
    mutating func registered(_ id: WorkerID, now: Double, into actions: inout [SchedulerAction]) -> Bool {
        guard let worker = workers[id] else {
            actions.append(.reject(id, .unknownWorker))
            return false
        }
        guard worker.alive else {
            actions.append(.reject(id, .presumedDead))
            return false
        }
        heard(id, now: now)
        return true
    }

    /// The acceptance rule, the only copy: why a result for round `round` of `trialID` would be dropped, or `nil`
    /// when the scheduler accepts it (it is the trial's next round to record, from whichever worker).
    ///
    /// ``CoordinatorStateMachine`` asks this before it has the result's masks checked, so only results that will be
    /// accepted cost a check; the ``SchedulerEvent/roundResult(_:trialID:round:isFinalRound:)`` event applies it.
    public func dropReason(trialID: String, round: Int) -> String? {
        guard let trial = trials[trialID] else { return "unknown trial" }
        if case .failed = trial.state { return "trial already failed" }
        guard round == trial.nextRound, trial.state != .done else {
            return round < trial.nextRound || trial.state == .done
                ? "duplicate: round \(round) already recorded"
                : "out of order: round \(trial.nextRound) is the next one needed"
        }
        return nil
    }

    mutating func result(
        from id: WorkerID, trialID: String, round: Int, isFinal: Bool, now: Double,
        into actions: inout [SchedulerAction]
    ) {
        if let reason = dropReason(trialID: trialID, round: round) {
            actions.append(.dropResult(id, trialID: trialID, round: round, reason: reason))
            return
        }
        let trial = trials[trialID]!
        actions.append(.acceptResult(id, trialID: trialID, round: round))
        trials[trialID]!.lastRecordedRound = round
        trials[trialID]!.tries = 0
        let assignee: WorkerID?
        if case .running(let worker, _) = trial.state {
            assignee = worker
            trials[trialID]!.progressMovedAt = now
        } else {
            assignee = nil
        }
        if assignee != id {
            actions.append(
                .log(
                    "accepted round \(round) of \(trialID) from \(id), not its current worker (results are deterministic)"
                ))
        }
        if trial.spec.branch == nil {  // RoundEstimate.branches: rounds ≥ 1 for controls, 0 for one-shot densities
            for branch in RoundEstimate.branches(of: trial.spec, adding: addedControls[trialID], round: round) {
                let branchID = branch.trialID
                guard trials[branchID] == nil else { continue }
                trials[branchID] = TrialInfo(
                    id: branchID, spec: branch, state: .queued, lastRecordedRound: nil, tries: 0, progress: nil,
                    progressMovedAt: now
                )
                allIDs.append(branchID)
                branchQueue.append(branchID)
                actions.append(.branchCreated(trialID: branchID, spec: branch))
            }
        }
        if isFinal {
            trials[trialID]!.state = .done
            if let assignee, assignee != id {
                // Finished by a late result from elsewhere: the current assignee's run is moot.
                _ = release(trialID, from: assignee)
                actions.append(.cancel(assignee, trialID: trialID))
            } else if let assignee {
                _ = release(trialID, from: assignee)
            }
            actions.append(.trialFinished(trialID: trialID))
        }
    }

    mutating func done(_ id: WorkerID, trialID: String, into actions: inout [SchedulerAction]) {
        let wasRunning = release(trialID, from: id)
        guard let trial = trials[trialID], wasRunning, trial.state != .done else { return }
        // Released by the worker without its final round recorded: something was lost on the way.
        badEnd(trialID, reason: "worker \(id) reported it done but its final round is not recorded", into: &actions)
    }

    /// Takes `trialID` off `worker`'s running list; true if it was running there (state becomes queued
    /// unless terminal).
    mutating func release(_ trialID: String, from worker: WorkerID) -> Bool {
        guard let index = workers[worker]?.running.firstIndex(of: trialID) else { return false }
        workers[worker]!.running.remove(at: index)
        if case .running(worker, _)? = trials[trialID]?.state {
            trials[trialID]!.state = .queued
        }
        return true
    }

    /// Puts a released trial back at the front of its queue.
    mutating func requeue(_ trialID: String, into actions: inout [SchedulerAction]) {
        guard let trial = trials[trialID], trial.state == .queued else { return }
        trials[trialID]!.progress = nil
        if trial.isBranch { branchQueue.insert(trialID, at: 0) } else { topQueue.insert(trialID, at: 0) }
        actions.append(.requeue(trialID: trialID, fromRound: trial.nextRound))
    }

    /// One bad end of a released trial: requeue, or fail it for good after `maxTries` in a row.
    mutating func badEnd(_ trialID: String, reason: String, into actions: inout [SchedulerAction]) {
        guard let trial = trials[trialID], !trial.state.isTerminal else { return }
        trials[trialID]!.state = .queued
        trials[trialID]!.tries += 1
        let tries = trials[trialID]!.tries
        if tries >= config.maxTries {
            let message = "\(reason) (\(tries) bad ends in a row without recording a round)"
            trials[trialID]!.state = .failed(reason: message)
            actions.append(.markTrialFailed(trialID: trialID, reason: message))
        } else {
            actions.append(.log("trial \(trialID): \(reason); try \(tries) of \(config.maxTries)"))
            requeue(trialID, into: &actions)
        }
    }

    /// Hands queued trials to workers holding credit until one runs out.
    ///
    /// Only to workers heard from within ``SchedulerConfig/heartbeatTimeout``: after the coordinator itself was
    /// frozen (SIGSTOP, a stalled VM), every worker looks silent and their old connections' closes arrive in one
    /// burst. A trial requeued by the first close must not go to a worker whose close is next in that burst,
    /// charging it a bad end per stale worker; it waits for a worker that is heard from again (its next heartbeat
    /// or HELLO). In normal operation every live worker is heard from within the timeout, so this changes nothing.
    /// A worker whose connection closed (``WorkerInfo/connected``) gets nothing either: its TASK could not be sent.
    mutating func dispatch(now: Double, into actions: inout [SchedulerAction]) {
        while let workerID = workerWithMostCredit(heardSince: now - config.heartbeatTimeout), let trialID = popQueued() {
            let start = trials[trialID]!.nextRound
            trials[trialID]!.state = .running(worker: workerID, startRound: start)
            trials[trialID]!.progress = nil
            trials[trialID]!.progressMovedAt = now
            workers[workerID]!.credit -= 1
            workers[workerID]!.running.append(trialID)
            actions.append(
                .assign(workerID, SchedulerTask(trialID: trialID, spec: trials[trialID]!.spec, startRound: start)))
        }
    }

    func workerWithMostCredit(heardSince: Double) -> WorkerID? {
        var best: WorkerInfo?
        for worker in workers.values
        where worker.alive && worker.connected && worker.credit > 0 && worker.lastSeen >= heardSince {
            if let current = best, (current.credit, -current.joinOrder) >= (worker.credit, -worker.joinOrder) {
                continue
            }
            best = worker
        }
        return best?.id
    }

    /// The next queued trial: branches first, then top-level. Entries that left the queued state while
    /// waiting (finished by a late result) are skipped.
    mutating func popQueued() -> String? {
        while !branchQueue.isEmpty {
            let id = branchQueue.removeFirst()
            if trials[id]?.state == .queued { return id }
        }
        while !topQueue.isEmpty {
            let id = topQueue.removeFirst()
            if trials[id]?.state == .queued { return id }
        }
        return nil
    }

    var workerIDsInJoinOrder: [WorkerID] {
        workers.values.sorted { $0.joinOrder < $1.joinOrder }.map(\.id)
    }

    static func seconds(_ value: Double) -> String {
        value < 10 ? "\(Double(Int(value * 10)) / 10) s" : "\(Int(value)) s"
    }
}
