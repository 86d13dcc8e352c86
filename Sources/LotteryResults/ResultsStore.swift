public import Foundation
public import LotteryCore
public import Logging
public import MaskCodec

/// The coordinator's durable record of a sweep: `results.db` (SQLite, the source of truth), the mask files
/// `masks/<trial>/round-NN.ltmask`, and the CSVs derived from them.
///
/// Layout and columns: docs/results.md. Every accepted round goes through ``record(_:at:)``, which writes the
/// mask file durably first and then commits the round's rows in one transaction, so a power cut leaves at most an
/// orphan mask file that the next ``openOrCreate(directory:sweepName:specText:fingerprint:logger:now:)`` removes.
/// The CSVs are rebuilt from the database by ``exportCSVs()``, which the coordinator calls on a timer and at the end
/// (never per result: a rebuild reads the whole database).
///
/// Thread safety: **one owner thread**. The store is not `Sendable`; create it, call it and drop it on the same
/// thread (the coordinator's main loop). SQLite itself is opened without its own mutex for that reason.
public final class ResultsStore {
    /// The schema this build writes, stored in SQLite's `user_version`. A database with a higher version is refused.
    ///
    /// Version 2 added `rounds.next_mask` (the mask the next round trains with, for resuming); a version-1 database
    /// is migrated in place when opened (`ALTER TABLE … ADD COLUMN`, one transaction). Version 3 added the
    /// supermask accuracies (`rounds.supermask_test_acc`, `rounds.supermask_signed_constant_test_acc`); older
    /// databases are migrated the same way (``migrate(from:)``). Version 4 added the spec history (table `specs`,
    /// column `trials.spec_version`) for sweeps extended with more trials. Version 5 added when each worker was last
    /// heard (table `worker_heard`) and `specs.trials_new_controls` (reused trials an extension gave new controls).
    public static let schemaVersion = 5

    /// The results folder.
    public let directory: URL
    /// Name and fingerprint of the sweep this folder holds.
    public let sweepName: String
    public let fingerprint: String
    /// Files the orphan cleanup removed when the store was opened, relative to ``directory``.
    public internal(set) var removedOrphans: [String] = []
    /// The version of the sweep's spec this run registers trials under (1 = the spec as first run; each extension
    /// adds one). Written to `trials.spec_version` and the `spec_version` column of the CSVs.
    public internal(set) var specVersion = 1
    /// What opening the folder did to its spec history (a new version), or `nil` when the spec was known.
    public internal(set) var specChange: SpecChange?

    let db: SQLiteDatabase
    let logger: Logger
    let encoder: JSONEncoder
    let decoder: JSONDecoder
    var nextSequence: Int

    var root: String { directory.path }

    /// Opens the results folder `directory` for the sweep `sweepName`, creating the folder and `results.db` if
    /// needed, and removes orphan mask files (files with no committed row) left by an interrupted run.
    ///
    /// On first use it records the sweep (name, spec text as run, fingerprint, time) and writes `sweep.yaml` with
    /// `specText`. A folder that already holds a sweep with another fingerprint is refused.
    ///
    /// - Parameters:
    ///   - directory: the results folder (`results/<sweep>`); created with its parents if missing.
    ///   - sweepName: the sweep's name, for messages and the `sweep` table.
    ///   - specText: the sweep spec as run (YAML text), written to `sweep.yaml` on creation.
    ///   - fingerprint: identity of the sweep (for example SHA-256 of its canonical trial list).
    ///   - logger: where cleanup and warnings are logged.
    ///   - now: creation time recorded in the `sweep` table.
    /// - Throws: ``StoreError``: `.sweepMismatch` for another sweep's folder, `.schemaTooNew` for a database of a
    ///   newer build, `.io`/`.database` when the folder or database cannot be created or read.
    ///   - plannedTrialIDs: the spec's top-level trial ids. With them, a folder holding the same sweep (same name)
    ///     under another fingerprint is **extended** instead of refused: the spec becomes a new version in the
    ///     history (``specChange``), and trials registered from now on carry it (docs/results.md, "Extending a
    ///     sweep"). Without them (`lth train`, tests) another fingerprint is refused.
    ///   - trialsNewControls: how many of `plannedTrialIDs` are registered trials the spec gives new control branches
    ///     (`SweepPlan.extending(registered:)`), for the history (`specs.trials_new_controls`) and the message.
    public static func openOrCreate(
        directory: URL, sweepName: String, specText: String, fingerprint: String, plannedTrialIDs: [String]? = nil,
        trialsNewControls: Int = 0, logger: Logger = Logger(label: "lth.results"), now: Date = Date()
    ) throws(StoreError) -> ResultsStore {
        let store = try ResultsStore(
            directory: directory, sweepName: sweepName, fingerprint: fingerprint, logger: logger)
        try store.prepareSchema()
        try store.claimSweep(
            specText: specText, plannedTrialIDs: plannedTrialIDs, newControls: trialsNewControls, now: now)
        try store.removeOrphanMasks(now: now)
        return store
    }

