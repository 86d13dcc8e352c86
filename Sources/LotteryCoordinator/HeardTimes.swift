/// When the coordinator writes each worker's last-heard time to `results.db` (table `worker_heard`, read by
/// `lth status` as "last heard"): throttled, so heartbeats cost the store one small transaction every
/// ``interval`` seconds whatever the number of workers, never one per message.
///
/// Rule: every ``interval`` seconds, every worker heard since its time was last written; a worker found dead (or
/// gone) at the next call (the loop calls once per tick, a fraction of a heartbeat), so its last word is never up
/// to ``interval`` seconds older in the folder than it was; and every worker with an unwritten time when the
/// coordinator stops. A worker's time is written at most once per
/// ``interval`` while it lives.
///
/// A pure value: the loop passes the scheduler's view of its workers and its monotonic clock, and writes what comes
/// back (converting the times to wall-clock dates).
public struct HeardTimes: Sendable {
    /// One worker as the scheduler sees it.
    public struct Worker: Sendable, Hashable {
        public var id: WorkerID
        /// When it was last heard (the loop's monotonic clock).
        public var lastSeen: Double
        public var alive: Bool

        public init(id: WorkerID, lastSeen: Double, alive: Bool) {
            self.id = id
            self.lastSeen = lastSeen
            self.alive = alive
        }
    }

    /// Seconds between two writes of the same live worker.
    public let interval: Double
    /// The `lastSeen` last written per worker.
    var written: [WorkerID: Double] = [:]
    var lastWrite: Double?

    public init(interval: Double = 10) {
        precondition(interval > 0, "heard-times interval out of range")
        self.interval = interval
    }

    /// The workers whose time to write now, with that time (`lastSeen`), in id order; remembered as written.
    ///
    /// - Parameters:
    ///   - workers: every worker the scheduler knows.
    ///   - now: the loop's clock.
    ///   - final: the coordinator stops: everything not yet written.
    public mutating func due(_ workers: some Sequence<Worker>, now: Double, final: Bool = false) -> [(
        worker: WorkerID, lastSeen: Double
    )] {
        let periodic = final || lastWrite.map { now - $0 >= interval } ?? true
        if periodic { lastWrite = now }
        var out: [(worker: WorkerID, lastSeen: Double)] = []
        for worker in workers where written[worker.id].map({ worker.lastSeen > $0 }) ?? true {
            guard periodic || !worker.alive else { continue }
            written[worker.id] = worker.lastSeen
            out.append((worker.id, worker.lastSeen))
        }
        return out.sorted { $0.worker < $1.worker }
    }
}
