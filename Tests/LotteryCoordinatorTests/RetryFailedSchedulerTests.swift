import Foundation
import LotteryCoordinator
import LotteryCore
import LotteryResults
import Testing

/// `--retry-failed` across the store and the scheduler: a requeued trial resumes after its recorded rounds.
/// (The store's side alone is `RetryFailedTests` in LotteryResultsTests.)
@Suite("Retrying failed trials: store to scheduler")
struct RetryFailedSchedulerTests {
    static func result(_ spec: TrialSpec, round: Int) -> RecordedRound {
        let id = spec.trialID
        let layers = spec.weightLayerCount
        let metrics = RoundMetrics(
            trialID: id, round: round, density: pow(0.8, Double(round)),
            layerDensities: Array(repeating: 0.5, count: layers), keptCounts: Array(repeating: 10, count: layers),
            earlyStopIteration: 100, valLossAtES: 0.1, valAccAtES: 0.9, testAccAtES: 0.9, testAccFinal: 0.9,
            trainAccFinal: 0.95, seconds: 1, curve: [],
            layers: Array(
                repeating: LayerSummary(positiveAtInit: 0.5, positiveAfter: 0.5, meanAbsAtInit: 0.1, meanAbsAfter: 0.1),
                count: layers))
        return RecordedRound(
            trialID: id, round: round, spec: spec, metrics: metrics,
            maskBytes: Array(repeating: UInt8(round), count: 64), worker: "w1", host: "node-1")
    }

    @Test func theSchedulerResumesARetriedTrialAfterItsRecordedRounds() throws {
        try withTemporaryDirectory { dir in
            var spec = TrialSpec()
            spec.prune.rounds = 3
            let store = try ResultsStore.openOrCreate(
                directory: dir, sweepName: "quick", specText: "", fingerprint: "fp-1")
            try store.registerTrials([TrialRegistration(id: spec.trialID, spec: spec, expectedRounds: 4)])
            for round in 0..<2 { try store.record(Self.result(spec, round: round)) }
            try store.markFailed(trialID: spec.trialID, reason: "3 bad ends in a row")
            func firstTask(_ state: RecoveredState) -> Int? {
                var scheduler = SchedulerStateMachine(
                    plan: [PlannedTrial(spec: spec)], recorded: state.lastRecordedRound, finished: state.done,
                    failed: state.failed, config: SchedulerConfig())
                _ = scheduler.event(
                    .workerHello(name: "w", instance: "1", host: "h", slots: 1), now: 0)
                return scheduler.event(.workerReady("w", credit: 1), now: 0).assigned.first?.task.startRound
            }
            #expect(firstTask(try store.recoveredState()) == nil)  // without the retry: failed, nothing to do
            try store.requeueFailed()
            #expect(firstTask(try store.recoveredState()) == 2)
        }
    }
}
