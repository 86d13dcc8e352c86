import ArgumentParser
import Dispatch
import Foundation
import Logging
import LotteryCLI
import LotteryCoordinator
import LotterySweepCLI

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

    @OptionGroup var sweep: SweepOptions

    @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://*:5555 or tcp://127.0.0.1:5555.")
    var bind: String = "tcp://*:5555"

    @Option(help: "CURVE keys folder: server.key_secret and workers/*.key (allow-list).")
    var keys: String?

    @Flag(help: "Allow a non-loopback bind without CURVE keys (trusted networks only).")
    var insecure = false

    func validate() throws {
        guard bind.contains("://") else { throw ValidationError("--bind \(bind): expected e.g. tcp://*:5555") }
    }

    func run() throws {
        sweep.bootstrapLogging()
        // Before anything is registered: what the spec asks for, or why it is refused (a typo that asks for
        // millions of trials is caught from the grid's shape, without expanding it); then the folder's lock.
        let plan: SweepPlan
        let outDirectory: URL
        let lock: ResultsFolderLock
        do {
            plan = try sweep.loadPlan()
            outDirectory = sweep.outDirectory(for: plan)
            lock = try sweep.lockAndPreview(plan, in: outDirectory)
        } catch {
            throw Failure(message: "\(error)")
        }
        var config = CoordinatorConfig(
            specPath: sweep.spec, bind: bind, outputDirectory: outDirectory,
            keysDirectory: keys.map { URL(fileURLWithPath: $0, isDirectory: true) }, insecure: insecure,
            dataDirectory: sweep.dataDirectory, heartbeatInterval: sweep.heartbeatInterval,
            retryFailed: sweep.retryFailed, folderLock: lock)
        config.maxTrials = sweep.maxTrials
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
