import ArgumentParser
import Dispatch
import Foundation
import Logging
import LotteryCLI
import LotteryCoordinator

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `lth-coordinator`: serves a sweep to `lth-worker`s over ZeroMQ and writes the results folder.
/// Parsing and wiring only; the runtime is `LotteryCoordinator.Coordinator`.
struct LTHCoordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lth-coordinator",
        abstract: "Serve a sweep of IMP trials to lth-worker processes and record their results.",
        discussion: """
            Restarting on the same --out resumes: recorded rounds are never recomputed; trials that failed stay \
            failed unless --retry-failed. One coordinator per results folder: a second one on the same --out \
            refuses to start (the lock is DIR/.lock, released when the coordinator exits or dies). Ctrl-C or \
            SIGTERM asks the workers to drain, records what arrives, rebuilds the CSVs and exits 1.
            Keys (--keys DIR): DIR/server.key_secret is the coordinator's pair (`lth keygen DIR --name server`); \
            DIR/workers/NAME.key holds the public key of every worker allowed in, NAME being its identity in \
            logs and CSVs. Give DIR/server.key to the workers. Without --keys only a loopback bind is allowed, \
            unless --insecure.
            """
    )

    @Argument(help: "The sweep spec (YAML, docs/sweep-spec.md).")
    var spec: String

    @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://*:5555 or tcp://127.0.0.1:5555.")
    var bind: String = "tcp://*:5555"

    @Option(help: "Results folder (default: results/<sweep name>).")
    var out: String?

    @Option(help: "CURVE keys folder: server.key_secret and workers/*.key (allow-list).")
    var keys: String?

    @Flag(help: "Allow a non-loopback bind without CURVE keys (trusted networks only).")
    var insecure = false

    @Option(name: .customLong("data-dir"), help: "Folder with <dataset>/ IDX files (default: $LTH_DATA_DIR or ./data).")
    var dataDir: String?

    @Option(name: .customLong("heartbeat-ms"), help: "Heartbeat interval in milliseconds (workers die after 3 silent).")
    var heartbeatMilliseconds: Int = 1000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(
        name: .customLong("retry-failed"),
        help: "Queue the trials that failed on an earlier run again; they resume after their recorded rounds.")
    var retryFailed = false

    @Option(
        name: .customLong("max-trials"),
        help: ArgumentHelp(
            "Refuse a spec that expands to more top-level trials than this (checked before anything is expanded).",
            valueName: "N"))
    var maxTrials: Int = SweepLoader.defaultMaxTrials

    func validate() throws {
        guard maxTrials >= 1 else { throw ValidationError("--max-trials must be at least 1, got \(maxTrials)") }
        guard bind.contains("://") else { throw ValidationError("--bind \(bind): expected e.g. tcp://*:5555") }
        guard heartbeatMilliseconds >= 10 else {
            throw ValidationError("--heartbeat-ms must be at least 10, got \(heartbeatMilliseconds)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): unknown level")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        // Before anything is registered: what the spec asks for, or why it is refused (a typo that asks for
        // millions of trials is caught from the grid's shape, without expanding it).
        let plan: SweepPlan
        do {
            plan = try loadSweep(path: spec, maxTrials: maxTrials)
        } catch {
            throw Failure(message: "\(error)")
        }
        let outDirectory: URL
        if let out {
            outDirectory = URL(fileURLWithPath: out, isDirectory: true)
        } else {
            outDirectory = URL(fileURLWithPath: "results", isDirectory: true)
                .appendingPathComponent(plan.name, isDirectory: true)
        }
        // One coordinator per folder: a second one stops here, in one line, before saying anything else.
        let lock: ResultsFolderLock
        do {
            lock = try ResultsFolderLock.acquire(directory: outDirectory)
        } catch {
            throw Failure(message: error.description)
        }
        print("sweep '\(plan.name)': \(plan.size)")
        // A spec that adds trials to (or changes trials of) a sweep already in the folder: said before it runs.
        do {
            if let preview = try plan.specChange(in: outDirectory) { print(SweepPlan.describe(preview)) }
        } catch {
            throw Failure(message: "\(error)")
        }
        fflush(nil)  // stdout is block-buffered in a pipe: say it now, not when the sweep ends
        var config = CoordinatorConfig(
            specPath: spec, bind: bind, outputDirectory: outDirectory,
            keysDirectory: keys.map { URL(fileURLWithPath: $0, isDirectory: true) }, insecure: insecure,
            dataDirectory: dataDir.map { URL(fileURLWithPath: $0, isDirectory: true) }
                ?? CoordinatorConfig.defaultDataDirectory,
            heartbeatInterval: Double(heartbeatMilliseconds) / 1000, retryFailed: retryFailed, folderLock: lock)
        config.maxTrials = maxTrials
        let coordinator = Coordinator.start(config, logger: Logger(label: "lth-coordinator"))
        let signals = Self.installSignalHandlers(coordinator)
        defer { withExtendedLifetime(signals) {} }
        switch coordinator.wait() {
        case .success(let summary):
            print(summary)
            if summary.exitStatus != 0 { throw ExitCode(summary.exitStatus) }
        case .failure(let error):
            throw Failure(message: error.description)
        }
    }

    /// SIGINT/SIGTERM: the first drains (workers give trials back, CSVs are rebuilt); a second exits at once.
    static func installSignalHandlers(_ coordinator: Coordinator) -> [any DispatchSourceSignal] {
        StopSignals.install(label: "lth-coordinator.signals") { name in
            coordinator.stop(reason: "interrupted (\(name))")
        }
    }
}

/// A one-line error for the user: `lth-coordinator: <message>`, exit code 1, no stack trace.
private struct Failure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

do {
    let command = try LTHCoordinator.parse()
    try command.run()
} catch let failure as Failure {
    FileHandle.standardError.write(Data("lth-coordinator: \(failure.message)\n".utf8))
    exit(1)
} catch {
    LTHCoordinator.exit(withError: error)
}
