import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

// Carrying out the scheduler's actions: tasks, requeues, branches, shutdown, progress.
extension CoordinatorLoop {
    // MARK: - Scheduler

    /// Feeds one event to the scheduler and carries out its actions in order.
    func feed(_ event: SchedulerEvent, from worker: WorkerID?) {
        let actions = scheduler.event(event, now: Self.now)
        for action in actions { execute(action) }
    }

    func flushPendingEvents() {
        while !pendingEvents.isEmpty {
            let (event, worker) = pendingEvents.removeFirst()
            feed(event, from: worker)
        }
    }

    func execute(_ action: SchedulerAction) {
        switch action {
        case .assign(let worker, let task):
            assign(task, to: worker)
        case .acceptResult(let worker, let trialID, let round):
            accept(trialID: trialID, round: round, from: worker)
        case .dropResult(let worker, let trialID, let round, let reason):
            commitAccepted()  // a duplicate's original must be durable before the copy is acknowledged
            logger.debug("dropped round \(round) of \(trialID) from \(worker): \(reason)")
            // Journaled (kind `result-dropped`) so a crash test can count resends against recomputations.
            if storeFailure == nil {
                try? store.logEvent(
                    kind: "result-dropped", worker: worker, trialID: trialID, message: "round \(round): \(reason)")
            }
            let taskID = pendingResult?.taskID ?? currentTask[trialID] ?? 0
            pendingResult = nil
            send(.ack(WireMessage.Ack(taskID: taskID, trialID: trialID, round: round, status: .duplicate)), to: worker)
        case .reject(let worker, let reason):
            let code: WireMessage.RejectCode = reason.hasPrefix("HELLO with") ? .refused : .unknownWorker
            send(.reject(WireMessage.Reject(code: code, message: reason)), to: worker)
        case .markWorkerDead(let worker, let reason):
            event("worker \(worker) left: \(reason)", level: .warning)
            readyAt[worker] = nil
            for (taskID, assignment) in assignments where assignment.worker == worker { forget(taskID: taskID) }
            try? store.logEvent(kind: "worker-lost", worker: worker, message: reason)
        case .cancel(let worker, let trialID):
            if let taskID = currentTask[trialID], assignments[taskID]?.worker == worker {
                send(.cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "reassigned")), to: worker)
                forget(taskID: taskID)
            } else {
                for (taskID, assignment) in assignments
                where assignment.worker == worker && assignment.trialID == trialID {
                    send(.cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "cancelled")), to: worker)
                    forget(taskID: taskID)
                }
            }
        case .requeue(let trialID, let fromRound):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            event("trial \(trialID) requeued (resumes at round \(fromRound))")
            if storeFailure == nil {
                try? store.logEvent(kind: "requeued", trialID: trialID, message: "resumes at round \(fromRound)")
            }
        case .branchCreated(let trialID, let spec):
            guarded { () throws(StoreError) in
                try store.registerTrials([TrialRegistration(id: trialID, spec: spec, expectedRounds: 1)])
            }
        case .markTrialFailed(let trialID, let reason):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            event("trial \(trialID) FAILED: \(reason)", level: .error)
            guarded { () throws(StoreError) in try store.markFailed(trialID: trialID, reason: reason) }
        case .trialFinished(let trialID):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            event("trial \(trialID) finished (\(scheduler.trials[trialID]?.nextRound ?? 0) rounds)")
            guarded { () throws(StoreError) in try store.markDone(trialID: trialID) }
        case .sweepComplete:
            // Closed by `closeWhenAudited()` once the audit has checked every recorded mask (it may fail a trial).
            completeAwaitingAudit = true
        case .sendHeartbeat(let worker):
            send(.heartbeat(WireMessage.Heartbeat()), to: worker)
        case .workerJoined(let worker, _, _):
            say(.error, "internal: worker \(worker) joined outside a HELLO")
        case .log(let text):
            event(text)
        }
    }

    func assign(_ task: SchedulerTask, to worker: WorkerID) {
        commitAccepted()  // a resume reads the store
        if leaving.contains(worker) {
            // Spends the leaving worker's credit without sending anything; the trial goes straight back.
            pendingEvents.append((.givenBack(worker, trialIDs: [task.trialID]), worker))
            return
        }
        let taskID = nextTaskID
        nextTaskID += 1
        var startRound = task.startRound
        var resumeMask: [UInt8]?
        var parentMask: [UInt8]?
        do {
            if startRound > 0 {
                // The worker gets it self-contained (stored, it may be a delta against the round's mask).
                resumeMask = try store.nextMaskBytes(trialID: task.trialID, round: startRound - 1)
                if let bytes = resumeMask, (try? MaskFile.info(bytes))?.isDelta != false,
                    let mask = try store.nextMask(trialID: task.trialID, round: startRound - 1)
                {
                    resumeMask = MaskFile.encode(mask)
                }
                if resumeMask == nil {
                    logger.warning(
                        "no next mask recorded with round \(startRound - 1) of \(task.trialID): it reruns from round 0 (recorded rounds are not recorded twice)"
                    )
                    startRound = 0
                }
            }
            if let branch = task.spec.branch {
                guard let mask = try storedMask(trialID: branch.parentTrial, round: branch.parentRound) else {
                    throw CoordinatorError(
                        "the mask of its parent \(branch.parentTrial) round \(branch.parentRound) is not recorded")
                }
                parentMask = MaskFile.encode(mask)
            }
        } catch {
            say(.error, "cannot assign \(task.trialID): \(error)")
            pendingEvents.append((.trialFailed(worker, trialID: task.trialID, reason: "\(error)"), worker))
            return
        }
        // A synthetic trial reads no data: its TASK names the dataset with a placeholder checksum the worker ignores.
        let checksum = task.spec.synthetic != nil ? "synthetic" : datasets[task.spec.dataset]?.checksum
        guard let checksum else {
            pendingEvents.append(
                (.trialFailed(worker, trialID: task.trialID, reason: "no dataset '\(task.spec.dataset)'"), worker))
            return
        }
        assignments[taskID] = Assignment(trialID: task.trialID, worker: worker)
        if let old = currentTask[task.trialID] { assignments[old] = nil }
        currentTask[task.trialID] = taskID
        let host = routes[worker].flatMap { peers[$0]?.host } ?? "?"
        guarded { () throws(StoreError) in
            try store.markRunning(trialID: task.trialID, worker: worker, host: host)
            // `task` events say where each assignment starts: after a crash no task may start at a recorded round.
            try store.logEvent(
                kind: "task", worker: worker, trialID: task.trialID,
                message: "task \(taskID) start_round \(startRound)")
        }
        event(
            "trial \(task.trialID) started on \(worker)"
                + (startRound > 0 ? " at round \(startRound)" : "")
                + (task.spec.branch.map {
                    " (\($0.kind.rawValue) control of \($0.parentTrial) round \($0.parentRound))"
                } ?? ""))
        let sentAt = Self.now
        if let ready = readyAt.removeValue(forKey: worker) { stats.readyToTask.append(sentAt - ready) }
        if stats.firstTaskAt == nil { stats.firstTaskAt = sentAt - started }
        send(
            .task(
                WireMessage.TaskAssignment(
                    taskID: taskID, trialID: task.trialID, spec: task.spec, startRound: startRound,
                    dataset: WireMessage.DatasetRef(id: task.spec.dataset, checksum: checksum),
                    resumeMask: resumeMask, parentMask: parentMask)),
            to: worker)
    }
}
