import Foundation
import LotteryCore

extension ResultsStore {
    /// Row counts of one ``ResultsStore/exportCSVs()``.
    public struct ExportSummary: Sendable, Hashable {
        public var trials: Int
        public var rounds: Int
        public var curvePoints: Int

        public init(trials: Int, rounds: Int, curvePoints: Int) {
            self.trials = trials
            self.rounds = rounds
            self.curvePoints = curvePoints
        }
    }

    /// Rebuilds `trials.csv`, `rounds.csv` and `curves.csv` from `results.db`.
    ///
    /// Each file is streamed row by row from one query (memory stays bounded by one row plus a write buffer),
    /// written to `<name>.tmp`, fsynced and renamed over the old file, so a reader never sees a half-written CSV.
    /// Rows are in trial registration order, then round, then evaluation order; two runs of the same sweep give
    /// byte-identical files apart from the timing and host columns. Cost is proportional to the whole database:
    /// the coordinator calls this on a timer (e.g. every minute) and once at the end, not per result.
    ///
    /// - Throws: ``StoreError`` (`.io` with the file, or `.database`); a failed export leaves the previous CSVs.
    @discardableResult
    public func exportCSVs() throws(StoreError) -> ExportSummary {
        try CSVExporter(db: db, root: root, decoder: decoder).export()
    }
}

/// Writes the three CSVs from an open database: shared by ``ResultsStore/exportCSVs()`` (the coordinator) and
/// ``ResultsReader/exportCSVs()`` (`lth export`, `lth report`, read-only on the database).
///
/// Temporary files carry the writer's pid (`rounds.csv.<pid>.tmp`), so a coordinator and an `lth export` writing
/// the same folder at once never write the same file; each rename is atomic, and the last one wins.
struct CSVExporter {
    let db: SQLiteDatabase
    let root: String
    let decoder: JSONDecoder
    /// The database's schema version: a read-only reader cannot migrate an older database, so columns added since
    /// are read as their defaults (no supermask accuracies before 3, spec version 1 before 4).
    var schemaVersion = ResultsStore.schemaVersion

    var specVersionColumn: String { schemaVersion >= 4 ? "spec_version" : "1" }

    /// - Parameter ownTransaction: open (and close) the read transaction here; `false` when the caller holds one.
    func export(ownTransaction: Bool = true) throws(StoreError) -> ResultsStore.ExportSummary {
        // One read transaction: the three files describe the same snapshot.
        if ownTransaction { try db.execute("BEGIN") }
        defer { if ownTransaction { _ = try? db.execute("COMMIT") } }
        let trials = try exportTrials()
        let rounds = try exportRounds()
        let points = try exportCurves()
        return ResultsStore.ExportSummary(trials: trials, rounds: rounds, curvePoints: points)
    }

    private func exportTrials() throws(StoreError) -> Int {
        let writer = try BufferedFileWriter(temporaryFor: root + "/" + ResultsCSV.trialsFileName, unique: true)
        try writer.write(CSV.line(ResultsCSV.trialsHeader))
        var count = 0
        try db.forEachRow(
            """
            SELECT trial_id, spec_json, status, tries, reason, worker, host, started_at, ended_at, rounds_done,
                   expected_rounds, \(specVersionColumn)
            FROM trials ORDER BY seq
            """
        ) { (row: SQLiteStatement) throws(StoreError) in
            let id = row.text(0) ?? ""
            let spec = try decodeSpec(row.text(1), trialID: id)
            let cells = ResultsCSV.trialsRow(
                trialID: id, spec: spec, status: row.text(2) ?? "", tries: row.int(3) ?? 0, reason: row.text(4),
                worker: row.text(5), host: row.text(6), startedAt: row.text(7), endedAt: row.text(8),
                roundsDone: row.int(9) ?? 0, expectedRounds: row.int(10), specVersion: row.int(11) ?? 1)
            try writer.write(CSV.line(cells))
            count += 1
        }
        try writer.commit()
        return count
    }

