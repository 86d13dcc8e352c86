public import Foundation

/// What ``ResultsStore/requeueFailed(at:)`` did.
public struct RetriedTrials: Sendable, Hashable {
    /// Failed trials now queued again, in registration order.
    public var requeued: [String] = []
    /// The round each requeued trial resumes at (its last recorded round + 1; 0 when none was recorded).
    public var resumesAt: [String: Int] = [:]
    /// Failed trials left failed, with why (their recorded masks failed the coordinator's audit: resuming would
    /// build on a mask known to be wrong).
    public var kept: [String: String] = [:]

    public init(requeued: [String] = [], resumesAt: [String: Int] = [:], kept: [String: String] = [:]) {
        self.requeued = requeued
        self.resumesAt = resumesAt
        self.kept = kept
    }
}

extension ResultsStore {
    /// `--retry-failed`: puts every failed trial back in the queue, keeping every round it recorded, so the coordinator
    /// resumes it from its last recorded round + 1 like any requeued trial (docs/faults.md, "Retrying failed trials").
    ///
    /// Status becomes `queued`, the failure reason and end time are cleared, and a `retried` event is journaled per
    /// trial; recorded rounds, masks and curves are untouched. A trial whose recorded masks failed the mask audit
    /// (an `audit-failed` event) stays failed: its last recorded mask is wrong, so a resume would build on it.
    /// One transaction: either every eligible trial is requeued or none.
    @discardableResult
    public func requeueFailed(at time: Date = Date()) throws(StoreError) -> RetriedTrials {
        var auditFailed: Set<String> = []
        try db.forEachRow("SELECT DISTINCT trial_id FROM events WHERE kind = 'audit-failed' AND trial_id IS NOT NULL") {
            row in
            if let id = row.text(0) { auditFailed.insert(id) }
        }
        let state = try recoveredState()
        var result = RetriedTrials()
        try db.transaction { () throws(StoreError) in
            for trial in state.trials where trial.status == .failed {
                if auditFailed.contains(trial.id) {
                    result.kept[trial.id] = "its recorded masks failed the mask audit"
                    continue
                }
                try db.run(
                    "UPDATE trials SET status = 'queued', reason = NULL, ended_at = NULL WHERE trial_id = ?",
                    [.text(trial.id)])
                let from = (trial.lastRecordedRound ?? -1) + 1
                try logEvent(
                    kind: "retried", trialID: trial.id,
                    message:
                        "--retry-failed: resumes at round \(from) (was failed: \(trial.reason ?? "no reason recorded"))",
                    at: time)
                result.requeued.append(trial.id)
                result.resumesAt[trial.id] = from
            }
        }
        return result
    }
}
