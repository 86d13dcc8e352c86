public import ArgumentParser
public import Foundation
public import LotteryCoordinator
import Logging

/// The options `lth-coordinator` and `lth sweep` share, defined once (`@OptionGroup var sweep: SweepOptions`): the
/// spec, the results folder, the data folder, the heartbeat, the log level, `--retry-failed` and `--max-trials`.
/// Each command adds its own (`--bind`, `--keys` on one; `--workers`, `--slots-per-worker` on the other).
public struct SweepOptions: ParsableArguments {
    @Argument(help: "The sweep spec (YAML, docs/sweep-spec.md).")
    public var spec: String

    @Option(help: "Results folder (default: results/<sweep name>).")
    public var out: String?

    @Option(name: .customLong("data-dir"), help: "Folder with <dataset>/ IDX files (default: $LTH_DATA_DIR or ./data).")
    public var dataDir: String?

    @Option(
        name: .customLong("heartbeat-ms"),
        help: "Heartbeat interval in milliseconds (a worker silent for 3 intervals is dead).")
    public var heartbeatMilliseconds: Int = 1000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    public var logLevel: String = "info"

    @Flag(
        name: .customLong("retry-failed"),
        help: "Queue the trials that failed on an earlier run again; they resume after their recorded rounds.")
    public var retryFailed = false

    @Option(
        name: .customLong("max-trials"),
        help: ArgumentHelp(
            "Refuse a spec that expands to more top-level trials than this (checked before anything is expanded).",
            valueName: "N"))
    public var maxTrials: Int = SweepLoader.defaultMaxTrials

    public init() {}

    public func validate() throws {
        guard maxTrials >= 1 else { throw ValidationError("--max-trials must be at least 1, got \(maxTrials)") }
        guard heartbeatMilliseconds >= 10 else {
            throw ValidationError("--heartbeat-ms must be at least 10, got \(heartbeatMilliseconds)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel): unknown level")
        }
    }

    /// Log lines to standard error at `--log-level` (an executable's one call to `LoggingSystem.bootstrap`).
    public func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// `--heartbeat-ms` in seconds.
    public var heartbeatInterval: Double { Double(heartbeatMilliseconds) / 1000 }

    /// `--data-dir`, or the one default (``CoordinatorConfig/defaultDataDirectory``).
    public var dataDirectory: URL {
        dataDir.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? CoordinatorConfig.defaultDataDirectory
    }

    /// The sweep's plan, checked against `--max-trials` before anything is expanded.
    ///
    /// - Throws: the spec file's error (file:line), as one line.
    public func loadPlan() throws -> SweepPlan {
        do {
            return try loadSweep(path: spec, maxTrials: maxTrials)
        } catch {
            throw SweepOptionsError(message: "\(error)")
        }
    }

    /// `--out`, or `results/<sweep name>`.
    public func outDirectory(for plan: SweepPlan) -> URL {
        URL(fileURLWithPath: out ?? "results/\(plan.name)", isDirectory: true).standardizedFileURL
    }

    /// What both commands do before the coordinator starts: take the folder's lock (a second coordinator on it stops
    /// here, in one line, before anything is written), then say what the spec asks for and what it changes in a sweep
    /// already in the folder, flushed at once (stdout is block-buffered in a pipe).
    ///
    /// - Returns: the lock, held until the coordinator has ended.
    /// - Throws: ``SweepOptionsError``: the folder is in use, or its recorded sweep cannot be read.
    public func lockAndPreview(_ plan: SweepPlan, in directory: URL) throws -> ResultsFolderLock {
        let lock: ResultsFolderLock
        do {
            lock = try ResultsFolderLock.acquire(directory: directory)
        } catch {
            throw SweepOptionsError(message: error.description)
        }
        print("sweep '\(plan.name)': \(plan.size)")
        do {
            if let preview = try plan.specChange(in: directory) { print(SweepPlan.describe(preview)) }
        } catch {
            throw SweepOptionsError(message: "\(error)")
        }
        fflush(nil)
        return lock
    }
}

/// A one-line error for the user, from the shared steps of ``SweepOptions``.
public struct SweepOptionsError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