    private init(directory: URL, sweepName: String, fingerprint: String, logger: Logger) throws(StoreError) {
        self.directory = directory.standardizedFileURL
        self.sweepName = sweepName
        self.fingerprint = fingerprint
        self.logger = logger
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try DurableFile.makeDirectories(self.directory.path)
        db = try SQLiteDatabase(path: self.directory.appendingPathComponent("results.db").path)
        nextSequence = 0
    }

    // MARK: schema and sweep identity

    private func prepareSchema() throws(StoreError) {
        let mode = try db.scalar("PRAGMA journal_mode=WAL")?.string ?? "?"
        if mode.lowercased() != "wal" {
            logger.warning("results.db: WAL journal not available on this file system; using '\(mode)'")
        }
        try db.execute("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000")
        let version = try db.scalar("PRAGMA user_version")?.int ?? 0
        if version > Self.schemaVersion {
            throw StoreError(
                .schemaTooNew,
                "results.db has schema version \(version), newer than this build's \(Self.schemaVersion)",
                path: db.path, hint: "open it with the newer lth-coordinator that wrote it, or use another --out"
            )
        }
        if version == 0 {
            try db.transaction { () throws(StoreError) in
                try db.execute(Self.schemaSQL)
                try db.execute("PRAGMA user_version=\(Self.schemaVersion)")
            }
        } else if version < Self.schemaVersion {
            try migrate(from: version)
        }
        nextSequence = (try db.scalar("SELECT COALESCE(MAX(seq), -1) + 1 FROM trials")?.int) ?? 0
    }

    /// The spec history: version 1 is the spec as first run, each extension adds one (added in schema version 4).
    static let specsSQL = """
        CREATE TABLE specs (
            version INTEGER PRIMARY KEY,
            spec_text TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL,
            trials_reused INTEGER NOT NULL DEFAULT 0,
            trials_added INTEGER NOT NULL DEFAULT 0,
            trials_left_out INTEGER NOT NULL DEFAULT 0,
            trials_new_controls INTEGER NOT NULL DEFAULT 0
        );
        """

    /// When the coordinator last heard from each worker (any message, heartbeats included; added in version 5).
    static let workerHeardSQL = """
        CREATE TABLE IF NOT EXISTS worker_heard (
            worker TEXT PRIMARY KEY,
            last_heard TEXT NOT NULL
        ) WITHOUT ROWID;
        """

