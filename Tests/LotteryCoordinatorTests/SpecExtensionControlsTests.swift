import LotteryCoordinator
import LotteryCore
import Testing

/// Issue 17 item 4, "new controls" are an addition: a spec that only adds control branches to trials a folder holds
/// keeps their ids (their rounds are reused) and runs the new branches, for the rounds already recorded too.
@Suite("Extending a sweep with controls")
struct SpecExtensionControlsTests {
    static func sweep(_ controls: String, seeds: Int = 2) throws -> SweepPlan {
        try parseSweep(
            text: "name: grow\nbase: {prune: {rounds: 3}\(controls)}\nseeds: \(seeds)\n", file: "grow.yaml")
    }

    @Test func aSpecThatAddsControlsKeepsTheRegisteredTrialsAndTheirIds() throws {
        let first = try Self.sweep("")
        let registered = Dictionary(uniqueKeysWithValues: first.trials.map { ($0.id, $0.spec) })
        let more = try Self.sweep(", controls: [reinit-random], controls_seeds: 2")
        #expect(Set(more.trials.map(\.id)).isDisjoint(with: registered.keys), "controls are part of a trial's id")

        let (plan, gained) = more.extending(registered: registered)
        #expect(gained == 2)
        #expect(plan.trials.map(\.id) == first.trials.map(\.id))
        #expect(plan.trials.map(\.spec) == first.trials.map(\.spec), "they train exactly as registered")
        #expect(plan.trials.allSatisfy { $0.addedControls == AddedControls(kinds: [.reinitRandom], seeds: 2) })
        // The whole sweep is the same size either way: 2 trials × 3 pruned rounds × 2 seeds of the control.
        #expect(plan.expectedBranchTrials == more.expectedBranchTrials && plan.expectedBranchTrials == 12)
        #expect(plan.expectedRounds == more.expectedRounds)
        // A new seed beside the new controls is an added trial, with its controls in its own spec.
        let wider = try Self.sweep(", controls: [reinit-random]", seeds: 3).extending(registered: registered)
        #expect(wider.newControls == 2 && wider.plan.trials[2].addedControls == nil)
        #expect(wider.plan.trials[2].spec.controls == [.reinitRandom])
    }

    /// Only additions: fewer controls, fewer seeds of them, or another value is not a reuse.
    @Test func removingControlsOrChangingAValueIsNotAnAddition() throws {
        let withTwo = try Self.sweep(", controls: [reinit-random, prune-random], controls_seeds: 2")
        let registered = Dictionary(uniqueKeysWithValues: withTwo.trials.map { ($0.id, $0.spec) })
        for fewer in [
            ", controls: [reinit-random], controls_seeds: 2", ", controls: [reinit-random, prune-random]",
            ", controls: [reinit-random, prune-random], controls_seeds: 3, train: {lr: 0.01}",
        ] {
            let (plan, gained) = try Self.sweep(fewer).extending(registered: registered)
            #expect(gained == 0, "\(fewer)")
            #expect(Set(plan.trials.map(\.id)).isDisjoint(with: registered.keys), "\(fewer)")
        }
        let more = try Self.sweep(", controls: [prune-random, reinit-random], controls_seeds: 3")
        #expect(more.extending(registered: registered).newControls == 2)
    }

    /// The scheduler of the extended plan recreates the old branches under their ids and creates the new ones for
    /// every recorded round, with the registered trial as their parent; later rounds get both.
    @Test func theNewBranchesRunForRecordedRoundsAndTheOldOnesKeepTheirIds() throws {
        let old = try Self.sweep(", controls: [reinit-random]", seeds: 1)
        let registered = Dictionary(uniqueKeysWithValues: old.trials.map { ($0.id, $0.spec) })
        let parent = old.trials[0]
        let plan = try Self.sweep(", controls: [reinit-random, prune-random], controls_seeds: 2", seeds: 1)
            .extending(registered: registered).plan
        var scheduler = SchedulerStateMachine(plan: plan.trials, recorded: [parent.id: 1], config: config)
        let branches = scheduler.allIDs.compactMap { scheduler.trials[$0]?.spec }.filter { $0.branch != nil }
        let pairs = branches.map { "\($0.branch!.kind.rawValue)#\($0.branch!.index)" }
        try #require(pairs == ["reinit-random#0", "reinit-random#1", "prune-random#0", "prune-random#1"])
        #expect(branches.allSatisfy { $0.branch?.parentTrial == parent.id && $0.branch?.parentRound == 1 })
        #expect(branches.allSatisfy { (try? $0.validate()) != nil }, "every branch is a valid spec for a worker")
        // The branch the first run made (or would have) keeps its id: its recorded row is recognised.
        #expect(branches[0].trialID == parent.spec.branch(.reinitRandom, round: 1, index: 0).trialID)
        let created = scheduler.event(.roundResult("w", trialID: parent.id, round: 2, isFinalRound: false), now: 0)
        #expect(created.branchesCreated.count == 4)
        #expect(scheduler.progress.roundsExpected == 4 + 3 * 4)  // parent rounds 0…3, 4 branches for rounds 1…3
    }
}
