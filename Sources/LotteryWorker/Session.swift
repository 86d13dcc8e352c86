import Foundation
import LotteryCore
import LotteryWire
import Logging

/// One task this worker holds: queued, waiting for its dataset, training, or ended with results not yet ACKed.
final class TaskRecord {
    enum Phase: Equatable {
        /// Accepted but no slot is free (the coordinator over-sent after a race of absolute READYs).
        case queued
        /// Holds a slot; its dataset is being fetched.
        case awaitingData
        /// Its thread is training.
        case running
        /// Its thread ended (done, failed, or stopped by a drain).
        case ended
    }

    let task: WireMessage.TaskAssignment
    let control: TrialControl
    var phase: Phase = .queued
    /// ROUND_RESULTs sent (or to send) and not yet ACKed, oldest first.
    var unacked: [(round: Int, frames: [[UInt8]])] = []
    var lastAcked: Int?
    /// TRIAL_DONE or TRIAL_FAILED once the thread ended; resent after a reconnect while results are unacked.
    var final: WireMessage?
    var finalSent = false
    /// CANCEL arrived: nothing more is sent for this task.
    var cancelled = false
    /// Stopped by a drain: returned in GIVE_BACK.
    var givenBack = false

    init(task: WireMessage.TaskAssignment) {
        self.task = task
        control = TrialControl(taskID: task.taskID, trialID: task.trialID, startRound: task.startRound)
    }

    var holdsSlot: Bool { phase != .ended }
    var metadata: Logger.Metadata { ["task": "\(task.taskID)", "trial": "\(task.trialID)"] }
    var returned: WireMessage.ReturnedTrial {
        WireMessage.ReturnedTrial(taskID: task.taskID, trialID: task.trialID, lastRound: lastAcked)
    }
}

/// An in-progress dataset download (one request outstanding at a time).
struct Fetch {
    var ref: WireMessage.DatasetRef
    var path: String
    var handle: FileHandle
    var offset = 0
    var total: Int?
    var hasher = SHA256()
    var requestedAt: ContinuousClock.Instant
}

/// The worker's protocol state, driven by the I/O thread only (not thread-safe, never shared).
///
/// It never touches the socket: handlers queue frames in `outgoing`, which ``Worker/run()`` sends while
/// connected, and set `wantsReconnect` or `exit`.
final class Session {
    enum Mode: Equatable {
        case normal
        /// SHUTDOWN finish: no new work; exit once idle and acknowledged.
        case finishing
        /// SHUTDOWN drain: finish rounds in progress, wait for ACKs, GIVE_BACK, exit.
        case draining
    }

    let worker: Worker
    var config: WorkerConfig { worker.config }
    var logger: Logger { worker.logger }
    let disk: DatasetDisk

    var records: [Int: TaskRecord] = [:]
    var order: [Int] = []
    var outgoing: [[[UInt8]]] = []
    var isConnected = false
    private var lastHeard = ContinuousClock.now
    private var lastHeartbeat = ContinuousClock.now
    private var lastHello = ContinuousClock.now
    private var reconnectDelay: Int
    private var lastCredit: Int?
    var fetch: Fetch?
    private var mode = Mode.normal
    private var drainIdleSince: ContinuousClock.Instant?
    /// Tasks given back by a drain before they started (returned in the final GIVE_BACK).
    private var returnedEarly: [WireMessage.ReturnedTrial] = []

    /// Set by a handler: reconnect after this many milliseconds.
    var wantsReconnect: Int?
    /// Set when the worker must leave ``Worker/run()``.
    private(set) var exit: Result<WorkerExit, WorkerError>?

    init(worker: Worker) {
        self.worker = worker
        disk = DatasetDisk(directory: worker.config.dataDirectory)
        reconnectDelay = worker.config.reconnectMinMilliseconds
    }

    private var interval: Duration { .milliseconds(config.heartbeatMilliseconds) }

    // MARK: Connection

