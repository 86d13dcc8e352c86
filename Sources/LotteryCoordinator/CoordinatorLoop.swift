import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

/// The coordinator's thread: owns the ROUTER socket, the scheduler and the results store (one owner, no locks).
///
/// Created and run on the thread ``Coordinator/start(_:logger:)`` starts; never shared. See ``Coordinator``.
final class CoordinatorLoop {
    /// A connected peer that said HELLO, by its ROUTER routing id.
    struct Peer {
        var workerID: WorkerID
        var host: String
        var instanceID: String
    }

    /// One TASK sent: which trial, to whom.
    struct Assignment {
        var trialID: String
        var worker: WorkerID
    }

    /// A round result whose masks were checked, ready for the store, and what the audit must do with it.
    struct PreparedResult {
        var taskID: Int
        var spec: TrialSpec
        var metrics: RoundMetrics
        var maskFile: [UInt8]
        var nextMaskFile: [UInt8]?
        var audit: MaskAudit.Job?
    }

    let config: CoordinatorConfig
    let logger: Logger
    let handle: Coordinator
    let plan: SweepPlan
    let store: ResultsStore
    var scheduler: SchedulerStateMachine
    let context: ZMQContext
    let authenticator: ZAPAuthenticator?
    let router: ZMQSocket
    /// Connection events of `router`: names peers that fail the ZeroMQ handshake (a port scanner, an HTTP client).
    let monitor: ZMQMonitor
    /// Peer addresses (`ip:port`) of accepted TCP connections, by file descriptor (from the monitor's events).
    var connections: [UInt32: String] = [:]
    /// The last handshake failure reported; libzmq reports the connection's DISCONNECTED right after it.
    var handshakeFailure: String?
    let curve: Bool
    let endpoint: String
    /// Packed datasets by id: the bytes served with DATA_CHUNK and their SHA-256.
    let datasets: [String: (bytes: [UInt8], checksum: String)]
    let started: Double

    var peers: [[UInt8]: Peer] = [:]
    var routes: [WorkerID: [UInt8]] = [:]
    var assignments: [Int: Assignment] = [:]
    var currentTask: [String: Int] = [:]
    var nextTaskID: Int
    /// Each running trial's last accepted round and the next mask bytes recorded with it: the mask its next round
    /// must train with. A next result whose `mask` is these bytes takes the fast path of ``prepare(_:spec:)``.
    var lastMasks: [String: (round: Int, nextBytes: [UInt8]?)] = [:]
    /// Decodes the next masks the fast path stores without decoding (``MaskAudit``).
    let audit: MaskAudit
    /// Set when the scheduler said the sweep is complete: close once the audit has checked everything.
    var completeAwaitingAudit = false
    /// Events produced while carrying out actions (a send to a vanished peer), fed after the current batch.
    var pendingEvents: [(SchedulerEvent, String?)] = []
    /// The result being fed to the scheduler, consumed by its `acceptResult` action.
    var pendingResult: PreparedResult?
    var progress: CoordinatorProgress
    var lastTick: Double = 0
    /// When a receive last found the socket empty: every message that arrived before then has been handled.
    var caughtUpAt: Double = 0
    var lastExport: Double = 0
    /// Set when the sweep ended or a stop began: SHUTDOWN was sent; serve until `closeAt`, then return.
    var closing: (reason: String?, closeAt: Double)?
    /// Set on a store write error: no result is accepted any more.
    var storeFailure: String?
    /// Workers that sent GIVE_BACK: they are leaving and get no new task (until a new HELLO).
    var leaving: Set<WorkerID> = []
    /// Counters for benchmarks (``CoordinatorStats``); `readyAt` holds the arrival of each worker's unanswered READY.
    var stats = CoordinatorStats()
    var readyAt: [WorkerID: Double] = [:]
    /// Group commit: results the scheduler accepted, not yet in the store and not yet acknowledged. Committed together
    /// (``commitAccepted()``) after each burst of messages, when ``maxBatch`` are waiting, and before any other store
    /// access, so the store sees writes in the order the scheduler made them.
    var accepted: [(record: RecordedRound, taskID: Int, worker: WorkerID)] = []
    static let maxBatch = 32

    static var now: Double { ProcessInfo.processInfo.systemUptime }

