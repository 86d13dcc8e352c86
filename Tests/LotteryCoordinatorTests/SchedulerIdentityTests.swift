import LotteryCoordinator
import LotteryCore
import Testing

extension [SchedulerAction] {
    var joined: [(id: WorkerID, instance: String, sameProcess: Bool)] {
        compactMap {
            if case .workerJoined(let id, let instance, let same) = $0 {
                return (id, instance, same)
            } else {
                return nil
            }
        }
    }
    /// Every trial charged with a bad end (requeued with a try counted, or failed for good), from the log lines.
    var badEnds: [String] {
        compactMap {
            switch $0 {
            case .log(let text) where text.contains("; try "): return text
            case .markTrialFailed(let id, _): return id
            default: return nil
            }
        }
    }
}

extension SchedulerStateMachine {
    /// HELLO from process `instance` under `name`, then READY(slots); returns the id it got and every action.
    mutating func start(name: String, instance: String, slots: Int = 1, now: Double) -> (
        id: WorkerID, actions: [SchedulerAction]
    ) {
        let hello = event(
            .workerHello(name: name, instance: instance, host: "vm", slots: slots), now: now)
        let id = hello.joined.first?.id ?? "?"
        return (id, hello + event(.workerReady(id, credit: slots), now: now))
    }
}

