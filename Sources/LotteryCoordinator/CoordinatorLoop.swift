import Foundation
import LotteryCore
import LotteryWire
import Logging
import LotteryResults
import MaskCodec
import ZeroMQ

/// The coordinator's thread: the I/O shell around ``CoordinatorStateMachine`` (one owner, no locks).
///
/// It owns the ROUTER socket, the results store, the mask checks and audit, the progress line and the clock; every
/// protocol decision is the machine's. Each turn: receive a burst of messages and feed each one, carry out the
/// actions (sends, store writes, log lines), commit the accepted results, feed a tick. Created and run on the thread
/// ``Coordinator/start(_:logger:)`` starts; never shared. See ``Coordinator``.
final class CoordinatorLoop {
    let config: CoordinatorConfig
    let logger: Logger
    let handle: Coordinator
    let plan: SweepPlan
    let store: ResultsStore
    var machine: CoordinatorStateMachine
    var scheduler: SchedulerStateMachine { machine.scheduler }
    let context: ZMQContext
    let authenticator: ZAPAuthenticator?
    let router: ZMQSocket
    /// Connection events of `router`: names peers that fail the ZeroMQ handshake (a port scanner, an HTTP client).
    let monitor: ZMQMonitor
    /// Peer addresses (`ip:port`) of accepted TCP connections, by file descriptor (from the monitor's events).
    var connections: [UInt32: String] = [:]
    /// The last handshake failure reported, and whether ZAP refused it (journaled by the ZAP handler, with its key);
    /// libzmq reports the connection's DISCONNECTED right after it.
    var handshakeFailure: (text: String, auth: Bool)?
    /// Refused peers: which become journal lines (rate-limited), and those the ZAP handler thread reports.
    var refusals = RefusalJournal()
    let refusalInbox = RefusalInbox()
    /// Which workers' last-heard times to write, and when.
    var heardTimes: HeardTimes
    let curve: Bool
    let endpoint: String
    let started: Double

    /// Each running trial's last recorded round and the next mask bytes recorded with it: a cache of the store for
    /// the mask checks' fast path (``prepare(_:)``), not protocol state.
    var lastMasks: [String: (round: Int, nextBytes: [UInt8]?)] = [:]
    /// Decodes the next masks the fast path stores without decoding (``MaskAudit``).
    let audit: MaskAudit
    /// Routing ids a send found gone during the current batch of actions; fed as `sendFailed` after it.
    var unreachable: [[UInt8]] = []
    var progress: CoordinatorProgress
    var lastTick: Double = 0
    /// When a receive last found the socket empty: every message that arrived before then has been handled.
    var caughtUpAt: Double = 0
    var lastExport: Double = 0
    /// Counters for benchmarks (``CoordinatorStats``).
    var stats = CoordinatorStats()
    /// Group commit: results the machine asked to record, not yet in the store and not yet acknowledged. Committed
    /// together (``commitAccepted()``) after each burst of messages, when ``maxBatch`` are waiting, and before any
    /// other store access, so the store sees writes in the order the machine asked for them.
    var accepted: [RecordRequest] = []
    static let maxBatch = 32

    static var now: Double { ProcessInfo.processInfo.systemUptime }

