public import Foundation
public import LotteryCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a folder cannot be read as a results folder: one line for the user (`lth status`, `lth export`, `lth report`).
public struct ResultsFolderError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The folder does not exist, or holds no `results.db`.
        case notAResultsFolder
        /// `results.db` was written by a newer build.
        case schemaTooNew
        /// Another process holds a lock that keeps readers out (an exclusive lock; not the coordinator's normal use).
        case locked
        /// `results.db` is truncated or not a database.
        case damaged
        /// `results.db` holds no sweep yet (empty, or a coordinator died while creating it): nothing to read, and a
        /// coordinator run on the folder starts the sweep afresh in it.
        case halfWritten
    }

    public var code: Code
    public var description: String

    public init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// A results folder opened **read-only**, from any process, while a coordinator writes it or after it ended.
///
/// `results.db` is opened with SQLite's `mode=ro`: this type never changes the database, the mask files or the
/// CSVs' sources. With a coordinator running it reads as one more WAL reader, which never blocks the writer: each
/// read runs in a short read transaction on a consistent snapshot (the only file it touches is SQLite's shared
/// lock file `results.db-shm`, where every WAL reader marks what it reads). With no coordinator: a database without
/// `-wal` is opened `immutable=1` (no lock files at all); one with a `-wal` left behind (a killed coordinator) is
/// copied with it to a private temporary folder and read there. Only ``exportCSVs()`` writes into the folder, and
/// only the three CSVs (atomically).
///
/// Thread safety: one thread, like ``ResultsStore``.
public final class ResultsReader {
    /// The results folder.
    public let directory: URL
    let db: SQLiteDatabase
    let decoder: JSONDecoder
    /// Nesting depth of ``snapshot(_:)``: reads inside one share its read transaction.
    var snapshotDepth = 0
    /// `PRAGMA user_version` of the database (older ones are read as they are: a reader never migrates).
    var schemaVersion = ResultsStore.schemaVersion