    /// The current schema (version 5; docs/results.md describes every column).
    static let schemaSQL = """
        CREATE TABLE sweep (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL,
            spec_text TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE trials (
            trial_id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            parent_trial TEXT,
            parent_round INTEGER,
            branch_kind TEXT,
            branch_index INTEGER,
            spec_json TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
            worker TEXT,
            host TEXT,
            tries INTEGER NOT NULL DEFAULT 0,
            reason TEXT,
            started_at TEXT,
            ended_at TEXT,
            rounds_done INTEGER NOT NULL DEFAULT 0,
            expected_rounds INTEGER,
            spec_version INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE rounds (
            trial_id TEXT NOT NULL REFERENCES trials (trial_id),
            round INTEGER NOT NULL,
            density REAL,
            layer_count INTEGER NOT NULL,
            layer_densities TEXT NOT NULL,
            kept_counts TEXT NOT NULL,
            layers TEXT NOT NULL,
            early_stop_iteration INTEGER NOT NULL,
            val_loss_at_es REAL,
            val_acc_at_es REAL,
            test_acc_at_es REAL,
            test_acc_final REAL,
            train_acc_final REAL,
            seconds REAL,
            worker TEXT NOT NULL,
            host TEXT NOT NULL,
            mask_path TEXT NOT NULL,
            mask_bytes INTEGER NOT NULL,
            mask_checksum TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            next_mask BLOB,
            supermask_test_acc REAL,
            supermask_signed_constant_test_acc REAL,
            PRIMARY KEY (trial_id, round)
        ) WITHOUT ROWID;
        CREATE TABLE curve_points (
            trial_id TEXT NOT NULL,
            round INTEGER NOT NULL,
            point INTEGER NOT NULL,
            iteration INTEGER NOT NULL,
            val_loss REAL,
            val_acc REAL,
            test_acc REAL,
            PRIMARY KEY (trial_id, round, point),
            FOREIGN KEY (trial_id, round) REFERENCES rounds (trial_id, round)
        ) WITHOUT ROWID;
        \(specsSQL)
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            time TEXT NOT NULL,
            kind TEXT NOT NULL,
            worker TEXT,
            trial_id TEXT,
            message TEXT NOT NULL
        );
        \(workerHeardSQL)
        """

