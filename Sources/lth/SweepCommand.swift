import ArgumentParser
import Foundation
import Logging
import LotteryCLI
import LotteryCoordinator
import LotterySweepCLI
import LotteryCore
import LotteryWire
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `lth sweep SPEC.yaml [--workers N] [--out DIR]`: the whole sweep on this machine, with encryption on.
///
/// Generates CURVE keys into `DIR/keys` (the coordinator's pair and one worker pair, allow-listed), runs the
/// coordinator in this process on `tcp://127.0.0.1` (a random port), starts N `lth-worker` processes (found next
/// to `lth`) with their output in `DIR/logs/worker-K.log`, waits until every trial has ended, stops the workers
/// (SIGTERM, then SIGKILL after a grace period) and prints the summary. The same `--out` again resumes.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a sweep on this machine: a coordinator plus local lth-worker processes.",
        discussion: """
            Results go to --out (default results/<sweep name>): rounds.csv, curves.csv, trials.csv, masks/, \
            results.db; then run `lth report DIR`. Running the same command again resumes an interrupted sweep; \
            trials that failed stay failed unless --retry-failed. One sweep per results folder at a time: a second \
            `lth sweep` on the same --out refuses to start. For many hosts run lth-coordinator and lth-worker \
            yourself (docs/zeromq.md for keys).
            """
    )

    @OptionGroup var sweep: SweepOptions

    @Option(help: "Worker processes to start (default: one per core).")
    var workers: Int?

    @Option(name: .customLong("slots-per-worker"), help: "Trials each worker trains at once.")
    var slotsPerWorker: Int = 1

    @Option(
        help:
            "Threads per trial for networks with convolutions (default: one per core when the sweep has fewer trials than cores, else 1; LeNet trials always train on one). The numbers do not depend on it."
    )
    var trialThreads: Int?

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1, got \(workers)") }
        guard slotsPerWorker >= 1 else { throw ValidationError("--slots-per-worker must be at least 1") }
        if let trialThreads, trialThreads < 1 { throw ValidationError("--trial-threads must be at least 1") }
    }

    func run() throws {
        sweep.bootstrapLogging()
        let logger = Logger(label: "lth.sweep")
        let plan: SweepPlan
        do {
            plan = try sweep.loadPlan()
        } catch {
            throw SweepError("\(error)")
        }
        let outDirectory = sweep.outDirectory(for: plan)
        let dataDirectory = sweep.dataDirectory
        let workerBinary = try Self.workerBinary()
        // Before anything is written into the folder: a second `lth sweep` on it stops here; then what the spec asks
        // for, and what it does to a sweep already in the folder (more trials, or changed ones).
        let lock: ResultsFolderLock
        do {
            lock = try sweep.lockAndPreview(plan, in: outDirectory)
        } catch {
            throw SweepError("\(error)")
        }
        let keys = outDirectory.appendingPathComponent("keys", isDirectory: true)
        let logs = outDirectory.appendingPathComponent("logs", isDirectory: true)
        let cache = outDirectory.appendingPathComponent("cache", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            try Self.ensureKeys(keys)
            try Self.seedCache(cache, plan: plan, dataDirectory: dataDirectory)
        } catch let error as SweepError {
            throw error
        } catch {
            throw SweepError("cannot prepare \(outDirectory.path): \(error)")
        }

        var config = CoordinatorConfig(
            specPath: sweep.spec, bind: "tcp://127.0.0.1:0", outputDirectory: outDirectory, keysDirectory: keys,
            dataDirectory: dataDirectory, heartbeatInterval: sweep.heartbeatInterval,
            retryFailed: sweep.retryFailed, folderLock: lock)
        config.maxTrials = sweep.maxTrials
        let coordinator = Coordinator.start(config, logger: Logger(label: "lth.coordinator"))
        let endpoint: String
        switch coordinator.waitUntilListening() {
        case .success(let bound): endpoint = bound
        case .failure(let error):
            _ = coordinator.wait()
            throw SweepError(error.description)
        }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = trialThreads ?? Self.defaultTrialThreads(plan: plan, cores: cores)
        // Conv trials on several threads each: fewer workers, so the cores are not oversubscribed.
        let count = workers ?? max(1, cores / threads)
        var processes: [Process] = []
        for index in 1...count {
            let log = logs.appendingPathComponent("worker-\(index).log")
            do {
                processes.append(
                    try Self.startWorker(
                        binary: workerBinary, index: index, endpoint: endpoint, keys: keys, cache: cache,
                        slots: slotsPerWorker, trialThreads: threads, heartbeatMilliseconds: sweep.heartbeatMilliseconds,
                        log: log))
            } catch {
                coordinator.stop(reason: "cannot start worker \(index)")
                Self.stop(processes)
                _ = coordinator.wait()
                throw SweepError("cannot start \(workerBinary.path): \(error)")
            }
        }
        logger.info(
            "started \(count) lth-worker process(es) on \(endpoint), \(threads) thread(s) per conv trial (logs in \(logs.path)/worker-K.log)")

        let signals = Self.installSignalHandlers(coordinator)
        let result = coordinator.wait()
        withExtendedLifetime(signals) {}
        Self.stop(processes)
        switch result {
        case .success(let summary):
            print(summary)
            print("  open: \(outDirectory.path)/rounds.csv")
            if summary.exitStatus != 0 { throw ExitCode(summary.exitStatus) }
        case .failure(let error):
            throw SweepError(error.description)
        }
    }

    /// `lth-worker` in the folder of the running `lth` (both are built into the same bin folder).
    static func workerBinary() throws -> URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidates = [me, Bundle.main.executableURL].compactMap { $0 }.map {
            $0.deletingLastPathComponent().appendingPathComponent("lth-worker")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        throw SweepError(
            "lth-worker not found next to lth (\(candidates.first?.path ?? "?")): build it with `swift build -c release`"
        )
    }

    /// Keys for a local sweep: `server` (the coordinator) and `worker` (shared by the local workers), the
    /// worker's public key allow-listed in `keys/workers/`. Existing keys are kept (a resumed sweep reuses them).
    static func ensureKeys(_ keys: URL) throws {
        let fileManager = FileManager.default
        let allowList = URL(fileURLWithPath: CoordinatorConfig.allowListPath(keys), isDirectory: true)
        try fileManager.createDirectory(
            at: allowList, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in ["server", "worker"] {
            let paths = CurveKeyPair.paths(directory: keys.path, name: name)
            if fileManager.fileExists(atPath: paths.secretKey), fileManager.fileExists(atPath: paths.publicKey) {
                continue
            }
            _ = try CurveKeyPair.generate().save(directory: keys.path, name: name, overwrite: true)
        }
        let workerPublic = CurveKeyPair.paths(directory: keys.path, name: "worker").publicKey
        let allowed = allowList.appendingPathComponent("worker.key")
        try? fileManager.removeItem(at: allowed)
        try fileManager.copyItem(atPath: workerPublic, toPath: allowed.path)
    }

    /// Pre-installs each dataset in the workers' cache folder (`cache/<dataset>/` with symbolic links to the IDX
    /// files, and the `.bundle-sha256` marker of the bundle the coordinator serves), so local workers need not
    /// download what is already on this disk. Never writes into the data folder itself. Synthetic trials need none.
    static func seedCache(_ cache: URL, plan: SweepPlan, dataDirectory: URL) throws {
        let fileManager = FileManager.default
        for name in Set(plan.trials.filter { $0.spec.synthetic == nil }.map(\.spec.dataset)).sorted() {  // synthetic: no data
            let bundle: [UInt8]
            do {
                bundle = try DatasetBundle.packDirectory(dataDirectory, dataset: name)
            } catch {
                throw SweepError("\(error)")
            }
            let checksum = DatasetBundle.checksum(bundle)
            let folder = cache.appendingPathComponent(name, isDirectory: true)
            let marker = folder.appendingPathComponent(".bundle-sha256")
            if let text = try? String(contentsOf: marker, encoding: .utf8),
                text.trimmingCharacters(in: .whitespacesAndNewlines) == checksum
            {
                continue
            }
            try? fileManager.removeItem(at: folder)
            try fileManager.createDirectory(at: folder, withIntermediateDirectories: true)
            let source = dataDirectory.appendingPathComponent(name, isDirectory: true).standardizedFileURL
            for file in DatasetBundle.idxFileNames {
                let target = source.appendingPathComponent(file)
                let absolute =
                    target.path.hasPrefix("/")
                    ? target.path : fileManager.currentDirectoryPath + "/" + target.path
                try fileManager.createSymbolicLink(
                    atPath: folder.appendingPathComponent(file).path, withDestinationPath: absolute)
            }
            try Data((checksum + "\n").utf8).write(to: marker, options: .atomic)
        }
    }

    static func startWorker(
        binary: URL, index: Int, endpoint: String, keys: URL, cache: URL, slots: Int, trialThreads: Int,
        heartbeatMilliseconds: Int, log: URL
    ) throws -> Process {
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        output.seekToEndOfFile()
        let process = Process()
        process.executableURL = binary
        process.arguments = [
            "--connect", endpoint, "--keys", keys.path, "--name", "worker-\(index)", "--slots", "\(slots)",
            "--data-dir", cache.path, "--heartbeat-ms", "\(heartbeatMilliseconds)", "--trial-threads", "\(trialThreads)",
        ]
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Threads per conv trial when `--trial-threads` is not given: a sweep with at least as many top-level trials
    /// as cores keeps every core busy with one trial each (the most trials per hour: no thread waits on another);
    /// one with fewer trials (a single Conv-6 trial, a 2-seed pilot) gives each trial the cores it would otherwise
    /// leave idle. LeNet sweeps: 1 (an MLP trains on one thread).
    static func defaultTrialThreads(plan: SweepPlan, cores: Int) -> Int {
        let specs = plan.trials.map(\.spec)
        guard specs.contains(where: { (try? $0.architecture())?.hasConvolutions ?? false }) else { return 1 }
        return max(1, cores / max(1, min(cores, specs.count)))
    }

    /// SIGTERM to every worker still running, then SIGKILL to those still there after 10 s.
    static func stop(_ processes: [Process]) {
        for process in processes where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        while processes.contains(where: \.isRunning), Date() < deadline { usleep(50_000) }
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// SIGINT/SIGTERM: the first drains the sweep (resumable); a second exits at once.
    static func installSignalHandlers(_ coordinator: Coordinator) -> [any DispatchSourceSignal] {
        StopSignals.install(label: "lth.sweep.signals") { name in
            coordinator.stop(reason: "interrupted (\(name)); run again to resume")
        }
    }
}

/// A one-line `lth sweep` failure; ArgumentParser prints it as `Error: …`.
struct SweepError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
