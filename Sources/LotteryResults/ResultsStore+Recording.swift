public import Foundation
public import LotteryCore
public import Logging
public import MaskCodec

// The results store's recording of round results: validation, the durable mask file, the round row.
extension ResultsStore {

    /// Records one accepted round result, exactly once: mask file first (durably), then the round row, its curve
    /// points and the trial update in one transaction. Returns only after the commit.
    ///
    /// A trial the store has not seen is registered from `result.spec` (with unknown expected rounds).
    ///
    /// - Returns: `.recorded(maskPath:)`, or `.duplicate` if this (trial, round) was recorded before — then nothing
    ///   is changed, not even the mask file.
    /// - Throws: ``StoreError``: `.invalidResult` when the result's ids disagree or the trial id cannot name a
    ///   folder; `.io`/`.database` when a write fails, after the transaction was rolled back and the new mask file
    ///   removed (the database stays at its last commit). The caller should then stop acknowledging results.
    @discardableResult
    public func record(_ result: RecordedRound, at time: Date = Date()) throws(StoreError) -> RecordOutcome {
        try validate(result)
        if try db.scalar(
            "SELECT 1 FROM rounds WHERE trial_id = ? AND round = ?", [.text(result.trialID), .integer(result.round)]
        ) != nil {
            return .duplicate
        }
        let relativePath = Self.maskRelativePath(trialID: result.trialID, round: result.round)
        let absolutePath = root + "/" + relativePath
        try DurableFile.makeDirectories(DurableFile.parentOf(absolutePath))
        try DurableFile.writeAtomically(result.maskBytes, to: absolutePath)
        do {
            try db.transaction { () throws(StoreError) in
                try insertTrialIfNew(id: result.trialID, spec: result.spec, expectedRounds: nil)
                try insertRound(result, maskPath: relativePath, time: time)
            }
        } catch {
            try? DurableFile.remove(absolutePath)  // else the next open removes it as an orphan
            throw error
        }
        return .recorded(maskPath: relativePath)
    }

    /// Records several accepted results with one commit (group commit): every new mask file is written and renamed
    /// into place, one `syncfs` makes them and their folders durable, then all rows go in one transaction.
    ///
    /// Same durability as ``record(_:at:)`` per result, as long as the caller acknowledges none of `results` before
    /// this returns: a crash before the COMMIT loses the whole batch (the new mask files are orphans, removed at the
    /// next open), and none of it was acknowledged, so the workers still hold it and resend it.
    ///
    /// - Returns: one outcome per result, in order (`.duplicate` for one recorded before, or twice in `results`).
    /// - Throws: ``StoreError`` like ``record(_:at:)``; then nothing of the batch is recorded and its new mask files
    ///   are removed.
    @discardableResult
    public func record(batch results: [RecordedRound], at time: Date = Date()) throws(StoreError) -> [RecordOutcome] {
        for result in results { try validate(result) }
        var outcomes: [RecordOutcome] = []
        var written: [(result: RecordedRound, path: String, absolute: String)] = []
        var seen = Set<String>()
        do throws(StoreError) {
            for result in results {
                let key = "\(result.trialID)#\(result.round)"
                let recordedBefore = try db.scalar(
                    "SELECT 1 FROM rounds WHERE trial_id = ? AND round = ?",
                    [.text(result.trialID), .integer(result.round)])
                if seen.contains(key) || recordedBefore != nil {
                    outcomes.append(.duplicate)
                    continue
                }
                seen.insert(key)
                let relativePath = Self.maskRelativePath(trialID: result.trialID, round: result.round)
                let absolutePath = root + "/" + relativePath
                let folder = DurableFile.parentOf(absolutePath)
                try DurableFile.makeDirectories(folder)
                written.append((result, relativePath, absolutePath))
                outcomes.append(.recorded(maskPath: relativePath))
            }
            // Every file written and renamed into place, then one syncfs for all of them and their folders,
            // before the transaction that names them.
            for item in written {
                try DurableFile.writeUnsynced(item.result.maskBytes, to: item.absolute)
            }
            if !written.isEmpty { try DurableFile.syncFileSystem(containing: root) }
            try db.transaction { () throws(StoreError) in
                for item in written {
                    try insertTrialIfNew(id: item.result.trialID, spec: item.result.spec, expectedRounds: nil)
                    try insertRound(item.result, maskPath: item.path, time: time)
                }
            }
        } catch {
            for item in written { try? DurableFile.remove(item.absolute) }
            throw error
        }
        return outcomes
    }

