import LotteryCoordinator
import LotteryCore
import LotteryResults
import LotteryWire
import Testing

/// The coordinator's protocol in memory, over a sweep's life: tasks that need the store, the audit, closing.
@Suite("Coordinator state machine: tasks, audit, closing")
struct CoordinatorLifecycleTests {
    /// A trial with recorded rounds resumes after them: its TASK waits for the masks the store holds, and a task
    /// the store cannot build costs the trial a try instead of reaching the worker.
    @Test func resumedTasksCarryTheMasksTheStoreLoaded() throws {
        let plan = plannedTrials(2, rounds: 4)
        var harness = CoordinatorHarness(trials: plan, recorded: [plan[0].id: 1])
        harness.holdLoads = true
        #expect(harness.join("w", slots: 2).map(\.trialID) == [plan[1].id])  // the fresh trial needs no load
        let load = try #require(harness.heldLoads.first)
        #expect(load.task.trialID == plan[0].id && load.task.startRound == 2)
        harness.feed(.taskMasksLoaded(TaskMasks(request: load, startRound: 2, resumeMask: [7, 7], parentMask: nil)))
        let task = try #require(harness.tasks("w").first)
        #expect(task.startRound == 2 && task.resumeMask == [7, 7] && task.dataset.checksum == "abc123")
        #expect(harness.store.last == "running \(plan[0].id) on w at 2")
        // The store lost the next mask: the task restarts at round 0 (the loop says so); a store error fails a try.
        harness.receive(.trialFailed(.init(taskID: task.taskID, trialID: task.trialID, error: "nan")), from: "w")
        harness.receive(.ready(.init(credit: 1)), from: "w")
        let again = try #require(harness.heldLoads.last)
        harness.feed(.taskNotLoadable(again, reason: "results.db: disk I/O error"))
        #expect(harness.tasks("w").isEmpty)
        #expect(harness.machine.scheduler.trials[plan[0].id]?.tries == 2)
        #expect(harness.logs.contains { $0.contains("cannot assign \(plan[0].id): results.db: disk I/O error") })
    }

    /// A restarted coordinator knows none of the workers or tasks of the one before: a worker's message gets
    /// `unknown_worker`; its HELLO's running trials are cancelled (their tasks are the old coordinator's); the results
    /// it resends are recorded when they are the next round (with the old task id in the ACK), dropped otherwise.
    @Test func aRestartedCoordinatorCancelsOldTasksAndRecordsTheResentNextRound() throws {
        let plan = plannedTrials(1, rounds: 3)
        let trial = plan[0].id
        var harness = CoordinatorHarness(trials: plan, recorded: [trial: 0])
        harness.receive(
            .heartbeat(.init(progress: [.init(taskID: 5, trialID: trial, round: 1, iteration: 80)])), from: "w")
        #expect(harness.take("w").rejects.map(\.code) == [.unknownWorker])
        harness.receive(
            CoordinatorHarness.hello("w", running: [.init(taskID: 5, trialID: trial, round: 1, iteration: 90)]),
            from: "w")
        #expect(harness.take("w").cancels.map(\.taskID) == [5])
        harness.receive(CoordinatorHarness.result(taskID: 5, trialID: trial, round: 0), from: "w")
        harness.receive(CoordinatorHarness.result(taskID: 5, trialID: trial, round: 1), from: "w")
        let acks = harness.take("w").acks
        #expect(acks.map(\.round) == [0, 1] && acks.map(\.status) == [.duplicate, .recorded])
        #expect(acks.allSatisfy { $0.taskID == 5 })
        // Its READY then gets the trial from round 2, as a new task.
        harness.receive(.ready(.init(credit: 1)), from: "w")
        let task = try #require(harness.tasks("w").first)
        #expect(task.startRound == 2 && task.taskID == 100)
    }

    /// An answer that comes after the worker died sends nothing (the trial was requeued meanwhile).
    @Test func aLoadAnsweredAfterTheWorkerDiedSendsNothing() throws {
        let plan = plannedTrials(1, rounds: 4)
        var harness = CoordinatorHarness(trials: plan, recorded: [plan[0].id: 0])
        harness.holdLoads = true
        _ = harness.join("w")
        let load = try #require(harness.heldLoads.first)
        harness.advance(to: 10)
        harness.feed(.taskMasksLoaded(TaskMasks(request: load, startRound: 1, resumeMask: [1], parentMask: nil)))
        #expect(harness.tasks("w").isEmpty)
        #expect(harness.machine.assignments.isEmpty)
        #expect(harness.machine.scheduler.trials[plan[0].id]?.state == .queued)
    }

    /// A control branch's TASK carries its parent's mask; the branch is registered when its parent round records.
    @Test func branchTasksCarryTheParentMask() throws {
        let plan = plannedTrials(1, rounds: 2, controls: [.reinitRandom])
        var harness = CoordinatorHarness(trials: plan)
        let parent = try #require(harness.join("w", slots: 2).first)
        harness.receive(CoordinatorHarness.result(parent, round: 0), from: "w")
        harness.receive(CoordinatorHarness.result(parent, round: 1), from: "w")
        let branchID = try #require(harness.store.first { $0.hasPrefix("branch ") }).dropFirst("branch ".count)
        harness.receive(.ready(.init(credit: 1)), from: "w")
        let branch = try #require(harness.tasks("w").first)
        #expect(branch.trialID == branchID && branch.parentMask == [4, 5, 6] && branch.resumeMask == nil)
    }