/// A worker is a process (HELLO `instance_id`), not a name (issue 15).
@Suite("Scheduler: worker identity")
struct SchedulerIdentityTests {
    @Test func workersSharingANameAreToldApartAndEachGetsItsOwnTrial() {
        let plan = plannedTrials(3)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let first = scheduler.start(name: "vm", instance: "a1", now: 0)
        let second = scheduler.start(name: "vm", instance: "b2", now: 0.1)
        let third = scheduler.start(name: "vm", instance: "c3", now: 0.2)
        #expect([first.id, second.id, third.id] == ["vm", "vm#2", "vm#3"])
        #expect([first, second, third].allSatisfy { $0.actions.joined.first?.sameProcess == false })
        #expect(first.actions.assigned.map(\.worker) == ["vm"])
        #expect(second.actions.assigned.map(\.worker) == ["vm#2"])
        #expect(third.actions.assigned.map(\.worker) == ["vm#3"])
        // Nothing was charged: every trial runs, none has a try counted.
        #expect((first.actions + second.actions + third.actions).badEnds.isEmpty)
        #expect(plan.allSatisfy { scheduler.trials[$0.id]?.tries == 0 })
        #expect(scheduler.workers.values.filter(\.alive).count == 3)
        #expect(
            second.actions.contains {
                if case .log(let text) = $0 { text.contains("another process named 'vm'") } else { false }
            })
        // Each finishes its own trial; the sweep completes with no failure.
        var rest: [SchedulerAction] = []
        for (index, id) in [first.id, second.id, third.id].enumerated() {
            rest += scheduler.finish(plan[index].id, on: id, now: 1)
        }
        #expect(rest.completion == false)
        #expect(rest.badEnds.isEmpty)
    }

    @Test func anotherProcessSayingHelloChargesNoTrialOfALiveWorker() {
        let plan = plannedTrials(2, rounds: 4)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let first = scheduler.start(name: "vm", instance: "a1", now: 0)
        #expect(first.actions.assigned.count == 1)
        // Repeated HELLOs from other processes under the same name, while the first keeps heartbeating.
        var actions: [SchedulerAction] = []
        for index in 0..<5 {
            actions += scheduler.event(
                .workerHello(name: "vm", instance: "other-\(index)", host: "vm", slots: 1),
                now: Double(index) * 0.5)
            actions += scheduler.event(.heartbeat("vm", progress: [:]), now: Double(index) * 0.5)
        }
        #expect(actions.badEnds.isEmpty)
        #expect(actions.requeued.isEmpty)
        #expect(scheduler.trials[plan[0].id]?.state == .running(worker: "vm", startRound: 0))
        #expect(scheduler.trials[plan[0].id]?.tries == 0)
        #expect(scheduler.workers["vm"]?.instance == "a1" && scheduler.workers["vm"]?.running == [plan[0].id])
        #expect(Set(actions.joined.map(\.id)) == ["vm#2", "vm#3", "vm#4", "vm#5", "vm#6"])
        // The first one's round still counts as its own.
        #expect(
            scheduler.event(.roundResult("vm", trialID: plan[0].id, round: 0, isFinalRound: false), now: 3).contains(
                .acceptResult("vm", trialID: plan[0].id, round: 0)))
    }

    @Test func aRestartUnderALiveNameIsANewWorkerAndTheOldOneIsChargedOnlyWhenFoundDead() {
        let plan = plannedTrials(1, rounds: 4)
        let trial = plan[0].id
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let old = scheduler.start(name: "vm", instance: "before", now: 0)
        #expect(old.actions.assigned.map(\.worker) == ["vm"])
        _ = scheduler.event(.roundResult("vm", trialID: trial, round: 0, isFinalRound: false), now: 1)
        // The process was killed and started again at once: its HELLO arrives before the old one is found dead.
        let restarted = scheduler.start(name: "vm", instance: "after", now: 1.5)
        #expect(restarted.id == "vm#2")
        #expect(restarted.actions.badEnds.isEmpty && restarted.actions.requeued.isEmpty)
        #expect(restarted.actions.assigned.isEmpty)  // its trial still belongs to the old process
        #expect(scheduler.trials[trial]?.tries == 0)
        // The new one heartbeats; the old one is silent: found dead after the timeout, its trial requeued once.
        _ = scheduler.event(.heartbeat("vm#2", progress: [:]), now: 3.5)
        let tick = scheduler.event(.tick, now: 4.1)
        #expect(tick.deadWorkers == ["vm"])
        #expect(tick.badEnds.count == 1)
        #expect(tick.assigned.map(\.worker) == ["vm#2"])
        #expect(tick.assigned.map(\.task.startRound) == [1])
        #expect(scheduler.trials[trial]?.tries == 1)
        // A third start finds the name free again (its holder is dead) and takes it.
        #expect(scheduler.start(name: "vm", instance: "third", now: 5).id == "vm")
        #expect(scheduler.workers["vm"]?.instance == "third")
        #expect(scheduler.workerID(instance: "before") == nil)
        #expect(scheduler.workerID(instance: "after") == "vm#2")
    }

    @Test func theSameProcessSayingHelloAgainKeepsItsTrialsAndItsId() {
        let plan = plannedTrials(2)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        let first = scheduler.start(name: "vm", instance: "a1", slots: 2, now: 0)
        #expect(first.actions.assigned.count == 2)
        let again = scheduler.event(
            .workerHello(name: "vm", instance: "a1", host: "vm", slots: 2), now: 1)
        #expect(again.joined.map(\.id) == ["vm"])
        #expect(again.joined.map(\.sameProcess) == [true])
        #expect(again.badEnds.isEmpty && again.requeued.isEmpty)
        #expect(scheduler.workers["vm"]?.running.count == 2)
        #expect(scheduler.workers.count == 1)
    }

    @Test func aPresumedDeadProcessComingBackGetsItsIdBackWithNothingRunning() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.start(name: "vm", instance: "a1", now: 0)
        let tick = scheduler.event(.tick, now: 3.5)
        #expect(tick.deadWorkers == ["vm"])
        #expect(scheduler.trials[plan[0].id]?.tries == 1)
        // Thawed (SIGCONT): the same process says HELLO again.
        let back = scheduler.event(
            .workerHello(name: "vm", instance: "a1", host: "vm", slots: 1), now: 4)
        #expect(back.joined.map(\.id) == ["vm"])
        #expect(back.joined.map(\.sameProcess) == [false])
        #expect(back.badEnds.isEmpty)
        #expect(scheduler.workers["vm"]?.alive == true && scheduler.workers["vm"]?.running.isEmpty == true)
        #expect(scheduler.event(.workerReady("vm", credit: 1), now: 4).assigned.map(\.task.trialID) == [plan[0].id])
    }

    @Test func aSecondProcessStartedAfterTheFirstDiedReusesTheNameNotTheTrials() {
        let plan = plannedTrials(1)
        var scheduler = SchedulerStateMachine(plan: plan, config: config)
        _ = scheduler.start(name: "vm", instance: "a1", now: 0)
        _ = scheduler.event(.workerGone("vm"), now: 1)
        let next = scheduler.start(name: "vm", instance: "b2", now: 1)
        #expect(next.id == "vm")
        #expect(next.actions.assigned.map(\.task.trialID) == [plan[0].id])
        // The old process's late HELLO (it was not dead after all) makes it a second worker, not the first again.
        let late = scheduler.event(
            .workerHello(name: "vm", instance: "a1", host: "vm", slots: 1), now: 2)
        #expect(late.joined.map(\.id) == ["vm#2"])
        #expect(late.badEnds.isEmpty)
        #expect(scheduler.trials[plan[0].id]?.state == .running(worker: "vm", startRound: 0))
    }
}
