import Foundation
import LotteryCoordinator
import LotteryWire
import Testing
import ZeroMQ

/// Issue 15: a worker is a process (HELLO `instance_id`), not a name. The coordinator in this process, fake workers
/// over real sockets.
@Suite(.serialized) struct WorkerIdentityTests {
    @Test func twoProcessesUnderOneNameBothTrainAndNoTrialIsCharged() throws {
        try withTemporaryDirectory { dir in
            let config = CoordinatorFakeWorkerTests.config(dir, spec: try writeSweep(dir, rounds: 2, seeds: 2))
            let (coordinator, endpoint) = try CoordinatorFakeWorkerTests.start(config)
            let context = try ZMQContext()
            let first = try FakeWorker(context: context, endpoint: endpoint, name: "vm")
            let second = try FakeWorker(context: context, endpoint: endpoint, name: "vm")
            try first.hello()
            try first.send(.ready(WireMessage.Ready(credit: 1)))
            let firstTask = try first.nextTask()
            // The second process's HELLO, under the same name, while the first holds a trial.
            try second.hello()
            try second.send(.ready(WireMessage.Ready(credit: 1)))
            let secondTask = try second.nextTask()
            #expect(firstTask.trialID != secondTask.trialID)
            try first.run(firstTask)
            try second.run(secondTask)
            // Neither was told to stop its trial.
            #expect(!(first.received + second.received).contains { if case .cancel = $0 { true } else { false } })
            try first.send(.ready(WireMessage.Ready(credit: 1)))
            try second.send(.ready(WireMessage.Ready(credit: 1)))
            _ = try first.wait { if case .shutdown = $0 { return true } else { return nil } }
            let summary = try coordinator.wait().get()
            #expect(summary.trialsDone == 2 && summary.trialsFailed == 0 && summary.exitStatus == 0)
            try CoordinatorFakeWorkerTests.checkResults(config.outputDirectory, trials: 2, rounds: 3)
            let rows = try readCSV(config.outputDirectory.appendingPathComponent("rounds.csv"))
            #expect(Set(rows.compactMap { $0["worker"] }) == ["vm", "vm#2"])
            let trials = try readCSV(config.outputDirectory.appendingPathComponent("trials.csv"))
            #expect(trials.allSatisfy { $0["status"] == "done" && $0["tries"] == "0" })
            #expect(Set(trials.compactMap { $0["worker"] }) == ["vm", "vm#2"])
        }
    }
}
