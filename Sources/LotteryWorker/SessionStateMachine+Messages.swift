import LotteryCore
import LotteryWire
import Logging

// The conversation: connecting, each coordinator message, timers, leaving.
extension SessionStateMachine {
    // MARK: - Connection

    /// A fresh connection: HELLO (datasets, running trials), every unacknowledged result oldest first with the
    /// TRIAL_DONE/FAILED that followed it, READY, and the outstanding DATA_REQUEST.
    ///
    /// READY comes after the resent results: the coordinator counts a trial as running on this worker until its
    /// TRIAL_DONE arrives, and caps READY's free slots by the slots it thinks are busy. A READY read before the
    /// TRIAL_DONE of a trial that ended while disconnected was capped to 0 and never restated (the worker, idle,
    /// announces credit only when it grows), so the coordinator never gave it another task: `scripts/chaos` hung so.
    mutating func connected() {
        isConnected = true
        lastHeard = now
        lastHeartbeat = now
        sendHello()
        for id in order {
            guard let record = records[id], !record.cancelled else { continue }
            if !record.unacked.isEmpty {
                log(
                    .info, "resending unacknowledged results",
                    record.metadata.merging(["rounds": "\(record.unacked.map(\.round))"], uniquingKeysWith: { $1 }))
            }
            for result in record.unacked { actions.append(.sendEncoded(result.frames)) }
            if let final = record.final {
                send(final)
                records[id]?.finalSent = true
            }
        }
        dropSettledRecords()
        sendReady()
        if let current = fetch {
            requestChunk(current.ref.id, offset: current.offset, total: current.total)
            fetch?.requestedAt = now
        }
    }

    mutating func sendHello() {
        // Every trial this worker still holds: training, or finished with results not yet acknowledged (they
        // are resent right after this HELLO), so the coordinator keeps them assigned here.
        let running = orderedRecords.filter { ($0.holdsSlot || !$0.unacked.isEmpty) && !$0.cancelled }.map(progress)
        send(.hello(config.hello(datasets: datasets, running: running)))
        lastHello = now
        lastCredit = nil
        log(.info, "HELLO", ["name": "\(config.name)", "slots": "\(config.slots)", "running": "\(running.count)"])
    }

    /// Free slots now; READY is sent when it grows (a slot freed) or after HELLO, never when it shrinks (the
    /// coordinator counts its own TASKs down; a smaller READY racing a TASK would make it over-send).
    var credit: Int {
        guard mode == .normal, !stopping else { return 0 }
        return max(0, config.slots - records.values.filter(\.holdsSlot).count)
    }

    mutating func sendReady() {
        let credit = self.credit
        if let lastCredit, credit <= lastCredit {
            self.lastCredit = credit
            return
        }
        if lastCredit == nil && credit == 0 && mode != .normal { return }
        lastCredit = credit
        send(.ready(WireMessage.Ready(credit: credit)))
        log(.debug, "READY", ["credit": "\(credit)"])
    }

    // MARK: - Incoming

    mutating func received(_ frames: [[UInt8]]) {
        lastHeard = now  // any message, even a bad one, shows the coordinator is alive (Paranoid Pirate)
        reconnectDelay = config.reconnectMinMilliseconds
        let message: WireMessage
        do {
            message = try WireMessage.decode(frames)
        } catch {
            if case .unsupportedVersion(let peer, let supported) = error.kind {
                // The negotiation's answer: a coordinator of another version says REJECT `version_mismatch` in its
                // own version, so its header is all this worker can read. Leave, with one line naming both.
                fail(versionMismatch(coordinator: Wire.describe(peer...peer), worker: Wire.describe(supported)))
            } else {
                log(.warning, "ignoring a message from the coordinator that does not decode", ["error": "\(error)"])
            }
            return
        }
        switch message {
        case .task(let task): accept(task)
        case .heartbeat: break
        case .ack(let ack): acknowledge(ack)
        case .reject(let reject): rejected(reject)
        case .shutdown(let request): shutdown(request)
        case .dataChunk(let chunk): receivedChunk(chunk)
        case .cancel(let cancel): cancelTask(cancel)
        case .hello, .ready, .roundResult, .trialDone, .trialFailed, .giveBack, .dataRequest:
            log(.warning, "ignoring \(message.type) from the coordinator (a worker-to-coordinator message)")
        }
    }

