public import Foundation
public import LotteryCore
public import Logging
public import MaskCodec

// What a restarted coordinator reads back from results.db.
extension ResultsStore {
    // MARK: queries for restart

    /// Per trial (in registration order): status, tries, failure reason and last recorded round, for a restarted
    /// coordinator to skip finished work and resume interrupted trials.
    public func recoveredState() throws(StoreError) -> RecoveredState {
        var recorded: [String: [Int]] = [:]
        try db.forEachRow("SELECT trial_id, round FROM rounds ORDER BY trial_id, round") { row in
            recorded[row.text(0) ?? "", default: []].append(row.int(1) ?? -1)
        }
        var trials: [RecoveredState.Trial] = []
        var decodeError: StoreError?
        try db.forEachRow(
            """
            SELECT trial_id, spec_json, status, tries, reason, rounds_done, expected_rounds, worker, host
            FROM trials ORDER BY seq
            """
        ) { row in
            let id = row.text(0) ?? ""
            guard let spec = try? decoder.decode(TrialSpec.self, from: Data((row.text(1) ?? "").utf8)) else {
                decodeError = StoreError(.database, "cannot decode the stored spec of trial \(id)", path: db.path)
                return
            }
            var last: Int?
            for (expected, round) in (recorded[id] ?? []).enumerated() where round == expected { last = round }
            trials.append(
                RecoveredState.Trial(
                    id: id, spec: spec, status: TrialStatus(rawValue: row.text(2) ?? "") ?? .queued,
                    tries: row.int(3) ?? 0, reason: row.text(4), lastRecordedRound: last, roundsDone: row.int(5) ?? 0,
                    expectedRounds: row.int(6), worker: row.text(7), host: row.text(8)))
        }
        if let decodeError { throw decodeError }
        return RecoveredState(trials: trials)
    }

    /// The stored mask container of a round (to resume the trial on another worker), or `nil` if not recorded.
    ///
    /// - Throws: ``StoreError`` `.corruptMask` when the file is missing or does not match its recorded checksum.
    public func maskBytes(trialID: String, round: Int) throws(StoreError) -> [UInt8]? {
        var found: (path: String, checksum: String)?
        try db.forEachRow(
            "SELECT mask_path, mask_checksum FROM rounds WHERE trial_id = ? AND round = ?",
            [.text(trialID), .integer(round)]
        ) { row in found = (row.text(0) ?? "", row.text(1) ?? "") }
        guard let found else { return nil }
        let path = root + "/" + found.path
        guard let bytes = try DurableFile.read(path) else {
            throw StoreError(
                .corruptMask, "the mask file of trial \(trialID) round \(round) is missing", path: path,
                hint: "the round must be re-run")
        }
        guard SHA256.hexDigest(bytes) == found.checksum else {
            throw StoreError(
                .corruptMask, "the mask file of trial \(trialID) round \(round) does not match its checksum",
                path: path, hint: "the round must be re-run")
        }
        return bytes
    }

    /// The mask round `round + 1` trains with (`next_mask` of ROUND_RESULT, stored with round `round`), to resume the
    /// trial at `round + 1`; `nil` if the round is not recorded or was recorded without one (a trial's last round).
    ///
    /// The bytes are whatever ``RecordedRound/nextMaskBytes`` held: the coordinator stores the worker's file as
    /// sent, self-contained or a delta against round `round`'s mask (``nextMask(trialID:round:)`` resolves it).
    public func nextMaskBytes(trialID: String, round: Int) throws(StoreError) -> [UInt8]? {
        var found: [UInt8]?
        try db.forEachRow(
            "SELECT next_mask FROM rounds WHERE trial_id = ? AND round = ?", [.text(trialID), .integer(round)]
        ) { row in
            if case .blob(let bytes) = row.value(0) { found = bytes }
        }
        return found
    }

    /// Round `round`'s mask, decoded: its file's delta chain is resolved through the trial's earlier rounds
    /// (`MaskFile.decodeChain`, every link checked by checksum). `nil` if the round is not recorded.
    ///
    /// - Throws: `.corruptMask` when a file of the chain is missing, altered, or does not decode.
    public func mask(trialID: String, round: Int) throws(StoreError) -> Mask? {
        guard let bytes = try maskBytes(trialID: trialID, round: round) else { return nil }
        do {
            return try MaskFile.decodeChain(bytes) { depth, _ in
                round - depth >= 0 ? (try? self.maskBytes(trialID: trialID, round: round - depth)) ?? nil : nil
            }
        } catch {
            throw StoreError(
                .corruptMask, "the recorded mask of trial \(trialID) round \(round) does not decode: \(error)",
                hint: "the round must be re-run")
        }
    }

    /// The mask round `round + 1` trains with, decoded (``nextMaskBytes(trialID:round:)``, a delta resolved against
    /// round `round`'s mask). `nil` if none is recorded.
    ///
    /// - Throws: `.corruptMask` when it or its parent does not decode, or its parent is not round `round`'s mask.
    public func nextMask(trialID: String, round: Int) throws(StoreError) -> Mask? {
        guard let bytes = try nextMaskBytes(trialID: trialID, round: round) else { return nil }
        let isDelta = (try? MaskFile.info(bytes))?.isDelta ?? false
        let parent = isDelta ? try mask(trialID: trialID, round: round) : nil
        do {
            return try MaskFile.decode(bytes, parent: parent)
        } catch {
            throw StoreError(
                .corruptMask, "the next mask recorded with trial \(trialID) round \(round) does not decode: \(error)",
                hint: "the round must be re-run")
        }
    }

    /// `masks/<trial>/round-NN.ltmask` (at least two digits).
    public static func maskRelativePath(trialID: String, round: Int) -> String {
        let digits = String(round)
        return "masks/\(trialID)/round-\(digits.count < 2 ? "0" + digits : digits).ltmask"
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
