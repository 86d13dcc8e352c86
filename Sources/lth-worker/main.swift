import ArgumentParser
import Dispatch
import Foundation
import Logging
import LotteryCLI
import LotteryCore
import LotteryWorker
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `lth-worker`: connects to a coordinator and trains the trials it hands out. Parsing and wiring only;
/// the runtime is `LotteryWorker.Worker` (docs/worker.md).
struct LTHWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lth-worker",
        abstract: "Train IMP trials for an lth-coordinator (one trial per slot, single-threaded BLAS each).",
        discussion: "SIGTERM or Ctrl-C gives running trials back to the coordinator and exits 0. See docs/worker.md."
    )

    @Option(help: "Coordinator endpoint, e.g. tcp://head-node:5555.")
    var connect: String

    @Option(
        help:
            "Folder with this worker's key pair (worker.key_secret or the only *.key_secret) and the coordinator's public key (server.key). Without it the connection is plain: the coordinator must be --insecure or on loopback."
    )
    var keys: String?

    @Option(help: "Trials trained at once (default: one per core).")
    var slots: Int?

    @Option(
        help:
            "Threads per trial with convolutions (conv2/4/6; a LeNet trial trains on one). The numbers do not depend on it. (default: 1)"
    )
    var trialThreads: Int = 1

    @Option(
        help:
            "Worker name shown by the coordinator (default: host name). Names may repeat: each process is its own worker, shown as NAME, NAME#2, …"
    )
    var name: String?

    @Option(name: .customLong("data-dir"), help: "Dataset cache folder (default: $LTH_DATA_DIR or ./data).")
    var dataDir: String?

    @Option(name: .customLong("heartbeat-ms"), help: "Heartbeat interval in milliseconds.")
    var heartbeatMilliseconds: Int = 1000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    /// Benchmarks only (`lth bench sweep`): K logical workers in this process, each its own `Worker` (own DEALER
    /// connection, own HELLO `NAME-i` and instance id, own I/O thread), so a 2-core machine can present hundreds
    /// of workers to a coordinator. They are meant for synthetic trials: real training would oversubscribe cores.
    @Option(help: .hidden)
    var instances: Int = 1

    func validate() throws {
        guard connect.contains("://") else {
            throw ValidationError("--connect \(connect): expected e.g. tcp://host:5555")
        }
        if let slots, slots < 1 { throw ValidationError("--slots must be at least 1, got \(slots)") }
        guard trialThreads >= 1 else { throw ValidationError("--trial-threads must be at least 1, got \(trialThreads)") }
        guard heartbeatMilliseconds >= 10 else {
            throw ValidationError("--heartbeat-ms must be at least 10, got \(heartbeatMilliseconds)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): unknown level")
        }
        if let name, name.isEmpty { throw ValidationError("--name must not be empty") }
        guard instances >= 1 else { throw ValidationError("--instances must be at least 1, got \(instances)") }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        setenv("OPENBLAS_NUM_THREADS", "1", 1)  // for anything this process starts; the worker also sets it in-process

        var config = WorkerConfig(
            endpoint: connect, dataDirectory: dataDir ?? DataStore.defaultDirectory())
        if let slots { config.slots = slots }
        config.trialThreads = trialThreads
        if let name { config.name = name }
        config.heartbeatMilliseconds = heartbeatMilliseconds
        config.buildID = HostFacts.buildID()
        // Testing hook (docs/worker.md): crash on purpose when starting this trial; inert when unset or empty.
        if let fault = ProcessInfo.processInfo.environment["LTH_FAULT_CRASH_TRIAL"], !fault.isEmpty {
            config.faultCrashTrial = fault
        }
        do {
            if let keys { config.curve = try WorkerConfig.Curve.load(directory: keys, name: config.name) }
        } catch {
            throw Failure(message: "\(error)")
        }

        if instances > 1 { return try runInstances(config) }
        let worker = Worker(config: config, logger: Logger(label: "lth-worker"))
        let signals = installSignalHandlers([worker])
        defer { withExtendedLifetime(signals) {} }
        do {
            _ = try worker.run()
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    /// `--instances K`: K workers `NAME-1 … NAME-K` on their own threads; returns when all have exited, and fails if
    /// any failed (with the first error).
    private func runInstances(_ base: WorkerConfig) throws {
        let workers = (1...instances).map { index in
            var config = base
            config.name = "\(base.name)-\(index)"
            config.instanceID = HostFacts.randomInstanceID()
            return Worker(config: config, logger: Logger(label: "lth-worker.\(index)"))
        }
        let signals = installSignalHandlers(workers)
        defer { withExtendedLifetime(signals) {} }
        let failures = FailureBox()
        let group = DispatchGroup()
        for worker in workers {
            group.enter()
            let thread = Thread {
                do { _ = try worker.run() } catch { failures.record("\(worker.config.name): \(error)") }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        if let first = failures.first { throw Failure(message: first) }
    }

    /// SIGTERM/SIGINT: the first asks the workers to give their trials back and leave; a second exits at once.
    private func installSignalHandlers(_ workers: [Worker]) -> [any DispatchSourceSignal] {
        StopSignals.install(label: "lth-worker.signals") { name in
            for worker in workers { worker.stop(reason: name) }
        }
    }
}

/// The first failure among `--instances` workers (written from their threads).
private final class FailureBox: Sendable {
    private let messages = Mutex<[String]>([])
    func record(_ message: String) { messages.withLock { $0.append(message) } }
    var first: String? { messages.withLock { $0.first } }
}

/// A one-line error for the user: `lth-worker: <message>`, exit code 1, no stack trace.
private struct Failure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

// OpenBLAS kernels this CPU can run, before any training (the environment passes on to trial threads).
BLASCore.restartIfNeeded(preferred: BLAS.preferredCoreType)

do {
    let command = try LTHWorker.parse()
    try command.run()
} catch let failure as Failure {
    FileHandle.standardError.write(Data("lth-worker: \(failure.message)\n".utf8))
    exit(1)
} catch {
    LTHWorker.exit(withError: error)
}
