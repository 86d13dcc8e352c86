import LotteryCore
import LotteryWire
import Logging

// What a worker sent: decoding (the version first), direction, HELLO, then each message kind to the scheduler.
extension CoordinatorStateMachine {
    mutating func received(_ inbound: InboundMessage) {
        let identity: [UInt8]
        let message: WireMessage
        do {
            let split = try Wire.splitRouterFrames(inbound.frames)
            identity = split.identity
            do {
                message = try WireMessage.decode(split.payload)
            } catch {
                undecodable(error, identity: identity, inbound: inbound)
                return
            }
        } catch {
            // No payload after the identity (e.g. one garbage frame): answer if the identity can address the peer.
            log(.warning, "rejected a message from \(inbound.peerAddress ?? "an unknown peer"): \(error)")
            if let identity = inbound.frames.first, (1...Wire.maxIdentityBytes).contains(identity.count) {
                send(.reject(WireMessage.Reject(error)), to: identity)
            }
            refused(inbound, identity: nil, .badMessage, "\(error)")
            return
        }
        if message.type.direction == .coordinatorToWorker {
            log(.warning, "rejected \(message.type) from \(describe(identity, inbound)): only a coordinator sends it")
            send(
                .reject(
                    WireMessage.Reject(
                        code: .unexpectedMessage, message: "\(message.type) goes from coordinator to worker, not back")),
                to: identity)
            refused(inbound, identity: identity, .badMessage, "sent \(message.type), which only a coordinator sends")
            return
        }
        if case .hello(let hello) = message {
            self.hello(hello, identity: identity, inbound: inbound)
            return
        }
        guard let peer = peers[identity] else {
            send(
                .reject(
                    WireMessage.Reject(
                        code: .unknownWorker,
                        message: "unknown worker: send HELLO first (after a coordinator restart too)")
                ),
                to: identity)
            return
        }
        let worker = peer.workerID
        // After any other message: a result or a trial's end may have lowered the count that capped its last READY.
        defer { if case .ready = message {} else { grantStatedCredit(worker) } }
        switch message {
        case .ready(let ready):
            statedFree[worker] = max(0, ready.credit)
            if !grantStatedCredit(worker) { feed(.heartbeat(worker, progress: [:])) }
        case .heartbeat(let heartbeat):
            var progress: [String: TrialProgress] = [:]
            for point in heartbeat.progress where currentTask[point.trialID] == point.taskID {
                progress[point.trialID] = TrialProgress(round: point.round, iteration: point.iteration)
            }
            feed(.heartbeat(worker, progress: progress))
        case .roundResult(let result):
            roundResult(result, from: worker, host: peer.host)
        case .trialDone(let done):
            guard isCurrent(done.taskID, trialID: done.trialID, worker: worker) else {
                actions.append(
                    .log(
                        .debug,
                        "ignored TRIAL_DONE of \(done.trialID) task \(done.taskID) from \(worker): not its current task",
                        eventLine: false))
                feed(.heartbeat(worker, progress: [:]))
                return
            }
            feed(.trialDone(worker, trialID: done.trialID))
            forget(taskID: done.taskID)
        case .trialFailed(let failed):
            guard isCurrent(failed.taskID, trialID: failed.trialID, worker: worker) else {
                log(.info, "ignored failure of \(failed.trialID) from \(worker) (an old task): \(failed.error)")
                feed(.heartbeat(worker, progress: [:]))
                return
            }
            log(.warning, "trial \(failed.trialID) failed on \(worker): \(failed.error)")
            feed(.trialFailed(worker, trialID: failed.trialID, reason: failed.error))
            forget(taskID: failed.taskID)
        case .giveBack(let giveBack):
            let ids = giveBack.trials.filter { isCurrent($0.taskID, trialID: $0.trialID, worker: worker) }
            line("\(worker) gave back \(ids.count) trial(s): \(giveBack.reason)")
            // The worker exits after GIVE_BACK: hand it nothing more (see `assign`), then let it go.
            leaving.insert(worker)
            for trial in ids { forget(taskID: trial.taskID) }
            feed(.givenBack(worker, trialIDs: ids.map(\.trialID)))
            while !queued.isEmpty { feed(queued.removeFirst()) }
            feed(.workerGone(worker))
        case .dataRequest(let request):
            feed(.heartbeat(worker, progress: [:]))
            serveData(request, to: worker)
        case .hello, .task, .ack, .reject, .shutdown, .dataChunk, .cancel:
            break  // handled above
        }
    }