    /// A fresh connection: HELLO (datasets, running trials), READY, then every unacknowledged result oldest
    /// first with the TRIAL_DONE/FAILED that followed it, and the outstanding DATA_REQUEST.
    func connected(now: ContinuousClock.Instant) {
        isConnected = true
        lastHeard = now
        lastHeartbeat = now
        sendHello(now: now)
        for id in order {
            guard let record = records[id], !record.cancelled else { continue }
            if !record.unacked.isEmpty {
                logger.info(
                    "resending unacknowledged results",
                    metadata: record.metadata.merging(
                        ["rounds": "\(record.unacked.map(\.round))"], uniquingKeysWith: { $1 }))
            }
            for result in record.unacked { outgoing.append(result.frames) }
            if let final = record.final {
                send(final)
                record.finalSent = true
            }
        }
        dropSettledRecords()
        if let fetch {
            requestChunk(fetch.ref.id, offset: fetch.offset, total: fetch.total)
            self.fetch?.requestedAt = now
        }
    }

    private func sendHello(now: ContinuousClock.Instant) {
        // Every trial this worker still holds: training, or finished with results not yet acknowledged (they
        // are resent right after this HELLO), so the coordinator keeps them assigned here.
        let running = order.compactMap { records[$0] }
            .filter { ($0.holdsSlot || !$0.unacked.isEmpty) && !$0.cancelled }.map(\.control.progress)
        send(.hello(config.hello(datasets: disk.cachedDatasets(), running: running)))
        lastHello = now
        lastCredit = nil
        logger.info(
            "HELLO", metadata: ["name": "\(config.name)", "slots": "\(config.slots)", "running": "\(running.count)"])
        sendReady()
    }

    func takeOutgoing() -> [[[UInt8]]] {
        defer { outgoing.removeAll() }
        return isConnected ? outgoing : []
    }

    func send(_ message: WireMessage) {
        do {
            outgoing.append(try message.encode())
        } catch {
            // Only ROUND_RESULTs can exceed limits, and trial threads encode those themselves.
            logger.error("cannot encode \(message.type)", metadata: ["error": "\(error)"])
        }
    }

    /// Free slots now; READY is sent when it grows (a slot freed) or after HELLO, never when it shrinks (the
    /// coordinator counts its own TASKs down; a smaller READY racing a TASK would make it over-send).
    private var credit: Int {
        guard mode == .normal, worker.requestedStop == nil else { return 0 }
        return max(0, config.slots - records.values.filter(\.holdsSlot).count)
    }

    func sendReady() {
        let credit = self.credit
        if let lastCredit, credit <= lastCredit {
            self.lastCredit = credit
            return
        }
        if lastCredit == nil && credit == 0 && mode != .normal { return }
        lastCredit = credit
        send(.ready(WireMessage.Ready(credit: credit)))
        logger.debug("READY", metadata: ["credit": "\(credit)"])
    }

    // MARK: Incoming

    func received(_ frames: [[UInt8]], now: ContinuousClock.Instant) {
        lastHeard = now  // any message, even a bad one, shows the coordinator is alive (Paranoid Pirate)
        reconnectDelay = config.reconnectMinMilliseconds
        let message: WireMessage
        do {
            message = try WireMessage.decode(frames)
        } catch {
            if case .unsupportedVersion(let peer, let supported) = error.kind {
                // The negotiation's answer: a coordinator of another version says REJECT `version_mismatch` in its
                // own version, so its header is all this worker can read. Leave, with one line naming both.
                let ours =
                    supported.count == 1 ? "\(supported.lowerBound)" : "\(supported.lowerBound)…\(supported.upperBound)"
                fail(
                    WorkerError(
                        "coordinator at \(config.endpoint) speaks protocol version \(peer), this worker speaks \(ours): "
                            + "run the same LotteryTickets release on coordinator and workers"))
            } else {
                logger.warning(
                    "ignoring a message from the coordinator that does not decode",
                    metadata: ["error": "\(error)"])
            }
            return
        }
        switch message {
        case .task(let task): accept(task)
        case .heartbeat: break
        case .ack(let ack): acknowledge(ack)
        case .reject(let reject): rejected(reject, now: now)
        case .shutdown(let request): shutdown(request)
        case .dataChunk(let chunk): receivedChunk(chunk)
        case .cancel(let cancel): cancelTask(cancel)
        case .hello, .ready, .roundResult, .trialDone, .trialFailed, .giveBack, .dataRequest:
            logger.warning("ignoring \(message.type) from the coordinator (a worker-to-coordinator message)")
        }
    }