    mutating func accept(_ task: WireMessage.TaskAssignment) {
        let metadata: Logger.Metadata = ["task": "\(task.taskID)", "trial": "\(task.trialID)"]
        if records[task.taskID] != nil {
            log(.warning, "ignoring a repeated TASK", metadata)
            return
        }
        if mode != .normal || stopping {
            log(.info, "TASK while leaving: giving it back", metadata)
            send(
                .giveBack(
                    WireMessage.GiveBack(
                        trials: [WireMessage.ReturnedTrial(taskID: task.taskID, trialID: task.trialID, lastRound: nil)],
                        reason: "worker is leaving")))
            return
        }
        log(
            .info, "TASK",
            metadata.merging(
                [
                    "start_round": "\(task.startRound)", "dataset": "\(task.dataset.id)",
                    "branch": "\(task.spec.branch != nil)",
                ], uniquingKeysWith: { $1 }))
        records[task.taskID] = Record(task: task)
        order.append(task.taskID)
        lastCredit = min(lastCredit ?? 0, credit)
        schedule()
    }

    mutating func acknowledge(_ ack: WireMessage.Ack) {
        guard var record = records[ack.taskID], record.task.trialID == ack.trialID else {
            log(.debug, "ACK for a task this worker no longer holds", ["task": "\(ack.taskID)"])
            return
        }
        record.unacked.removeAll { $0.round == ack.round }
        record.lastAcked = max(record.lastAcked ?? ack.round, ack.round)
        records[ack.taskID] = record
        log(
            .info, "ACK",
            record.metadata.merging(
                ["round": "\(ack.round)", "status": "\(ack.status.rawValue)"], uniquingKeysWith: { $1 }))
        dropSettledRecords()
    }

    mutating func rejected(_ reject: WireMessage.Reject) {
        log(.warning, "REJECT", ["code": "\(reject.code.rawValue)", "message": "\(reject.message)"])
        switch reject.code {
        case .versionMismatch:
            fail(
                versionMismatch(
                    coordinator: Wire.describe(reject.minVersion...max(reject.minVersion, reject.maxVersion)),
                    worker: Wire.describe(Wire.supportedVersions)))
        case .refused:
            fail(WorkerError("coordinator at \(config.endpoint) refused this worker: \(reject.message)"))
        case .unknownWorker:
            // The coordinator restarted or forgot us: HELLO again (at most once per interval, since every message
            // already in flight gets the same answer), then the unacknowledged results.
            if now - lastHello >= interval { connected() }
        case .unknownDataset:
            if let fetch { failFetch("coordinator does not serve dataset '\(fetch.ref.id)': \(reject.message)") }
        case .badMessage, .unexpectedMessage, .unknownTask:
            break
        }
    }

    mutating func shutdown(_ shutdown: WireMessage.Shutdown) {
        log(.info, "SHUTDOWN", ["mode": "\(shutdown.mode.rawValue)", "reason": "\(shutdown.reason)"])
        switch shutdown.mode {
        case .finish:
            // Every trial of the sweep has ended and is recorded, so nothing this worker still holds is needed:
            // a stale task the coordinator reassigned, or results it recorded from another worker. Waiting for
            // their ACKs would keep the worker reconnecting to a coordinator that has exited.
            if mode == .normal { mode = .finishing }
            for id in order { forget(id) }
        case .drain:
            guard mode != .draining else { return }
            mode = .draining
            for id in order {
                guard let record = records[id] else { continue }
                switch record.phase {
                case .queued, .checkingData, .awaitingData:
                    returnedEarly.append(record.returned)
                    remove(id)
                case .running:
                    actions.append(.stopTrialAfterRound(taskID: id))
                case .ended:
                    break
                }
            }
            if let current = fetch, !records.values.contains(where: { $0.phase == .awaitingData }) {
                actions.append(.abandonDownload(current.ref))
                fetch = nil
            }
        }
    }

