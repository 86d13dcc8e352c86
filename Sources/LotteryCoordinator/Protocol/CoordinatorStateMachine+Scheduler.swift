import Foundation
import LotteryCore
import LotteryResults
import LotteryWire
import Logging

// Carrying out the scheduler's actions: tasks (with the I/O they need), results, requeues, trial ends.
extension CoordinatorStateMachine {
    /// Feeds one event to the scheduler and carries out its actions in order.
    mutating func feed(_ event: SchedulerEvent) {
        for action in scheduler.event(event, now: now) { carryOut(action) }
    }

    mutating func carryOut(_ action: SchedulerAction) {
        switch action {
        case .assign(let worker, let task):
            assign(task, to: worker)
        case .acceptResult(let worker, let trialID, let round), .dropResult(let worker, let trialID, let round, _):
            // Only a round result produces these, and `roundResult`/`accept` feed those themselves.
            log(.error, "internal: a result of round \(round) of \(trialID) from \(worker) outside a ROUND_RESULT")
        case .reject(let worker, let reason):
            send(.reject(WireMessage.Reject(code: reason.wireCode, message: reason.description)), toWorker: worker)
        case .markWorkerDead(let worker, let reason):
            line("worker \(worker) left: \(reason)", .warning)
            readyAt[worker] = nil
            statedFree[worker] = nil
            for (taskID, assignment) in assignments where assignment.worker == worker { forget(taskID: taskID) }
            actions.append(.journal(kind: "worker-lost", worker: worker, trialID: nil, message: reason))
        case .cancel(let worker, let trialID):
            if let taskID = currentTask[trialID], assignments[taskID]?.worker == worker {
                send(
                    .cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "reassigned")),
                    toWorker: worker)
                forget(taskID: taskID)
            } else {
                for (taskID, assignment) in assignments.sorted(by: { $0.key < $1.key })
                where assignment.worker == worker && assignment.trialID == trialID {
                    send(
                        .cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "cancelled")),
                        toWorker: worker)
                    forget(taskID: taskID)
                }
            }
        case .requeue(let trialID, let fromRound):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            line("trial \(trialID) requeued (resumes at round \(fromRound))")
            if storeFailure == nil {
                actions.append(
                    .journal(kind: "requeued", worker: nil, trialID: trialID, message: "resumes at round \(fromRound)"))
            }
        case .branchCreated(let trialID, let spec):
            actions.append(.registerBranch(trialID: trialID, spec: spec))
        case .markTrialFailed(let trialID, let reason):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            // Its recorded rounds are logged before the trial's end (group commit would log them after).
            actions.append(.flushRecords)
            line("trial \(trialID) FAILED: \(reason)", .error)
            actions.append(.markFailed(trialID: trialID, reason: reason))
        case .trialFinished(let trialID):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            actions.append(.flushRecords)
            line("trial \(trialID) finished (\(scheduler.trials[trialID]?.nextRound ?? 0) rounds)")
            actions.append(.markDone(trialID: trialID))
        case .sweepComplete:
            // Closed on `auditIdle`, once the audit has checked every recorded mask (it may fail a trial).
            completeAwaitingAudit = true
        case .sendHeartbeat(let worker):
            send(.heartbeat(WireMessage.Heartbeat()), toWorker: worker)
        case .workerJoined(let worker, _, _):
            log(.error, "internal: worker \(worker) joined outside a HELLO")
        case .log(let text):
            line(text)
        }
    }

    // MARK: - Tasks

    mutating func assign(_ task: SchedulerTask, to worker: WorkerID) {
        if leaving.contains(worker) {
            // Spends the leaving worker's credit without sending anything; the trial goes straight back.
            queued.append(.givenBack(worker, trialIDs: [task.trialID]))
            return
        }
        let request = TaskToLoad(worker: worker, task: task)
        if task.startRound > 0 || task.spec.branch != nil {
            actions.append(.loadTaskMasks(request))  // answered by `taskMasksLoaded` or `taskNotLoadable`
        } else {
            sendTask(TaskMasks(request: request, startRound: 0, resumeMask: nil, parentMask: nil))
        }
    }

    /// The TASK of an assignment whose masks are at hand: a task id, the store told, the TASK sent.
    mutating func sendTask(_ masks: TaskMasks) {
        let worker = masks.request.worker
        let task = masks.request.task
        guard case .running(worker, _)? = scheduler.trials[task.trialID]?.state else {
            // Taken off the worker between the request and the answer (only an in-memory test can do that).
            log(.debug, "TASK for \(task.trialID) to \(worker) dropped: no longer assigned there")
            return
        }
        // A synthetic trial reads no data: its TASK names the dataset with a placeholder checksum the worker ignores.
        let checksum = task.spec.synthetic != nil ? "synthetic" : config.datasets[task.spec.dataset]?.checksum
        guard let checksum else {
            log(.error, "cannot assign \(task.trialID): no dataset '\(task.spec.dataset)'")
            queued.append(.trialFailed(worker, trialID: task.trialID, reason: "no dataset '\(task.spec.dataset)'"))
            return
        }
        let taskID = nextTaskID
        nextTaskID += 1
        assignments[taskID] = Assignment(trialID: task.trialID, worker: worker)
        if let old = currentTask[task.trialID] { assignments[old] = nil }
        currentTask[task.trialID] = taskID
        let host = routes[worker].flatMap { peers[$0]?.host } ?? "?"
        actions.append(
            .startTask(
                TaskStart(
                    trialID: task.trialID, worker: worker, host: host, taskID: taskID, startRound: masks.startRound,
                    readySince: readyAt.removeValue(forKey: worker))))
        line(
            "trial \(task.trialID) started on \(worker)"
                + (masks.startRound > 0 ? " at round \(masks.startRound)" : "")
                + (task.spec.branch.map {
                    " (\($0.kind.rawValue) control of \($0.parentTrial) round \($0.parentRound))"
                } ?? ""))
        send(
            .task(
                WireMessage.TaskAssignment(
                    taskID: taskID, trialID: task.trialID, spec: task.spec, startRound: masks.startRound,
                    dataset: WireMessage.DatasetRef(id: task.spec.dataset, checksum: checksum),
                    resumeMask: masks.resumeMask, parentMask: masks.parentMask)),
            toWorker: worker)
    }

    // MARK: - Results

    /// A ROUND_RESULT: one the scheduler will accept has its masks checked first (so a bad result is never stored);
    /// any other is dropped by the scheduler and acknowledged as a duplicate (it is as final for the worker).
    mutating func roundResult(_ result: WireMessage.RoundResult, from worker: WorkerID, host: String) {
        if storeFailure != nil { return }  // not recorded, so not acknowledged: the worker keeps it
        if scheduler.dropReason(trialID: result.trialID, round: result.round) == nil,
            let spec = scheduler.trials[result.trialID]?.spec
        {
            actions.append(.checkResult(ResultToCheck(result: result, worker: worker, host: host, spec: spec)))
            return
        }
        resultToScheduler(result, from: worker, checked: nil)
    }

    mutating func accept(_ checked: CheckedResult) {
        guard storeFailure == nil else { return }
        resultToScheduler(checked.check.result, from: checked.check.worker, checked: checked)
    }

    /// Feeds the scheduler a result and carries out its verdict with the result in hand: record it, or acknowledge
    /// it as a duplicate once what it duplicates is durable.
    mutating func resultToScheduler(_ result: WireMessage.RoundResult, from worker: WorkerID, checked: CheckedResult?) {
        let event = SchedulerEvent.roundResult(
            worker, trialID: result.trialID, round: result.round, isFinalRound: result.nextMask == nil)
        for action in scheduler.event(event, now: now) {
            switch action {
            case .acceptResult(let worker, let trialID, let round):
                guard let checked else {
                    // Cannot happen: a result is fed unchecked only when the rule drops it.
                    log(.error, "internal: round \(round) of \(trialID) accepted unchecked; not recorded")
                    continue
                }
                let record = RecordedRound(
                    trialID: trialID, round: round, spec: checked.check.spec, metrics: result.metrics,
                    maskBytes: checked.maskFile, nextMaskBytes: checked.nextMaskFile, worker: worker,
                    host: checked.check.host)
                actions.append(
                    .record(RecordRequest(record: record, taskID: result.taskID, worker: worker, audit: checked.audit)))
            case .dropResult(let worker, let trialID, let round, let reason):
                actions.append(.flushRecords)  // a duplicate's original must be durable before the copy is acknowledged
                actions.append(
                    .log(.debug, "dropped round \(round) of \(trialID) from \(worker): \(reason)", eventLine: false))
                // Journaled (kind `result-dropped`) so a crash test can count resends against recomputations.
                if storeFailure == nil {
                    actions.append(
                        .journal(
                            kind: "result-dropped", worker: worker, trialID: trialID,
                            message: "round \(round): \(reason)"))
                }
                send(
                    .ack(WireMessage.Ack(taskID: result.taskID, trialID: trialID, round: round, status: .duplicate)),
                    toWorker: worker)
            default:
                carryOut(action)
            }
        }
    }

    /// Masks that failed their check: never stored; the worker is told to stop, and the trial requeued if it was
    /// the worker's current task.
    mutating func rejectResult(_ check: ResultToCheck, reason rejection: String) {
        let result = check.result
        let worker = check.worker
        let reason = "round \(result.round) result rejected: \(rejection)"
        line("trial \(result.trialID): \(reason) (from \(worker))", .warning)
        actions.append(.journal(kind: "result-rejected", worker: worker, trialID: result.trialID, message: reason))
        send(
            .cancel(WireMessage.Cancel(taskID: result.taskID, trialID: result.trialID, reason: reason)),
            toWorker: worker)
        if isCurrent(result.taskID, trialID: result.trialID, worker: worker) {
            feed(.trialFailed(worker, trialID: result.trialID, reason: reason))
            forget(taskID: result.taskID)
        }
    }

    /// Durable now: one event line each, then the ACK (nothing is acknowledged before its commit).
    mutating func recorded(_ records: [RecordRequest]) {
        for item in records {
            let m = item.record.metrics
            line(
                String(
                    format: "round %d of %@ recorded from %@: density %.4f, test acc at early stop %.4f (iteration %d)",
                    m.round, item.record.trialID, item.worker, m.density, m.testAccAtES, m.earlyStopIteration))
            send(
                .ack(
                    WireMessage.Ack(
                        taskID: item.taskID, trialID: item.record.trialID, round: item.record.round, status: .recorded)),
                toWorker: item.worker)
        }
    }
}