    private func exportRounds() throws(StoreError) -> Int {
        let layerCount = try db.scalar("SELECT COALESCE(MAX(layer_count), 0) FROM rounds")?.int ?? 0
        let writer = try BufferedFileWriter(temporaryFor: root + "/" + ResultsCSV.roundsFileName, unique: true)
        try writer.write(CSV.line(ResultsCSV.roundsHeader(layerCount: layerCount)))
        var count = 0
        var cachedSpec: (id: String, spec: TrialSpec)?
        try db.forEachRow(
            """
            SELECT r.trial_id, r.round, r.density, r.layer_densities, r.kept_counts, r.layers, r.early_stop_iteration,
                   r.val_loss_at_es, r.val_acc_at_es, r.test_acc_at_es, r.test_acc_final, r.train_acc_final,
                   r.seconds, r.worker, r.host, t.spec_json,
                   \(schemaVersion >= 3 ? "r.supermask_test_acc, r.supermask_signed_constant_test_acc" : "NULL, NULL"),
                   \(schemaVersion >= 4 ? "t.spec_version" : "1")
            FROM trials t JOIN rounds r ON r.trial_id = t.trial_id
            ORDER BY t.seq, r.round
            """
        ) { (row: SQLiteStatement) throws(StoreError) in
            let id = row.text(0) ?? ""
            if cachedSpec?.id != id { cachedSpec = (id, try decodeSpec(row.text(15), trialID: id)) }
            // NaN is stored as NULL by SQLite; read it back as NaN.
            func real(_ column: Int) -> Double { row.double(column) ?? .nan }
            let metrics = RoundMetrics(
                trialID: id, round: row.int(1) ?? 0, density: real(2),
                layerDensities: try decodeJSON([Double].self, row.text(3), trialID: id),
                keptCounts: try decodeJSON([Int].self, row.text(4), trialID: id),
                earlyStopIteration: row.int(6) ?? 0, valLossAtES: real(7), valAccAtES: real(8),
                testAccAtES: real(9), testAccFinal: real(10), trainAccFinal: real(11), seconds: real(12),
                curve: [], layers: try decodeJSON([LayerSummary].self, row.text(5), trialID: id),
                supermaskTestAcc: row.double(16), supermaskSignedConstantTestAcc: row.double(17)
            )
            let cells = ResultsCSV.roundsRow(
                spec: cachedSpec!.spec, metrics: metrics, worker: row.text(13) ?? "", host: row.text(14) ?? "",
                layerCount: layerCount, specVersion: row.int(18) ?? 1)
            try writer.write(CSV.line(cells))
            count += 1
        }
        try writer.commit()
        return count
    }

    private func exportCurves() throws(StoreError) -> Int {
        let writer = try BufferedFileWriter(temporaryFor: root + "/" + ResultsCSV.curvesFileName, unique: true)
        try writer.write(CSV.line(ResultsCSV.curvesHeader))
        var count = 0
        try db.forEachRow(
            """
            SELECT c.trial_id, c.round, c.iteration, c.val_loss, c.val_acc, c.test_acc
            FROM trials t JOIN curve_points c ON c.trial_id = t.trial_id
            ORDER BY t.seq, c.round, c.point
            """
        ) { (row: SQLiteStatement) throws(StoreError) in
            let point = EvalPoint(
                iteration: row.int(2) ?? 0, valLoss: row.double(3) ?? .nan, valAcc: row.double(4) ?? .nan,
                testAcc: row.double(5) ?? .nan)
            try writer.write(
                CSV.line(ResultsCSV.curvesRow(trialID: row.text(0) ?? "", round: row.int(1) ?? 0, point: point)))
            count += 1
        }
        try writer.commit()
        return count
    }

    private func decodeSpec(_ text: String?, trialID: String) throws(StoreError) -> TrialSpec {
        try decodeJSON(TrialSpec.self, text, trialID: trialID)
    }

    private func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String?, trialID: String) throws(StoreError) -> T {
        do {
            return try decoder.decode(type, from: Data((text ?? "").utf8))
        } catch {
            throw StoreError(
                .database, "cannot decode a stored value of trial \(trialID)", path: db.path,
                detail: "\(error)")
        }
    }
}
