import Foundation
import LotteryCoordinator
import TestPrerequisites
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 15 with real processes: unnamed workers on one host, one coordinator per results folder.
@Suite(.serialized) struct WorkerIdentityProcessTests {
    /// Three `lth-worker`s without `--name` (all say this host's name, share one dataset cache) against one
    /// coordinator: nothing is charged, every trial ends `done` at its first try, and rounds.csv holds exactly the
    /// numbers `lth sweep` gives on the same spec.
    @Test(.requires(.binaries)) func unnamedWorkersOnOneHostEndWithTheNumbersOfLthSweep() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let yaml = FaultSweep.yaml.replacingOccurrences(of: "seeds: 2", with: "seeds: 3")
            let cluster = try FaultCluster(dir, bin: bin, yaml: yaml)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            for index in 1...3 { _ = try cluster.worker("unnamed-\(index)", named: false) }
            #expect(coordinator.wait(seconds: 300) == 0, "\(cluster.logs)")
            let log = coordinator.output
            // No HELLO charges anything: a bad end ("; try N of") can only follow a worker really found dead ("left:"),
            // which happens here only if the machine starves a worker past its 0.6 s heartbeat timeout.
            #expect(!log.contains("FAILED") && !log.contains("restarted while"), "\(log)")
            #expect(occurrences("; try ", in: log) <= occurrences(" left: ", in: log), "\(log)")
            let host = ProcessInfo.processInfo.hostName
            #expect(log.contains("another process named '\(host)'"), "the repeated name was noticed: \(log)")
            let trials = try readCSV(cluster.out.appendingPathComponent("trials.csv"))
            #expect(trials.count == 3 && trials.allSatisfy { $0["status"] == "done" }, "\(trials)")
            let names: Set<String> = [host, "\(host)#2", "\(host)#3"]
            let rows = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 3 * FaultSweep.roundsPerTrial)
            #expect(
                Set(rows.compactMap { $0["worker"] }).isSubset(of: names), "\(Set(rows.compactMap { $0["worker"] }))")
            #expect(Set(trials.compactMap { $0["worker"] }).isSubset(of: names))

            // The same spec through `lth sweep` (its own coordinator and workers, CURVE on).
            let sweepOut = dir.appendingPathComponent("sweep-out")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                [
                    "sweep", cluster.spec.path, "--workers", "1", "--out", sweepOut.path, "--data-dir",
                    cluster.data.path, "--heartbeat-ms", "200",
                ],
                log: dir.appendingPathComponent("sweep.log"))
            #expect(sweep.wait(seconds: 300) == 0, "lth sweep: \(sweep.output)")
            let reference = try FaultSweep.Results(sweepOut)
            let got = try FaultSweep.Results(cluster.out)
            #expect(Set(got.rounds.keys) == Set(reference.rounds.keys) && got.roundRows == reference.roundRows)
            var compared = 0
            for (key, row) in reference.rounds.sorted(by: { $0.key < $1.key }) {
                guard let other = got.rounds[key] else { continue }
                for column in row.keys.sorted() where FaultSweep.compared(column) {
                    #expect(
                        other[column] == row[column],
                        "\(key) \(column): \(other[column] ?? "-") vs lth sweep \(row[column]!)")
                    compared += 1
                }
            }
            #expect(compared > 3 * FaultSweep.roundsPerTrial * 20, "metric columns compared: \(compared)")
            print(
                "unnamedWorkersOnOneHostEndWithTheNumbersOfLthSweep: workers \(Set(rows.compactMap { $0["worker"] }).sorted()), \(compared) values equal to lth sweep's"
            )
        }
    }

    /// `kill -9` of one of two unnamed workers mid-trial, and a new unnamed one started at once (a restart under a
    /// live name): the new process is a new worker, the killed one's trial is requeued once, from its last recorded
    /// round, when the killed one is found dead; results equal the uninterrupted run's.
    @Test(.requires(.binaries)) func anUnnamedWorkerKilledAndRestartedAtOnceCostsOneRequeueAndNoNumbers() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            let first = try cluster.worker("first", named: false)
            _ = try cluster.worker("second", named: false)
            #expect(coordinator.waitForOutput("round 0 of", seconds: 120), "\(cluster.logs)")
            kill(first.process.processIdentifier, SIGKILL)
            _ = first.wait(seconds: 10)
            _ = try cluster.worker("restarted", named: false)
            #expect(coordinator.wait(seconds: 240) == 0, "\(cluster.logs)")
            let log = coordinator.output
            #expect(!log.contains("FAILED") && !log.contains("restarted while"), "\(log)")
            // The killed worker's trial is charged when it is found dead, and only then: every bad end follows a death.
            #expect(occurrences(" left: ", in: log) >= 1, "the killed worker was found dead: \(log)")
            #expect(occurrences("; try ", in: log) <= occurrences(" left: ", in: log), "\(log)")
            try FaultSweep.expectMatchesReference(cluster.out)
        }
    }

    /// A second `lth-coordinator` and a second `lth sweep` on a folder in use refuse in one line naming the holder;
    /// after a `kill -9` of the holder a new coordinator starts at once (the kernel released the lock).
    @Test(.requires(.binaries)) func oneCoordinatorPerFolderAndKillNineLeavesNoStaleLock() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let first = try cluster.coordinator()
            #expect(first.waitForOutput("listening on", seconds: 60), "\(cluster.logs)")
            let pid = first.process.processIdentifier

            let second = try Child(
                bin.appendingPathComponent("lth-coordinator"),
                [
                    cluster.spec.path, "--bind", "tcp://127.0.0.1:\(try freePort())", "--out", cluster.out.path,
                    "--data-dir", cluster.data.path,
                ],
                log: dir.appendingPathComponent("second.log"))
            #expect(second.wait(seconds: 60) == 1)
            let refusal = second.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(refusal.split(separator: "\n").count == 1, "one line: \(refusal)")
            #expect(refusal.contains("in use by another coordinator (pid \(pid) on host "), "\(refusal)")
            #expect(refusal.contains("since ") && refusal.contains(cluster.out.path), "\(refusal)")

            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                [
                    "sweep", cluster.spec.path, "--workers", "1", "--out", cluster.out.path, "--data-dir",
                    cluster.data.path,
                ],
                log: dir.appendingPathComponent("sweep.log"))
            #expect(sweep.wait(seconds: 60) != 0)
            #expect(sweep.output.contains("in use by another coordinator (pid \(pid)"), "\(sweep.output)")
            #expect(!sweep.output.contains("Stack dump") && sweep.output.split(separator: "\n").count <= 2)
            #expect(!FileManager.default.fileExists(atPath: cluster.out.appendingPathComponent("keys").path))

            kill(pid, SIGKILL)
            _ = first.wait(seconds: 10)
            let third = try cluster.coordinator()
            #expect(third.waitForOutput("listening on", seconds: 60), "no stale lock after kill -9: \(third.output)")
            _ = try cluster.worker("a")
            #expect(third.wait(seconds: 240) == 0, "\(cluster.logs)")
            try FaultSweep.expectMatchesReference(cluster.out)
        }
    }
}

/// How many times `text` occurs in `log`.
func occurrences(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }
