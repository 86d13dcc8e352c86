import Foundation
import TestPrerequisites
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Found by `scripts/chaos` (docs/faults.md, "Chaos run"): a coordinator frozen (SIGSTOP; a stalled VM, swap) for
/// longer than the workers' silence timeout while a trial runs. Every worker reconnects; on thaw the coordinator
/// reads the old connections' closes in one burst, charges the running trial a bad end for each ("worker b died
/// (connection closed) while running it"), requeues it to the next worker whose old connection is also closed, and
/// after three the trial fails for good — though its first worker was alive, had re-said HELLO, and had finished it.
///
/// Partly fixed: a requeued trial now goes only to a worker heard from within the timeout
/// (`SchedulerStateMachineTests.aRequeuedTrialGoesOnlyToAWorkerHeardFromWithinTheTimeout`), which made this pass in
/// 3 of 4 runs. Still open, so still a known issue: a heartbeat an old connection sent before the freeze is
/// processed after the thaw and counts as "heard now", so the next stale worker can still take the trial; and a
/// worker back under a new connection was once declared silent 0.6 s after the thaw. The full fix: a connection
/// closed by a worker that is back under the same instance is not a death, and "heard" should be the time a
/// message arrived, not the time it was processed. Remove `withKnownIssue` then (the test guards it).
@Suite(.serialized) struct FrozenCoordinatorTests {
    static let yaml = """
        name: frozen
        base:
          dataset: mnist
          model:
            layers: [30, 10]
          train:
            iterations: 3000
            eval_every: 1500
          data:
            validation: 100
          prune:
            rounds: 4
        seeds: 1

        """

    @Test(.requires(.binaries)) func aCoordinatorFrozenLongerThanTheWorkersTimeoutLosesNoTrial() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin, yaml: Self.yaml)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            for name in ["a", "b", "c"] { _ = try cluster.worker(name) }
            try #require(coordinator.waitForOutput("round 0 of", seconds: 120), "\(cluster.logs)")
            // 3 s: five times the workers' silence timeout (3 × 200 ms heartbeats); all of them reconnect meanwhile.
            kill(coordinator.process.processIdentifier, SIGSTOP)
            usleep(3_000_000)
            kill(coordinator.process.processIdentifier, SIGCONT)
            let status = coordinator.wait(seconds: 240)
            #expect(status != nil, "the coordinator ended: \(cluster.logs)")
            let trials = try readCSV(cluster.out.appendingPathComponent("trials.csv"))
            let rounds = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            #expect(trials.count == 1)
            // Intermittent only so that a loaded CI machine cannot turn a missed reproduction into a red run; it
            // reproduced in 4 of 4 runs here.
            withKnownIssue(
                "a frozen coordinator charges reconnects as deaths and fails the trial (see above)",
                isIntermittent: true
            ) {
                #expect(status == 0, "\(cluster.logs)")
                #expect(trials.first?["status"] == "done", "\(trials)")
                #expect(rounds.count == 5, "every round recorded: \(rounds.count)")
                #expect(!coordinator.output.contains("3 bad ends in a row"), "\(coordinator.output)")
            }
        }
    }
}
