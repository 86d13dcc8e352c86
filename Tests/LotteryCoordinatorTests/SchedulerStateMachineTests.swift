import LotteryCoordinator
import LotteryCore
import Testing

/// Small trials: `rounds` pruning rounds (so rounds 0…rounds), distinct seeds.
func plannedTrials(_ count: Int, rounds: Int = 2, controls: [ControlKind] = [], controlsSeeds: Int = 1)
    -> [PlannedTrial]
{
    (0..<count).map { seed in
        var spec = TrialSpec()
        spec.seed = seed
        spec.prune.rounds = rounds
        spec.controls = controls
        spec.controlsSeeds = controlsSeeds
        return PlannedTrial(spec: spec)
    }
}

let config = SchedulerConfig(
    heartbeatInterval: 1, heartbeatTimeout: 3, trialTimeLimit: 100, maxTries: 3)

extension [SchedulerAction] {
    var assigned: [(worker: WorkerID, task: SchedulerTask)] {
        compactMap { if case .assign(let worker, let task) = $0 { return (worker, task) } else { return nil } }
    }
    var requeued: [(trialID: String, fromRound: Int)] {
        compactMap { if case .requeue(let id, let round) = $0 { return (id, round) } else { return nil } }
    }
    var branchesCreated: [String] {
        compactMap { if case .branchCreated(let id, _) = $0 { return id } else { return nil } }
    }
    var completion: Bool? {
        for action in self { if case .sweepComplete(let anyFailed) = action { return anyFailed } }
        return nil
    }
    var deadWorkers: [WorkerID] {
        compactMap { if case .markWorkerDead(let id, _) = $0 { return id } else { return nil } }
    }
    var failedTrials: [String] {
        compactMap { if case .markTrialFailed(let id, _) = $0 { return id } else { return nil } }
    }
}

extension SchedulerStateMachine {
    /// HELLO + READY(credit) at `now`.
    mutating func join(_ id: WorkerID, slots: Int = 1, credit: Int? = nil, now: Double) -> [SchedulerAction] {
        _ = event(.workerHello(name: id, instance: id, host: "host-\(id)", slots: slots), now: now)
        return event(.workerReady(id, credit: credit ?? slots), now: now)
    }

    /// Sends every round of `trialID` from `worker` starting at `from`, then TRIAL_DONE; returns all actions.
    mutating func finish(_ trialID: String, on worker: WorkerID, from: Int = 0, rounds: Int = 3, now: Double)
        -> [SchedulerAction]
    {
        var actions: [SchedulerAction] = []
        for round in from..<rounds {
            actions += event(
                .roundResult(worker, trialID: trialID, round: round, isFinalRound: round == rounds - 1), now: now)
        }
        actions += event(.trialDone(worker, trialID: trialID), now: now)
        return actions
    }
}

@Suite("Scheduler state machine")
struct SchedulerStateMachineTests {
    @Test func noTaskWithoutCreditAndAtMostCreditTasks() {
        let plan = plannedTrials(5)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let hello = scheduler.event(
            .workerHello(name: "w1", instance: "w1", host: "a", slots: 4), now: 0)
        #expect(hello.assigned.isEmpty)
        #expect(scheduler.event(.tick, now: 0.5).assigned.isEmpty)
        let ready = scheduler.event(.workerReady("w1", credit: 2), now: 1)
        #expect(ready.assigned.map(\.task.trialID) == [plan[0].id, plan[1].id])
        #expect(ready.assigned.allSatisfy { $0.worker == "w1" && $0.task.startRound == 0 })
        #expect(scheduler.event(.tick, now: 1.5).assigned.isEmpty)
        // Credit is capped at the worker's slots.
        let more = scheduler.event(.workerReady("w1", credit: 10), now: 2)
        #expect(more.assigned.count == 3)
        #expect(scheduler.workers["w1"]?.credit == 1)
        #expect(scheduler.progress.trialsRunning == 5 && scheduler.progress.trialsQueued == 0)
    }

