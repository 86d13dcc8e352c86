public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ResultsReader {
    /// Journal kinds `lth status` shows as events worth a person's attention.
    public static let attentionKinds: Set<String> = [
        "requeued", "worker-lost", "audit-failed", "result-rejected", "retried", "orphan-removed", "spec-extended",
        "peer-refused",
    ]

    /// Reads the sweep's state in one read transaction (a consistent snapshot, however the coordinator is writing).
    ///
    /// - Parameters:
    ///   - now: the time to measure ages and the ETA against.
    ///   - expectedRounds: the rounds the whole sweep will record if the caller knows them (the spec's expansion,
    ///     control branches included); otherwise the registered trials' `expected_rounds` are summed.
    ///   - rateWindow: seconds of recent rounds the rate is measured over.
    ///   - recentPerWorker: recorded rounds listed per worker.
    ///   - eventLimit: attention events listed (the latest).
    /// - Throws: ``ResultsFolderError`` (locked, damaged) or ``StoreError``.
    public func status(
        now: Date = Date(), expectedRounds: Int? = nil, rateWindow: Double = 600, recentPerWorker: Int = 3,
        eventLimit: Int = 10
    ) throws -> SweepStatus {
        do {
            return try snapshot {
                try readStatus(
                    now: now, expectedRounds: expectedRounds, rateWindow: rateWindow, recentPerWorker: recentPerWorker,
                    eventLimit: eventLimit)
            }
        } catch let error as StoreError {
            if error.code == .database { throw Self.explain(error, path: db.path) }
            throw error
        }
    }

    private func readStatus(
        now: Date, expectedRounds: Int?, rateWindow: Double, recentPerWorker: Int, eventLimit: Int
    ) throws -> SweepStatus {
        func date(_ text: String?) -> Date? { text.flatMap(ResultsStore.parseTimestamp) }
        var name = ""
        var created = ""
        var spec = ""
        try db.forEachRow("SELECT name, created_at, spec_text FROM sweep WHERE id = 1") { row in
            name = row.text(0) ?? ""
            created = row.text(1) ?? ""
            spec = row.text(2) ?? ""
        }
        let coordinator = FolderLockProbe.holder(directory: directory)

        // Trials.
        var counts = SweepStatus.Counts()
        var failed: [SweepStatus.FailedTrial] = []
        var running: [SweepStatus.RunningTrial] = []
        var expectedSum = 0
        var expectedKnown = true
        try db.forEachRow(
            """
            SELECT trial_id, status, worker, host, reason, rounds_done, expected_rounds, started_at FROM trials
            ORDER BY seq
            """
        ) { row in
            counts.total += 1
            let id = row.text(0) ?? ""
            let roundsDone = row.int(5) ?? 0
            let expected = row.int(6)
            switch TrialStatus(rawValue: row.text(1) ?? "") ?? .queued {
            case .done:
                counts.done += 1
                expectedSum += roundsDone
            case .failed:
                counts.failed += 1
                expectedSum += roundsDone
                failed.append(
                    SweepStatus.FailedTrial(
                        trialID: id, reason: row.text(4) ?? "no reason recorded", roundsDone: roundsDone))
            case .running:
                counts.running += 1
                running.append(
                    SweepStatus.RunningTrial(
                        trialID: id, worker: row.text(2), host: row.text(3), round: roundsDone,
                        expectedRounds: expected,
                        lastDensity: nil, lastTestAcc: nil,
                        secondsInRound: date(row.text(7)).map { now.timeIntervalSince($0) }))
                if let expected { expectedSum += max(expected, roundsDone) } else { expectedKnown = false }
            case .queued:
                counts.queued += 1
                if let expected { expectedSum += max(expected, roundsDone) } else { expectedKnown = false }
            }
        }
        // The last recorded round of each running trial.
        for index in running.indices {
            try db.forEachRow(
                """
                SELECT density, test_acc_at_es, recorded_at FROM rounds WHERE trial_id = ? ORDER BY round DESC LIMIT 1
                """, [.text(running[index].trialID)]
            ) { row in
                running[index].lastDensity = row.double(0)
                running[index].lastTestAcc = row.double(1)
                if let recorded = date(row.text(2)) { running[index].secondsInRound = now.timeIntervalSince(recorded) }
            }
        }

        // Rounds: count, rate, and every round for the timeline and the workers' recent results.
        var recorded: [(worker: String, trialID: String, round: Int, recordedAt: Date, seconds: Double)] = []
        var recentByWorker: [String: [SweepStatus.RecentResult]] = [:]
        var roundsByWorker: [String: Int] = [:]
        var hostOf: [String: String] = [:]
        try db.forEachRow(
            "SELECT worker, trial_id, round, recorded_at, seconds, test_acc_at_es, host FROM rounds ORDER BY recorded_at"
        ) { row in
            let worker = row.text(0) ?? ""
            let at = date(row.text(3)) ?? now
            recorded.append((worker, row.text(1) ?? "", row.int(2) ?? 0, at, row.double(4) ?? 0))
            roundsByWorker[worker, default: 0] += 1
            if let host = row.text(6) { hostOf[worker] = host }
            recentByWorker[worker, default: []].append(
                SweepStatus.RecentResult(
                    trialID: row.text(1) ?? "", round: row.int(2) ?? 0, testAcc: row.double(5), seconds: row.double(4),
                    recordedAt: row.text(3) ?? ""))
            if recentByWorker[worker]!.count > recentPerWorker { recentByWorker[worker]!.removeFirst() }
        }
        let state: SweepStatus.State =
            coordinator != nil
            ? .running : (counts.running + counts.queued == 0 && counts.total > 0 ? .finished : .interrupted)
        let rateEnd = state == .running ? now : (recorded.last?.recordedAt ?? now)
        let windowStart = rateEnd.addingTimeInterval(-rateWindow)
        let inWindow = recorded.filter { $0.recordedAt > windowStart }
        var perMinute: Double?
        var measuredOver = rateWindow
        if inWindow.count >= 2 {
            measuredOver = max(1, min(rateWindow, rateEnd.timeIntervalSince(inWindow[0].recordedAt)))
            perMinute = Double(inWindow.count) / measuredOver * 60
        }
        let expectedTotal = expectedRounds ?? (expectedKnown ? expectedSum : nil)
        var eta: Double?
        if state == .running, let perMinute, perMinute > 0, let expectedTotal {
            eta = Double(max(0, expectedTotal - recorded.count)) / perMinute * 60
        }

        // Workers: joins, losses and last word from the journal.
        var joins: [(worker: String, time: Date, slots: Int)] = []
        var losses: [(worker: String, time: Date)] = []
        var lastHeard: [String: Date] = [:]
        var left: [String: Bool] = [:]
        var attention: [SweepStatus.Event] = []
        var lastEvent: Date?
        try db.forEachRow("SELECT time, kind, worker, trial_id, message FROM events ORDER BY id") { row in
            let time = date(row.text(0)) ?? now
            let kind = row.text(1) ?? ""
            let message = row.text(4) ?? ""
            lastEvent = max(lastEvent ?? time, time)
            if let worker = row.text(2) {
                // Every event about a worker follows something it sent, but `worker-lost`: that one is the
                // coordinator giving up on its silence.
                if kind != "worker-lost" { lastHeard[worker] = max(lastHeard[worker] ?? time, time) }
                if kind == "worker-joined" {
                    joins.append((worker, time, Self.slots(in: message) ?? 1))
                    if let host = Self.host(in: message) { hostOf[worker] = host }
                    left[worker] = false
                } else if kind == "worker-lost" {
                    losses.append((worker, time))
                    left[worker] = true
                }
            }
            if Self.attentionKinds.contains(kind) {
                attention.append(
                    SweepStatus.Event(
                        time: row.text(0) ?? "", kind: kind, worker: row.text(2), trialID: row.text(3), message: message
                    ))
            }
        }
        for round in recorded {
            lastHeard[round.worker] = max(lastHeard[round.worker] ?? round.recordedAt, round.recordedAt)
        }
        if schemaVersion >= 5 {
            // Heartbeats and every other message, as the coordinator persists them (every few seconds per worker).
            try db.forEachRow("SELECT worker, last_heard FROM worker_heard") { row in
                guard let worker = row.text(0), let time = date(row.text(1)) else { return }
                lastHeard[worker] = max(lastHeard[worker] ?? time, time)
            }
        }
        let timelineEnd = state == .running ? now : max(recorded.last?.recordedAt ?? now, lastEvent ?? .distantPast)
        let timeline = Timeline.build(rounds: recorded, joins: joins, losses: losses, end: timelineEnd)
        let workerNames = timeline?.workers ?? []
        let workers = workerNames.map { worker in
            SweepStatus.Worker(
                name: worker, host: hostOf[worker], slots: joins.last(where: { $0.worker == worker })?.slots,
                roundsRecorded: roundsByWorker[worker] ?? 0, lastHeard: lastHeard[worker].map(ResultsCSV.timestamp),
                secondsSinceHeard: lastHeard[worker].map { now.timeIntervalSince($0) }, left: left[worker] ?? false,
                recent: Array((recentByWorker[worker] ?? []).suffix(recentPerWorker).reversed()))
        }

        var specVersions: [SweepStatus.SpecVersion] = []
        if schemaVersion >= 4 {
            let newControls = schemaVersion >= 5 ? "trials_new_controls" : "0"
            try db.forEachRow(
                """
                SELECT version, created_at, trials_reused, trials_added, trials_left_out, \(newControls) FROM specs
                ORDER BY version
                """
            ) { row in
                specVersions.append(
                    SweepStatus.SpecVersion(
                        version: row.int(0) ?? 0, createdAt: row.text(1) ?? "", trialsReused: row.int(2) ?? 0,
                        trialsAdded: row.int(3) ?? 0, trialsLeftOut: row.int(4) ?? 0, trialsNewControls: row.int(5) ?? 0
                    ))
            }
        }
        var status = SweepStatus(
            folder: directory.path, sweep: name, createdAt: created, spec: spec, state: state, coordinator: coordinator,
            now: ResultsCSV.timestamp(now), trials: counts, roundsRecorded: recorded.count,
            roundsExpected: expectedTotal, roundsPerMinute: perMinute, rateWindow: measuredOver, etaSeconds: eta,
            running: running, failed: failed, workers: workers, events: Array(attention.suffix(eventLimit)),
            timeline: timeline)
        status.specVersions = specVersions
        return status
    }

    /// Rounds recorded by trials that belong to none of `topLevelIDs` (top-level trials not in it, and their control
    /// branches): the rows an extended sweep's earlier spec versions left that its newest spec does not plan, for
    /// the expected total of `lth status`.
    public func recordedRounds(outside topLevelIDs: Set<String>) throws -> Int {
        do {
            return try snapshot { () throws -> Int in
                var total = 0
                try db.forEachRow(
                    """
                    SELECT COALESCE(t.parent_trial, t.trial_id), COUNT(*) FROM rounds r
                    JOIN trials t ON t.trial_id = r.trial_id GROUP BY 1
                    """
                ) { row in
                    if let family = row.text(0), !topLevelIDs.contains(family) { total += row.int(1) ?? 0 }
                }
                return total
            }
        } catch let error as StoreError {
            throw Self.explain(error, path: db.path)
        }
    }

    /// "… 2 slot(s) …" in a `worker-joined` message.
    static func slots(in message: String) -> Int? {
        guard let range = message.range(of: " slot(s)") else { return nil }
        let before = message[..<range.lowerBound]
        return Int(before.split(separator: " ").last ?? "")
    }

    /// "host H, …" at the start of a `worker-joined` message.
    static func host(in message: String) -> String? {
        guard message.hasPrefix("host ") else { return nil }
        return message.dropFirst(5).split(separator: ",").first.map(String.init)
    }
}

