internal import CSQLite
import Foundation

/// A small owner of one `sqlite3*` connection: prepared statements, transactions, typed errors.
///
/// Not thread-safe: one thread owns the connection (the ``ResultsStore`` owner). Every failure becomes a
/// ``StoreError`` carrying SQLite's own message, the SQL and the database file, so a user sees what failed and where.
/// The connection and its cached statements are finalized in `deinit`.
final class SQLiteDatabase {
    let path: String
    private var handle: OpaquePointer?
    private var cache: [String: SQLiteStatement] = [:]

    /// Opens (creating if needed) the database file at `path`.
    init(path: String) throws(StoreError) {
        self.path = path
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StoreError(.database, "cannot open the results database", path: path, detail: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    /// Opens the database file at `path` **read-only** (``ResultsReader``): SQLite's `mode=ro`, never creating it.
    ///
    /// - Parameters:
    ///   - immutable: also `immutable=1`: no locks and no `-wal`/`-shm` files are made or touched. Only for a file no
    ///     writer has open (the caller checks that no `-wal` exists: a writer in WAL mode always has one).
    ///   - busyTimeout: milliseconds to wait for a lock before failing with `SQLITE_BUSY`.
    init(readOnlyAt path: String, immutable: Bool, busyTimeout: Int32 = 2_000) throws(StoreError) {
        self.path = path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let escaped = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
        let uri = "file:\(escaped)?mode=ro\(immutable ? "&immutable=1" : "")"
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(uri, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StoreError(.database, "cannot open the results database", path: path, detail: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeout)
    }

    deinit {
        cache.removeAll()  // statements finalize in their own deinit, before the connection closes
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements without results (DDL, pragmas with no rows, BEGIN/COMMIT).
    func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(message)
            throw error(code: rc, message: text, sql: sql)
        }
    }

    /// A prepared statement for `sql`, cached for the life of the connection and reset before reuse.
    ///
    /// Because the cache hands out the same statement for the same SQL, a query must not be re-entered from inside
    /// its own ``forEachRow(_:_:_:)`` body (the inner use would reset the outer iteration).
    func prepare(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let statement = cache[sql] {
            statement.reset()
            return statement
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw error(code: rc, sql: sql) }
        let statement = SQLiteStatement(raw: raw, sql: sql, database: self)
        cache[sql] = statement
        return statement
    }

    /// Runs `sql` with `bindings` and returns nothing (INSERT/UPDATE/DELETE).
    func run(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        while try statement.step() {}
    }

    /// Runs a query and calls `body` for each row, streaming (rows are never collected by this method).
    func forEachRow(
        _ sql: String, _ bindings: [SQLiteValue] = [], _ body: (SQLiteStatement) throws(StoreError) -> Void
    ) throws(StoreError) {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        defer { statement.reset() }
        while try statement.step() { try body(statement) }
    }

    /// The first column of the first row of a query, or `nil` when there is no row.
    func scalar(_ sql: String, _ bindings: [SQLiteValue] = []) throws(StoreError) -> SQLiteValue? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.value(0)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; any error rolls the whole transaction back and is rethrown.
    ///
    /// Returns only after the commit succeeded (with `synchronous=FULL` the commit is on disk).
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            // A failed COMMIT may already have rolled back; ROLLBACK then fails harmlessly.
            if sqlite3_get_autocommit(handle) == 0 { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Number of rows the last INSERT/UPDATE/DELETE changed.
    var changes: Int { Int(sqlite3_changes(handle)) }

    func error(code: Int32, message: String? = nil, sql: String) -> StoreError {
        let text = message ?? String(cString: sqlite3_errmsg(handle))
        let what: String
        switch code & 0xff {
        case SQLITE_FULL: what = "the disk is full"
        case SQLITE_BUSY, SQLITE_LOCKED: what = "the results database is locked"
        case SQLITE_NOTADB, SQLITE_CORRUPT: what = "the results database is damaged or not a database"
        default: what = "a database statement failed"
        }
        var error = StoreError(.database, what, path: path, detail: "\(text) (SQLite code \(code))", sql: sql)
        error.sqliteCode = code & 0xff
        return error
    }
}

/// A value bound to or read from a statement column.
enum SQLiteValue: Hashable, Sendable {
    case integer(Int)
    case real(Double)
    case text(String)
    case blob([UInt8])
    case null

    var int: Int? {
        switch self {
        case .integer(let value): return value
        case .real(let value): return Int(exactly: value)
        default: return nil
        }
    }

    var string: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    init(_ value: String?) { self = value.map(SQLiteValue.text) ?? .null }
    init(_ value: Int?) { self = value.map(SQLiteValue.integer) ?? .null }
}

/// One prepared statement owned by a ``SQLiteDatabase``; finalized in `deinit`.
final class SQLiteStatement {
    let sql: String
    private let raw: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(raw: OpaquePointer, sql: String, database: SQLiteDatabase) {
        self.raw = raw
        self.sql = sql
        self.database = database
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    /// Binds `values` to parameters 1…n.
    func bind(_ values: [SQLiteValue]) throws(StoreError) {
        precondition(
            values.count == Int(sqlite3_bind_parameter_count(raw)),
            "SQLite: \(values.count) bindings for \(sqlite3_bind_parameter_count(raw)) parameters in \(sql)"
        )
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .integer(let int): rc = sqlite3_bind_int64(raw, index, Int64(int))
            case .real(let double): rc = sqlite3_bind_double(raw, index, double)
            case .text(let text): rc = sqlite3_bind_text(raw, index, text, -1, sqliteTransient)
            case .blob(let bytes):
                rc = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(raw, index, $0.baseAddress, Int32($0.count), sqliteTransient)
                }
            case .null: rc = sqlite3_bind_null(raw, index)
            }
            if rc != SQLITE_OK { throw database.error(code: rc, sql: sql) }
        }
    }

    /// Advances to the next row: `true` when a row is available, `false` when done.
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(raw)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(code: rc, sql: sql)
            sqlite3_reset(raw)
            throw error
        }
    }

    func value(_ column: Int) -> SQLiteValue {
        let index = Int32(column)
        switch sqlite3_column_type(raw, index) {
        case SQLITE_INTEGER: return .integer(Int(sqlite3_column_int64(raw, index)))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(raw, index))
        case SQLITE_TEXT: return .text(text(column) ?? "")
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(raw, index))
            guard count > 0, let base = sqlite3_column_blob(raw, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default: return .null
        }
    }

    func int(_ column: Int) -> Int? {
        sqlite3_column_type(raw, Int32(column)) == SQLITE_NULL ? nil : Int(sqlite3_column_int64(raw, Int32(column)))
    }

    func double(_ column: Int) -> Double? {
        sqlite3_column_type(raw, Int32(column)) == SQLITE_NULL ? nil : sqlite3_column_double(raw, Int32(column))
    }

    func text(_ column: Int) -> String? {
        guard let pointer = sqlite3_column_text(raw, Int32(column)) else { return nil }
        let count = Int(sqlite3_column_bytes(raw, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
}

/// SQLite's `SQLITE_TRANSIENT` (a C macro Swift cannot import): SQLite copies the bound bytes before returning.
private var sqliteTransient: sqlite3_destructor_type {
    unsafeBitCast(-1 as Int, to: sqlite3_destructor_type.self)
}