    init(config: CoordinatorConfig, logger: Logger, handle: Coordinator) throws {
        self.config = config
        self.logger = logger
        self.handle = handle
        started = Self.now
        audit = MaskAudit()
        do {
            plan = try loadSweep(path: config.specPath, maxTrials: config.maxTrials)
        } catch {
            throw CoordinatorError("\(error)")
        }
        curve = config.keysDirectory != nil
        if !curve, !config.insecure, !CoordinatorConfig.isLoopback(config.bind) {
            throw CoordinatorError(
                "refusing to bind \(config.bind) without CURVE keys: anyone who can reach that port could take "
                    + "tasks and send results. Pass --keys DIR (DIR/server.key_secret from `lth keygen DIR --name "
                    + "server`, worker public keys in DIR/workers/), bind to 127.0.0.1, or pass --insecure on a "
                    + "network you trust")
        }
        datasets = try Self.packDatasets(plan: plan, directory: config.dataDirectory, logger: logger)

        // Results folder: refuse another sweep's folder, register trials, recover.
        do {
            store = try ResultsStore.openOrCreate(
                directory: config.outputDirectory, sweepName: plan.name, specText: plan.sourceText,
                fingerprint: plan.fingerprint, plannedTrialIDs: plan.trials.map(\.id), logger: logger)
            try store.registerTrials(
                plan.trials.lazy.map {
                    TrialRegistration(
                        id: $0.id, spec: $0.spec,
                        expectedRounds: $0.spec.prune.targetDensity == nil ? RoundEstimate.rounds(of: $0.spec) : nil)
                })
            if config.retryFailed { try Self.retryFailed(store: store, logger: logger) }
            let recovered = try store.recoveredState()
            var finished = recovered.done
            for trial in recovered.trials where trial.status != .done && trial.status != .failed {
                // The final round recorded (it carries no next mask) but the process died before marking it done.
                guard let last = trial.lastRecordedRound, try store.nextMaskBytes(trialID: trial.id, round: last) == nil
                else { continue }
                try store.markDone(trialID: trial.id)
                finished.insert(trial.id)
            }
            scheduler = SchedulerStateMachine(
                plan: plan.trials, recorded: recovered.lastRecordedRound, finished: finished, failed: recovered.failed,
                config: SchedulerConfig(
                    protocolVersion: Int(Wire.version), heartbeatInterval: config.heartbeatInterval,
                    trialTimeLimit: config.trialTimeLimit))
            let recordedRounds = recovered.trials.reduce(0) { $0 + ($1.lastRecordedRound.map { $0 + 1 } ?? 0) }
            if recordedRounds > 0 {
                logger.notice(
                    "resuming \(config.outputDirectory.path): \(finished.count) trial(s) done, \(recordedRounds) round(s) already recorded; they are not recomputed"
                )
            }
        } catch {
            throw CoordinatorError("\(error)")
        }

        // Socket: ZAP first (CURVE), then the ROUTER, then bind.
        do {
            context = try ZMQContext()
            if let keys = config.keysDirectory {
                let allowList = CoordinatorConfig.allowListPath(keys)
                guard FileManager.default.fileExists(atPath: allowList) else {
                    throw CoordinatorError(
                        "\(allowList) is missing: put the public key (NAME.key) of every worker allowed in there "
                            + "(`lth keygen \(keys.path) --name NAME` writes a pair)")
                }
                let observerLogger = logger
                authenticator = try ZAPAuthenticator(context: context, allowListDirectory: allowList) { decision in
                    if !decision.accepted {
                        // The public key in Z85 (what `NAME.key` files hold), so an admin can allow it.
                        let key = decision.clientKey.map { " with public key \($0.z85)" } ?? ""
                        observerLogger.warning(
                            "refused a connection from \(decision.address)\(key): \(decision.reason) (its key is not in \(allowList); to let it in, put its NAME.key file there and restart)"
                        )
                    }
                }
            } else {
                authenticator = nil
            }
            router = try ZMQSocket(context, type: .router)
            try router.set(.linger, 0)
            try router.set(.maxMessageSize, Wire.maxFrameBytes)
            try router.set(.routerMandatory, true)
            try router.set(.routerHandover, true)
            // A connection that does not finish its ZeroMQ (and CURVE) handshake in 5 s is dropped (libzmq's
            // default is 30 s): raw TCP clients do not linger.
            try router.set(.handshakeInterval, 5000)
            monitor = try router.monitor()
            if let keys = config.keysDirectory {
                let secret = CoordinatorConfig.serverSecretKeyPath(keys)
                guard FileManager.default.fileExists(atPath: secret) else {
                    throw CoordinatorError(
                        "\(secret) is missing: create the coordinator's keys with `lth keygen \(keys.path) --name server`"
                    )
                }
                try router.configureCurveServer(keyPair: try CurveKeyPair.load(secretKeyFile: secret))
            }
            try router.bind(config.bind)
            endpoint = try router.lastEndpoint
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError("cannot listen on \(config.bind): \(error)")
        }
        nextTaskID = Int(Date().timeIntervalSince1970) * 1000
        progress = CoordinatorProgress(
            sweepName: plan.name,
            statusLine: config.progressStyle == .statusLine
                || (config.progressStyle == .automatic && isatty(STDERR_FILENO) == 1))
        logger.info(
            "coordinator for sweep '\(plan.name)' (\(plan.trials.count) trials) listening on \(endpoint) (\(curve ? "CURVE, allow-list \(CoordinatorConfig.allowListPath(config.keysDirectory!))" : "no encryption")); results in \(config.outputDirectory.path)"
        )
        handle.listening(.success(endpoint))
    }