/// Whether a coordinator holds a results folder's lock, found without taking it.
///
/// Taking the lock even for an instant could make a coordinator starting at that moment refuse the folder, so this
/// reads the kernel's table of locks (`/proc/locks`, Linux) for a `FLOCK` on the inode of `DIR/.lock`. Elsewhere it
/// falls back to the pid written in the lock file, when it names this host and that process is alive.
enum FolderLockProbe {
    /// "pid P on host H since T" when the folder's lock is held, else `nil`.
    static func holder(directory: URL) -> String? {
        let path = directory.appendingPathComponent(".lock").path
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        let described = "pid \(fields["pid"] ?? "?") on host \(fields["host"] ?? "?") since \(fields["since"] ?? "?")"
        if let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) {
            let inode = String(info.st_ino)
            for line in locks.split(separator: "\n") {
                let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                // "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" (blocked waiters are marked "->").
                guard columns.count >= 6, columns[1] == "FLOCK", !line.contains("->") else { continue }
                if columns[5].split(separator: ":").last.map(String.init) == inode { return described }
            }
            return nil
        }
        guard let pid = fields["pid"].flatMap({ Int32($0) }), fields["host"] == ProcessInfo.processInfo.hostName,
            kill(pid, 0) == 0 || errno == EPERM
        else { return nil }
        return described
    }
}
