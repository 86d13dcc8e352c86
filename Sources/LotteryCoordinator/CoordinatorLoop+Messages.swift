import Foundation
import LotteryCore
import LotteryWire
import Logging
import MaskCodec
import ZeroMQ

// Decoding what a worker sent and routing it: each message kind to the scheduler, the store or the dataset server.
extension CoordinatorLoop {
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
}
