import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

// Recording results: the mask audit's verdicts, and the group commit of the results the machine asked to record.
extension CoordinatorLoop {
    /// Feeds the trials whose recorded next masks the audit could not verify (the machine fails them).
    func applyAuditFailures() {
        for failure in audit.takeFailures() {
            feed(.auditFailed(trialID: failure.trialID, round: failure.round, reason: failure.reason))
        }
    }

    /// Group commit: records every accepted result in one store commit (``ResultsStore/record(batch:at:)``), then
    /// tells the machine, which acknowledges them. Nothing is acknowledged before its commit, so a crash loses only
    /// unacknowledged results, which their workers still hold and resend.
    func commitAccepted() {
        guard !accepted.isEmpty else { return }
        let batch = accepted
        accepted = []
        guard machine.storeFailure == nil else { return }
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
            feed(.storeFailed("cannot record round \(first.round) of \(first.trialID)\(others): \(error)"))
            return
        }
        feed(.recorded(batch))
    }
}
