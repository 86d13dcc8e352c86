import LotteryResults
import LotteryWire
import Logging

/// HELLO: which worker a connection is (docs/coordinator.md, "A worker is a process, not a name"). The scheduler
/// decides the worker id (``SchedulerStateMachine``, "Identity"); this routes the connection to it and cancels what
/// the process runs that is not, or no longer, its task.
extension CoordinatorLoop {
    func handleHello(_ hello: WireMessage.Hello, identity: [UInt8], userID: String?) {
        let name: String
        if curve {
            guard let userID, !userID.isEmpty else {
                sendRaw(
                    .reject(WireMessage.Reject(code: .refused, message: "connection not authenticated by CURVE")),
                    to: identity)
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
            feed(.workerGone(old.workerID), from: nil)
        }
        // The worker id comes back in the scheduler's first action; the routes must exist before the rest is done.
        let actions = scheduler.event(
            .workerHello(
                name: name, instance: hello.instanceID, host: hello.host, slots: hello.slots,
                protocolVersion: Int(Wire.version)),
            now: Self.now)
        for action in actions {
            switch action {
            case .workerJoined(let workerID, _, let sameProcess):
                joined(workerID, hello: hello, identity: identity, sameProcess: sameProcess)
            case .reject(_, let reason):
                let code: WireMessage.RejectCode = reason.hasPrefix("protocol version") ? .versionMismatch : .refused
                sendRaw(.reject(WireMessage.Reject(code: code, message: reason)), to: identity)
            default:
                execute(action)
            }
        }
        flushPendingEvents()
    }

    /// Routes `workerID` to the connection its HELLO came on; cancels the trials its process runs that are not (or
    /// no longer) its tasks.
    func joined(_ workerID: WorkerID, hello: WireMessage.Hello, identity: [UInt8], sameProcess: Bool) {
        // Connections that carried this id before (the same process's old one, or a dead process's) route no more:
        // their late messages get REJECT `unknown_worker` and a process still alive there says HELLO again.
        for (other, peer) in peers where peer.workerID == workerID && other != identity { peers[other] = nil }
        peers[identity] = Peer(workerID: workerID, host: hello.host, instanceID: hello.instanceID)
        routes[workerID] = identity
        leaving.remove(workerID)
        if sameProcess {
            // Same process, new connection: keep its trials; cancel the ones it runs that were given to others.
            for running in hello.running where !isCurrent(running.taskID, trialID: running.trialID, worker: workerID) {
                send(
                    .cancel(WireMessage.Cancel(taskID: running.taskID, trialID: running.trialID, reason: "reassigned")),
                    to: workerID)
            }
            return
        }
        // A new worker, or a process back from the dead: whatever it ran before was requeued by the scheduler.
        for (taskID, assignment) in assignments where assignment.worker == workerID { forget(taskID: taskID) }
        for running in hello.running {
            send(
                .cancel(
                    WireMessage.Cancel(
                        taskID: running.taskID, trialID: running.trialID, reason: "requeued while disconnected")),
                to: workerID)
        }
        logger.debug(
            "HELLO from \(workerID) (instance \(hello.instanceID)): cpu \(hello.cpuKind), build \(hello.buildID), \(hello.cores) cores"
        )
        try? store.logEvent(
            kind: "worker-joined", worker: workerID,
            message:
                "host \(hello.host), instance \(hello.instanceID), \(hello.slots) slot(s), cpu \(hello.cpuKind), build \(hello.buildID)"
        )
    }
}