    /// Opens `directory` read-only.
    ///
    /// - Throws: ``ResultsFolderError``, one line naming the folder: not a results folder (no such folder, no
    ///   `results.db`), a database of a newer schema, a database locked against readers, or one that is empty,
    ///   truncated or not a database.
    public static func open(directory: URL) throws(ResultsFolderError) -> ResultsReader {
        let folder = directory.standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw ResultsFolderError(.notAResultsFolder, "\(folder.path): no such folder")
        }
        let path = folder.appendingPathComponent("results.db").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw ResultsFolderError(
                .notAResultsFolder,
                "\(folder.path) is not a results folder (no results.db): give the --out folder of `lth sweep`, "
                    + "`lth-coordinator` or `lth train`")
        }
        let hasWAL = FileManager.default.fileExists(atPath: path + "-wal")
        var copy: URL?
        let reader: ResultsReader
        do {
            var source = path
            if hasWAL, FolderLockProbe.holder(directory: folder) == nil {
                // No coordinator, but a write-ahead log it left (it was killed, or exited without closing): reading
                // it in place would write SQLite's read marks into results.db-shm. Read a private copy instead.
                copy = try Self.privateCopy(of: path)
                source = copy!.appendingPathComponent("results.db").path
            }
            reader = ResultsReader(
                directory: folder, db: try SQLiteDatabase(readOnlyAt: source, immutable: !hasWAL), copy: copy)
            try reader.check()
        } catch let error as ResultsFolderError {
            if let copy { try? FileManager.default.removeItem(at: copy) }
            throw error
        } catch let error as StoreError {
            if let copy { try? FileManager.default.removeItem(at: copy) }
            throw Self.explain(error, path: path)
        } catch {
            if let copy { try? FileManager.default.removeItem(at: copy) }
            throw ResultsFolderError(.damaged, "\(path): \(error)")
        }
        return reader
    }

    /// `results.db` and `results.db-wal` copied into a new temporary folder (removed with the reader).
    static func privateCopy(of path: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lth-read-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        do {
            for suffix in ["", "-wal"] {
                try FileManager.default.copyItem(
                    atPath: path + suffix, toPath: folder.appendingPathComponent("results.db" + suffix).path)
            }
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw StoreError(.io, "cannot copy the database to read it", path: path, detail: "\(error)")
        }
        return folder
    }

    /// The private copy read instead of the folder's own files, if any.
    let copy: URL?

    private init(directory: URL, db: SQLiteDatabase, copy: URL?) {
        self.copy = copy
        self.directory = directory
        self.db = db
        decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    }

    deinit {
        if let copy { try? FileManager.default.removeItem(at: copy) }
    }

    /// Schema version and the sweep row: what makes the file a results database this build can read.
    private func check() throws {
        let version = try db.scalar("PRAGMA user_version")?.int ?? 0
        schemaVersion = version
        if version > ResultsStore.schemaVersion {
            throw ResultsFolderError(
                .schemaTooNew,
                "\(db.path) has schema version \(version), newer than this build's \(ResultsStore.schemaVersion): "
                    + "read it with the newer lth that wrote it")
        }
        guard version >= 1, try db.scalar("SELECT COUNT(*) FROM sweep")?.int == 1 else {
            throw ResultsFolderError(
                .halfWritten,
                "\(db.path) is half-written: it holds no sweep yet (a coordinator that died while creating it?); "
                    + "run the sweep again on this folder, or delete it")
        }
    }

    static func explain(_ error: StoreError, path: String) -> ResultsFolderError {
        switch error.sqliteCode {
        case 5, 6:  // SQLITE_BUSY, SQLITE_LOCKED
            return ResultsFolderError(
                .locked,
                "\(path) is locked by another process (\(error.detail ?? "busy")); try again in a moment")
        case 26, 11:  // SQLITE_NOTADB, SQLITE_CORRUPT
            return ResultsFolderError(
                .damaged,
                "\(path) is damaged or not a results database (\(error.detail ?? "")); it cannot be read")
        default:
            return ResultsFolderError(.damaged, "\(path): \(error)")
        }
    }

    /// Runs `body` inside one read transaction: every read in it (``status(now:expectedRounds:rateWindow:recentPerWorker:eventLimit:)``,
    /// ``specText()``) sees the same snapshot of the database, whatever a coordinator commits meanwhile. A WAL
    /// reader never blocks the writer, however long it holds its snapshot.
    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        if snapshotDepth == 0 {
            do { try db.execute("BEGIN") } catch { throw Self.explain(error, path: db.path) }
        }
        snapshotDepth += 1
        defer {
            snapshotDepth -= 1
            if snapshotDepth == 0 { _ = try? db.execute("COMMIT") }
        }
        return try body()
    }

    /// What running a spec with these top-level trial ids and this fingerprint on the folder would do to its
    /// history, said before the coordinator starts: `nil` when the folder already knows the spec (a resume), else
    /// the change (its `version` is the one the store will give it). Another sweep's folder (other name) is left to
    /// the store to refuse. `newControls`: planned trials that are registered ones given new controls.
    public func preview(sweepName: String, fingerprint: String, plannedTrialIDs: [String], newControls: Int = 0)
        throws -> SpecChange?
    {
        do {
            return try snapshot { () throws -> SpecChange? in
                guard try db.scalar("SELECT name FROM sweep WHERE id = 1")?.string == sweepName else { return nil }
                var known = try db.scalar("SELECT fingerprint FROM sweep WHERE id = 1")?.string == fingerprint
                var hasSpecs = false
                try db.forEachRow("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'specs'") { _ in
                    hasSpecs = true
                }
                var version = 2
                if hasSpecs {
                    let listed = try db.scalar("SELECT 1 FROM specs WHERE fingerprint = ?", [.text(fingerprint)]) != nil
                    known = known || listed
                    version = (try db.scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM specs")?.int) ?? 2
                }
                if known { return nil }
                var registered = Set<String>()
                try db.forEachRow("SELECT trial_id FROM trials WHERE parent_trial IS NULL") { row in
                    if let id = row.text(0) { registered.insert(id) }
                }
                var change = SpecChange.compare(
                    registered: registered, planned: plannedTrialIDs, newControls: newControls)
                change.version = version
                change.file = "sweep.v\(version).yaml"
                return change
            }
        } catch let error as StoreError {
            throw Self.explain(error, path: db.path)
        }
    }

    /// The top-level trials registered for sweep `sweepName` (not control branches), every spec version's, by id;
    /// empty when the folder holds another sweep. For ``SpecChange``'s comparison of a new spec with the folder.
    ///
    /// - Parameter known: specs the caller has by id (a plan's trials): a registered id among them is given that
    ///   spec (an id is the hash of its spec) instead of its stored one being decoded, so reading a folder that
    ///   holds nothing but the plan costs no decoding (`lth status --watch` reads it every refresh).
    public func registeredTopLevelSpecs(sweepName: String, known: [String: TrialSpec] = [:]) throws
        -> [String: TrialSpec]
    {
        do {
            return try snapshot { () throws -> [String: TrialSpec] in
                guard try db.scalar("SELECT name FROM sweep WHERE id = 1")?.string == sweepName else { return [:] }
                var specs: [String: TrialSpec] = [:]
                var undecodable: String?
                try db.forEachRow("SELECT trial_id, spec_json FROM trials WHERE parent_trial IS NULL") { row in
                    guard let id = row.text(0) else { return }
                    if let spec = known[id] {
                        specs[id] = spec
                        return
                    }
                    guard let spec = try? decoder.decode(TrialSpec.self, from: Data((row.text(1) ?? "").utf8)) else {
                        undecodable = undecodable ?? id
                        return
                    }
                    specs[id] = spec
                }
                if let undecodable {
                    throw ResultsFolderError(
                        .damaged, "\(db.path): the stored spec of trial \(undecodable) cannot be decoded")
                }
                return specs
            }
        } catch let error as StoreError {
            throw Self.explain(error, path: db.path)
        }
    }

    /// The newest spec of the folder's history (`specs`, highest version): the spec as first run until the sweep
    /// is extended, and on databases before schema version 4.
    public func latestSpecText() throws -> String {
        do {
            return try snapshot { () throws -> String in
                if schemaVersion >= 4,
                    let text = try db.scalar("SELECT spec_text FROM specs ORDER BY version DESC LIMIT 1")?.string
                {
                    return text
                }
                return try db.scalar("SELECT spec_text FROM sweep WHERE id = 1")?.string ?? ""
            }
        } catch let error as StoreError {
            throw Self.explain(error, path: db.path)
        }
    }

    /// The sweep spec as first run (`sweep.spec_text`).
    public func specText() throws -> String {
        do {
            return try db.scalar("SELECT spec_text FROM sweep WHERE id = 1")?.string ?? ""
        } catch {
            throw Self.explain(error, path: db.path)
        }
    }

    /// Rebuilds `trials.csv`, `rounds.csv` and `curves.csv` from `results.db` (one read snapshot), each written to a
    /// temporary file and renamed into place: a reader never sees half a file. Safe while a coordinator runs.
    ///
    /// - Throws: ``ResultsFolderError`` for a locked or damaged database; ``StoreError`` (`.io`) for a CSV that
    ///   cannot be written (the previous file stays).
    @discardableResult
    public func exportCSVs() throws -> ResultsStore.ExportSummary {
        try snapshot { () throws -> ResultsStore.ExportSummary in
            do {
                return try CSVExporter(
                    db: db, root: directory.path, decoder: decoder, schemaVersion: schemaVersion
                ).export(ownTransaction: false)
            } catch let error as StoreError {
                if error.code == .database { throw Self.explain(error, path: db.path) }
                throw error
            }
        }
    }
}
