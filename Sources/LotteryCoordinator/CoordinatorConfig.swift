public import Foundation
import LotteryCore

/// Everything a ``Coordinator`` needs: the sweep, where to listen, where to write, keys and timing.
public struct CoordinatorConfig: Sendable {
    /// How progress is shown.
    public enum ProgressStyle: Sendable, Hashable {
        /// One status line redrawn in place on stderr (for a terminal); events are logged at `debug`.
        case statusLine
        /// A plain log line (`info`) per event: worker joined/left, trial started/finished/failed/requeued,
        /// every accepted round. For logs and pipes.
        case logLines
        /// `statusLine` when stderr is a terminal, else `logLines`.
        case automatic
    }

    /// The sweep spec file (YAML, docs/sweep-spec.md).
    public var specPath: String
    /// The ZeroMQ endpoint the ROUTER binds, e.g. `tcp://*:5555` or `tcp://127.0.0.1:0` (random port).
    public var bind: String
    /// The results folder (`results/<sweep>`); created if missing, resumed if it holds the same sweep.
    public var outputDirectory: URL
    /// CURVE keys folder, or `nil` for a plain (unencrypted, unauthenticated) socket.
    ///
    /// Layout: `KEYS_DIR/server.key_secret` (the coordinator's pair, `lth keygen KEYS_DIR --name server`) and
    /// `KEYS_DIR/workers/NAME.key` (the public key of every worker allowed in; NAME is its authenticated id).
    public var keysDirectory: URL?
    /// Allow a non-loopback bind without CURVE keys. Without it such a bind is refused.
    public var insecure: Bool
    /// Where datasets are read from: `DATA_DIR/<dataset>/` holds the IDX files the coordinator serves.
    public var dataDirectory: URL
    /// Heartbeat interval in seconds (workers are dead after 3 silent intervals).
    public var heartbeatInterval: Double
    /// Seconds without progress before a running trial is hung (requeued).
    public var trialTimeLimit: Double
    /// Seconds between CSV rebuilds while the sweep runs (they are rebuilt once more at the end).
    public var exportInterval: Double
    public var progressStyle: ProgressStyle
    /// `--retry-failed`: trials that failed for good on an earlier run are queued again, resuming from their last
    /// recorded round (``ResultsStore/requeueFailed(at:)``). Without it they stay failed.
    public var retryFailed: Bool
    /// The results folder's lock, when the caller took it already (`lth sweep` takes it before it writes keys into
    /// the folder); otherwise the coordinator takes it itself and holds it until it returns.
    public var folderLock: ResultsFolderLock?
    /// `--max-trials`: the most top-level trials the spec may expand to; a larger sweep is refused before anything is
    /// expanded or registered (``loadSweep(path:maxTrials:)``). Set after `init`.
    public var maxTrials: Int = SweepLoader.defaultMaxTrials
    /// Seconds between two writes of a live worker's last-heard time to `results.db` (``HeardTimes``); what
    /// `lth status` shows as "last heard" lags by at most this. Set after `init`.
    public var heardInterval: Double = 10

    /// - Parameters:
    ///   - specPath: the sweep spec file.
    ///   - bind: the endpoint to bind.
    ///   - outputDirectory: the results folder.
    ///   - keysDirectory: CURVE keys folder (see ``keysDirectory``), or `nil`.
    ///   - insecure: allow a plain non-loopback bind.
    ///   - dataDirectory: the data folder (default: `LotteryCore`'s `DataStore.defaultDirectory()`).
    ///   - heartbeatInterval: seconds between heartbeats (default 1).
    ///   - trialTimeLimit: seconds without progress before a trial is hung (default
    ///     ``SchedulerConfig/defaultTrialTimeLimit``).
    ///   - exportInterval: seconds between CSV rebuilds (default 10).
    ///   - progressStyle: status line or log lines (default: by terminal).
    ///   - retryFailed: queue the trials that failed on an earlier run again (default: they stay failed).
    ///   - folderLock: the results folder's lock if already taken (default: the coordinator takes it).
    public init(
        specPath: String, bind: String, outputDirectory: URL, keysDirectory: URL? = nil, insecure: Bool = false,
        dataDirectory: URL = CoordinatorConfig.defaultDataDirectory, heartbeatInterval: Double = 1,
        trialTimeLimit: Double = SchedulerConfig.defaultTrialTimeLimit, exportInterval: Double = 10,
        progressStyle: ProgressStyle = .automatic,
        retryFailed: Bool = false, folderLock: ResultsFolderLock? = nil
    ) {
        precondition(
            heartbeatInterval > 0 && trialTimeLimit > 0 && exportInterval > 0, "coordinator timing out of range")
        self.specPath = specPath
        self.bind = bind
        self.outputDirectory = outputDirectory
        self.keysDirectory = keysDirectory
        self.insecure = insecure
        self.dataDirectory = dataDirectory
        self.heartbeatInterval = heartbeatInterval
        self.trialTimeLimit = trialTimeLimit
        self.exportInterval = exportInterval
        self.progressStyle = progressStyle
        self.retryFailed = retryFailed
        self.folderLock = folderLock
    }

