import Foundation
import LotteryCore
import LotteryResults
import Testing

/// `--retry-failed` at the store: failed trials go back to the queue with every round they recorded.
@Suite("Results store: retrying failed trials")
struct RetryFailedTests {
    @Test func failedTrialsAreQueuedAgainKeepingEveryRecordedRound() throws {
        try withTemporaryDirectory { dir in
            let specs = (1...4).map { StoreFixture.spec(seed: $0) }
            let store = try StoreFixture.open(dir)
            try store.registerTrials(specs.map { TrialRegistration(id: $0.trialID, spec: $0, expectedRounds: 3) })
            // 0: done; 1: failed after recording rounds 0 and 1; 2: failed with nothing recorded; 3: queued.
            for round in 0..<3 { try store.record(StoreFixture.result(specs[0], round: round)) }
            try store.markDone(trialID: specs[0].trialID)
            for round in 0..<2 { try store.record(StoreFixture.result(specs[1], round: round)) }
            try store.markFailed(trialID: specs[1].trialID, reason: "worker vm restarted while running it")
            try store.markFailed(trialID: specs[2].trialID, reason: "loss is NaN")
            _ = try store.exportCSVs()
            let roundsBefore = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
                .split(separator: "\n").count

            let retried = try store.requeueFailed()
            #expect(retried.requeued == [specs[1].trialID, specs[2].trialID])
            #expect(retried.resumesAt == [specs[1].trialID: 2, specs[2].trialID: 0])
            #expect(retried.kept.isEmpty)

            let state = try store.recoveredState()
            #expect(state.failed.isEmpty)
            #expect(state.done == [specs[0].trialID])
            #expect(state.trials.map(\.status) == [.done, .queued, .queued, .queued])
            #expect(state.trials[1].reason == nil)
            #expect(state.lastRecordedRound == [specs[0].trialID: 2, specs[1].trialID: 1])
            #expect(try store.maskBytes(trialID: specs[1].trialID, round: 1) == StoreFixture.mask(seed: 201))
            // Nothing recorded is lost: rounds.csv has the same rows.
            _ = try store.exportCSVs()
            let roundsAfter = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
                .split(separator: "\n").count
            #expect(roundsAfter == roundsBefore && roundsAfter == 1 + 5)
            let events = try store.events().filter { $0.kind == "retried" }
            #expect(events.map(\.trialID) == [specs[1].trialID, specs[2].trialID])
            #expect(events.first?.message.contains("resumes at round 2") == true)
            // A second call finds nothing more to do.
            #expect(try store.requeueFailed() == RetriedTrials())
        }
    }

    @Test func aTrialWhoseMasksFailedTheAuditStaysFailed() throws {
        try withTemporaryDirectory { dir in
            let spec = StoreFixture.spec(seed: 1)
            let store = try StoreFixture.open(dir)
            try store.registerTrials([TrialRegistration(id: spec.trialID, spec: spec, expectedRounds: 3)])
            try store.record(StoreFixture.result(spec, round: 0))
            try store.logEvent(
                kind: "audit-failed", trialID: spec.trialID, message: "round 0 result failed the mask audit")
            try store.markFailed(trialID: spec.trialID, reason: "round 0 result failed the mask audit")
            let retried = try store.requeueFailed()
            #expect(retried.requeued.isEmpty)
            #expect(retried.kept[spec.trialID]?.contains("mask audit") == true)
            #expect(try store.recoveredState().failed.keys.contains(spec.trialID))
        }
    }
}
