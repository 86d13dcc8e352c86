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
/// Fixed in the coordinator's state machines, each part tested in memory (`CoordinatorStallTests`): a closed
/// connection is not a death (the worker is dead only once silent for the timeout, and a HELLO from the same instance
/// on a new connection keeps its trials); the coordinator's own stall longer than the timeout is nobody's silence
/// (no one is declared silent until as long again has passed: the workers' reconnect back-off grew meanwhile); and a
/// message read while catching up after the stall counts as heard at its start, so a heartbeat from a connection the
/// worker has given up does not make it look fresh for a new task.
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
            #expect(status == 0, "\(cluster.logs)")
            #expect(trials.first?["status"] == "done", "\(trials)")
            #expect(rounds.count == 5, "every round recorded: \(rounds.count)")
            #expect(!coordinator.output.contains("bad ends in a row"), "\(coordinator.output)")
            #expect(!coordinator.output.contains("requeued"), "nothing died: \(coordinator.output)")
        }
    }
}
