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

    private(set) var records: [Int: TaskRecord] = [:]
    private var order: [Int] = []
    private var outgoing: [[[UInt8]]] = []
    private var isConnected = false
    private var lastHeard = ContinuousClock.now
    private var lastHeartbeat = ContinuousClock.now
    private var lastHello = ContinuousClock.now
    private var reconnectDelay: Int
    private var lastCredit: Int?
    private var fetch: Fetch?
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

    private func send(_ message: WireMessage) {
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

    private func sendReady() {
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
            if case .unsupportedVersion = error.kind {
                fail(WorkerError("coordinator at \(config.endpoint): \(error.description)"))
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
                    "coordinator at \(config.endpoint) speaks protocol versions \(reject.minVersion)…\(reject.maxVersion), "
                        + "this build speaks \(Wire.version): run the same LotteryTickets release on coordinator and workers "
                        + "(\(reject.message))"))
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

    // MARK: Trial threads

    func handle(_ event: TrialEvent) {
        switch event {
        case .result(let taskID, let round, let frames):
            guard let record = records[taskID], !record.cancelled else { return }
            record.unacked.append((round, frames))
            outgoing.append(frames)
            logger.info(
                "ROUND_RESULT", metadata: record.metadata.merging(["round": "\(round)"], uniquingKeysWith: { $1 }))
        case .done(let taskID, let lastRound):
            ended(
                taskID,
                final: { .trialDone(WireMessage.TrialDone(taskID: taskID, trialID: $0.trialID, lastRound: lastRound)) })
        case .failed(let taskID, let round, let error):
            logger.error("trial failed", metadata: ["task": "\(taskID)", "error": "\(error)"])
            ended(
                taskID,
                final: {
                    .trialFailed(
                        WireMessage.TrialFailed(taskID: taskID, trialID: $0.trialID, round: round, error: error))
                })
        case .stopped(let taskID):
            guard let record = records[taskID] else { return }
            logger.info("trial stopped", metadata: record.metadata)
            record.phase = .ended
            if record.cancelled { remove(taskID) } else { record.givenBack = true }
            schedule()
        }
    }

    private func ended(_ taskID: Int, final: (WireMessage.TaskAssignment) -> WireMessage) {
        guard let record = records[taskID] else { return }
        record.phase = .ended
        if !record.cancelled {
            let message = final(record.task)
            record.final = message
            logger.info("\(message.type)", metadata: record.metadata)
            if isConnected {
                send(message)
                record.finalSent = true
            }
        }
        dropSettledRecords()
        schedule()
    }

    /// Starts queued tasks while slots are free, starts fetches, and announces new credit.
    private func schedule() {
        let busy = records.values.filter { $0.phase == .running || $0.phase == .awaitingData }.count
        var free = config.slots - busy
        for id in order where free > 0 {
            guard let record = records[id], record.phase == .queued else { continue }
            free -= 1
            if record.task.spec.synthetic != nil || disk.has(record.task.dataset) {  // synthetic: no data
                start(record)
            } else if !DatasetDisk.isSafeID(record.task.dataset.id) {
                record.phase = .awaitingData
                failTask(record, "dataset id '\(record.task.dataset.id)' cannot name a cache folder")
            } else {
                record.phase = .awaitingData
            }
        }
        startFetchIfNeeded()
        sendReady()
    }

    private func start(_ record: TaskRecord) {
        record.phase = .running
        logger.info("trial starts", metadata: record.metadata)
        if let fault = config.faultCrashTrial,
            fault == record.task.trialID || fault == "seed=\(record.task.spec.seed)"
        {
            logger.critical("LTH_FAULT_CRASH_TRIAL=\(fault): crashing on purpose", metadata: record.metadata)
            // `_exit`, not `abort()`: the same abrupt end for the coordinator (no GIVE_BACK, no flush), without a
            // core dump in the test's working folder.
            _exit(134)
        }
        TrialJob(
            task: record.task, dataDirectory: config.dataDirectory, control: record.control, splits: worker.splits,
            mailbox: worker.mailbox, logger: logger, threads: config.trialThreads
        ).start()
    }

    private func failTask(_ record: TaskRecord, _ text: String) {
        logger.error("trial failed", metadata: record.metadata.merging(["error": "\(text)"], uniquingKeysWith: { $1 }))
        record.phase = .ended
        let message = WireMessage.trialFailed(
            WireMessage.TrialFailed(taskID: record.task.taskID, trialID: record.task.trialID, round: nil, error: text))
        record.final = message
        if isConnected {
            send(message)
            record.finalSent = true
        }
        dropSettledRecords()
    }

    private func remove(_ id: Int) {
        records[id] = nil
        order.removeAll { $0 == id }
    }

    /// Forgets ended tasks with nothing left to deliver.
    private func dropSettledRecords() {
        for id in order {
            guard let record = records[id], record.phase == .ended, record.unacked.isEmpty, !record.givenBack else {
                continue
            }
            if record.cancelled || record.final == nil || record.finalSent { remove(id) }
        }
    }

    // MARK: Dataset fetch

    private func startFetchIfNeeded() {
        guard fetch == nil else { return }
        guard let record = order.compactMap({ records[$0] }).first(where: { $0.phase == .awaitingData }) else { return }
        let ref = record.task.dataset
        do {
            let download = try disk.resumableDownload(for: ref, instance: config.instanceID)
            var started = Fetch(ref: ref, path: download.path, handle: download.handle, requestedAt: .now)
            if download.existing > 0 {
                // The bytes a worker that died left behind count toward the checksum, read once.
                guard let reader = FileHandle(forReadingAtPath: download.path) else {
                    throw WorkerError("cannot read \(download.path)")
                }
                defer { try? reader.close() }
                var left = download.existing
                while left > 0, let block = try reader.read(upToCount: min(left, 1 << 20)), !block.isEmpty {
                    started.hasher.update([UInt8](block))
                    left -= block.count
                }
                guard left == 0 else { throw WorkerError("\(download.path) changed while it was read back") }
                started.offset = download.existing
            }
            fetch = started
            logger.info(
                started.offset > 0 ? "resuming dataset download" : "fetching dataset",
                metadata: ["dataset": "\(ref.id)", "checksum": "\(ref.checksum)", "offset": "\(started.offset)"])
            requestChunk(ref.id, offset: started.offset, total: nil)
        } catch {
            failWaiting(for: ref, "cannot fetch dataset '\(ref.id)' into \(config.dataDirectory): \(error)")
        }
    }

    private func requestChunk(_ id: String, offset: Int, total: Int?) {
        let length = total.map { min(Wire.maxChunkBytes, $0 - offset) } ?? Wire.maxChunkBytes
        send(.dataRequest(WireMessage.DataRequest(datasetID: id, offset: offset, length: max(1, length))))
    }

    private func receivedChunk(_ chunk: WireMessage.DataChunk) {
        guard var current = fetch, chunk.datasetID == current.ref.id, chunk.offset == current.offset else {
            logger.debug(
                "ignoring a DATA_CHUNK that answers no outstanding request",
                metadata: ["dataset": "\(chunk.datasetID)", "offset": "\(chunk.offset)"])
            return
        }
        let id = current.ref.id
        guard chunk.checksum == current.ref.checksum else {
            return failFetch(
                "coordinator serves dataset '\(id)' with checksum \(chunk.checksum), "
                    + "but the task asked for \(current.ref.checksum): the dataset changed on the coordinator")
        }
        if let total = current.total, total != chunk.totalSize {
            return failFetch("dataset '\(id)' changed size during the download (\(total) → \(chunk.totalSize) bytes)")
        }
        guard chunk.totalSize <= DatasetBundle.maxTotalBytes else {
            return failFetch(
                "dataset '\(id)' is \(chunk.totalSize) bytes, over the limit of \(DatasetBundle.maxTotalBytes)")
        }
        guard !chunk.bytes.isEmpty || chunk.offset == chunk.totalSize else {
            return failFetch("empty DATA_CHUNK at offset \(chunk.offset) of dataset '\(id)' (\(chunk.totalSize) bytes)")
        }
        do {
            try current.handle.write(contentsOf: chunk.bytes)
        } catch {
            return failFetch("cannot write \(current.path): \(error)")
        }
        current.hasher.update(chunk.bytes)
        current.offset += chunk.bytes.count
        current.total = chunk.totalSize
        current.requestedAt = .now
        fetch = current
        if current.offset < chunk.totalSize {
            requestChunk(id, offset: current.offset, total: chunk.totalSize)
            return
        }
        finishFetch(current)
    }

    private func finishFetch(_ fetched: Fetch) {
        var done = fetched
        try? done.handle.close()
        let digest = SHA256.hex(done.hasher.finalize())
        guard digest == done.ref.checksum else {
            return failFetch(
                "dataset '\(done.ref.id)' arrived with SHA-256 \(digest), expected \(done.ref.checksum): "
                    + "the transfer was corrupted; the next task fetches it again")
        }
        do {
            guard let data = FileManager.default.contents(atPath: done.path) else {
                throw WorkerError("cannot read back \(done.path)")
            }
            try disk.install(bundle: [UInt8](data), ref: done.ref, instance: config.instanceID)
        } catch {
            return failFetch("cannot install dataset '\(done.ref.id)' into \(disk.folder(done.ref.id)): \(error)")
        }
        try? FileManager.default.removeItem(atPath: done.path)
        fetch = nil
        logger.info("dataset installed", metadata: ["dataset": "\(done.ref.id)", "bytes": "\(done.offset)"])
        for id in order {
            if let record = records[id], record.phase == .awaitingData, record.task.dataset == done.ref {
                start(record)
            }
        }
        schedule()
    }

    /// Ends the current download and fails the tasks that waited for it (a later task fetches afresh).
    private func failFetch(_ text: String) {
        guard let current = fetch else { return }
        abandonFetch(current)
        failWaiting(for: current.ref, text)
        schedule()
    }

    private func abandonFetch(_ current: Fetch) {
        try? current.handle.close()
        try? FileManager.default.removeItem(atPath: current.path)
        fetch = nil
    }

    private func failWaiting(for ref: WireMessage.DatasetRef, _ text: String) {
        for id in order {
            if let record = records[id], record.phase == .awaitingData, record.task.dataset == ref {
                failTask(record, text)
            }
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
        logger.error("worker stops", metadata: ["error": "\(error)"])
        for record in records.values { record.control.cancel() }
        exit = .failure(error)
    }
}
