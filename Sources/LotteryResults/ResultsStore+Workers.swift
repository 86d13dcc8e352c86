public import Foundation

// When each worker was last heard (table `worker_heard`, schema version 5): what `lth status` shows as "last heard".
extension ResultsStore {
    /// Records when the coordinator last heard from each of `workers` (any message: HELLO, READY, a heartbeat, a
    /// result), in one transaction; a worker's earlier time is replaced, never by an older one.
    ///
    /// The coordinator calls this at most every few seconds with the workers heard since its last call (the times
    /// are its own, not the workers' clocks), so a sweep of any length keeps one row per worker.
    ///
    /// - Throws: ``StoreError`` (`.database`) when the write fails; nothing of the batch is written then.
    public func recordHeard(_ workers: [(worker: String, at: Date)]) throws(StoreError) {
        guard !workers.isEmpty else { return }
        try db.transaction { () throws(StoreError) in
            for (worker, time) in workers {
                try db.run(
                    """
                    INSERT INTO worker_heard (worker, last_heard) VALUES (?, ?)
                    ON CONFLICT (worker) DO UPDATE SET last_heard = excluded.last_heard
                    WHERE excluded.last_heard > worker_heard.last_heard
                    """,
                    [.text(worker), .text(ResultsCSV.timestamp(time))])
            }
        }
    }

    /// Every worker's recorded last-heard time, by worker.
    public func lastHeard() throws(StoreError) -> [String: Date] {
        var heard: [String: Date] = [:]
        try db.forEachRow("SELECT worker, last_heard FROM worker_heard") { row in
            if let worker = row.text(0), let time = row.text(1).flatMap(Self.parseTimestamp) { heard[worker] = time }
        }
        return heard
    }
}