    /// A mask the audit cannot decode fails the trial for good and stops its worker; finished trials too.
    @Test func auditFailuresFailTheTrialAndCancelItsTask() throws {
        let plan = plannedTrials(1, rounds: 3)
        var harness = CoordinatorHarness(trials: plan)
        let task = try #require(harness.join("w").first)
        harness.receive(CoordinatorHarness.result(task, round: 0), from: "w")
        _ = harness.take("w")
        harness.feed(.auditFailed(trialID: task.trialID, round: 0, reason: "next mask is a delta against 0x12"))
        #expect(harness.take("w").cancels.map(\.taskID) == [task.taskID])
        #expect(harness.store.last == "failed \(task.trialID)")
        #expect(harness.journal.map(\.kind).contains("audit-failed"))
        guard case .failed(let reason) = harness.machine.scheduler.trials[task.trialID]?.state else {
            Issue.record("trial not failed")
            return
        }
        #expect(reason.contains("failed the mask audit"))
        // Its later results are dropped (acknowledged, never recorded).
        harness.receive(CoordinatorHarness.result(task, round: 1), from: "w")
        #expect(harness.take("w").acks.map(\.status) == [.duplicate])
    }

    /// The sweep closes only once the audit has caught up: SHUTDOWN `finish` to every worker, then the grace.
    @Test func completeSweepClosesAfterTheAuditWithShutdownFinish() throws {
        let plan = plannedTrials(1, rounds: 1)
        var harness = CoordinatorHarness(trials: plan, heartbeatInterval: 0.5)
        let task = try #require(harness.join("a").first)
        _ = harness.join("b")
        harness.run(task, on: "a", rounds: 1)
        #expect(harness.machine.completeAwaitingAudit)
        #expect(harness.take("a").shutdowns.isEmpty)
        #expect(!harness.machine.shouldExit(now: 100))
        harness.now = 2
        harness.feed(.auditIdle)
        #expect(harness.take("a").shutdowns == [.finish])
        #expect(harness.take("b").shutdowns == [.finish])
        #expect(harness.machine.closing?.reason == nil && harness.machine.closing?.closeAt == 2.5)
        #expect(!harness.machine.shouldExit(now: 2.4) && harness.machine.shouldExit(now: 2.5))
        harness.feed(.auditIdle)  // once only
        #expect(harness.sent.isEmpty)
        // The workers leave as asked: no "worker left" line, no `worker-lost` event; nothing more goes to them.
        harness.feed(.sendFailed(identity: Array("a".utf8)))
        #expect(!harness.logs.contains { $0.contains("left:") })
        #expect(!harness.journal.contains { $0.kind == "worker-lost" })
        #expect(harness.machine.routes["a"] == nil && harness.machine.routes["b"] != nil)
    }

    /// A stop drains: SHUTDOWN `drain`; the loop may return as soon as no trial runs, or after the grace.
    @Test func stopDrainsAndEndsWhenNoTrialRuns() throws {
        let plan = plannedTrials(1, rounds: 3)
        var harness = CoordinatorHarness(trials: plan)
        let task = try #require(harness.join("w").first)
        harness.now = 1
        harness.feed(.stopRequested("SIGINT"))
        #expect(harness.take("w").shutdowns == [.drain])
        #expect(!harness.machine.shouldExit(now: 1.1))
        harness.receive(CoordinatorHarness.result(task, round: 0), from: "w")
        #expect(harness.take("w").acks.map(\.status) == [.recorded])  // still recorded while draining
        harness.receive(
            .giveBack(
                .init(trials: [.init(taskID: task.taskID, trialID: task.trialID, lastRound: 0)], reason: "drain")),
            from: "w")
        #expect(harness.machine.shouldExit(now: 1.2))
        #expect(harness.machine.closing?.reason == "SIGINT")
    }

    /// After a store failure nothing is accepted (so nothing is acknowledged: the worker keeps its results).
    @Test func afterAStoreFailureResultsAreNeitherCheckedNorAcknowledged() throws {
        let plan = plannedTrials(1, rounds: 3)
        var harness = CoordinatorHarness(trials: plan)
        let task = try #require(harness.join("w").first)
        harness.feed(.storeFailed("cannot write to the results folder: disk full"))
        #expect(harness.take("w").shutdowns == [.drain])
        #expect(harness.machine.storeFailure?.contains("disk full") == true)
        let actions = harness.receive(CoordinatorHarness.result(task, round: 0), from: "w")
        #expect(actions.checks.isEmpty)
        #expect(harness.take("w").isEmpty)
        #expect(harness.logs.contains { $0.contains("Nothing more is accepted") })
    }

    /// Ticks: heartbeats to live workers every interval; silence kills; a lagging loop judges silence only up to
    /// what it has read.
    @Test func ticksHeartbeatAndJudgeSilenceOnlyUpToWhatWasRead() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(1, rounds: 1))
        _ = harness.join("w")
        harness.tick(at: 1)
        #expect(harness.take("w").contains(.heartbeat(.init())))
        for step in 1...36 {  // the loop runs but is behind: messages after t=2 may be waiting in the socket
            harness.now = 1 + Double(step) / 4
            harness.feed(.tick(heardUntil: 2))
        }
        #expect(harness.machine.scheduler.workers["w"]?.alive == true)
        harness.tick(at: 10.25)
        #expect(harness.machine.scheduler.workers["w"]?.alive == false)
        #expect(harness.journal.map(\.kind).contains("worker-lost"))
    }
}