    private func validate(_ result: RecordedRound) throws(StoreError) {
        let metrics = result.metrics
        guard metrics.trialID == result.trialID, metrics.round == result.round, result.round >= 0 else {
            throw StoreError(
                .invalidResult, "round result disagrees with itself",
                detail:
                    "envelope says trial \(result.trialID) round \(result.round), metrics say trial \(metrics.trialID) round \(metrics.round)"
            )
        }
        guard Self.isSafeTrialID(result.trialID) else {
            throw StoreError(
                .invalidResult, "trial id '\(result.trialID)' cannot name a mask folder",
                detail: "ids are 1–128 characters of A–Z, a–z, 0–9, '-', '_', '.', not starting with '.'"
            )
        }
    }

    static func isSafeTrialID(_ id: String) -> Bool {
        guard !id.isEmpty, id.utf8.count <= 128, !id.hasPrefix(".") else { return false }
        return id.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.".unicodeScalars.contains(scalar))
        }
    }

    private func insertRound(_ result: RecordedRound, maskPath: String, time: Date) throws(StoreError) {
        let metrics = result.metrics
        let layerCount = max(metrics.layerDensities.count, metrics.keptCounts.count, metrics.layers.count)
        try db.run(
            """
            INSERT INTO rounds (trial_id, round, density, layer_count, layer_densities, kept_counts, layers,
                early_stop_iteration, val_loss_at_es, val_acc_at_es, test_acc_at_es, test_acc_final, train_acc_final,
                seconds, worker, host, mask_path, mask_bytes, mask_checksum, recorded_at, next_mask,
                supermask_test_acc, supermask_signed_constant_test_acc)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(result.trialID), .integer(result.round), .real(metrics.density), .integer(layerCount),
                .text(try json(metrics.layerDensities)), .text(try json(metrics.keptCounts)),
                .text(try json(metrics.layers)), .integer(metrics.earlyStopIteration), .real(metrics.valLossAtES),
                .real(metrics.valAccAtES), .real(metrics.testAccAtES), .real(metrics.testAccFinal),
                .real(metrics.trainAccFinal), .real(metrics.seconds), .text(result.worker), .text(result.host),
                .text(maskPath), .integer(result.maskBytes.count), .text(SHA256.hexDigest(result.maskBytes)),
                .text(ResultsCSV.timestamp(time)), result.nextMaskBytes.map(SQLiteValue.blob) ?? .null,
                metrics.supermaskTestAcc.map(SQLiteValue.real) ?? .null,
                metrics.supermaskSignedConstantTestAcc.map(SQLiteValue.real) ?? .null,
            ]
        )
        for (index, point) in metrics.curve.enumerated() {
            try db.run(
                """
                INSERT INTO curve_points (trial_id, round, point, iteration, val_loss, val_acc, test_acc)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(result.trialID), .integer(result.round), .integer(index), .integer(point.iteration),
                    .real(point.valLoss), .real(point.valAcc), .real(point.testAcc),
                ]
            )
        }
        try db.run(
            """
            UPDATE trials SET rounds_done = rounds_done + 1,
                status = CASE status WHEN 'queued' THEN 'running' ELSE status END,
                worker = ?, host = ?, started_at = COALESCE(started_at, ?)
            WHERE trial_id = ?
            """,
            [.text(result.worker), .text(result.host), .text(ResultsCSV.timestamp(time)), .text(result.trialID)]
        )
    }

    func json(_ value: some Encodable) throws(StoreError) -> String {
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw StoreError(.invalidResult, "cannot encode round metrics", detail: "\(error)")
        }
    }
}