    private func accept(_ task: WireMessage.TaskAssignment) {
        let metadata: Logger.Metadata = ["task": "\(task.taskID)", "trial": "\(task.trialID)"]
        if records[task.taskID] != nil {
            logger.warning("ignoring a repeated TASK", metadata: metadata)
            return
        }
        if mode != .normal || worker.requestedStop != nil {
            logger.info("TASK while leaving: giving it back", metadata: metadata)
            send(
                .giveBack(
                    WireMessage.GiveBack(
                        trials: [WireMessage.ReturnedTrial(taskID: task.taskID, trialID: task.trialID, lastRound: nil)],
                        reason: "worker is leaving")))
            return
        }
        logger.info(
            "TASK",
            metadata: metadata.merging(
                [
                    "start_round": "\(task.startRound)", "dataset": "\(task.dataset.id)",
                    "branch": "\(task.spec.branch != nil)",
                ], uniquingKeysWith: { $1 }))
        let record = TaskRecord(task: task)
        records[task.taskID] = record
        order.append(task.taskID)
        lastCredit = min(lastCredit ?? 0, credit)
        schedule()
    }

    private func acknowledge(_ ack: WireMessage.Ack) {
        guard let record = records[ack.taskID], record.task.trialID == ack.trialID else {
            logger.debug("ACK for a task this worker no longer holds", metadata: ["task": "\(ack.taskID)"])
            return
        }
        record.unacked.removeAll { $0.round == ack.round }
        record.lastAcked = max(record.lastAcked ?? ack.round, ack.round)
        logger.info(
            "ACK",
            metadata: record.metadata.merging(
                ["round": "\(ack.round)", "status": "\(ack.status.rawValue)"], uniquingKeysWith: { $1 }))
        dropSettledRecords()
    }

    private func rejected(_ reject: WireMessage.Reject, now: ContinuousClock.Instant) {
        logger.warning("REJECT", metadata: ["code": "\(reject.code.rawValue)", "message": "\(reject.message)"])
        switch reject.code {
        case .versionMismatch:
            fail(
                WorkerError(
                    "coordinator at \(config.endpoint) speaks protocol version "
                        + (reject.minVersion == reject.maxVersion
                            ? "\(reject.minVersion)" : "\(reject.minVersion)…\(reject.maxVersion)")
                        + ", this worker speaks \(Wire.version): run the same LotteryTickets release on coordinator and "
                        + "workers"))
        case .refused:
            fail(WorkerError("coordinator at \(config.endpoint) refused this worker: \(reject.message)"))
        case .unknownWorker:
            // The coordinator restarted or forgot us: HELLO again (at most once per interval, since every message
            // already in flight gets the same answer), then the unacknowledged results.
            if now - lastHello >= interval { connected(now: now) }
        case .unknownDataset:
            if let fetch { failFetch("coordinator does not serve dataset '\(fetch.ref.id)': \(reject.message)") }
        case .badMessage, .unexpectedMessage, .unknownTask:
            break
        }
    }

    private func shutdown(_ shutdown: WireMessage.Shutdown) {
        logger.info("SHUTDOWN", metadata: ["mode": "\(shutdown.mode.rawValue)", "reason": "\(shutdown.reason)"])
        switch shutdown.mode {
        case .finish:
            // Every trial of the sweep has ended and is recorded, so nothing this worker still holds is needed:
            // a stale task the coordinator reassigned, or results it recorded from another worker. Waiting for
            // their ACKs would keep the worker reconnecting to a coordinator that has exited.
            if mode == .normal { mode = .finishing }
            for id in order { if let record = records[id] { forget(record) } }
        case .drain:
            guard mode != .draining else { return }
            mode = .draining
            for id in order {
                guard let record = records[id] else { continue }
                switch record.phase {
                case .queued, .awaitingData:
                    returnedEarly.append(record.returned)
                    remove(id)
                case .running:
                    record.control.stopAfterRound()
                case .ended:
                    break
                }
            }
            if let fetch, !records.values.contains(where: { $0.phase == .awaitingData }) {
                abandonFetch(fetch)
            }
        }
    }

