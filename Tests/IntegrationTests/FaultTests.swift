import Foundation
import LotteryCoordinator
import LotteryResults
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fixed sweep every fault test runs (2 trials × 4 rounds of a [784, 30, 10, 10] net on tiny MNIST-shaped data)
/// and its uninterrupted reference run, computed once per test process.
///
/// Rounds of 1,000 iterations (≈ 0.1 s in release, ≈ 8 s in debug; a trial ≈ 0.4 s) are long enough that a test
/// reacting to "round 0 of … recorded" (polled every 50 ms) hits the worker in the middle of that trial.
enum FaultSweep {
    static let yaml = """
        name: faults
        base:
          dataset: mnist
          model:
            layers: [30, 10]
          train:
            iterations: 1000
            eval_every: 500
          data:
            validation: 100
          prune:
            rounds: 3
        seeds: 2

        """
    static let roundsPerTrial = 4
    static let trials = 2

    /// Columns that differ between runs by nature (who ran it, how long, when).
    static func compared(_ column: String) -> Bool {
        !["seconds", "worker", "host"].contains(column) && !column.hasSuffix("_at")
    }

    /// `rounds.csv` rows keyed `trial#round`, and `trials.csv` status by trial id.
    struct Results: Sendable {
        var rounds: [String: [String: String]]
        var status: [String: String]
        var roundRows: Int

        init(_ out: URL) throws {
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            roundRows = rows.count
            rounds = [:]
            for row in rows { rounds["\(row["trial_id"] ?? "?")#\(row["round"] ?? "?")"] = row }
            status = [:]
            for row in try readCSV(out.appendingPathComponent("trials.csv")) {
                status[row["trial_id"] ?? "?"] = row["status"] ?? "?"
            }
        }
    }

    /// The uninterrupted run: one coordinator, one worker, nothing killed.
    static let reference: Result<Results, TestFailure> = {
        guard let bin = Binaries.folder else { return .failure(TestFailure("binaries not built")) }
        do {
            return .success(
                try withTemporaryDirectory { dir in
                    let cluster = try FaultCluster(dir, bin: bin)
                    defer { cluster.stopAll() }
                    let coordinator = try cluster.coordinator()
                    _ = try cluster.worker("ref")
                    guard coordinator.wait(seconds: 300) == 0 else {
                        throw TestFailure("reference run failed: \(coordinator.output)")
                    }
                    return try Results(cluster.out)
                })
        } catch {
            return .failure(TestFailure("\(error)"))
        }
    }()

    /// Expects `out` to hold exactly the reference results (every metric column text-exact); `only` restricts the
    /// comparison to some trials (the others are checked by the caller).
    static func expectMatchesReference(
        _ out: URL, only: Set<String>? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let reference = try FaultSweep.reference.get()
        let results = try Results(out)
        let wanted = reference.rounds.filter { only?.contains($0.value["trial_id"] ?? "") ?? true }
        let got = results.rounds.filter { only?.contains($0.value["trial_id"] ?? "") ?? true }
        #expect(
            results.roundRows == results.rounds.count, "every (trial, round) once in rounds.csv",
            sourceLocation: sourceLocation)
        #expect(Set(got.keys) == Set(wanted.keys), "the same (trial, round) rows", sourceLocation: sourceLocation)
        for (key, row) in wanted.sorted(by: { $0.key < $1.key }) {
            guard let other = got[key] else { continue }
            #expect(Set(row.keys) == Set(other.keys), "\(key): same columns", sourceLocation: sourceLocation)
            for column in row.keys.sorted() where compared(column) && row[column] != other[column] {
                Issue.record(
                    "\(key) column \(column): \(other[column] ?? "missing") vs reference \(row[column]!)",
                    sourceLocation: sourceLocation)
            }
        }
        for (trial, status) in reference.status where only?.contains(trial) ?? true {
            #expect(results.status[trial] == status, "trial \(trial) status", sourceLocation: sourceLocation)
        }
    }
}

/// One temporary cluster of real processes on 127.0.0.1: spec, data, results folder, endpoint, children.
final class FaultCluster {
    let dir: URL
    let bin: URL
    let spec: URL
    let data: URL
    let out: URL
    let endpoint: String
    private(set) var children: [Child] = []
    private var logCount: [String: Int] = [:]

    init(_ dir: URL, bin: URL, out: URL? = nil, yaml: String = FaultSweep.yaml) throws {
        self.dir = dir
        self.bin = bin
        spec = dir.appendingPathComponent("faults.yaml")
        try yaml.write(to: spec, atomically: true, encoding: .utf8)
        data = dir.appendingPathComponent("data")
        try writeTinyMNIST(data, train: 600, test: 100)
        self.out = out ?? dir.appendingPathComponent("out")
        endpoint = "tcp://127.0.0.1:\(try freePort())"
    }

