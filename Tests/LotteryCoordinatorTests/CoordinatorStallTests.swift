import LotteryCoordinator
import LotteryCore
import LotteryWire
import Testing

/// The frozen coordinator (`FrozenCoordinatorTests`, found by `scripts/chaos`) in memory: a coordinator that did not
/// run for longer than the workers' timeout while they gave up on it, reconnected, and left closes and stale
/// heartbeats in its socket. Each part of that bug, one test each (timeout 3 s: heartbeats every second).
@Suite("Coordinator state machine: stalls and reconnects")
struct CoordinatorStallTests {
    /// A worker's connection closes (it gave up on the coordinator) and the same process says HELLO on a new one,
    /// still running its trial: nobody died, the trial stays its own, no try is charged, nothing is cancelled.
    @Test func aClosedConnectionOfAWorkerBackUnderTheSameInstanceChargesNothing() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(1, rounds: 4))
        let task = try #require(harness.join("a").first)
        #expect(harness.join("b").isEmpty)
        harness.advance(to: 1)
        harness.feed(.sendFailed(identity: Array("a".utf8)))
        harness.now = 1.2
        harness.reconnect("a", on: "a2", running: task)
        for time in stride(from: 1.5, through: 6, by: 0.5) {
            harness.advance(to: time)
            harness.receive(.heartbeat(.init()), from: "a2")
            harness.receive(.heartbeat(.init()), from: "b")
        }
        let trial = try #require(harness.machine.scheduler.trials[task.trialID])
        #expect(trial.state == .running(worker: "a", startRound: 0) && trial.tries == 0)
        let current = harness.machine.isCurrent(task.taskID, trialID: task.trialID, worker: "a")
        #expect(current)
        #expect(harness.machine.routes["a"] == Array("a2".utf8))
        #expect(!harness.journal.contains { $0.kind == "worker-lost" || $0.kind == "requeued" }, "\(harness.logs)")
        #expect(harness.take("a2").cancels.map(\.taskID).isEmpty)
        #expect(harness.tasks("b").map(\.trialID).isEmpty)
    }

    /// A closed connection whose worker never comes back: it gets no TASK meanwhile, and once silent for the timeout
    /// it is dead and its trial goes to the next worker (a kill -9 still costs its trial one try).
    @Test func aWorkerWhoseConnectionClosedAndThatStaysSilentIsDeadAfterTheTimeout() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(2, rounds: 4))
        let first = try #require(harness.join("a", slots: 2, credit: 1).first)
        harness.advance(to: 1)
        harness.feed(.sendFailed(identity: Array("a".utf8)))
        #expect(harness.machine.routes["a"] == nil)
        _ = harness.take("a")
        harness.receive(.heartbeat(.init()), from: "a")  // the closed connection routes nothing any more
        #expect(harness.take("a").rejects.map(\.code) == [.unknownWorker])
        harness.advance(to: 2.9)  // a was last heard at 0
        #expect(harness.machine.scheduler.workers["a"]?.alive == true)
        harness.advance(to: 3.5)
        #expect(harness.machine.scheduler.workers["a"]?.alive == false)
        #expect(harness.logs.contains { $0.contains("worker a left") && $0.contains("its connection closed") })
        #expect(harness.machine.scheduler.trials[first.trialID]?.tries == 1)
        let taken = harness.join("b", slots: 2)
        #expect(taken.map(\.trialID).contains(first.trialID))
    }

    /// The coordinator does not run for 4 s (SIGSTOP), longer than the 3 s timeout: nobody is declared silent from
    /// that gap, and a worker whose reconnect back-off grew meanwhile has as long again to come back.
    @Test func aCoordinatorThatDidNotRunForLongerThanTheTimeoutDeclaresNoOneSilentFromThatGap() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(1, rounds: 4))
        let task = try #require(harness.join("a").first)
        #expect(harness.join("b").isEmpty)
        harness.advance(to: 1)
        harness.tick(at: 5)  // the first event after 4 s of nothing
        harness.advance(to: 7.5)
        #expect(harness.machine.scheduler.workers.values.allSatisfy { $0.alive }, "\(harness.logs)")
        #expect(!harness.journal.contains { $0.kind == "worker-lost" })
        // a is back on a new connection (its back-off was 2 s), with its trial: nothing was charged.
        harness.reconnect("a", on: "a2", running: task)
        harness.advance(to: 10)
        #expect(harness.machine.scheduler.trials[task.trialID]?.state == .running(worker: "a", startRound: 0))
        #expect(harness.machine.scheduler.trials[task.trialID]?.tries == 0)
        // b never came back: dead once its grace (4 s after the stall) is over, not forever.
        #expect(harness.machine.scheduler.workers["b"]?.alive == false)
    }

    /// After the stall, the loop reads what waited in its socket: b's heartbeat from before it gave up on its old
    /// connection, and b's HELLO on a newer one that it may also have given up. Neither makes b a worker to send a
    /// requeued trial to (the TASK would go to a closed connection); b's first message after the loop has caught up
    /// does, and the TASK goes to b's newest connection.
    @Test func aHeartbeatReadWhileCatchingUpAfterAStallDoesNotMakeItsConnectionFresh() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(1, rounds: 4))
        let task = try #require(harness.join("a").first)
        #expect(harness.join("b").isEmpty)
        harness.advance(to: 1)
        harness.now = 5  // nothing for 4 s; then the burst:
        harness.receive(.trialFailed(.init(taskID: task.taskID, trialID: task.trialID, error: "boom")), from: "a")
        harness.receive(.heartbeat(.init()), from: "b")
        #expect(harness.tasks("b").map(\.trialID).isEmpty, "a stale heartbeat made b's old connection look alive")
        harness.receive(CoordinatorHarness.hello("b", instance: "instance-b"), from: "b2")
        harness.receive(.ready(.init(credit: 1)), from: "b2")
        #expect(harness.tasks("b2").isEmpty)
        harness.tick(at: 5.05)  // caught up: everything that arrived before the burst is read
        harness.now = 5.3
        harness.receive(.heartbeat(.init()), from: "b2")
        #expect(harness.tasks("b2").map(\.trialID) == [task.trialID])
        #expect(harness.tasks("b").map(\.trialID).isEmpty)
        #expect(harness.machine.scheduler.trials[task.trialID]?.tries == 1)  // the failure report, and only it
    }

    /// A TASK sent to a connection that closed before it arrived: the worker's HELLO on its new connection does not
    /// list the trial, so it goes back to the queue without a bad end, and its next READY gets it again.
    @Test func aTaskLostWithAClosedConnectionIsRequeuedWithoutABadEnd() throws {
        var harness = CoordinatorHarness(trials: plannedTrials(1, rounds: 4))
        let lost = try #require(harness.join("a").first)
        harness.feed(.sendFailed(identity: Array("a".utf8)))
        harness.now = 0.5
        harness.receive(CoordinatorHarness.hello("a", instance: "instance-a"), from: "a2")
        #expect(harness.machine.scheduler.trials[lost.trialID]?.tries == 0)
        #expect(harness.machine.currentTask[lost.trialID] == nil)
        harness.receive(.ready(.init(credit: 1)), from: "a2")
        let again = try #require(harness.tasks("a2").first)
        #expect(again.trialID == lost.trialID && again.taskID != lost.taskID && again.startRound == 0)
    }
}

extension CoordinatorHarness {
    /// The process `name` (instance `instance-NAME`) says HELLO on the new connection `peer`, still running `task`,
    /// then READY with no free slot.
    mutating func reconnect(_ name: String, on peer: String, running task: WireMessage.TaskAssignment) {
        receive(
            Self.hello(
                name, instance: "instance-\(name)",
                running: [.init(taskID: task.taskID, trialID: task.trialID, round: task.startRound, iteration: 0)]),
            from: peer)
        receive(.ready(.init(credit: 0)), from: peer)
    }
}
