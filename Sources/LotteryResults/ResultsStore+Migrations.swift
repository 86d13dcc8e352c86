import Logging

extension ResultsStore {
    /// Columns added to `rounds` after version 1, with the schema version that added them (docs/results.md).
    static let addedRoundColumns: [(version: Int, name: String, type: String)] = [
        (2, "next_mask", "BLOB"),
        (3, "supermask_test_acc", "REAL"),
        (3, "supermask_signed_constant_test_acc", "REAL"),
    ]

    /// Brings a database of schema `version` (1 ≤ version < ``schemaVersion``) up to date in place, in one
    /// transaction: every column added since is added (`ALTER TABLE rounds ADD COLUMN`, NULL in old rows; a column
    /// already there is skipped), then `user_version` is set. Old rows keep NULL: a version-1 round has no next
    /// mask, a round recorded before version 3 has no supermask accuracies (empty cells in `rounds.csv`). Before
    /// version 4 there was no spec history: table `specs` starts with the spec as first run, every trial version 1.
    /// Version 5 adds table `worker_heard` (empty until the coordinator hears a worker) and
    /// `specs.trials_new_controls` (0 for earlier versions).
    func migrate(from version: Int) throws(StoreError) {
        var existing: Set<String> = []
        try db.forEachRow("PRAGMA table_info(rounds)") { row in existing.insert(row.text(1) ?? "") }
        let missing = Self.addedRoundColumns.filter { $0.version > version && !existing.contains($0.name) }
        var hasSpecs = false
        try db.forEachRow("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'specs'") { _ in
            hasSpecs = true
        }
        var specColumns: Set<String> = []
        if hasSpecs { try db.forEachRow("PRAGMA table_info(specs)") { row in specColumns.insert(row.text(1) ?? "") } }
        try db.transaction { () throws(StoreError) in
            for column in missing { try db.execute("ALTER TABLE rounds ADD COLUMN \(column.name) \(column.type)") }
            if version < 4, !hasSpecs {
                // Version 4: the spec history, starting with the spec as first run; every trial is of version 1.
                try db.execute(Self.specsSQL)
                try db.execute(
                    """
                    INSERT INTO specs (version, spec_text, fingerprint, created_at, trials_added)
                    SELECT 1, spec_text, fingerprint, created_at, (SELECT COUNT(*) FROM trials WHERE parent_trial IS NULL)
                    FROM sweep WHERE id = 1
                    """)
                try db.execute("ALTER TABLE trials ADD COLUMN spec_version INTEGER NOT NULL DEFAULT 1")
            }
            if version < 5 {
                // Version 5: when workers were last heard; how many reused trials an extension gave new controls.
                try db.execute(Self.workerHeardSQL)
                if hasSpecs && !specColumns.contains("trials_new_controls") {
                    try db.execute("ALTER TABLE specs ADD COLUMN trials_new_controls INTEGER NOT NULL DEFAULT 0")
                }
            }
            try db.execute("PRAGMA user_version=\(Self.schemaVersion)")
        }
        var added = missing.map { "rounds.\($0.name)" }
        if version < 4 { added += ["table specs", "trials.spec_version"] }
        if version < 5 { added += ["table worker_heard", "specs.trials_new_controls"] }
        logger.notice(
            "results.db: migrated schema version \(version) → \(Self.schemaVersion) (added \(added.joined(separator: ", ")))"
        )
    }
}