    /// After the coordinator itself was frozen, every worker looks silent and their old connections' closes
    /// arrive in a burst: a trial requeued by the first close waits for a worker heard from within the timeout
    /// instead of going to the next stale one (and being charged a bad end per stale worker).
    @Test func aRequeuedTrialGoesOnlyToAWorkerHeardFromWithinTheTimeout() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        #expect(scheduler.join("a", now: 0).assigned.map(\.worker) == ["a"])
        _ = scheduler.join("b", now: 0)
        // Frozen from t = 0 to t = 10 (timeout 3): a's close comes first.
        let gone = scheduler.event(.workerGone("a"), now: 10)
        #expect(gone.requeued.map(\.trialID) == [plan[0].id])
        #expect(gone.assigned.isEmpty, "b was last heard at 0: \(gone.assigned)")
        // b's close next: nothing of b's to charge.
        let bGone = scheduler.event(.workerGone("b"), now: 10)
        #expect(bGone.failedTrials.isEmpty && bGone.requeued.isEmpty)
        // A worker heard from now gets it.
        #expect(scheduler.join("c", now: 10).assigned.map(\.worker) == ["c"])
        #expect(scheduler.trials[plan[0].id]?.tries == 1)
    }

    @Test func loadSpreadsToTheWorkerWithMostCredit() {
        var scheduler = SchedulerStateMachine(plan: plannedTrials(4), config: config)
        _ = scheduler.event(.workerHello(name: "a", instance: "a", host: "a", slots: 2), now: 0)
        _ = scheduler.event(.workerHello(name: "b", instance: "b", host: "b", slots: 2), now: 0)
        _ = scheduler.event(.workerReady("a", credit: 2), now: 0)  // takes 2 at once
        let actions = scheduler.event(.workerReady("b", credit: 2), now: 0)
        #expect(actions.assigned.map(\.worker) == ["b", "b"])
        #expect(scheduler.workers["a"]?.running.count == 2 && scheduler.workers["b"]?.running.count == 2)
    }

    /// The protocol version is negotiated before the scheduler (CoordinatorStateMachineTests); the scheduler refuses
    /// a HELLO without slots and anything from a worker it does not know, with a reason the wire code follows from.
    @Test func helloWithoutSlotsAndUnknownWorkersAreRejected() {
        var scheduler = SchedulerStateMachine(plan: plannedTrials(1), config: config)
        let hello = scheduler.event(.workerHello(name: "none", instance: "none", host: "h", slots: 0), now: 0)
        #expect(hello.contains(.reject("none", .noSlots(0))))
        #expect(scheduler.workers["none"] == nil)
        let ready = scheduler.event(.workerReady("old", credit: 1), now: 0)
        #expect(ready.assigned.isEmpty)
        #expect(ready.contains(.reject("old", .unknownWorker)))
        #expect(scheduler.workers["old"] == nil)
    }

    @Test func deadWorkerTrialsResumeFromLastRecordedRoundPlusOne() {
        let plan = plannedTrials(1, rounds: 4)
        let id = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        #expect(scheduler.join("w1", now: 0).assigned.count == 1)
        #expect(
            scheduler.event(.roundResult("w1", trialID: id, round: 0, isFinalRound: false), now: 1) == [
                .acceptResult("w1", trialID: id, round: 0)
            ])
        _ = scheduler.event(.roundResult("w1", trialID: id, round: 1, isFinalRound: false), now: 2)
        // Within the timeout: alive; heartbeats are sent on ticks.
        let early = scheduler.event(.tick, now: 4.5)
        #expect(early.deadWorkers.isEmpty)
        #expect(early.contains(.sendHeartbeat("w1")))
        let late = scheduler.event(.tick, now: 5.5)
        #expect(late.deadWorkers == ["w1"])
        #expect(late.requeued.map(\.fromRound) == [2])
        #expect(scheduler.trials[id]?.state == .queued && scheduler.trials[id]?.tries == 1)
        // The dead worker gets nothing more, even if it sends READY.
        let zombie = scheduler.event(.workerReady("w1", credit: 1), now: 6)
        #expect(zombie.assigned.isEmpty)
        #expect(zombie.contains(.reject("w1", .presumedDead)))
        let resumed = scheduler.join("w2", now: 7)
        #expect(resumed.assigned.map(\.task.startRound) == [2])
        #expect(resumed.assigned.map(\.worker) == ["w2"])
    }

    @Test func resultsAreAcceptedOncePerRound() {
        let plan = plannedTrials(1, rounds: 3)
        let id = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        #expect(
            scheduler.event(.roundResult("w1", trialID: id, round: 0, isFinalRound: false), now: 1) == [
                .acceptResult("w1", trialID: id, round: 0)
            ])
        let duplicate = scheduler.event(.roundResult("w1", trialID: id, round: 0, isFinalRound: false), now: 1)
        #expect(duplicate.count == 1)
        #expect(
            duplicate.contains {
                if case .dropResult("w1", id, 0, let reason) = $0 {
                    return reason.hasPrefix("duplicate")
                } else {
                    return false
                }
            })
        let gap = scheduler.event(.roundResult("w1", trialID: id, round: 2, isFinalRound: false), now: 1)
        #expect(
            gap.contains {
                if case .dropResult("w1", id, 2, let reason) = $0 {
                    return reason.hasPrefix("out of order")
                } else {
                    return false
                }
            })
        let unknown = scheduler.event(.roundResult("w1", trialID: "nope", round: 0, isFinalRound: false), now: 1)
        #expect(unknown.contains { if case .dropResult(_, "nope", 0, _) = $0 { return true } else { return false } })
        #expect(scheduler.trials[id]?.lastRecordedRound == 0)
        #expect(scheduler.progress.roundsDone == 1)
    }

    @Test func lateResultFromAPresumedDeadWorkerIsAcceptedOnceIfNextNeeded() {
        let plan = plannedTrials(1, rounds: 3)
        let id = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        _ = scheduler.event(.roundResult("w1", trialID: id, round: 0, isFinalRound: false), now: 1)
        _ = scheduler.event(.workerGone("w1"), now: 2)
        #expect(scheduler.join("w2", now: 2).assigned.map(\.task.startRound) == [1])
        // w1's round 1 arrives late: it is the next round needed, and deterministic — accepted.
        let late = scheduler.event(.roundResult("w1", trialID: id, round: 1, isFinalRound: false), now: 3)
        #expect(late.contains(.acceptResult("w1", trialID: id, round: 1)))
        // w2 then produces the same round: dropped as a duplicate, its next round accepted.
        let again = scheduler.event(.roundResult("w2", trialID: id, round: 1, isFinalRound: false), now: 4)
        #expect(again.contains { if case .dropResult("w2", id, 1, _) = $0 { return true } else { return false } })
        #expect(
            scheduler.event(.roundResult("w2", trialID: id, round: 2, isFinalRound: true), now: 5).contains(
                .trialFinished(trialID: id)))
        // A recorded round does not count against the trial: tries reset.
        #expect(scheduler.trials[id]?.tries == 0 && scheduler.trials[id]?.state == .done)
    }

    @Test func hungTrialIsRequeuedWhileMovingOnesAreNot() {
        let plan = plannedTrials(2)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", slots: 2, now: 0)
        var iteration = 0
        var hung: [SchedulerAction] = []
        for second in stride(from: 10.0, through: 150, by: 10) {
            iteration += 100
            // Trial 0 moves; trial 1 is stuck at the same point.
            let progress = [
                plan[0].id: TrialProgress(round: 0, iteration: iteration),
                plan[1].id: TrialProgress(round: 0, iteration: 5),
            ]
            hung += scheduler.event(.heartbeat("w1", progress: progress), now: second)
            hung += scheduler.event(.tick, now: second)
        }
        #expect(hung.requeued.map(\.trialID) == [plan[1].id])
        #expect(hung.contains(.cancel("w1", trialID: plan[1].id)))
        #expect(scheduler.trials[plan[1].id]?.tries == 1)
        #expect(scheduler.workers["w1"]?.running == [plan[0].id])
        // The worker is alive; a new READY from it (or anyone) gets the requeued trial.
        #expect(scheduler.event(.workerReady("w1", credit: 1), now: 151).assigned.map(\.task.trialID) == [plan[1].id])
    }

    @Test func poisonTrialFailsAfterThreeTriesWhileOthersFinish() {
        let plan = plannedTrials(2)
        let poison = plan[0].id, healthy = plan[1].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        var all = scheduler.join("w1", slots: 2, now: 0)
        #expect(all.assigned.map(\.task.trialID) == [poison, healthy])
        var now = 1.0
        // The poison trial crashes its worker process twice, then reports failure once.
        for crash in 0..<2 {
            all = scheduler.event(.workerGone("w1"), now: now)
            #expect(all.failedTrials.isEmpty, "crash \(crash)")
            now += 1
            all = scheduler.join("w1", slots: 2, now: now)
            #expect(Set(all.assigned.map(\.task.trialID)) == [poison, healthy])
            // The healthy trial records a round each time: its count resets.
            _ = scheduler.event(
                .roundResult("w1", trialID: healthy, round: scheduler.trials[healthy]!.nextRound, isFinalRound: false),
                now: now)
            now += 1
        }
        #expect(scheduler.trials[poison]?.tries == 2 && scheduler.trials[healthy]?.tries == 0)
        all = scheduler.event(.trialFailed("w1", trialID: poison, reason: "NaN loss"), now: now)
        #expect(all.failedTrials == [poison])
        #expect(all.completion == nil)
        if case .failed(let reason)? = scheduler.trials[poison]?.state {
            #expect(reason.contains("NaN loss") && reason.contains("3 bad ends"))
        } else {
            Issue.record("poison trial not failed")
        }
        let rest = scheduler.finish(healthy, on: "w1", from: scheduler.trials[healthy]!.nextRound, now: now)
        #expect(rest.contains(.trialFinished(trialID: healthy)))
        #expect(rest.completion == true)
        #expect(scheduler.progress.trialsFailed == 1 && scheduler.progress.trialsDone == 1)
    }

    @Test func givenBackTrialsCostNoTry() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        _ = scheduler.event(.roundResult("w1", trialID: plan[0].id, round: 0, isFinalRound: false), now: 1)
        let back = scheduler.event(.givenBack("w1", trialIDs: [plan[0].id]), now: 2)
        #expect(back.requeued.map(\.fromRound) == [1])
        #expect(scheduler.trials[plan[0].id]?.tries == 0)
    }

    @Test func branchTrialsAreCreatedAfterTheParentRoundAndScheduledFirst() {
        let plan = plannedTrials(2, rounds: 2, controls: [.reinitRandom], controlsSeeds: 2)
        let parent = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.event(.workerHello(name: "w1", instance: "w1", host: "h", slots: 2), now: 0)
        #expect(scheduler.event(.workerReady("w1", credit: 1), now: 0).assigned.map(\.task.trialID) == [parent])
        #expect(
            scheduler.event(.roundResult("w1", trialID: parent, round: 0, isFinalRound: false), now: 1).branchesCreated
                .isEmpty)
        let round1 = scheduler.event(.roundResult("w1", trialID: parent, round: 1, isFinalRound: false), now: 2)
        let expected = [0, 1].map { plan[0].spec.branch(.reinitRandom, round: 1, index: $0).trialID }
        #expect(round1.branchesCreated == expected)
        #expect(scheduler.queuedTrialIDs == expected + [plan[1].id])
        let next = scheduler.event(.workerReady("w1", credit: 1), now: 3)
        #expect(next.assigned.map(\.task.trialID) == [expected[0]])
        #expect(next.assigned.first?.task.spec.branch?.parentRound == 1)
        #expect(next.assigned.first?.task.startRound == 0)
        // Nothing completes while branches are open, even when every top-level trial is done.
        var rest = scheduler.event(.roundResult("w1", trialID: parent, round: 2, isFinalRound: true), now: 4)
        #expect(rest.branchesCreated.count == 2)
        rest += scheduler.event(.trialDone("w1", trialID: parent), now: 4)
        #expect(rest.completion == nil)
        #expect(scheduler.progress.trialsKnown == 2 + 4)
        #expect(scheduler.progress.roundsExpected == 2 * 3 + 2 * 2 * 2)
    }

    @Test func restartResumesFromRecordedState() {
        let plan = plannedTrials(3, rounds: 3, controls: [.reinitRandom])
        let branchOfRound1 = plan[1].spec.branch(.reinitRandom, round: 1, index: 0).trialID
        var scheduler = SchedulerStateMachine(
            plan: plan, recorded: [plan[0].id: 3, plan[1].id: 1], finished: [plan[0].id], config: config
        )
        // Finished trial 0 recorded rounds 1…3: three branches recreated; trial 1 recorded round 1: one.
        #expect(scheduler.allIDs.count == 3 + 3 + 1)
        let actions = scheduler.join("w1", slots: 8, now: 0)
        let tasks = actions.assigned.map(\.task)
        #expect(!tasks.contains { $0.trialID == plan[0].id })
        #expect(tasks.prefix(4).allSatisfy { $0.spec.branch != nil })
        #expect(tasks.contains { $0.trialID == branchOfRound1 })
        #expect(tasks.first { $0.trialID == plan[1].id }?.startRound == 2)
        #expect(tasks.first { $0.trialID == plan[2].id }?.startRound == 0)
        #expect(tasks.count == 6)
        #expect(scheduler.progress.roundsDone == 4 + 2)
    }

    @Test func sweepCompletesOnceWithoutFailures() {
        let plan = plannedTrials(2)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", slots: 2, now: 0)
        var actions = scheduler.finish(plan[0].id, on: "w1", now: 1)
        #expect(actions.completion == nil)
        actions = scheduler.finish(plan[1].id, on: "w1", now: 2)
        #expect(actions.completion == false)
        #expect(scheduler.event(.tick, now: 3).completion == nil)
        let progress = scheduler.progress
        #expect(progress.trialsDone == 2 && progress.roundsDone == 6 && progress.roundsExpected == 6)
        #expect(progress.workersAlive == 1 && progress.slotsAlive == 2)
        // A restart on a finished sweep completes at the first tick.
        var restarted = SchedulerStateMachine(
            plan: plan, recorded: [plan[0].id: 2, plan[1].id: 2], finished: Set(plan.map(\.id)), config: config)
        #expect(restarted.event(.tick, now: 0).completion == false)
    }

    @Test func trialDoneWithoutItsFinalRoundIsABadEnd() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        _ = scheduler.event(.roundResult("w1", trialID: plan[0].id, round: 0, isFinalRound: false), now: 1)
        let actions = scheduler.event(.trialDone("w1", trialID: plan[0].id), now: 2)
        #expect(actions.requeued.map(\.fromRound) == [1])
        #expect(scheduler.trials[plan[0].id]?.tries == 1)
    }

    @Test func etaFromRecentRate() {
        var eta = ETAEstimator(window: 100)
        #expect(eta.secondsRemaining(roundsRemaining: 10) == nil)
        eta.record(roundsDone: 0, now: 0)
        eta.record(roundsDone: 10, now: 50)
        eta.record(roundsDone: 20, now: 100)
        #expect(eta.roundsPerSecond == 0.2)
        #expect(eta.secondsRemaining(roundsRemaining: 40) == 200)
        // Old samples leave the window: the rate follows the recent speed.
        eta.record(roundsDone: 60, now: 200)
        eta.record(roundsDone: 100, now: 300)
        #expect(eta.roundsPerSecond == 0.4)
        #expect(eta.secondsRemaining(roundsRemaining: 0) == 0)
    }
}