    /// A message that did not decode: REJECT with the reason. Another protocol version is the negotiation: the
    /// REJECT `version_mismatch` names both versions and is sent in this build's version, so the worker learns
    /// the coordinator's version from the header even though it cannot decode the body, and exits.
    mutating func undecodable(_ error: WireError, identity: [UInt8], inbound: InboundMessage) {
        if case .unsupportedVersion(let peerVersion, let supported) = error.kind {
            let reject = WireMessage.Reject.versionMismatch(peerVersion: peerVersion, supported: supported)
            log(.warning, "rejected \(describe(identity, inbound)): \(reject.message)")
            send(.reject(reject), to: identity)
            refused(inbound, identity: identity, .versionMismatch, reject.message)
            return
        }
        log(.warning, "rejected a message from \(describe(identity, inbound)): \(error)")
        send(.reject(WireMessage.Reject(error)), to: identity)
        refused(inbound, identity: identity, .badMessage, "\(error)")
    }

    /// Reports a peer turned away for the journal (``CoordinatorAction/refused(_:)``), named without its port.
    mutating func refused(_ inbound: InboundMessage, identity: [UInt8]?, _ kind: PeerRefusal.Kind, _ reason: String) {
        var peer = inbound.peerAddress.map(PeerRefusal.withoutPort) ?? "an unknown address"
        if let identity, let known = peers[identity] {
            peer = "worker \(known.workerID) at \(peer)"
        } else if let user = inbound.userID {
            peer = "\(user)@\(peer)"
        }
        actions.append(.refused(PeerRefusal(peer: peer, kind: kind, reason: reason)))
    }

    func describe(_ identity: [UInt8], _ inbound: InboundMessage) -> String {
        if let peer = peers[identity] { return "worker \(peer.workerID)" }
        let address = inbound.peerAddress ?? "?"
        if let user = inbound.userID { return "\(user)@\(address)" }
        return "unregistered peer at \(address)"
    }

    /// Gives `worker` the credit its last READY stated, as far as the trials the scheduler counts on it allow; `true`
    /// if that added any.
    ///
    /// READY is absolute on the wire ("I have `credit` free slots"), additive in the scheduler, and capped here by
    /// `slots − running`: a TASK still on its way is not in the worker's count yet. The cap can also count a trial
    /// that has already ended on the worker, when its READY arrives before that trial's TRIAL_DONE (a worker of an
    /// earlier build resending results after a reconnect did so); an idle worker never says READY again, so the
    /// statement is applied again after each of its messages (a final result or a trial's end lowers the count). A
    /// TASK that arrives at a worker with no free slot waits there for one (docs/worker.md), so an early grant costs
    /// nothing.
    @discardableResult
    mutating func grantStatedCredit(_ worker: WorkerID) -> Bool {
        guard let stated = statedFree[worker], let info = scheduler.workers[worker], info.alive, info.connected else {
            return false
        }
        let wanted = max(0, min(stated, info.slots - info.running.count))
        let delta = wanted - info.credit
        guard delta > 0 else { return false }
        if readyAt[worker] == nil { readyAt[worker] = now }
        feed(.workerReady(worker, credit: delta))
        return true
    }

    // MARK: - HELLO

    /// HELLO: which worker a connection is (docs/coordinator.md, "A worker is a process, not a name"). The scheduler
    /// decides the worker id (``SchedulerStateMachine``, "Identity"); this routes the connection to it and cancels
    /// what the process runs that is not, or no longer, its task.
    mutating func hello(_ hello: WireMessage.Hello, identity: [UInt8], inbound: InboundMessage) {
        let userID = inbound.userID
        let name: String
        if config.curve {
            guard let userID, !userID.isEmpty else {
                send(
                    .reject(WireMessage.Reject(code: .refused, message: "connection not authenticated by CURVE")),
                    to: identity)
                refused(inbound, identity: nil, .helloRefused, "HELLO on a connection not authenticated by CURVE")
                return
            }
            // The authenticated key name comes first; the self-declared name only tells apart several processes
            // sharing one key (as `lth sweep`'s local workers do).
            name = userID == hello.workerName ? userID : "\(userID)/\(hello.workerName)"
        } else {
            name = hello.workerName
        }
        if let old = peers[identity], old.instanceID != hello.instanceID {
            // Another process on this very connection: the one that used it is gone.
            peers[identity] = nil
            if routes[old.workerID] == identity { routes[old.workerID] = nil }
            feed(.workerGone(old.workerID))
        }
        // The worker id comes back in the scheduler's first action; the route must exist before the rest is done.
        let answer = scheduler.event(
            .workerHello(name: name, instance: hello.instanceID, host: hello.host, slots: hello.slots), now: now)
        for action in answer {
            switch action {
            case .workerJoined(let workerID, _, let sameProcess):
                joined(workerID, hello: hello, identity: identity, sameProcess: sameProcess)
            case .reject(_, let reason):
                // Not registered, so not routed: the answer goes to the connection the HELLO came on.
                send(.reject(WireMessage.Reject(code: reason.wireCode, message: reason.description)), to: identity)
                refused(inbound, identity: nil, .helloRefused, "HELLO from '\(name)': \(reason.description)")
            default:
                carryOut(action)
            }
        }
    }