    private func cancelTask(_ cancel: WireMessage.Cancel) {
        guard let record = records[cancel.taskID], record.task.trialID == cancel.trialID else {
            logger.info("CANCEL for a task this worker does not hold", metadata: ["task": "\(cancel.taskID)"])
            return
        }
        logger.info(
            "CANCEL", metadata: record.metadata.merging(["reason": "\(cancel.reason)"], uniquingKeysWith: { $1 }))
        forget(record)
        schedule()
    }

    /// Stops a task and drops what it has not delivered: a training thread stops at its next progress report,
    /// and the slot frees when it does (its `.stopped` event).
    private func forget(_ record: TaskRecord) {
        record.control.cancel()
        record.cancelled = true
        record.unacked.removeAll()
        switch record.phase {
        case .queued, .awaitingData, .ended: remove(record.task.taskID)
        case .running: break
        }
    }

    // MARK: Timers and leaving

    /// Milliseconds until the next timer (heartbeat), at most one interval, at least 1.
    func pollTimeout(now: ContinuousClock.Instant) -> Int {
        let next = lastHeartbeat + interval
        let remaining = now < next ? now.duration(to: next) : .zero
        let ms = Int(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
        return max(1, min(ms, config.heartbeatMilliseconds))
    }

    func tick(now: ContinuousClock.Instant, connected: Bool) {
        guard connected, exit == nil else { return }
        if now - lastHeartbeat >= interval {
            lastHeartbeat = now
            let progress = order.compactMap { records[$0] }.filter { $0.phase == .running && !$0.cancelled }
                .map(\.control.progress)
            send(.heartbeat(WireMessage.Heartbeat(progress: progress)))
        }
        if now - lastHeard > interval * config.liveness {
            logger.warning("coordinator silent", metadata: ["intervals": "\(config.liveness)"])
            isConnected = false
            wantsReconnect = reconnectDelay
            reconnectDelay = min(reconnectDelay * 2, config.reconnectMaxMilliseconds)
            return
        }
        if var current = fetch, now - current.requestedAt > interval * config.liveness {
            logger.warning(
                "DATA_CHUNK overdue, asking again",
                metadata: ["dataset": "\(current.ref.id)", "offset": "\(current.offset)"])
            current.requestedAt = now
            fetch = current
            requestChunk(current.ref.id, offset: current.offset, total: current.total)
        }
        checkLeaving(now: now)
    }

    private func checkLeaving(now: ContinuousClock.Instant) {
        switch mode {
        case .normal:
            break
        case .finishing:
            if records.isEmpty { exit = .success(.finished) }
        case .draining:
            guard !records.values.contains(where: { $0.phase != .ended }) else { return }
            let waiting = records.values.contains { !$0.unacked.isEmpty }
            if drainIdleSince == nil { drainIdleSince = now }
            guard !waiting || now - drainIdleSince! >= .milliseconds(config.drainAckMilliseconds) else { return }
            let returned = returnedEarly + order.compactMap { records[$0] }.filter { $0.final == nil }.map(\.returned)
            if !returned.isEmpty { send(.giveBack(WireMessage.GiveBack(trials: returned, reason: "drain requested"))) }
            exit = .success(.drained)
        }
    }

    /// ``Worker/stop(reason:)``: give back everything unfinished and leave now.
    func stop(reason: String) {
        guard exit == nil else { return }
        let returned =
            returnedEarly
            + order.compactMap { records[$0] }
            .filter { $0.final == nil && !$0.cancelled }.map(\.returned)
        for record in records.values { record.control.cancel() }
        if let fetch { abandonFetch(fetch) }
        logger.info("stopping", metadata: ["reason": "\(reason)", "given_back": "\(returned.count)"])
        if !returned.isEmpty { send(.giveBack(WireMessage.GiveBack(trials: returned, reason: reason))) }
        exit = .success(.stopped)
    }

    /// A fatal error found outside the conversation (the coordinator refused this worker's key): stop, exit with it.
    func fatal(_ error: WorkerError) {
        guard exit == nil else { return }
        fail(error)
    }

    private func fail(_ error: WorkerError) {
        // Not logged as an error here: ``Worker/run()`` throws it, and the executable prints it once, as one line.
        logger.debug("worker stops", metadata: ["error": "\(error)"])
        for record in records.values { record.control.cancel() }
        exit = .failure(error)
    }
}
