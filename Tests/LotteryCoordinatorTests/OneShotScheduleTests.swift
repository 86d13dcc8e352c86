import LotteryCoordinator
import LotteryCore
import Testing

@Suite("One-shot schedule: density branches of round 0 in the scheduler")
struct OneShotScheduleTests {
    private func oneShotPlan(seeds: Int) -> [PlannedTrial] {
        (0..<seeds).map { seed in
            var spec = TrialSpec()
            spec.seed = seed
            spec.prune.rounds = 4
            spec.prune.schedule = .oneshot
            return PlannedTrial(spec: spec)
        }
    }

    @Test func estimatesCountRoundZeroAndOneBranchPerDensity() {
        var spec = TrialSpec()
        spec.prune.rounds = 4
        spec.prune.schedule = .oneshot
        #expect(RoundEstimate.rounds(of: spec) == 1)
        #expect(RoundEstimate.branchTrials(of: spec) == 4)
        #expect(RoundEstimate.branches(of: spec, round: 0).map(\.branch?.index) == [0, 1, 2, 3])
        #expect(RoundEstimate.branches(of: spec, round: 1).isEmpty)
        spec.prune.densities = [0.5, 0.1]
        #expect(RoundEstimate.branchTrials(of: spec) == 2)
        var iterative = TrialSpec()
        iterative.prune.rounds = 4
        #expect(RoundEstimate.branches(of: iterative, round: 0).isEmpty)
    }

    /// All densities are queued as soon as round 0 lands, ahead of new trials, so free workers take them in parallel.
    @Test func densitiesAreQueuedTogetherWhenRoundZeroLands() {
        let plan = oneShotPlan(seeds: 2)
        let parent = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        #expect(scheduler.progress.roundsExpected == 2 * (1 + 4))
        _ = scheduler.event(.workerHello(name: "w1", instance: "w1", host: "h", slots: 4), now: 0)
        #expect(scheduler.event(.workerReady("w1", credit: 1), now: 0).assigned.map(\.task.trialID) == [parent])
        let round0 = scheduler.event(.roundResult("w1", trialID: parent, round: 0, isFinalRound: true), now: 1)
        let expected = (0..<4).map { plan[0].spec.branch(.oneshot, round: 0, index: $0).trialID }
        #expect(round0.branchesCreated == expected)
        _ = scheduler.event(.trialDone("w1", trialID: parent), now: 1)
        let next = scheduler.event(.workerReady("w1", credit: 4), now: 2)
        #expect(next.assigned.map(\.task.trialID) == expected)
        #expect(next.assigned.allSatisfy { $0.task.spec.branch?.parentRound == 0 && $0.task.startRound == 0 })
        // A restart recreates them from the recorded round 0.
        let restarted = SchedulerStateMachine(plan: plan, recorded: [parent: 0], finished: [parent], config: config)
        #expect(restarted.allIDs.count == 2 + 4)
    }
}
