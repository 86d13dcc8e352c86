/// Liveness: who is heard, who is silent, and what a closed connection or the coordinator's own stall means
/// (the rules are in ``SchedulerStateMachine``'s header, "Liveness").
///
/// Found by `scripts/chaos` (docs/faults.md): a coordinator frozen longer than the workers' silence timeout. Every
/// worker gave up on it and reconnected, with a back-off that grew while it was frozen; on thaw it read the old
/// connections' closes and stale heartbeats in one burst. Three rules keep that from costing anything:
/// - a closed connection is not a death (``SchedulerEvent/connectionClosed(_:)``): a worker closes its old
///   connection before every reconnect, so it is dead only once silent for the timeout, and a HELLO from the same
///   instance on a new connection is a reconnect that keeps its trials;
/// - a stall of the coordinator itself longer than the timeout (``SchedulerEvent/stalled(since:)``) is nobody's
///   silence: no worker is declared silent until as long again has passed;
/// - "heard" is when a message arrived: one read while catching up after a stall may have been sent before it
///   (a heartbeat on a connection the worker has since given up), so it counts as of the stall's start and does not
///   make its worker eligible for a new task.
extension SchedulerStateMachine {
    /// The window after a stall in which messages read may have been sent during it.
    public struct StallCatchUp: Sendable, Hashable {
        /// When the stall began: messages read until the loop caught up count as heard then.
        public var since: Double
        /// When the stall was noticed: the loop has caught up once it has read everything that arrived before then.
        public var until: Double
    }

    /// When a message that arrives now counts as heard: now, or the stall's start while catching up after one.
    func heardAt(_ now: Double) -> Double { catchingUp.map { min($0.since, now) } ?? now }

    /// A message from a live worker: it is heard (never moving its last-seen time back).
    mutating func heard(_ id: WorkerID, now: Double) {
        workers[id]!.lastSeen = max(workers[id]!.lastSeen, heardAt(now))
    }

    /// Its connection closed: it gets no task (its TASK could not be sent) and is dead only if it stays silent;
    /// a HELLO from the same instance on a new connection makes it connected again with its trials.
    mutating func connectionClosed(_ id: WorkerID, now: Double, into actions: inout [SchedulerAction]) {
        guard let worker = workers[id], worker.alive, worker.connected else { return }
        workers[id]!.connected = false
        workers[id]!.credit = 0
        actions.append(
            .log(
                "worker \(id): connection closed; \(worker.running.isEmpty ? "" : "its trials wait for ")it to "
                    + "reconnect (it is dead if silent for \(Self.seconds(config.heartbeatTimeout)))"))
    }

    /// The coordinator's loop did not run from `since` until `now`. Longer than the timeout, the workers heard no
    /// heartbeat and gave up on it: they reconnect with a back-off that doubled while it stalled, so the last wait
    /// is at most about as long as the stall. Nobody is declared silent until `now` + the stall (the deadline moves
    /// by the gap, once, not by every stall added up: a coordinator stalling again and again still finds the dead).
    mutating func stalled(since: Double, now: Double, into actions: inout [SchedulerAction]) {
        let gap = now - since
        guard gap > config.heartbeatTimeout else { return }
        silenceGraceUntil = max(silenceGraceUntil, now + gap)
        catchingUp = StallCatchUp(since: min(catchingUp?.since ?? since, since), until: now)
        actions.append(
            .log(
                "the coordinator did not run for \(Self.seconds(gap)) (longer than the workers' timeout of "
                    + "\(Self.seconds(config.heartbeatTimeout))): no worker is declared silent before "
                    + "\(Self.seconds(gap)) from now"))
    }

    mutating func kill(_ id: WorkerID, reason: String, into actions: inout [SchedulerAction]) {
        guard var worker = workers[id], worker.alive else { return }
        let running = worker.running
        worker.alive = false
        worker.credit = 0
        worker.running = []
        workers[id] = worker
        actions.append(.markWorkerDead(id, reason: reason))
        for trialID in running {
            if case .running(id, _)? = trials[trialID]?.state { trials[trialID]!.state = .queued }
            badEnd(trialID, reason: "worker \(id) died (\(reason)) while running it", into: &actions)
        }
    }

    /// - Parameter heardUntil: Every message that arrived before this time has been read (`now` unless the loop
    ///   is behind).
    mutating func tick(now: Double, heardUntil: Double, into actions: inout [SchedulerAction]) {
        if let catchUp = catchingUp, heardUntil >= catchUp.until { catchingUp = nil }
        if now > silenceGraceUntil {
            for id in workerIDsInJoinOrder where workers[id]!.alive {
                let silence = heardUntil - workers[id]!.lastSeen
                guard silence > config.heartbeatTimeout else { continue }
                let closed = workers[id]!.connected ? "" : ", its connection closed"
                kill(
                    id,
                    reason:
                        "no message for \(Self.seconds(silence)) (timeout \(Self.seconds(config.heartbeatTimeout)))\(closed)",
                    into: &actions)
            }
        }
        for trialID in allIDs {
            guard case .running(let worker, _) = trials[trialID]!.state else { continue }
            let still = heardUntil - trials[trialID]!.progressMovedAt
            guard still > config.trialTimeLimit else { continue }
            _ = release(trialID, from: worker)
            actions.append(.cancel(worker, trialID: trialID))
            badEnd(trialID, reason: "hung on worker \(worker): no progress for \(Self.seconds(still))", into: &actions)
        }
        for id in workerIDsInJoinOrder where workers[id]!.alive && workers[id]!.connected {
            if now - workers[id]!.lastHeartbeatSent >= config.heartbeatInterval {
                workers[id]!.lastHeartbeatSent = now
                actions.append(.sendHeartbeat(id))
            }
        }
    }
}