    private func log(_ name: String) -> URL {
        let count = (logCount[name] ?? 0) + 1
        logCount[name] = count
        return dir.appendingPathComponent("\(name)-\(count).log")
    }

    func coordinator(_ extra: [String] = []) throws -> Child {
        let child = try Child(
            bin.appendingPathComponent("lth-coordinator"),
            [spec.path, "--bind", endpoint, "--out", out.path, "--heartbeat-ms", "200", "--data-dir", data.path]
                + extra,
            log: log("coordinator"))
        children.append(child)
        return child
    }

    /// A worker named `name`; with `named: false` it gets no `--name` (so it says the host name, as every unnamed
    /// worker on this host does) and shares the dataset cache `cache-shared` with the other unnamed ones.
    func worker(_ name: String, named: Bool = true, environment: [String: String] = [:]) throws -> Child {
        let cache = dir.appendingPathComponent(named ? "cache-\(name)" : "cache-shared").path
        let child = try Child(
            bin.appendingPathComponent("lth-worker"),
            ["--connect", endpoint] + (named ? ["--name", name] : [])
                + ["--slots", "1", "--heartbeat-ms", "200", "--data-dir", cache],
            log: log("worker-\(name)"), environment: environment)
        children.append(child)
        return child
    }

    /// SIGKILLs whatever still runs and waits for it.
    func stopAll() {
        for child in children where child.process.isRunning {
            kill(child.process.processIdentifier, SIGCONT)
            kill(child.process.processIdentifier, SIGKILL)
            child.process.waitUntilExit()
        }
    }

    /// Every log so far, for failure messages.
    var logs: String {
        children.map { "== \($0.log.lastPathComponent)\n\($0.output.suffix(6000))" }.joined(separator: "\n")
    }

    /// Opens the results folder (only while no coordinator runs on it).
    func store() throws -> ResultsStore {
        let plan = try loadSweep(path: spec.path)
        return try ResultsStore.openOrCreate(
            directory: out, sweepName: plan.name, specText: plan.sourceText, fingerprint: plan.fingerprint)
    }

    /// `task` events (kind, trial, start round) journaled by the coordinator, in order.
    static func taskStarts(_ events: [StoreEvent]) -> [(trial: String, worker: String, startRound: Int)] {
        events.filter { $0.kind == "task" }.compactMap { event in
            guard let trial = event.trialID, let round = event.message.split(separator: " ").last.flatMap({ Int($0) })
            else { return nil }
            return (trial, event.worker ?? "?", round)
        }
    }
}