    /// `--retry-failed`: failed trials back in the queue, from their last recorded round; says what it did.
    static func retryFailed(store: ResultsStore, logger: Logger) throws(StoreError) {
        let retried = try store.requeueFailed()
        if retried.requeued.isEmpty && retried.kept.isEmpty {
            logger.notice("--retry-failed: no failed trial to retry in \(store.directory.path)")
        }
        if !retried.requeued.isEmpty {
            let resumed = retried.requeued.filter { retried.resumesAt[$0, default: 0] > 0 }.count
            logger.notice(
                "--retry-failed: \(retried.requeued.count) failed trial(s) queued again (\(resumed) resume after their recorded rounds, the others start at round 0)"
            )
        }
        for (id, why) in retried.kept.sorted(by: { $0.key < $1.key }) {
            logger.warning("--retry-failed: trial \(id) stays failed: \(why); delete its results to run it afresh")
        }
    }

    /// Packs each dataset the plan's real trials use, once. Synthetic trials (`synthetic.round_ms`) read no data, so a
    /// sweep of only synthetic trials needs no data folder at all.
    static func packDatasets(plan: SweepPlan, directory: URL, logger: Logger) throws -> [String: (
        bytes: [UInt8], checksum: String
    )] {
        var result: [String: (bytes: [UInt8], checksum: String)] = [:]
        for name in Set(plan.trials.filter { $0.spec.synthetic == nil }.map(\.spec.dataset)).sorted() {
            do {
                let bytes = try DatasetBundle.packDirectory(directory, dataset: name)
                result[name] = (bytes, DatasetBundle.checksum(bytes))
                logger.info("serving dataset '\(name)' from \(directory.path)/\(name) (\(bytes.count) bytes)")
            } catch {
                throw CoordinatorError("\(error)")
            }
        }
        return result
    }

    // MARK: - Loop

    func run() -> CoordinatorSummary {
        let cpuAtStart = threadCPUSeconds()
        let pollMilliseconds = max(5, min(50, Int(config.heartbeatInterval * 250)))
        feed(.tick, from: nil)
        while true {
            let now = Self.now
            if let closing, now >= closing.closeAt || (closing.reason != nil && !anyTrialRunning) { break }
            if closing == nil, let reason = handle.stopReason {
                beginClosing(mode: .drain, reason: reason, grace: 5)
            }
            do {
                var timeout = pollMilliseconds
                var handled = 0
                // A burst ends after 256 messages or one tick interval, whichever comes first: under load (each
                // result costs milliseconds of mask checks and fsyncs) a longer burst would starve the ticks, and
                // workers that hear no heartbeat for `liveness` intervals reconnect and requeue their trials.
                let burstEnd = Self.now + min(0.1, config.heartbeatInterval / 4)
                while handled < 256, handled == 0 || Self.now < burstEnd {
                    let asked = Self.now
                    guard let message = try router.receiveWithMetadata(timeoutMilliseconds: timeout) else {
                        caughtUpAt = asked  // everything that arrived before `asked` has been handled
                        break
                    }
                    handle(message)
                    handled += 1
                    timeout = 0
                }
                commitAccepted()
            } catch let error as ZMQError where error.kind == .terminated {
                break
            } catch {
                say(.error, "receive failed: \(error)")
            }
            drainConnectionEvents()
            applyAuditFailures()
            closeWhenAudited()
            let after = Self.now
            if after - lastTick >= min(0.1, config.heartbeatInterval / 4) {
                lastTick = after
                // Behind (the socket was not empty since `caughtUpAt`): judge silence only up to then.
                let lagging = after - caughtUpAt > min(0.1, config.heartbeatInterval / 4)
                feed(lagging ? .tickLagging(heardUntil: caughtUpAt) : .tick, from: nil)
            }
            if after - lastExport >= config.exportInterval, storeFailure == nil {
                lastExport = after
                exportCSVs(final: false)
            }
            progress.refresh(scheduler: scheduler, now: after, event: nil)
        }
        progress.clear()
        commitAccepted()
        audit.waitIdle()
        applyAuditFailures()
        audit.stop()
        let counters = audit.counters
        stats.auditedMasks = counters.verified
        stats.auditLanes = audit.lanes
        stats.auditSeconds = counters.busySeconds
        stats.auditWaitSeconds = counters.waitSeconds
        if storeFailure == nil { exportCSVs(final: true) }
        context.shutdown()
        stats.loopCPUSeconds = threadCPUSeconds() - cpuAtStart
        return summary()
    }