/// `trialCorrupt`: the coordinator's mask audit found a recorded mask it cannot verify.
@Suite("Scheduler: corrupt trials")
struct SchedulerCorruptTrialTests {
    @Test func aRunningTrialIsCancelledAndFailsForGoodWhileTheOthersGoOn() {
        let plan = plannedTrials(2)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let first = scheduler.join("w1", now: 0).assigned
        #expect(first.map(\.task.trialID) == [plan[0].id])
        _ = scheduler.event(.roundResult("w1", trialID: plan[0].id, round: 0, isFinalRound: false), now: 1)
        let actions = scheduler.event(.trialCorrupt(trialID: plan[0].id, reason: "bad next mask"), now: 2)
        #expect(actions.contains(.cancel("w1", trialID: plan[0].id)))
        #expect(actions.failedTrials == [plan[0].id])
        #expect(scheduler.trials[plan[0].id]?.state == .failed(reason: "bad next mask"))
        // The freed slot takes the other trial; nothing requeues the corrupt one.
        let next = scheduler.event(.workerReady("w1", credit: 1), now: 3)
        #expect(next.assigned.map(\.task.trialID) == [plan[1].id])
        let rest = scheduler.finish(plan[1].id, on: "w1", rounds: 3, now: 4)
        #expect(rest.completion == true)
        #expect(scheduler.event(.workerReady("w1", credit: 1), now: 5).assigned.isEmpty)
    }