    mutating func cancelTask(_ cancel: WireMessage.Cancel) {
        guard let record = records[cancel.taskID], record.task.trialID == cancel.trialID else {
            log(.info, "CANCEL for a task this worker does not hold", ["task": "\(cancel.taskID)"])
            return
        }
        log(.info, "CANCEL", record.metadata.merging(["reason": "\(cancel.reason)"], uniquingKeysWith: { $1 }))
        forget(cancel.taskID)
        schedule()
    }

    /// Stops a task and drops what it has not delivered: a training thread stops at its next progress report,
    /// and the slot frees when it does (its `trialStopped` event).
    mutating func forget(_ id: Int) {
        guard var record = records[id] else { return }
        actions.append(.cancelTrial(taskID: id))
        record.cancelled = true
        record.unacked.removeAll()
        records[id] = record
        switch record.phase {
        case .queued, .checkingData, .awaitingData, .ended: remove(id)
        case .running: break
        }
    }

    // MARK: - Timers and leaving

    mutating func tick() {
        guard isConnected else { return }
        if now - lastHeartbeat >= interval {
            lastHeartbeat = now
            let progress = orderedRecords.filter { $0.phase == .running && !$0.cancelled }.map(progress)
            send(.heartbeat(WireMessage.Heartbeat(progress: progress)))
        }
        if now - lastHeard > interval * Double(config.liveness) {
            log(.warning, "coordinator silent", ["intervals": "\(config.liveness)"])
            isConnected = false
            actions.append(.reconnect(afterMilliseconds: reconnectDelay))
            reconnectDelay = min(reconnectDelay * 2, config.reconnectMaxMilliseconds)
            return
        }
        if let current = fetch, now - current.requestedAt > interval * Double(config.liveness) {
            log(
                .warning, "DATA_CHUNK overdue, asking again",
                ["dataset": "\(current.ref.id)", "offset": "\(current.offset)"])
            fetch?.requestedAt = now
            requestChunk(current.ref.id, offset: current.offset, total: current.total)
        }
        checkLeaving()
    }

    mutating func checkLeaving() {
        switch mode {
        case .normal:
            break
        case .finishing:
            if records.isEmpty { leave(.success(.finished)) }
        case .draining:
            guard !records.values.contains(where: { $0.phase != .ended }) else { return }
            let waiting = records.values.contains { !$0.unacked.isEmpty }
            if drainIdleSince == nil { drainIdleSince = now }
            guard !waiting || now - drainIdleSince! >= Double(config.drainAckMilliseconds) / 1000 else { return }
            let returned = returnedEarly + orderedRecords.filter { $0.final == nil }.map(\.returned)
            if !returned.isEmpty { send(.giveBack(WireMessage.GiveBack(trials: returned, reason: "drain requested"))) }
            leave(.success(.drained))
        }
    }

    /// SIGTERM/SIGINT: give back everything unfinished and leave now.
    mutating func stop(reason: String) {
        stopping = true
        let returned = returnedEarly + orderedRecords.filter { $0.final == nil && !$0.cancelled }.map(\.returned)
        for id in order { actions.append(.cancelTrial(taskID: id)) }
        if let current = fetch {
            actions.append(.abandonDownload(current.ref))
            fetch = nil
        }
        log(.info, "stopping", ["reason": "\(reason)", "given_back": "\(returned.count)"])
        if !returned.isEmpty { send(.giveBack(WireMessage.GiveBack(trials: returned, reason: reason))) }
        leave(.success(.stopped))
    }

    /// The one line a worker of another protocol version leaves with.
    func versionMismatch(coordinator: String, worker: String) -> WorkerError {
        WorkerError(
            "coordinator at \(config.endpoint) speaks protocol version \(coordinator), this worker speaks \(worker): "
                + "run the same LotteryTickets release on coordinator and workers")
    }

    mutating func fail(_ error: WorkerError) {
        // Not logged as an error here: ``Worker/run()`` throws it, and the executable prints it once, as one line.
        log(.debug, "worker stops", ["error": "\(error)"])
        for id in order { actions.append(.cancelTrial(taskID: id)) }
        leave(.failure(error))
    }

    mutating func leave(_ outcome: Result<WorkerExit, WorkerError>) {
        guard exit == nil else { return }
        exit = outcome
        actions.append(.exit(outcome))
    }
}
