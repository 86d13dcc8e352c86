import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

// Carrying out the machine's actions: sends, store writes, mask checks and loads, log lines. Nothing here decides
// anything about the protocol; where an action asks for I/O whose outcome matters, the outcome is fed back at once.
extension CoordinatorLoop {
    /// Feeds one event to the machine and carries out its actions in order; then feeds the sends that found their
    /// peer gone.
    func feed(_ event: CoordinatorEvent) {
        for action in machine.event(event, now: Self.now) { execute(action) }
        while !unreachable.isEmpty {
            let identity = unreachable.removeFirst()
            for action in machine.event(.sendFailed(identity: identity), now: Self.now) { execute(action) }
        }
    }

    func execute(_ action: CoordinatorAction) {
        switch action {
        case .send(let message, let identity):
            send(message, to: identity)
        case .log(let level, let text, let eventLine):
            if eventLine {
                event(text, level: level)
            } else if level <= .debug {
                logger.debug("\(text)")
            } else {
                say(level, text)
            }
        case .journal(let kind, let worker, let trialID, let message):
            commitAccepted()
            try? store.logEvent(kind: kind, worker: worker, trialID: trialID, message: message)
        case .refused(let refusal):
            journalRefusal(refusal)
        case .checkResult(let check):
            let checkStart = Self.now
            let outcome: CoordinatorEvent
            do {
                outcome = .resultChecked(try prepare(check))
            } catch {
                outcome = .resultRejected(check, reason: "\(error)")
            }
            stats.checkSeconds += Self.now - checkStart
            feed(outcome)
        case .record(let request):
            lastMasks[request.record.trialID] = (request.record.round, request.record.nextMaskBytes)
            if let job = request.audit { audit.submit(job) }
            accepted.append(request)
            if accepted.count >= Self.maxBatch { commitAccepted() }
        case .flushRecords:
            commitAccepted()
        case .loadTaskMasks(let request):
            feed(loadMasks(request))
        case .startTask(let start):
            guarded { () throws(StoreError) in
                try store.markRunning(trialID: start.trialID, worker: start.worker, host: start.host)
                // `task` events say where each assignment starts: after a crash no task may start at a recorded round.
                try store.logEvent(
                    kind: "task", worker: start.worker, trialID: start.trialID,
                    message: "task \(start.taskID) start_round \(start.startRound)")
            }
            let sentAt = Self.now
            if let ready = start.readySince { stats.readyToTask.append(sentAt - ready) }
            if stats.firstTaskAt == nil { stats.firstTaskAt = sentAt - started }
        case .registerBranch(let trialID, let spec):
            guarded { () throws(StoreError) in
                try store.registerTrials([TrialRegistration(id: trialID, spec: spec, expectedRounds: 1)])
            }
        case .markFailed(let trialID, let reason):
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            guarded { () throws(StoreError) in try store.markFailed(trialID: trialID, reason: reason) }
        case .markDone(let trialID):
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            guarded { () throws(StoreError) in try store.markDone(trialID: trialID) }
        }
    }

    /// The resume mask (self-contained) and the parent mask a task needs, read from the store.
    func loadMasks(_ request: TaskToLoad) -> CoordinatorEvent {
        commitAccepted()  // a resume reads the store
        let task = request.task
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
                    say(
                        .warning,
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
            return .taskNotLoadable(request, reason: "\(error)")
        }
        return .taskMasksLoaded(
            TaskMasks(request: request, startRound: startRound, resumeMask: resumeMask, parentMask: parentMask))
    }
}
