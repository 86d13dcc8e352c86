import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

// Recording results: the mask audit's verdicts and accepted round results (mask file first, then the rows).
extension CoordinatorLoop {
    // MARK: - Audit

    /// Fails the trials whose recorded next masks the audit could not verify.
    func applyAuditFailures() {
        for failure in audit.takeFailures() {
            let reason = "round \(failure.round) result failed the mask audit: \(failure.reason)"
            event("trial \(failure.trialID): \(reason)", level: .error)
            if storeFailure == nil {
                try? store.logEvent(kind: "audit-failed", trialID: failure.trialID, message: reason)
            }
            feed(.trialCorrupt(trialID: failure.trialID, reason: reason), from: nil)
        }
    }

    /// Once the scheduler said every trial has ended and the audit has caught up: SHUTDOWN, close.
    func closeWhenAudited() {
        guard completeAwaitingAudit, closing == nil, audit.isIdle else { return }
        applyAuditFailures()
        completeAwaitingAudit = false
        stats.auditDoneAt = Self.now - started
        let anyFailed = scheduler.trials.values.contains {
            if case .failed = $0.state { return true } else { return false }
        }
        say(.info, "every trial has ended\(anyFailed ? " (some failed)" : ""): telling workers to shut down")
        beginClosing(mode: .finish, reason: nil, grace: min(1, max(0.2, config.heartbeatInterval)))
    }

    // MARK: - Results

    func handleResult(_ result: WireMessage.RoundResult, from worker: WorkerID, host: String) {
        let trialID = result.trialID
        let round = result.round
        if storeFailure != nil { return }  // not recorded, so not acknowledged: the worker keeps it
        var prepared: PreparedResult?
        if let trial = scheduler.trials[trialID], !trial.state.isTerminal, round == trial.nextRound {
            // The scheduler will accept it: check the masks first, so a bad result is never stored.
            let checkStart = Self.now
            defer { stats.checkSeconds += Self.now - checkStart }
            do {
                prepared = try prepare(result, spec: trial.spec)
            } catch {
                let reason = "round \(round) result rejected: \(error)"
                event("trial \(trialID): \(reason) (from \(worker))", level: .warning)
                try? store.logEvent(kind: "result-rejected", worker: worker, trialID: trialID, message: reason)
                send(.cancel(WireMessage.Cancel(taskID: result.taskID, trialID: trialID, reason: reason)), to: worker)
                if isCurrent(result.taskID, trialID: trialID, worker: worker) {
                    feed(.trialFailed(worker, trialID: trialID, reason: reason), from: worker)
                    forget(taskID: result.taskID)
                }
                return
            }
        }
        // A result the scheduler drops carries only its task id (for the ACK).
        pendingResult =
            prepared
            ?? PreparedResult(
                taskID: result.taskID, spec: TrialSpec(), metrics: result.metrics, maskFile: [], nextMaskFile: nil,
                audit: nil)
        feed(.roundResult(worker, trialID: trialID, round: round, isFinalRound: result.nextMask == nil), from: worker)
        pendingResult = nil
    }

    func accept(trialID: String, round: Int, from worker: WorkerID) {
        guard let prepared = pendingResult, !prepared.maskFile.isEmpty else {
            // Cannot happen: the scheduler accepts only the round `handleResult` prepared.
            say(.error, "internal: round \(round) of \(trialID) accepted without a prepared result; not recorded")
            return
        }
        pendingResult = nil
        let host = routes[worker].flatMap { peers[$0]?.host } ?? "?"
        let record = RecordedRound(
            trialID: trialID, round: round, spec: prepared.spec, metrics: prepared.metrics,
            maskBytes: prepared.maskFile, nextMaskBytes: prepared.nextMaskFile, worker: worker, host: host)
        lastMasks[trialID] = (round, prepared.nextMaskFile)
        if let job = prepared.audit { audit.submit(job) }
        accepted.append((record, prepared.taskID, worker))
        if accepted.count >= Self.maxBatch { commitAccepted() }
    }

    /// Group commit: records every accepted result in one store commit (``ResultsStore/record(batch:at:)``), then
    /// acknowledges them. Nothing is acknowledged before its commit, so a crash loses only unacknowledged results,
    /// which their workers still hold and resend.
    func commitAccepted() {
        guard !accepted.isEmpty else { return }
        let batch = accepted
        accepted = []
        guard storeFailure == nil else { return }
        let storeStart = Self.now
        do {
            try store.record(batch: batch.map(\.record))
            stats.storeSeconds += Self.now - storeStart
            stats.commits += 1
            stats.roundsRecorded += batch.count
            stats.lastRecordAt = Self.now - started
        } catch {
            let first = batch[0].record
            let others = batch.count > 1 ? " and \(batch.count - 1) other result(s)" : ""
            storeFailure = "cannot record round \(first.round) of \(first.trialID)\(others): \(error)"
            say(.critical, "\(storeFailure!). Nothing more is accepted; what is recorded stays intact.")
            beginClosing(mode: .drain, reason: storeFailure, grace: 1)
            return
        }
        for item in batch {
            let m = item.record.metrics
            event(
                String(
                    format: "round %d of %@ recorded from %@: density %.4f, test acc at early stop %.4f (iteration %d)",
                    m.round, item.record.trialID, item.worker, m.density, m.testAccAtES, m.earlyStopIteration))
            progress.roundRecorded(now: Self.now)
            send(
                .ack(
                    WireMessage.Ack(
                        taskID: item.taskID, trialID: item.record.trialID, round: item.record.round, status: .recorded)),
                to: item.worker)
        }
    }
}