/// Waits until `condition` holds (polling every 50 ms, at most `seconds`): a bound against hangs, not a timing test.
func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// Faults a lab sweep meets (docs/faults.md): killed and frozen processes, a poison trial, a full disk. Each run's
/// final rounds.csv must equal an uninterrupted run's, and no recorded round may be computed again.
@Suite(.serialized) struct FaultTests {
    /// `kill -9` of a worker in the middle of a trial: the trial resumes on a second worker from its last recorded
    /// round; final results identical; no recorded round recomputed.
    @Test func killedWorkerTrialResumesElsewhere() throws {
        guard let bin = Binaries.require("killedWorkerTrialResumesElsewhere") else { return }
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            let first = try cluster.worker("a")
            #expect(coordinator.waitForOutput("round 0 of", seconds: 120), "\(cluster.logs)")
            kill(first.process.processIdentifier, SIGKILL)
            _ = first.wait(seconds: 10)
            _ = try cluster.worker("b")
            #expect(coordinator.wait(seconds: 240) == 0, "\(cluster.logs)")
            #expect(coordinator.output.contains("worker a left"), "the coordinator noticed the dead worker")
            try FaultSweep.expectMatchesReference(cluster.out)

            let rows = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            let store = try cluster.store()
            let events = try store.events()
            let tasks = FaultCluster.taskStarts(events)
            var resumed = 0
            for trial in Set(rows.map { $0["trial_id"]! }) {
                let byA = rows.filter { $0["trial_id"] == trial && $0["worker"] == "a" }.compactMap {
                    Int($0["round"]!)
                }
                guard let last = byA.max() else { continue }
                // The trial that was cut short: b's task for it starts right after a's last recorded round.
                let onB = tasks.filter { $0.trial == trial && $0.worker == "b" }
                if last < FaultSweep.roundsPerTrial - 1 {
                    #expect(onB.map(\.startRound) == [last + 1], "resumed at \(last + 1), tasks: \(tasks)")
                    #expect(events.contains { $0.kind == "requeued" && $0.trialID == trial })
                    resumed += 1
                }
            }
            #expect(resumed == 1, "exactly the trial a ran was resumed: \(tasks)")
            // a died without a word, so a duplicate can only be b resending its own result (an ACK it did not see in
            // time: fine). b dropping a round that a recorded would mean b was told to compute it again.
            let dropped = events.filter { $0.kind == "result-dropped" }
            for event in dropped {
                let round = event.message.split(separator: ":").first?.split(separator: " ").last.map(String.init)
                let recorder = rows.first { $0["trial_id"] == event.trialID && $0["round"] == round }?["worker"]
                #expect(
                    recorder == event.worker, "round \(round ?? "?") of \(event.trialID ?? "?") recomputed: \(event)")
            }
            print(
                "killedWorkerTrialResumesElsewhere: tasks \(tasks.map { "\($0.worker):\($0.trial)@\($0.startRound)" }), own results resent and dropped as duplicates \(dropped.count)"
            )
        }
    }

    /// `kill -9` of the coordinator mid-sweep, restarted on the same folder: the (untouched) workers reconnect by
    /// themselves, the sweep completes with identical results, and no task after the restart starts at a round the
    /// folder already held.
    @Test func killedCoordinatorRestartsAndWorkersReconnect() throws {
        guard let bin = Binaries.require("killedCoordinatorRestartsAndWorkersReconnect") else { return }
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let first = try cluster.coordinator()
            let a = try cluster.worker("a")
            let b = try cluster.worker("b")
            #expect(first.waitForOutput("round 1 of", seconds: 120), "\(cluster.logs)")
            kill(first.process.processIdentifier, SIGKILL)
            #expect(first.wait(seconds: 10) != nil)

            // What the folder holds at the restart.
            var recordedAtRestart: [String: Int] = [:]
            var eventsBefore = 0
            do {
                let store = try cluster.store()
                for trial in try store.recoveredState().trials {
                    recordedAtRestart[trial.id] = trial.lastRecordedRound ?? -1
                }
                eventsBefore = try store.events().count
            }
            #expect(recordedAtRestart.values.contains { $0 >= 1 }, "rounds were recorded before the kill")

            let second = try cluster.coordinator()
            #expect(second.wait(seconds: 240) == 0, "\(cluster.logs)")
            #expect(second.output.contains("already recorded; they are not recomputed"))
            #expect(a.wait(seconds: 30) == 0 && b.wait(seconds: 30) == 0, "workers end after SHUTDOWN: \(cluster.logs)")
            try FaultSweep.expectMatchesReference(cluster.out)

            let after = Array(try cluster.store().events().dropFirst(eventsBefore))
            let tasks = FaultCluster.taskStarts(after)
            for task in tasks {
                #expect(
                    task.startRound > recordedAtRestart[task.trial] ?? -1,
                    "task after the restart starts at round \(task.startRound) of \(task.trial), recorded up to \(recordedAtRestart[task.trial] ?? -1)"
                )
            }
            let duplicates = after.filter { $0.kind == "result-dropped" }
            print(
                "killedCoordinatorRestartsAndWorkersReconnect: recorded at restart \(recordedAtRestart), tasks after \(tasks.map { "\($0.trial)@\($0.startRound)" }), results dropped as duplicate \(duplicates.count)"
            )
        }
    }

    /// A worker frozen with SIGSTOP (socket open, no heartbeats): declared dead, its trial resumes on another
    /// worker; resumed with SIGCONT, its late results are dropped as duplicates or accepted once if they are the
    /// next round needed; final results identical.
    @Test func frozenWorkerIsReplacedAndItsLateResultsDoNoHarm() throws {
        guard let bin = Binaries.require("frozenWorkerIsReplacedAndItsLateResultsDoNoHarm") else { return }
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            let a = try cluster.worker("a")
            #expect(coordinator.waitForOutput("round 0 of", seconds: 120), "\(cluster.logs)")
            kill(a.process.processIdentifier, SIGSTOP)
            let b = try cluster.worker("b")
            let noticed = coordinator.waitForOutput("worker a left", seconds: 30)
            #expect(noticed, "missed heartbeats mark the frozen worker dead: \(cluster.logs)")
            // Only b is alive: it takes a's trial (after its own, or at once) from a's last recorded round.
            let resumed = eventually(seconds: 120) {
                coordinator.output.split(separator: "\n").contains { $0.contains("started on b at round") }
            }
            kill(a.process.processIdentifier, SIGCONT)
            #expect(resumed, "b resumed the frozen worker's trial: \(cluster.logs)")
            #expect(coordinator.wait(seconds: 240) == 0, "\(cluster.logs)")
            #expect(b.wait(seconds: 30) == 0, "\(cluster.logs)")
            _ = a.wait(seconds: 10)  // a ends after SHUTDOWN if it reconnected before the sweep ended
            try FaultSweep.expectMatchesReference(cluster.out)
            let events = try cluster.store().events()
            #expect(events.contains { $0.kind == "requeued" }, "the frozen worker's trial was requeued")
            let tasks = FaultCluster.taskStarts(events)
            #expect(tasks.contains { $0.worker == "b" && $0.startRound > 0 }, "b resumed a trial: \(tasks)")
            let late = events.filter { $0.kind == "result-dropped" && $0.worker == "a" }
            let rows = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            print(
                "frozenWorkerIsReplacedAndItsLateResultsDoNoHarm: tasks \(tasks.map { "\($0.worker):\($0.trial)@\($0.startRound)" }); a's late results dropped as duplicates \(late.count); rounds recorded from a \(rows.filter { $0["worker"] == "a" }.count)"
            )
        }
    }

    /// A trial that crashes every worker that starts it (`LTH_FAULT_CRASH_TRIAL`): failed after 3 tries with the
    /// reason in trials.csv; the other trial completes; exit status 1 with a summary naming the failed trial.
    @Test func poisonTrialFailsAfterThreeTriesAndTheRestCompletes() throws {
        guard let bin = Binaries.require("poisonTrialFailsAfterThreeTriesAndTheRestCompletes") else { return }
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let poison = ["LTH_FAULT_CRASH_TRIAL": "seed=1"]
            let coordinator = try cluster.coordinator()
            var workers = [
                "a": try cluster.worker("a", environment: poison), "b": try cluster.worker("b", environment: poison),
            ]
            var crashes = 0
            // The restart loop a supervisor (systemd, Slurm) would be: respawn a crashed worker, at most 8 times.
            while coordinator.process.isRunning, crashes <= 8 {
                for (name, child) in workers where !child.process.isRunning {
                    let status = child.process.terminationStatus
                    if status == 0 { continue }  // ended normally after SHUTDOWN
                    #expect(status == 134, "a crash on purpose, nothing else: \(child.output)")
                    crashes += 1
                    workers[name] = try cluster.worker(name, environment: poison)
                }
                usleep(50_000)
            }
            let status = coordinator.wait(seconds: 240)
            #expect(status == 1, "\(cluster.logs)")
            #expect(crashes == 3, "one crash per try: \(crashes)")
            let trials = try readCSV(cluster.out.appendingPathComponent("trials.csv"))
            let failed = trials.filter { $0["seed"] == "1" }
            let healthy = trials.filter { $0["seed"] == "0" }
            #expect(failed.count == 1 && failed.first?["status"] == "failed")
            #expect(failed.first?["reason"]?.contains("3 bad ends in a row") == true, "\(failed)")
            #expect(healthy.count == 1 && healthy.first?["status"] == "done")
            if let id = failed.first?["trial_id"] {
                #expect(coordinator.output.contains("failed: \(id)"), "the summary names the failed trial")
            }
            try FaultSweep.expectMatchesReference(cluster.out, only: Set(healthy.compactMap { $0["trial_id"] }))
            cluster.stopAll()

            // A plain re-run leaves the failed trial failed; `--retry-failed` (the cause fixed: no poison) queues it
            // again and the sweep ends with the reference numbers.
            let plain = try cluster.coordinator()
            #expect(plain.wait(seconds: 60) == 1, "\(cluster.logs)")
            #expect(
                try readCSV(cluster.out.appendingPathComponent("trials.csv")).filter { $0["status"] == "failed" }.count
                    == 1)
            let retry = try cluster.coordinator(["--retry-failed"])
            _ = try cluster.worker("a")
            #expect(retry.wait(seconds: 240) == 0, "\(cluster.logs)")
            #expect(retry.output.contains("--retry-failed: 1 failed trial(s) queued again"), "\(retry.output)")
            try FaultSweep.expectMatchesReference(cluster.out)
            let retried = try cluster.store().events().filter { $0.kind == "retried" }
            #expect(retried.map(\.trialID) == failed.map { $0["trial_id"] })
        }
    }

    /// The results folder on a 4 MiB tmpfs that fills up mid-sweep: the coordinator stops accepting results and
    /// exits 1 naming the folder and "No space left"; results.db passes `PRAGMA integrity_check` and every
    /// recorded round reads back; after space is freed a restart completes the sweep with identical results.
    @Test func fullDiskStopsTheCoordinatorWithoutDamage() throws {
        guard let bin = Binaries.require("fullDiskStopsTheCoordinatorWithoutDamage") else { return }
        try withTemporaryDirectory { dir in
            let mountPoint = dir.appendingPathComponent("small")
            try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
            guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint.path]) == 0 else {
                print(
                    "fullDiskStopsTheCoordinatorWithoutDamage: skipped: cannot mount a tmpfs here (not root?); StoreErrorTests cover store errors in-process"
                )
                return
            }
            defer { _ = run("/bin/umount", ["-l", mountPoint.path]) }
            let cluster = try FaultCluster(dir, bin: bin, out: mountPoint.appendingPathComponent("out"))
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            _ = try cluster.worker("a")
            _ = try cluster.worker("b")
            #expect(coordinator.waitForOutput("round 1 of", seconds: 120), "\(cluster.logs)")
            let filler = mountPoint.appendingPathComponent("filler")
            let filled = fill(filler)
            #expect(filled > 0)
            #expect(coordinator.wait(seconds: 120) == 1, "\(cluster.logs)")
            let output = coordinator.output
            #expect(output.contains("No space left"), "\(output)")
            #expect(output.contains(cluster.out.path), "the message names the folder: \(output)")
            for line in output.split(separator: "\n") where line.contains("No space left") {
                print("fullDiskStopsTheCoordinatorWithoutDamage: \(line)")
            }
            cluster.stopAll()
            try FileManager.default.removeItem(at: filler)

            do {
                let store = try cluster.store()
                #expect(try store.integrityCheck() == "ok")
                let recovered = try store.recoveredState()
                var readBack = 0
                for trial in recovered.trials {
                    for round in 0..<(trial.lastRecordedRound.map { $0 + 1 } ?? 0) {  // none: no round yet
                        #expect(try store.maskBytes(trialID: trial.id, round: round) != nil)
                        readBack += 1
                    }
                }
                #expect(readBack >= 1, "rounds recorded before the disk filled read back")
                print(
                    "fullDiskStopsTheCoordinatorWithoutDamage: \(filled) filler bytes; \(readBack) recorded round(s) intact"
                )
            }
            let again = try cluster.coordinator()
            _ = try cluster.worker("a")
            _ = try cluster.worker("b")
            #expect(again.wait(seconds: 240) == 0, "\(cluster.logs)")
            try FaultSweep.expectMatchesReference(cluster.out)
            cluster.stopAll()
        }
    }

    /// SHUTDOWN drain stops a trial mid-round (training checks for it every 100 iterations): with rounds far longer
    /// than the test's bound, an interrupted coordinator's worker still gives its trial back and exits 0.
    @Test func drainStopsTrainingMidRound() throws {
        guard let bin = Binaries.require("drainStopsTrainingMidRound") else { return }
        try withTemporaryDirectory { dir in
            // One round would take minutes (release) to hours (debug): the worker can only leave in time by stopping
            // mid-round.
            let long = FaultSweep.yaml.replacingOccurrences(of: "iterations: 1000", with: "iterations: 2000000")
                .replacingOccurrences(of: "eval_every: 500", with: "eval_every: 1000000")
            let cluster = try FaultCluster(dir, bin: bin, yaml: long)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            let worker = try cluster.worker("a")
            #expect(coordinator.waitForOutput("started on a", seconds: 60), "\(cluster.logs)")
            #expect(worker.waitForOutput("trial starts", seconds: 60), "\(cluster.logs)")
            usleep(300_000)
            coordinator.terminate()
            #expect(worker.wait(seconds: 60) == 0, "the worker stopped mid-round and left: \(cluster.logs)")
            #expect(worker.output.contains("trial stopped"), "\(worker.output)")
            #expect(coordinator.wait(seconds: 60) == 1, "interrupted: run again to resume")
            #expect(coordinator.output.contains("gave back 1 trial"), "\(coordinator.output)")
        }
    }
}

/// Runs a program to its end; its exit status.
func run(_ path: String, _ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// Writes zeros to `file` until the file system is full (ENOSPC); the bytes written.
func fill(_ file: URL) -> Int {
    let fd = open(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    let block = [UInt8](repeating: 0, count: 16_384)
    var total = 0
    for _ in 0..<100_000 {
        let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written <= 0 { break }
        total += written
    }
    return total
}