    /// Routes `workerID` to the connection its HELLO came on; cancels the trials its process runs that are not (or
    /// no longer) its tasks.
    mutating func joined(_ workerID: WorkerID, hello: WireMessage.Hello, identity: [UInt8], sameProcess: Bool) {
        // Connections that carried this id before (the same process's old one, or a dead process's) route no more:
        // their late messages get REJECT `unknown_worker` and a process still alive there says HELLO again.
        for (other, peer) in peers where peer.workerID == workerID && other != identity { peers[other] = nil }
        statedFree[workerID] = nil  // its READY follows the HELLO
        let newConnection = routes[workerID] != identity
        peers[identity] = Peer(workerID: workerID, host: hello.host, instanceID: hello.instanceID)
        routes[workerID] = identity
        leaving.remove(workerID)
        if sameProcess {
            // Same process, new connection: keep its trials; cancel the ones it runs that were given to others.
            for running in hello.running where !isCurrent(running.taskID, trialID: running.trialID, worker: workerID) {
                send(
                    .cancel(WireMessage.Cancel(taskID: running.taskID, trialID: running.trialID, reason: "reassigned")),
                    to: identity)
            }
            // Its trials it does not hold (HELLO lists every trial training or with results unacknowledged): their
            // TASK went to a connection that closed before it arrived. Back in the queue, no bad end: nothing failed.
            guard newConnection else { return }
            let held = Set(
                hello.running.filter { isCurrent($0.taskID, trialID: $0.trialID, worker: workerID) }.map(\.trialID))
            let lost = (scheduler.workers[workerID]?.running ?? []).filter { !held.contains($0) }
            guard !lost.isEmpty else { return }
            line("worker \(workerID) reconnected without \(lost.joined(separator: ", ")): its TASK was lost, requeued")
            for trialID in lost { if let taskID = currentTask[trialID] { forget(taskID: taskID) } }
            feed(.givenBack(workerID, trialIDs: lost))
            return
        }
        // A new worker, or a process back from the dead: whatever it ran before was requeued by the scheduler.
        for (taskID, assignment) in assignments where assignment.worker == workerID { forget(taskID: taskID) }
        for running in hello.running {
            send(
                .cancel(
                    WireMessage.Cancel(
                        taskID: running.taskID, trialID: running.trialID, reason: "requeued while disconnected")),
                to: identity)
        }
        actions.append(
            .log(
                .debug,
                "HELLO from \(workerID) (instance \(hello.instanceID)): cpu \(hello.cpuKind), build \(hello.buildID), \(hello.cores) cores",
                eventLine: false))
        actions.append(
            .journal(
                kind: "worker-joined", worker: workerID, trialID: nil,
                message:
                    "host \(hello.host), instance \(hello.instanceID), \(hello.slots) slot(s), cpu \(hello.cpuKind), build \(hello.buildID)"
            ))
    }

    // MARK: - Datasets

    mutating func serveData(_ request: WireMessage.DataRequest, to worker: WorkerID) {
        guard let dataset = config.datasets[request.datasetID] else {
            send(
                .reject(
                    WireMessage.Reject(
                        code: .unknownDataset, message: "this coordinator serves no dataset '\(request.datasetID)'")),
                toWorker: worker)
            return
        }
        let total = dataset.bytes.count
        guard request.offset < total else {
            send(
                .reject(
                    WireMessage.Reject(
                        code: .badMessage,
                        message: "DATA_REQUEST offset \(request.offset) is at or past the end (\(total) bytes)")),
                toWorker: worker)
            return
        }
        let end = min(total, request.offset + min(request.length, Wire.maxChunkBytes))
        if request.offset == 0 { line("worker \(worker) is fetching dataset '\(request.datasetID)' (\(total) bytes)") }
        send(
            .dataChunk(
                WireMessage.DataChunk(
                    datasetID: request.datasetID, offset: request.offset, totalSize: total, checksum: dataset.checksum,
                    bytes: Array(dataset.bytes[request.offset..<end]))),
            toWorker: worker)
    }
}

extension RejectReason {
    /// The REJECT code a worker acts on: `refused` ends it; `unknown_worker` makes it say HELLO again.
    var wireCode: WireMessage.RejectCode {
        switch self {
        case .noSlots: return .refused
        case .unknownWorker, .presumedDead: return .unknownWorker
        }
    }
}
