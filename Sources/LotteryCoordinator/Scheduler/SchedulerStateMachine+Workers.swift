/// Worker identity: HELLO, names and instances (the rules are in ``SchedulerStateMachine``'s header, "Identity").
extension SchedulerStateMachine {
    mutating func hello(
        name: String, instance: String, host: String, slots: Int, now: Double,
        into actions: inout [SchedulerAction]
    ) {
        guard slots >= 1 else {
            actions.append(.reject(name, .noSlots(slots)))
            return
        }
        if let id = instances[instance], let known = workers[id], known.instance == instance {
            if known.alive {
                // The same process on a new connection (or repeating HELLO): it keeps its trials and credit. A
                // closed connection before it was no death (``connectionClosed``): nothing was charged.
                heard(id, now: now)
                workers[id]!.connected = true
                workers[id]!.host = host
                actions.append(.workerJoined(id, instance: instance, sameProcess: true))
                actions.append(.log("worker \(id) on \(host) reconnected"))
                return
            }
            // Presumed dead (its trials were requeued then), and back: it starts afresh under the same id.
            register(id, name: name, instance: instance, host: host, slots: slots, now: now)
            actions.append(.workerJoined(id, instance: instance, sameProcess: false))
            actions.append(.log("worker \(id) on \(host) is back with \(slots) slot(s) (its trials were requeued)"))
            return
        }
        let id = freeID(for: name)
        register(id, name: name, instance: instance, host: host, slots: slots, now: now)
        actions.append(.workerJoined(id, instance: instance, sameProcess: false))
        let others = workers.values.filter { $0.alive && $0.name == name && $0.id != id }.map(\.id).sorted()
        if others.isEmpty {
            actions.append(.log("worker \(id) on \(host) joined with \(slots) slot(s)"))
        } else {
            actions.append(
                .log(
                    "worker \(id) on \(host) joined with \(slots) slot(s): another process named '\(name)' "
                        + "(\(others.joined(separator: ", "))) is connected too, so it is \(id)"))
        }
    }

    /// `name` if no live worker has it, else `name#2`, `name#3`… (the first one free or held by a dead worker).
    func freeID(for name: String) -> WorkerID {
        if workers[name]?.alive != true { return name }
        var index = 2
        while workers["\(name)#\(index)"]?.alive == true { index += 1 }
        return "\(name)#\(index)"
    }

    /// A fresh registration of `id` (a new process, or one that was presumed dead): no credit, nothing running.
    mutating func register(_ id: WorkerID, name: String, instance: String, host: String, slots: Int, now: Double) {
        joinCounter += 1
        if let previous = workers[id], previous.instance != instance { instances[previous.instance] = nil }
        instances[instance] = id
        workers[id] = WorkerInfo(
            id: id, name: name, instance: instance, host: host, slots: slots, credit: 0, alive: true, connected: true,
            lastSeen: heardAt(now), lastHeartbeatSent: now, running: [], joinOrder: workers[id]?.joinOrder ?? joinCounter
        )
    }

    /// The worker id of a process, if it registered and its id was not given to another process since.
    public func workerID(instance: String) -> WorkerID? {
        guard let id = instances[instance], workers[id]?.instance == instance else { return nil }
        return id
    }
}