    /// `DataStore.defaultDirectory()` as a URL: the one resolution of the data folder (`$LTH_DATA_DIR` if set and
    /// non-empty, else `./data`, where `lth data fetch` and scripts/setup put datasets).
    public static var defaultDataDirectory: URL {
        URL(fileURLWithPath: DataStore.defaultDirectory(), isDirectory: true)
    }

    /// The coordinator's key pair file inside a keys folder.
    public static func serverSecretKeyPath(_ keys: URL) -> String {
        keys.appendingPathComponent("server.key_secret").path
    }
    /// The coordinator's public key file inside a keys folder (give it to workers).
    public static func serverPublicKeyPath(_ keys: URL) -> String { keys.appendingPathComponent("server.key").path }
    /// The allow-list folder inside a keys folder.
    public static func allowListPath(_ keys: URL) -> String { keys.appendingPathComponent("workers").path }

    /// Whether `endpoint` can only be reached from this host: `tcp://` on 127.x, `localhost` or `::1`, or
    /// `ipc://`/`inproc://`.
    public static func isLoopback(_ endpoint: String) -> Bool {
        if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst("tcp://".count))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        // `tcp://eth0;127.0.0.1:5555` binds a source interface: look at the part after ';'.
        if let semicolon = host.lastIndex(of: ";") { host = String(host[host.index(after: semicolon)...]) }
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// Why the coordinator could not start or had to stop: what, where, and what to do.
public struct CoordinatorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// How a sweep ended, for the summary and the exit status.
public struct CoordinatorSummary: Sendable, Hashable, CustomStringConvertible {
    public var sweepName: String
    /// The results folder.
    public var directory: URL
    public var trialsDone: Int
    public var trialsFailed: Int
    /// Trials neither done nor failed (only when the coordinator stopped early).
    public var trialsUnfinished: Int
    public var roundsRecorded: Int
    /// Failed trials with their reasons, in plan order.
    public var failures: [String]
    /// Why the coordinator stopped before the sweep was complete (interrupted, store error), or `nil`.
    public var stoppedEarly: String?
    /// Wall time of this run, in seconds.
    public var seconds: Double
    /// Timing counters (READY→TASK delays, store time), for benchmarks.
    public var stats = CoordinatorStats()

    /// 0 when every trial finished; 1 when a trial failed for good or the coordinator stopped early.
    public var exitStatus: Int32 { trialsFailed == 0 && stoppedEarly == nil && trialsUnfinished == 0 ? 0 : 1 }

    public var description: String {
        var lines: [String] = []
        let minutes = seconds >= 90 ? String(format: "%.1f min", seconds / 60) : String(format: "%.1f s", seconds)
        if let stoppedEarly {
            lines.append("sweep '\(sweepName)' stopped early: \(stoppedEarly)")
        } else {
            lines.append("sweep '\(sweepName)' complete")
        }
        lines.append(
            "  trials: \(trialsDone) done, \(trialsFailed) failed"
                + (trialsUnfinished > 0 ? ", \(trialsUnfinished) unfinished" : "")
                + "; \(roundsRecorded) rounds recorded in \(minutes)")
        for failure in failures.prefix(10) { lines.append("  failed: \(failure)") }
        if failures.count > 10 { lines.append("  … and \(failures.count - 10) more failures (see trials.csv)") }
        lines.append("  results: \(directory.path)/ (rounds.csv, curves.csv, trials.csv, masks/)")
        if trialsUnfinished > 0 || stoppedEarly != nil {
            lines.append("  run the same command again with the same --out to resume")
        }
        lines.append("  next: lth report \(directory.path)")
        return lines.joined(separator: "\n")
    }
}