    private func claimSweep(specText: String, plannedTrialIDs: [String]?, newControls: Int, now: Date)
        throws(StoreError)
    {
        var existing: (name: String, fingerprint: String)?
        try db.forEachRow("SELECT name, fingerprint FROM sweep WHERE id = 1") { row in
            existing = (row.text(0) ?? "", row.text(1) ?? "")
        }
        guard let existing else {
            try db.transaction { () throws(StoreError) in
                try db.run(
                    "INSERT INTO sweep (id, name, spec_text, fingerprint, created_at) VALUES (1, ?, ?, ?, ?)",
                    [.text(sweepName), .text(specText), .text(fingerprint), .text(ResultsCSV.timestamp(now))]
                )
                try db.run(
                    "INSERT INTO specs (version, spec_text, fingerprint, created_at, trials_added) VALUES (1, ?, ?, ?, ?)",
                    [
                        .text(specText), .text(fingerprint), .text(ResultsCSV.timestamp(now)),
                        .integer(plannedTrialIDs?.count ?? 0),
                    ])
            }
            if !specText.isEmpty {
                try DurableFile.writeAtomically(
                    Array(specText.utf8), to: directory.appendingPathComponent("sweep.yaml").path)
            }
            return
        }
        if existing.name != sweepName {
            guard existing.fingerprint == fingerprint else {
                throw StoreError(
                    .sweepMismatch,
                    "\(root) already holds sweep '\(existing.name)' (fingerprint \(existing.fingerprint))",
                    detail: "this is sweep '\(sweepName)' (fingerprint \(fingerprint))",
                    hint: "use another --out or delete it"
                )
            }
            logger.notice("results folder \(root) holds the same sweep under the name '\(existing.name)'")
        }
        // A spec of the history (the first, or an extension) runs again: its trials carry its version.
        if let known = try db.scalar(
            "SELECT MAX(version) FROM specs WHERE fingerprint = ?", [.text(fingerprint)])?.int
        {
            specVersion = known
            return
        }
        guard let plannedTrialIDs else {
            throw StoreError(
                .sweepMismatch,
                "\(root) already holds sweep '\(existing.name)' (fingerprint \(existing.fingerprint))",
                detail: "this is sweep '\(sweepName)' (fingerprint \(fingerprint))",
                hint: "use another --out or delete it"
            )
        }
        // Another spec of the same sweep: a new version of its history.
        let registered = try registeredTopLevelTrialIDs()
        let change = SpecChange.compare(registered: registered, planned: plannedTrialIDs, newControls: newControls)
        let version = (try db.scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM specs")?.int) ?? 2
        let file = "sweep.v\(version).yaml"
        try DurableFile.writeAtomically(Array(specText.utf8), to: directory.appendingPathComponent(file).path)
        try db.transaction { () throws(StoreError) in
            try db.run(
                """
                INSERT INTO specs (version, spec_text, fingerprint, created_at, trials_reused, trials_added,
                                   trials_left_out, trials_new_controls)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .integer(version), .text(specText), .text(fingerprint), .text(ResultsCSV.timestamp(now)),
                    .integer(change.reused), .integer(change.added), .integer(change.leftOut),
                    .integer(change.newControls),
                ])
            try logEvent(
                kind: "spec-extended",
                message: "spec version \(version) (\(file)): \(change.reused) trials reused"
                    + (change.newControls > 0 ? " (\(change.newControls) with new control branches)" : "")
                    + ", \(change.added) added, \(change.leftOut) of earlier versions not in it",
                at: now)
        }
        specVersion = version
        specChange = SpecChange(
            version: version, reused: change.reused, added: change.added, leftOut: change.leftOut,
            newControls: change.newControls, file: file)
        logger.notice("results folder \(root): \(specChange!)")
    }

    /// Ids of the registered top-level trials (not control branches), of every spec version.
    func registeredTopLevelTrialIDs() throws(StoreError) -> Set<String> {
        var ids = Set<String>()
        try db.forEachRow("SELECT trial_id FROM trials WHERE parent_trial IS NULL") { row in
            if let id = row.text(0) { ids.insert(id) }
        }
        return ids
    }

    // MARK: trial lifecycle

    /// Trials registered per transaction by ``registerTrials(_:)``: bounds the transaction (and its WAL growth)
    /// whatever the sweep's size.
    static let registrationChunk = 5_000

    /// Registers trials in the given order (their row order in the CSVs); trials already known are left as they are.
    ///
    /// Idempotent: a restarted coordinator registers the same list again and nothing changes. The sequence is read
    /// once, in transactions of ``registrationChunk`` trials, so a lazy sequence is registered in bounded memory;
    /// an interruption between two leaves the first ones registered, and the next run registers the rest.
    public func registerTrials(_ trials: some Sequence<TrialRegistration>) throws(StoreError) {
        var iterator = trials.makeIterator()
        var more = true
        while more {
            try db.transaction { () throws(StoreError) in
                for _ in 0..<Self.registrationChunk {
                    guard let trial = iterator.next() else {
                        more = false
                        return
                    }
                    try insertTrialIfNew(id: trial.id, spec: trial.spec, expectedRounds: trial.expectedRounds)
                }
            }
        }
    }

    /// Convenience for `registerTrials` with tuples `(id, spec, expectedRounds)`.
    public func registerTrials(_ trials: [(id: String, spec: TrialSpec, expectedRounds: Int?)]) throws(StoreError) {
        try registerTrials(
            trials.map { TrialRegistration(id: $0.id, spec: $0.spec, expectedRounds: $0.expectedRounds) })
    }

    @discardableResult
    func insertTrialIfNew(id: String, spec: TrialSpec, expectedRounds: Int?) throws(StoreError) -> Bool {
        if try db.scalar("SELECT 1 FROM trials WHERE trial_id = ?", [.text(id)]) != nil { return false }
        let json: String
        do {
            json = String(decoding: try encoder.encode(spec), as: UTF8.self)
        } catch {
            throw StoreError(.invalidResult, "cannot encode the spec of trial \(id)", detail: "\(error)")
        }
        try db.run(
            """
            INSERT INTO trials (trial_id, seq, parent_trial, parent_round, branch_kind, branch_index, spec_json,
                                expected_rounds, spec_version)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(id), .integer(nextSequence), SQLiteValue(spec.branch?.parentTrial),
                SQLiteValue(spec.branch?.parentRound), SQLiteValue(spec.branch?.kind.rawValue),
                SQLiteValue(spec.branch?.index), .text(json), SQLiteValue(expectedRounds), .integer(specVersion),
            ]
        )
        nextSequence += 1
        return true
    }

    /// Marks a trial as running on `worker`@`host`. The first start time is kept across retries.
    public func markRunning(trialID: String, worker: String, host: String, at time: Date = Date()) throws(StoreError) {
        try updateTrial(
            trialID,
            "UPDATE trials SET status = 'running', worker = ?, host = ?, started_at = COALESCE(started_at, ?), ended_at = NULL WHERE trial_id = ?",
            [.text(worker), .text(host), .text(ResultsCSV.timestamp(time)), .text(trialID)]
        )
    }

    /// Marks a trial as finished (all its rounds recorded).
    public func markDone(trialID: String, at time: Date = Date()) throws(StoreError) {
        try updateTrial(
            trialID, "UPDATE trials SET status = 'done', reason = NULL, ended_at = ? WHERE trial_id = ?",
            [.text(ResultsCSV.timestamp(time)), .text(trialID)]
        )
    }

    /// Marks a trial as failed for good, with the reason users will see in `trials.csv`.
    public func markFailed(trialID: String, reason: String, at time: Date = Date()) throws(StoreError) {
        try updateTrial(
            trialID, "UPDATE trials SET status = 'failed', reason = ?, ended_at = ? WHERE trial_id = ?",
            [.text(reason), .text(ResultsCSV.timestamp(time)), .text(trialID)]
        )
    }

    /// Counts one more attempt of a trial (a worker took it); returns the new count.
    @discardableResult
    public func incrementTries(trialID: String) throws(StoreError) -> Int {
        try updateTrial(trialID, "UPDATE trials SET tries = tries + 1 WHERE trial_id = ?", [.text(trialID)])
        return try db.scalar("SELECT tries FROM trials WHERE trial_id = ?", [.text(trialID)])?.int ?? 0
    }

    private func updateTrial(_ trialID: String, _ sql: String, _ bindings: [SQLiteValue]) throws(StoreError) {
        try db.run(sql, bindings)
        if db.changes == 0 {
            throw StoreError(
                .invalidResult, "unknown trial \(trialID)", path: db.path,
                hint: "register trials before changing their state")
        }
    }

    /// Appends one line to the `events` table (worker joined/lost, retries, cleanup, …).
    public func logEvent(
        kind: String, worker: String? = nil, trialID: String? = nil, message: String, at time: Date = Date()
    ) throws(StoreError) {
        try db.run(
            "INSERT INTO events (time, kind, worker, trial_id, message) VALUES (?, ?, ?, ?, ?)",
            [.text(ResultsCSV.timestamp(time)), .text(kind), SQLiteValue(worker), SQLiteValue(trialID), .text(message)]
        )
    }

    /// Every event, oldest first.
    public func events() throws(StoreError) -> [StoreEvent] {
        var events: [StoreEvent] = []
        try db.forEachRow("SELECT time, kind, worker, trial_id, message FROM events ORDER BY id") { row in
            events.append(
                StoreEvent(
                    time: Self.parseTimestamp(row.text(0) ?? "") ?? Date(timeIntervalSince1970: 0),
                    kind: row.text(1) ?? "", worker: row.text(2), trialID: row.text(3), message: row.text(4) ?? ""))
        }
        return events
    }

    /// SQLite's `PRAGMA integrity_check` of `results.db`: `"ok"`, or the first problems it lists.
    ///
    /// For checks after a crash or a full disk (the fault tests); reads the whole database.
    public func integrityCheck() throws(StoreError) -> String {
        var lines: [String] = []
        try db.forEachRow("PRAGMA integrity_check") { row in lines.append(row.text(0) ?? "") }
        return lines.joined(separator: "; ")
    }
}