    /// SHUTDOWN to every worker we know, then serve for `grace` seconds (so it is delivered and late results are
    /// answered) before returning.
    /// Whether some worker still runs a trial (a drain waits for their last results, up to its grace period).
    var anyTrialRunning: Bool {
        scheduler.workers.values.contains { $0.alive && !$0.running.isEmpty }
    }

    func beginClosing(mode: WireMessage.ShutdownMode, reason: String?, grace: Double) {
        guard closing == nil else { return }
        closing = (reason, Self.now + grace)
        let text = reason ?? "the sweep is complete"
        for worker in routes.keys.sorted() {
            send(.shutdown(WireMessage.Shutdown(mode: mode, reason: text)), to: worker)
        }
        if let reason { say(.warning, "stopping: \(reason)") }
    }

    func summary() -> CoordinatorSummary {
        commitAccepted()
        var done = 0
        var failed = 0
        var unfinished = 0
        var rounds = 0
        var failures: [String] = []
        for id in scheduler.allIDs {
            guard let trial = scheduler.trials[id] else { continue }
            rounds += trial.nextRound
            switch trial.state {
            case .done: done += 1
            case .failed(let reason):
                failed += 1
                failures.append("\(id): \(reason)")
            case .queued, .running: unfinished += 1
            }
        }
        // Rounds as the store has them (after a store error the scheduler counts one it could not record).
        if let recovered = try? store.recoveredState() {
            rounds = recovered.trials.reduce(0) { $0 + ($1.lastRecordedRound.map { $0 + 1 } ?? 0) }
        }
        return CoordinatorSummary(
            sweepName: plan.name, directory: store.directory, trialsDone: done, trialsFailed: failed,
            trialsUnfinished: unfinished, roundsRecorded: rounds, failures: failures,
            stoppedEarly: storeFailure ?? (unfinished > 0 ? closing?.reason ?? "stopped" : nil),
            seconds: Self.now - started, stats: stats)
    }

    func exportCSVs(final: Bool) {
        commitAccepted()
        do {
            let summary = try store.exportCSVs()
            if final {
                logger.info(
                    "wrote rounds.csv (\(summary.rounds) rows), curves.csv (\(summary.curvePoints) rows), trials.csv (\(summary.trials) rows) in \(store.directory.path)"
                )
            }
        } catch {
            say(.error, "cannot rebuild the CSVs: \(error) (results.db is intact; `lth report` rebuilds them)")
        }
    }

    // MARK: - Sending

    func send(_ message: WireMessage, to worker: WorkerID) {
        guard let identity = routes[worker] else {
            logger.debug("no connection to \(worker) for \(message.type)")
            return
        }
        if !sendRaw(message, to: identity) {
            peers[identity] = nil
            routes[worker] = nil
            pendingEvents.append((.workerGone(worker), nil))
        }
    }

    /// Sends to a routing id; false if the peer is gone (ROUTER_MANDATORY: EHOSTUNREACH).
    @discardableResult
    func sendRaw(_ message: WireMessage, to identity: [UInt8]) -> Bool {
        let payload: [[UInt8]]
        do {
            payload = try message.encode()
        } catch {
            say(.error, "cannot encode \(message.type): \(error)")
            return true
        }
        do {
            try router.send(Wire.routerFrames(to: identity, payload), dontWait: true)
            return true
        } catch let error as ZMQError where error.kind == .hostUnreachable {
            return false
        } catch {
            say(.warning, "cannot send \(message.type): \(error)")
            return true
        }
    }

    // MARK: - Helpers

    /// Runs a store write; on failure stops accepting results (see ``storeFailure``).
    func guarded(_ body: () throws(StoreError) -> Void) {
        commitAccepted()
        guard storeFailure == nil else { return }
        do {
            try body()
        } catch {
            storeFailure = "cannot write to the results folder: \(error)"
            say(.critical, "\(storeFailure!). Nothing more is accepted; what is recorded stays intact.")
            beginClosing(mode: .drain, reason: storeFailure, grace: 1)
        }
    }

    /// A log line that is not an event (warnings, errors, the end): the status line is erased first.
    func say(_ level: Logger.Level, _ text: String) {
        progress.clear()
        logger.log(level: level, "\(text)")
    }

    /// An event line: `info` in log-lines mode, `debug` under a status line (which shows the counts instead).
    func event(_ text: String, level: Logger.Level = .info) {
        if progress.statusLine, level <= .info {
            logger.debug("\(text)")
            return
        }
        if progress.statusLine { progress.clear() }
        logger.log(level: level, "\(text)")
    }
}