    @Test func aFinishedTrialTurnsFailedAndAFailedOneStaysAsItIs() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        let done = scheduler.finish(plan[0].id, on: "w1", rounds: 3, now: 1)
        #expect(done.completion == false)
        let late = scheduler.event(.trialCorrupt(trialID: plan[0].id, reason: "late verdict"), now: 2)
        #expect(late.failedTrials == [plan[0].id])
        #expect(!late.contains { if case .cancel = $0 { return true } else { return false } })
        #expect(scheduler.trials[plan[0].id]?.state == .failed(reason: "late verdict"))
        // A second verdict for the same trial changes nothing; an unknown trial is ignored.
        #expect(scheduler.event(.trialCorrupt(trialID: plan[0].id, reason: "again"), now: 3).failedTrials.isEmpty)
        #expect(scheduler.event(.trialCorrupt(trialID: "t-unknown", reason: "?"), now: 3).failedTrials.isEmpty)
        #expect(scheduler.trials[plan[0].id]?.state == .failed(reason: "late verdict"))
    }
}

/// `tickLagging`: a coordinator behind on its socket judges silence only up to the last time it had read everything.
@Suite("Scheduler: lagging coordinator")
struct SchedulerLaggingTickTests {
    @Test func silenceCountsOnlyUntilTheCoordinatorHadReadEverything() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        #expect(scheduler.join("w1", now: 0).assigned.count == 1)
        // 10 s later, but the socket was last empty at 2 s: the worker's heartbeats may be queued behind results.
        let lagging = scheduler.event(.tickLagging(heardUntil: 2), now: 10)
        #expect(lagging.deadWorkers.isEmpty)
        #expect(lagging.contains(.sendHeartbeat("w1")))  // our heartbeats still go out on time
        #expect(scheduler.event(.tickLagging(heardUntil: 4), now: 11).deadWorkers == ["w1"])
    }

    @Test func aCaughtUpTickStillFindsTheDead() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.join("w1", now: 0)
        let tick = scheduler.event(.tick, now: 3.5)
        #expect(tick.deadWorkers == ["w1"])
        #expect(tick.requeued.map(\.trialID) == [plan[0].id])
    }
}