    init(config: CoordinatorConfig, logger: Logger, handle: Coordinator) throws {
        self.config = config
        self.logger = logger
        self.handle = handle
        started = Self.now
        audit = MaskAudit()
        heardTimes = HeardTimes(interval: config.heardInterval)
        // The spec as written identifies it in the folder's history; the plan that runs reuses the folder's trials
        // that it only gives new control branches (`SweepPlan.extending(registered:)`).
        let fingerprint: String
        let newControls: Int
        do {
            let written = try loadSweep(path: config.specPath, maxTrials: config.maxTrials)
            fingerprint = written.fingerprint
            (plan, newControls) = try written.extending(folder: config.outputDirectory)
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
        let datasets = try Self.packDatasets(plan: plan, directory: config.dataDirectory, logger: logger)
        let scheduler: SchedulerStateMachine

        // Results folder: refuse another sweep's folder, register trials, recover.
        do {
            store = try ResultsStore.openOrCreate(
                directory: config.outputDirectory, sweepName: plan.name, specText: plan.sourceText,
                fingerprint: fingerprint, plannedTrialIDs: plan.trials.map(\.id), trialsNewControls: newControls,
                logger: logger)
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
                    heartbeatInterval: config.heartbeatInterval, trialTimeLimit: config.trialTimeLimit))
            // Branches the scheduler recreated for recorded rounds that the store lacks: new control branches of an
            // extended sweep, or one whose registration a crash cut off after its parent's round was recorded.
            let known = Set(recovered.trials.map(\.id))
            try store.registerTrials(
                scheduler.allIDs.lazy.filter { !known.contains($0) }.compactMap { id in
                    scheduler.trials[id].flatMap {
                        $0.isBranch ? TrialRegistration(id: id, spec: $0.spec, expectedRounds: 1) : nil
                    }
                })
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
                let inbox = refusalInbox
                authenticator = try ZAPAuthenticator(context: context, allowListDirectory: allowList) { decision in
                    if !decision.accepted {
                        // The public key in Z85 (what `NAME.key` files hold), so an admin can allow it.
                        let key = decision.clientKey.map { " with public key \($0.z85)" } ?? ""
                        observerLogger.warning(
                            "refused a connection from \(decision.address)\(key): \(decision.reason) (its key is not in \(allowList); to let it in, put its NAME.key file there and restart)"
                        )
                        inbox.post(
                            PeerRefusal(
                                peer: PeerRefusal.withoutPort(decision.address) + key, kind: .keyNotAllowed,
                                reason:
                                    "\(decision.reason) (to let it in, put its NAME.key file in \(allowList) and restart)"
                            ))
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
        machine = CoordinatorStateMachine(
            scheduler: scheduler,
            config: CoordinatorStateMachine.Config(
                curve: curve, datasets: datasets, firstTaskID: Int(Date().timeIntervalSince1970) * 1000,
                heartbeatInterval: config.heartbeatInterval))
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
    static func packDatasets(plan: SweepPlan, directory: URL, logger: Logger) throws -> [String: ServedDataset] {
        var result: [String: ServedDataset] = [:]
        for name in Set(plan.trials.filter { $0.spec.synthetic == nil }.map(\.spec.dataset)).sorted() {
            do {
                let bytes = try DatasetBundle.packDirectory(directory, dataset: name)
                result[name] = ServedDataset(bytes: bytes, checksum: DatasetBundle.checksum(bytes))
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
        feed(.tick(heardUntil: nil))
        while true {
            let now = Self.now
            if machine.shouldExit(now: now) { break }
            if machine.closing == nil, let reason = handle.stopReason { feed(.stopRequested(reason)) }
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
                    feed(
                        .received(
                            InboundMessage(
                                frames: message.frames, userID: message.userID, peerAddress: message.peerAddress)))
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
            drainRefusals()
            applyAuditFailures()
            if machine.completeAwaitingAudit, machine.closing == nil, audit.isIdle {
                applyAuditFailures()
                stats.auditDoneAt = Self.now - started
                feed(.auditIdle)
            }
            let after = Self.now
            if after - lastTick >= min(0.1, config.heartbeatInterval / 4) {
                lastTick = after
                // Behind (the socket was not empty since `caughtUpAt`): judge silence only up to then.
                let lagging = after - caughtUpAt > min(0.1, config.heartbeatInterval / 4)
                feed(.tick(heardUntil: lagging ? caughtUpAt : nil))
                // Ticks are where silent workers are found dead; between them nothing becomes due.
                persistHeard()
            }
            if after - lastExport >= config.exportInterval, machine.storeFailure == nil {
                lastExport = after
                exportCSVs(final: false)
            }
            progress.refresh(scheduler: scheduler, now: after, event: nil)
        }
        progress.clear()
        commitAccepted()
        drainRefusals()
        writeRefusalLines(refusals.flush())
        persistHeard(final: true)
        audit.waitIdle()
        applyAuditFailures()
        audit.stop()
        let counters = audit.counters
        stats.auditedMasks = counters.verified
        stats.auditLanes = audit.lanes
        stats.auditSeconds = counters.busySeconds
        stats.auditWaitSeconds = counters.waitSeconds
        if machine.storeFailure == nil { exportCSVs(final: true) }
        context.shutdown()
        stats.loopCPUSeconds = threadCPUSeconds() - cpuAtStart
        return summary()
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
            stoppedEarly: machine.storeFailure ?? (unfinished > 0 ? machine.closing?.reason ?? "stopped" : nil),
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

    /// Sends to a routing id; a peer found gone (ROUTER_MANDATORY: EHOSTUNREACH) is fed as `sendFailed` after the
    /// current batch of actions.
    func send(_ message: WireMessage, to identity: [UInt8]) {
        let payload: [[UInt8]]
        do {
            payload = try message.encode()
        } catch {
            say(.error, "cannot encode \(message.type): \(error)")
            return
        }
        do {
            try router.send(Wire.routerFrames(to: identity, payload), dontWait: true)
        } catch let error as ZMQError where error.kind == .hostUnreachable {
            unreachable.append(identity)
        } catch {
            say(.warning, "cannot send \(message.type): \(error)")
        }
    }

    // MARK: - Helpers

    /// Runs a store write; on failure the machine stops accepting results (``CoordinatorEvent/storeFailed(_:)``).
    func guarded(_ body: () throws(StoreError) -> Void) {
        commitAccepted()
        guard machine.storeFailure == nil else { return }
        do {
            try body()
        } catch {
            feed(.storeFailed("cannot write to the results folder: \(error)"))
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
