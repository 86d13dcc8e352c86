import ArgumentParser
import Foundation
import Logging
import LotteryCoordinator

#if canImport(Glibc)
    import Glibc
#endif

/// `lth bench sweep`: coordinator throughput and scheduling quality with synthetic trials (no training).
///
/// Measurements, never tests. The coordinator runs in this process (so `getrusage` here is the coordinator's
/// CPU and peak RSS: this process does nothing else while the sweep runs); the workers are `lth-worker`
/// processes, each running `--instances K` logical workers (one `Worker`, one DEALER connection, one HELLO
/// each), so a 2-core machine can show the coordinator hundreds of workers.
struct BenchSweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Coordinator throughput: rounds/s, scheduling efficiency, READY→TASK delay, CPU, RSS, bytes/round.",
        discussion: """
            Runs a synthetic sweep (synthetic.round_ms: each round sleeps and sends a random nested LeNet-300-100 \
            mask; the T trials share 8, 4, 2 or 1 mask ladders, the largest that divides T, so the workers encode \
            each mask once) of T trials × R rounds on W logical workers with one slot each, coordinator in-process on \
            loopback (plain TCP, or CURVE with --curve), results in a temporary folder (or --out). \
            Ideal makespan = ceil(T/W)·R·M; efficiency = ideal / (last result recorded − first TASK sent). \
            The workers share this machine's cores with the coordinator: on a small machine they, not the \
            coordinator, may be the bottleneck — compare the coordinator's CPU seconds with the wall time.
            """
    )

    @Option(help: "Logical workers (W), one slot each.")
    var workers: Int

    @Option(help: "Trials (T).")
    var trials: Int

    @Option(name: .customLong("round-ms"), help: "Milliseconds each synthetic round sleeps (M).")
    var roundMilliseconds: Int

    @Option(help: "Rounds per trial (R).")
    var rounds: Int = 3

    @Option(name: .customLong("workers-per-process"), help: "Logical workers per lth-worker process (K).")
    var workersPerProcess: Int = 32

    @Flag(help: "CURVE-encrypt the connections (keys generated in the results folder).")
    var curve = false

    @Option(name: .customLong("heartbeat-ms"), help: "Heartbeat interval of coordinator and workers.")
    var heartbeatMilliseconds: Int = 1000

    @Option(help: "Keep the results folder here (default: a temporary folder, removed afterwards).")
    var out: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard workers >= 1, trials >= 1, rounds >= 1, workersPerProcess >= 1 else {
            throw ValidationError("--workers, --trials, --rounds and --workers-per-process must be at least 1")
        }
        guard roundMilliseconds >= 0 else { throw ValidationError("--round-ms must be ≥ 0") }
    }

    struct Report: Codable {
        var workers: Int
        var trials: Int
        var roundMilliseconds: Int
        var rounds: Int
        var workersPerProcess: Int
        var processes: Int
        var curve: Bool
        var roundsRecorded: Int
        var makespanSeconds: Double
        var idealMakespanSeconds: Double
        var efficiency: Double
        var roundsPerSecond: Double
        /// Rounds per second until the audit had decoded every mask (≤ roundsPerSecond).
        var auditedRoundsPerSecond: Double?
        var readyToTaskP50Milliseconds: Double?
        var readyToTaskP99Milliseconds: Double?
        var readyToTaskCount: Int
        var coordinatorCPUSeconds: Double
        var coordinatorPeakRSSMiB: Double
        var storeSecondsPerRound: Double
        var checkSecondsPerRound: Double
        var bytesPerRound: Double
        var fastPathResults: Int
        var loopCPUSecondsPerRound: Double
        var auditedMasks: Int
        var auditLanes: Int
        var auditSecondsPerMask: Double
        var auditWaitSeconds: Double
        var auditLagSeconds: Double?
        var maskLadders: Int
        var maskBytes: Int
        var databaseBytes: Int
        var loadBefore: String
        var loadAfter: String
        var exitStatus: Int32
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let fileManager = FileManager.default
        let temporary = out == nil
        let root =
            out.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? fileManager.temporaryDirectory.appendingPathComponent("lth-bench-sweep-\(UUID().uuidString)")
        try fileManager.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if temporary { try? fileManager.removeItem(at: root) } }
        let results = root.appendingPathComponent("results", isDirectory: true)
        let logs = root.appendingPathComponent("logs", isDirectory: true)
        try fileManager.createDirectory(at: logs, withIntermediateDirectories: true)
        let spec = root.appendingPathComponent("bench.yaml")
        // Masks follow the seed: trials share `ladders` seeds (and differ by a key synthetic rounds ignore), so
        // the workers, which share this machine's cores with the coordinator, encode each mask once (their cache)
        // instead of drowning the coordinator's core. The coordinator still checks and stores every result.
        let ladders = Self.maskLadders(trials: trials)
        let variants = (0..<(trials / ladders)).map { String(1000 + $0) }.joined(separator: ", ")
        try """
        name: bench
        base:
          synthetic:
            round_ms: \(roundMilliseconds)
          prune:
            rounds: \(rounds - 1)
        grid:
          train.iterations: [\(variants)]
        seeds: \(ladders)

        """.write(to: spec, atomically: true, encoding: .utf8)
        let keys = root.appendingPathComponent("keys", isDirectory: true)
        if curve { try SweepCommand.ensureKeys(keys) }

        let loadBefore = Self.loadAverage()
        let usageBefore = Self.usage()
        var config = CoordinatorConfig(
            specPath: spec.path, bind: "tcp://127.0.0.1:0", outputDirectory: results,
            keysDirectory: curve ? keys : nil, dataDirectory: root.appendingPathComponent("no-data"),
            heartbeatInterval: Double(heartbeatMilliseconds) / 1000, progressStyle: .logLines)
        config.maxTrials = max(trials, SweepLoader.defaultMaxTrials)  // --trials is the limit asked for
        let coordinator = Coordinator.start(config, logger: Logger(label: "lth.bench.coordinator"))
        let endpoint: String
        switch coordinator.waitUntilListening() {
        case .success(let bound): endpoint = bound
        case .failure(let error):
            _ = coordinator.wait()
            throw SweepError(error.description)
        }

        let binary = try SweepCommand.workerBinary()
        var processes: [Process] = []
        var remaining = workers
        var index = 0
        while remaining > 0 {
            index += 1
            let count = min(workersPerProcess, remaining)
            remaining -= count
            let log = logs.appendingPathComponent("worker-\(index).log")
            _ = fileManager.createFile(atPath: log.path, contents: nil)
            let output = try FileHandle(forWritingTo: log)
            let process = Process()
            process.executableURL = binary
            process.arguments =
                [
                    "--connect", endpoint, "--name", "bench-\(index)", "--slots", "1", "--instances", "\(count)",
                    "--data-dir", root.appendingPathComponent("cache").path, "--heartbeat-ms",
                    "\(heartbeatMilliseconds)", "--log-level", "warning",
                ] + (curve ? ["--keys", keys.path] : [])
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                coordinator.stop(reason: "cannot start worker process \(index)")
                SweepCommand.stop(processes)
                _ = coordinator.wait()
                throw SweepError("cannot start \(binary.path): \(error)")
            }
            processes.append(process)
        }

        let result = coordinator.wait()
        let usageAfter = Self.usage()
        let loadAfter = Self.loadAverage()
        // Workers exit on SHUTDOWN finish; give them a moment before SIGTERM.
        let deadline = Date().addingTimeInterval(5)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(50_000) }
        SweepCommand.stop(processes)
        let summary: CoordinatorSummary
        switch result {
        case .success(let s): summary = s
        case .failure(let error): throw SweepError(error.description)
        }

        let stats = summary.stats
        let makespan = (stats.lastRecordAt ?? 0) - (stats.firstTaskAt ?? 0)
        let waves = (trials + workers - 1) / workers
        let ideal = Double(waves * rounds * roundMilliseconds) / 1000
        let maskBytes = Self.treeBytes(results.appendingPathComponent("masks"))
        let databaseBytes = ["results.db", "results.db-wal", "results.db-shm"].reduce(0) {
            $0 + Self.fileBytes(results.appendingPathComponent($1))
        }
        let recorded = max(1, stats.roundsRecorded)
        let report = Report(
            workers: workers, trials: trials, roundMilliseconds: roundMilliseconds, rounds: rounds,
            workersPerProcess: workersPerProcess, processes: processes.count, curve: curve,
            roundsRecorded: stats.roundsRecorded, makespanSeconds: makespan, idealMakespanSeconds: ideal,
            efficiency: makespan > 0 ? ideal / makespan : 0,
            roundsPerSecond: makespan > 0 ? Double(stats.roundsRecorded) / makespan : 0,
            auditedRoundsPerSecond: stats.auditDoneAt.flatMap { done in
                let span = max(done, stats.lastRecordAt ?? done) - (stats.firstTaskAt ?? 0)
                return span > 0 ? Double(stats.roundsRecorded) / span : nil
            },
            readyToTaskP50Milliseconds: stats.readyToTaskQuantile(0.5).map { $0 * 1000 },
            readyToTaskP99Milliseconds: stats.readyToTaskQuantile(0.99).map { $0 * 1000 },
            readyToTaskCount: stats.readyToTask.count,
            coordinatorCPUSeconds: usageAfter.cpu - usageBefore.cpu, coordinatorPeakRSSMiB: usageAfter.peakRSSMiB,
            storeSecondsPerRound: stats.storeSeconds / Double(recorded),
            checkSecondsPerRound: stats.checkSeconds / Double(recorded),
            bytesPerRound: Double(maskBytes + databaseBytes) / Double(recorded),
            fastPathResults: stats.fastPathResults, loopCPUSecondsPerRound: stats.loopCPUSeconds / Double(recorded),
            auditedMasks: stats.auditedMasks, auditLanes: stats.auditLanes,
            auditSecondsPerMask: stats.auditSeconds / Double(max(1, stats.auditedMasks)),
            auditWaitSeconds: stats.auditWaitSeconds,
            auditLagSeconds: stats.auditDoneAt.flatMap { done in stats.lastRecordAt.map { max(0, done - $0) } },
            maskLadders: ladders, maskBytes: maskBytes,
            databaseBytes: databaseBytes, loadBefore: loadBefore, loadAfter: loadAfter,
            exitStatus: summary.exitStatus)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(Self.table(report))
        }
        if summary.exitStatus != 0 {
            print(summary)
            throw ExitCode(summary.exitStatus)
        }
    }

    static func table(_ r: Report) -> String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%.2f ms", $0) } ?? "–" }
        return [
            "bench sweep: W=\(r.workers) (\(r.processes) process(es) × ≤\(r.workersPerProcess)), T=\(r.trials), "
                + "M=\(r.roundMilliseconds) ms, R=\(r.rounds), \(r.curve ? "CURVE" : "plain TCP")",
            String(
                format: "  rounds recorded     %d in %.2f s → %.1f rounds/s (%@ until every mask was audited)",
                r.roundsRecorded, r.makespanSeconds, r.roundsPerSecond,
                r.auditedRoundsPerSecond.map { String(format: "%.1f/s", $0) } ?? "–"),
            String(
                format: "  efficiency          %.1f%% (ideal %.2f s = ceil(T/W)·R·M)", r.efficiency * 100,
                r.idealMakespanSeconds),
            "  READY→TASK          p50 \(ms(r.readyToTaskP50Milliseconds)), p99 \(ms(r.readyToTaskP99Milliseconds)) "
                + "(\(r.readyToTaskCount) TASKs)",
            String(
                format:
                    "  coordinator         %.2f CPU s, peak RSS %.1f MiB; per round: loop thread %.3f ms CPU, "
                    + "store %.2f ms, mask checks %.3f ms (wall)",
                r.coordinatorCPUSeconds, r.coordinatorPeakRSSMiB, r.loopCPUSecondsPerRound * 1000,
                r.storeSecondsPerRound * 1000, r.checkSecondsPerRound * 1000),
            String(
                format:
                    "  mask audit          %d of %d results on the fast path; %d next masks decoded on %d thread(s), "
                    + "%.2f ms CPU each; coordinator waited %.2f s for it; done %@ after the last record",
                r.fastPathResults, r.roundsRecorded, r.auditedMasks, r.auditLanes, r.auditSecondsPerMask * 1000,
                r.auditWaitSeconds, r.auditLagSeconds.map { String(format: "%.2f s", $0) } ?? "–"),
            String(
                format: "  bytes written       %.0f per round (masks %d B, results.db %d B)", r.bytesPerRound,
                r.maskBytes, r.databaseBytes),
            "  load average        before \(r.loadBefore); after \(r.loadAfter)",
        ].joined(separator: "\n")
    }

    /// How many distinct mask ladders (seeds) the T trials share: the largest of 8, 4, 2, 1 dividing T.
    static func maskLadders(trials: Int) -> Int {
        [8, 4, 2, 1].first { trials % $0 == 0 }!
    }

    /// CPU seconds (user + system) of this process so far, and its peak RSS.
    static func usage() -> (cpu: Double, peakRSSMiB: Double) {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return (seconds(usage.ru_utime) + seconds(usage.ru_stime), Double(usage.ru_maxrss) / 1024)
    }

    /// `/proc/loadavg`'s three averages (what `uptime` prints).
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func fileBytes(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    static func treeBytes(_ url: URL) -> Int {
        guard let files = FileManager.default.enumerator(atPath: url.path) else { return 0 }
        var total = 0
        for case let path as String in files { total += fileBytes(url.appendingPathComponent(path)) }
        return total
    }
}
