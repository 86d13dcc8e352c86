import Foundation
import LotteryCore
import LotteryWire
import Logging
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
            plan = try loadSweep(path: config.specPath)
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
                fingerprint: plan.fingerprint, logger: logger)
            try store.registerTrials(
                plan.trials.map {
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

    // MARK: - Messages

    func handle(_ message: ZMQMessage) {
        let identity: [UInt8]
        let decoded: WireMessage
        do {
            let split = try Wire.splitRouterFrames(message.frames)
            identity = split.identity
            do {
                decoded = try WireMessage.decode(split.payload)
            } catch {
                let peer = describePeer(identity, message)
                say(.warning, "rejected a message from \(peer): \(error)")
                sendRaw(.reject(WireMessage.Reject(error)), to: identity)
                return
            }
        } catch {
            // No payload after the identity (e.g. one garbage frame): answer if the identity can address the peer.
            say(.warning, "rejected a message from \(message.peerAddress ?? "an unknown peer"): \(error)")
            if let identity = message.frames.first, (1...Wire.maxIdentityBytes).contains(identity.count) {
                sendRaw(.reject(WireMessage.Reject(error)), to: identity)
            }
            return
        }
        if decoded.type.direction == .coordinatorToWorker {
            say(
                .warning,
                "rejected \(decoded.type) from \(describePeer(identity, message)): only a coordinator sends it")
            sendRaw(
                .reject(
                    WireMessage.Reject(
                        code: .unexpectedMessage, message: "\(decoded.type) goes from coordinator to worker, not back")),
                to: identity)
            return
        }
        if case .hello(let hello) = decoded {
            handleHello(hello, identity: identity, userID: message.userID)
            return
        }
        guard let peer = peers[identity] else {
            sendRaw(
                .reject(
                    WireMessage.Reject(
                        code: .unknownWorker,
                        message: "unknown worker: send HELLO first (after a coordinator restart too)")),
                to: identity)
            return
        }
        let worker = peer.workerID
        switch decoded {
        case .ready(let ready):
            let info = scheduler.workers[worker]
            let running = info?.running.count ?? 0
            let slots = info?.slots ?? 1
            let wanted = max(0, min(ready.credit, slots - running))
            let delta = wanted - (info?.credit ?? 0)
            if delta > 0 {
                if readyAt[worker] == nil { readyAt[worker] = Self.now }
                feed(.workerReady(worker, credit: delta), from: worker)
            } else {
                feed(.heartbeat(worker, progress: [:]), from: worker)
            }
        case .heartbeat(let heartbeat):
            var progress: [String: TrialProgress] = [:]
            for point in heartbeat.progress where currentTask[point.trialID] == point.taskID {
                progress[point.trialID] = TrialProgress(round: point.round, iteration: point.iteration)
            }
            feed(.heartbeat(worker, progress: progress), from: worker)
        case .roundResult(let result):
            handleResult(result, from: worker, host: peer.host)
        case .trialDone(let done):
            guard isCurrent(done.taskID, trialID: done.trialID, worker: worker) else {
                logger.debug(
                    "ignored TRIAL_DONE of \(done.trialID) task \(done.taskID) from \(worker): not its current task")
                feed(.heartbeat(worker, progress: [:]), from: worker)
                return
            }
            feed(.trialDone(worker, trialID: done.trialID), from: worker)
            forget(taskID: done.taskID)
        case .trialFailed(let failed):
            guard isCurrent(failed.taskID, trialID: failed.trialID, worker: worker) else {
                say(.info, "ignored failure of \(failed.trialID) from \(worker) (an old task): \(failed.error)")
                feed(.heartbeat(worker, progress: [:]), from: worker)
                return
            }
            say(.warning, "trial \(failed.trialID) failed on \(worker): \(failed.error)")
            feed(.trialFailed(worker, trialID: failed.trialID, reason: failed.error), from: worker)
            forget(taskID: failed.taskID)
        case .giveBack(let giveBack):
            let ids = giveBack.trials.filter { isCurrent($0.taskID, trialID: $0.trialID, worker: worker) }
            event("\(worker) gave back \(ids.count) trial(s): \(giveBack.reason)")
            // The worker exits after GIVE_BACK: hand it nothing more (see `assign`), then let it go.
            leaving.insert(worker)
            for trial in ids { forget(taskID: trial.taskID) }
            feed(.givenBack(worker, trialIDs: ids.map(\.trialID)), from: worker)
            flushPendingEvents()
            feed(.workerGone(worker), from: worker)
        case .dataRequest(let request):
            feed(.heartbeat(worker, progress: [:]), from: worker)
            serveData(request, to: worker)
        case .hello, .task, .ack, .reject, .shutdown, .dataChunk, .cancel:
            break  // handled above
        }
        flushPendingEvents()
    }

    /// Logs connections that never became a ZeroMQ peer (failed or timed-out handshakes) with their address; a
    /// garbage-speaking client is dropped by libzmq and every other connection is unaffected.
    func drainConnectionEvents() {
        do {
            var handled = 0
            while handled < 256, let event = try monitor.nextEvent(timeoutMilliseconds: 0) {
                handled += 1
                switch event.kind {
                case .accepted:
                    connections[event.value] = Self.peerAddress(fileDescriptor: Int32(bitPattern: event.value))
                case .handshakeFailedNoDetail:
                    let reason = event.value == 0 ? "closed" : String(cString: strerror(Int32(bitPattern: event.value)))
                    handshakeFailure =
                        "it closed or stalled without completing a ZeroMQ handshake (\(reason)); not a LotteryTickets worker"
                case .handshakeFailedProtocol:
                    handshakeFailure =
                        "ZeroMQ protocol error 0x\(String(event.value, radix: 16)) in the handshake: the peer does not speak ZMTP"
                case .handshakeFailedAuth:
                    handshakeFailure = "CURVE authentication failed (ZAP status \(event.value))"
                case .disconnected:
                    let peer = connections.removeValue(forKey: event.value) ?? "an unknown address"
                    if let failure = handshakeFailure {
                        say(.warning, "dropped the connection from \(peer): \(failure)")
                        handshakeFailure = nil
                    } else {
                        logger.debug("connection from \(peer) closed")
                    }
                default:
                    break
                }
            }
        } catch let error as ZMQError where error.kind == .terminated {
            return
        } catch {
            logger.debug("socket monitor: \(error)")
        }
    }

    /// `ip:port` of a connected TCP socket (`getpeername`), or "?".
    static func peerAddress(fileDescriptor fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard ok == 0 else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo(
                    $0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                    NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return "?" }
        return "\(String(cString: host)):\(String(cString: service))"
    }

    func describePeer(_ identity: [UInt8], _ message: ZMQMessage) -> String {
        if let peer = peers[identity] { return "worker \(peer.workerID)" }
        let address = message.peerAddress ?? "?"
        if let user = message.userID { return "\(user)@\(address)" }
        return "unregistered peer at \(address)"
    }

    func isCurrent(_ taskID: Int, trialID: String, worker: WorkerID) -> Bool {
        currentTask[trialID] == taskID && assignments[taskID]?.worker == worker
    }

    func forget(taskID: Int) {
        guard let assignment = assignments.removeValue(forKey: taskID) else { return }
        if currentTask[assignment.trialID] == taskID { currentTask[assignment.trialID] = nil }
    }

    func serveData(_ request: WireMessage.DataRequest, to worker: WorkerID) {
        guard let dataset = datasets[request.datasetID] else {
            send(
                .reject(
                    WireMessage.Reject(
                        code: .unknownDataset, message: "this coordinator serves no dataset '\(request.datasetID)'")),
                to: worker)
            return
        }
        let total = dataset.bytes.count
        guard request.offset < total else {
            send(
                .reject(
                    WireMessage.Reject(
                        code: .badMessage,
                        message: "DATA_REQUEST offset \(request.offset) is at or past the end (\(total) bytes)")),
                to: worker)
            return
        }
        let end = min(total, request.offset + min(request.length, Wire.maxChunkBytes))
        if request.offset == 0 { event("worker \(worker) is fetching dataset '\(request.datasetID)' (\(total) bytes)") }
        send(
            .dataChunk(
                WireMessage.DataChunk(
                    datasetID: request.datasetID, offset: request.offset, totalSize: total, checksum: dataset.checksum,
                    bytes: Array(dataset.bytes[request.offset..<end]))),
            to: worker)
    }

    // MARK: - Scheduler

    /// Feeds one event to the scheduler and carries out its actions in order.
    func feed(_ event: SchedulerEvent, from worker: WorkerID?) {
        let actions = scheduler.event(event, now: Self.now)
        for action in actions { execute(action) }
    }

    func flushPendingEvents() {
        while !pendingEvents.isEmpty {
            let (event, worker) = pendingEvents.removeFirst()
            feed(event, from: worker)
        }
    }

    func execute(_ action: SchedulerAction) {
        switch action {
        case .assign(let worker, let task):
            assign(task, to: worker)
        case .acceptResult(let worker, let trialID, let round):
            accept(trialID: trialID, round: round, from: worker)
        case .dropResult(let worker, let trialID, let round, let reason):
            commitAccepted()  // a duplicate's original must be durable before the copy is acknowledged
            logger.debug("dropped round \(round) of \(trialID) from \(worker): \(reason)")
            // Journaled (kind `result-dropped`) so a crash test can count resends against recomputations.
            if storeFailure == nil {
                try? store.logEvent(
                    kind: "result-dropped", worker: worker, trialID: trialID, message: "round \(round): \(reason)")
            }
            let taskID = pendingResult?.taskID ?? currentTask[trialID] ?? 0
            pendingResult = nil
            send(.ack(WireMessage.Ack(taskID: taskID, trialID: trialID, round: round, status: .duplicate)), to: worker)
        case .reject(let worker, let reason):
            let code: WireMessage.RejectCode = reason.hasPrefix("HELLO with") ? .refused : .unknownWorker
            send(.reject(WireMessage.Reject(code: code, message: reason)), to: worker)
        case .markWorkerDead(let worker, let reason):
            event("worker \(worker) left: \(reason)", level: .warning)
            readyAt[worker] = nil
            for (taskID, assignment) in assignments where assignment.worker == worker { forget(taskID: taskID) }
            try? store.logEvent(kind: "worker-lost", worker: worker, message: reason)
        case .cancel(let worker, let trialID):
            if let taskID = currentTask[trialID], assignments[taskID]?.worker == worker {
                send(.cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "reassigned")), to: worker)
                forget(taskID: taskID)
            } else {
                for (taskID, assignment) in assignments
                where assignment.worker == worker && assignment.trialID == trialID {
                    send(.cancel(WireMessage.Cancel(taskID: taskID, trialID: trialID, reason: "cancelled")), to: worker)
                    forget(taskID: taskID)
                }
            }
        case .requeue(let trialID, let fromRound):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            event("trial \(trialID) requeued (resumes at round \(fromRound))")
            if storeFailure == nil {
                try? store.logEvent(kind: "requeued", trialID: trialID, message: "resumes at round \(fromRound)")
            }
        case .branchCreated(let trialID, let spec):
            guarded { () throws(StoreError) in
                try store.registerTrials([TrialRegistration(id: trialID, spec: spec, expectedRounds: 1)])
            }
        case .markTrialFailed(let trialID, let reason):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            event("trial \(trialID) FAILED: \(reason)", level: .error)
            guarded { () throws(StoreError) in try store.markFailed(trialID: trialID, reason: reason) }
        case .trialFinished(let trialID):
            if let taskID = currentTask[trialID] { forget(taskID: taskID) }
            lastMasks[trialID] = nil
            audit.submit(.forget(trialID: trialID))
            event("trial \(trialID) finished (\(scheduler.trials[trialID]?.nextRound ?? 0) rounds)")
            guarded { () throws(StoreError) in try store.markDone(trialID: trialID) }
        case .sweepComplete:
            // Closed by `closeWhenAudited()` once the audit has checked every recorded mask (it may fail a trial).
            completeAwaitingAudit = true
        case .sendHeartbeat(let worker):
            send(.heartbeat(WireMessage.Heartbeat()), to: worker)
        case .workerJoined(let worker, _, _):
            say(.error, "internal: worker \(worker) joined outside a HELLO")
        case .log(let text):
            event(text)
        }
    }

    func assign(_ task: SchedulerTask, to worker: WorkerID) {
        commitAccepted()  // a resume reads the store
        if leaving.contains(worker) {
            // Spends the leaving worker's credit without sending anything; the trial goes straight back.
            pendingEvents.append((.givenBack(worker, trialIDs: [task.trialID]), worker))
            return
        }
        let taskID = nextTaskID
        nextTaskID += 1
        var startRound = task.startRound
        var resumeMask: [UInt8]?
        var parentMask: [UInt8]?
        do {
            if startRound > 0 {
                // The worker gets it self-contained (stored, it may be a delta against the round's mask).
                resumeMask = try store.nextMaskBytes(trialID: task.trialID, round: startRound - 1)
                if let bytes = resumeMask, (try? MaskFile.info(bytes))?.isDelta != false,
                    let mask = try store.nextMask(trialID: task.trialID, round: startRound - 1)
                {
                    resumeMask = MaskFile.encode(mask)
                }
                if resumeMask == nil {
                    logger.warning(
                        "no next mask recorded with round \(startRound - 1) of \(task.trialID): it reruns from round 0 (recorded rounds are not recorded twice)"
                    )
                    startRound = 0
                }
            }
            if let branch = task.spec.branch {
                guard let mask = try storedMask(trialID: branch.parentTrial, round: branch.parentRound) else {
                    throw CoordinatorError(
                        "the mask of its parent \(branch.parentTrial) round \(branch.parentRound) is not recorded")
                }
                parentMask = MaskFile.encode(mask)
            }
        } catch {
            say(.error, "cannot assign \(task.trialID): \(error)")
            pendingEvents.append((.trialFailed(worker, trialID: task.trialID, reason: "\(error)"), worker))
            return
        }
        // A synthetic trial reads no data: its TASK names the dataset with a placeholder checksum the worker ignores.
        let checksum = task.spec.synthetic != nil ? "synthetic" : datasets[task.spec.dataset]?.checksum
        guard let checksum else {
            pendingEvents.append(
                (.trialFailed(worker, trialID: task.trialID, reason: "no dataset '\(task.spec.dataset)'"), worker))
            return
        }
        assignments[taskID] = Assignment(trialID: task.trialID, worker: worker)
        if let old = currentTask[task.trialID] { assignments[old] = nil }
        currentTask[task.trialID] = taskID
        let host = routes[worker].flatMap { peers[$0]?.host } ?? "?"
        guarded { () throws(StoreError) in
            try store.markRunning(trialID: task.trialID, worker: worker, host: host)
            // `task` events say where each assignment starts: after a crash no task may start at a recorded round.
            try store.logEvent(
                kind: "task", worker: worker, trialID: task.trialID,
                message: "task \(taskID) start_round \(startRound)")
        }
        event(
            "trial \(task.trialID) started on \(worker)"
                + (startRound > 0 ? " at round \(startRound)" : "")
                + (task.spec.branch.map {
                    " (\($0.kind.rawValue) control of \($0.parentTrial) round \($0.parentRound))"
                } ?? ""))
        let sentAt = Self.now
        if let ready = readyAt.removeValue(forKey: worker) { stats.readyToTask.append(sentAt - ready) }
        if stats.firstTaskAt == nil { stats.firstTaskAt = sentAt - started }
        send(
            .task(
                WireMessage.TaskAssignment(
                    taskID: taskID, trialID: task.trialID, spec: task.spec, startRound: startRound,
                    dataset: WireMessage.DatasetRef(id: task.spec.dataset, checksum: checksum),
                    resumeMask: resumeMask, parentMask: parentMask)),
            to: worker)
    }

    // MARK: - Audit

    /// Fails the trials whose recorded next masks the audit could not verify.
    func applyAuditFailures() {
        for failure in audit.takeFailures() {
            let reason = "round \(failure.round) result failed the mask audit: \(failure.reason)"
            event("trial \(failure.trialID): \(reason)", level: .error)
            if storeFailure == nil {
                try? store.logEvent(kind: "audit-failed", trialID: failure.trialID, message: reason)
            }
            feed(.trialCorrupt(trialID: failure.trialID, reason: reason), from: nil)
        }
    }

    /// Once the scheduler said every trial has ended and the audit has caught up: SHUTDOWN, close.
    func closeWhenAudited() {
        guard completeAwaitingAudit, closing == nil, audit.isIdle else { return }
        applyAuditFailures()
        completeAwaitingAudit = false
        stats.auditDoneAt = Self.now - started
        let anyFailed = scheduler.trials.values.contains {
            if case .failed = $0.state { return true } else { return false }
        }
        say(.info, "every trial has ended\(anyFailed ? " (some failed)" : ""): telling workers to shut down")
        beginClosing(mode: .finish, reason: nil, grace: min(1, max(0.2, config.heartbeatInterval)))
    }

    // MARK: - Results

    func handleResult(_ result: WireMessage.RoundResult, from worker: WorkerID, host: String) {
        let trialID = result.trialID
        let round = result.round
        if storeFailure != nil { return }  // not recorded, so not acknowledged: the worker keeps it
        var prepared: PreparedResult?
        if let trial = scheduler.trials[trialID], !trial.state.isTerminal, round == trial.nextRound {
            // The scheduler will accept it: check the masks first, so a bad result is never stored.
            let checkStart = Self.now
            defer { stats.checkSeconds += Self.now - checkStart }
            do {
                prepared = try prepare(result, spec: trial.spec)
            } catch {
                let reason = "round \(round) result rejected: \(error)"
                event("trial \(trialID): \(reason) (from \(worker))", level: .warning)
                try? store.logEvent(kind: "result-rejected", worker: worker, trialID: trialID, message: reason)
                send(.cancel(WireMessage.Cancel(taskID: result.taskID, trialID: trialID, reason: reason)), to: worker)
                if isCurrent(result.taskID, trialID: trialID, worker: worker) {
                    feed(.trialFailed(worker, trialID: trialID, reason: reason), from: worker)
                    forget(taskID: result.taskID)
                }
                return
            }
        }
        // A result the scheduler drops carries only its task id (for the ACK).
        pendingResult =
            prepared
            ?? PreparedResult(
                taskID: result.taskID, spec: TrialSpec(), metrics: result.metrics, maskFile: [], nextMaskFile: nil,
                audit: nil)
        feed(.roundResult(worker, trialID: trialID, round: round, isFinalRound: result.nextMask == nil), from: worker)
        pendingResult = nil
    }

    func accept(trialID: String, round: Int, from worker: WorkerID) {
        guard let prepared = pendingResult, !prepared.maskFile.isEmpty else {
            // Cannot happen: the scheduler accepts only the round `handleResult` prepared.
            say(.error, "internal: round \(round) of \(trialID) accepted without a prepared result; not recorded")
            return
        }
        pendingResult = nil
        let host = routes[worker].flatMap { peers[$0]?.host } ?? "?"
        let record = RecordedRound(
            trialID: trialID, round: round, spec: prepared.spec, metrics: prepared.metrics,
            maskBytes: prepared.maskFile, nextMaskBytes: prepared.nextMaskFile, worker: worker, host: host)
        lastMasks[trialID] = (round, prepared.nextMaskFile)
        if let job = prepared.audit { audit.submit(job) }
        accepted.append((record, prepared.taskID, worker))
        if accepted.count >= Self.maxBatch { commitAccepted() }
    }

    /// Group commit: records every accepted result in one store commit (``ResultsStore/record(batch:at:)``), then
    /// acknowledges them. Nothing is acknowledged before its commit, so a crash loses only unacknowledged results,
    /// which their workers still hold and resend.
    func commitAccepted() {
        guard !accepted.isEmpty else { return }
        let batch = accepted
        accepted = []
        guard storeFailure == nil else { return }
        let storeStart = Self.now
        do {
            try store.record(batch: batch.map(\.record))
            stats.storeSeconds += Self.now - storeStart
            stats.commits += 1
            stats.roundsRecorded += batch.count
            stats.lastRecordAt = Self.now - started
        } catch {
            let first = batch[0].record
            let others = batch.count > 1 ? " and \(batch.count - 1) other result(s)" : ""
            storeFailure = "cannot record round \(first.round) of \(first.trialID)\(others): \(error)"
            say(.critical, "\(storeFailure!). Nothing more is accepted; what is recorded stays intact.")
            beginClosing(mode: .drain, reason: storeFailure, grace: 1)
            return
        }
        for item in batch {
            let m = item.record.metrics
            event(
                String(
                    format: "round %d of %@ recorded from %@: density %.4f, test acc at early stop %.4f (iteration %d)",
                    m.round, item.record.trialID, item.worker, m.density, m.testAccAtES, m.earlyStopIteration))
            progress.roundRecorded(now: Self.now)
            send(
                .ack(
                    WireMessage.Ack(
                        taskID: item.taskID, trialID: item.record.trialID, round: item.record.round, status: .recorded)),
                to: item.worker)
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
