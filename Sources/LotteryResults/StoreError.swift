/// A failure of the results store: what went wrong, on which file, the system's or SQLite's own words, and
/// what to do.
///
/// Every write error of ``ResultsStore`` surfaces as one of these, after the database was rolled back to its
/// last committed state. The coordinator should stop accepting results (not acknowledge them) when it sees one.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// A file system call failed (create, write, fsync, rename, remove, read): see ``StoreError/detail``.
        case io
        /// SQLite reported an error; ``StoreError/detail`` holds its message and ``StoreError/sql`` the statement.
        case database
        /// `results.db` was written by a newer build (its schema version is higher than this build knows).
        case schemaTooNew
        /// The folder holds a different sweep (another fingerprint).
        case sweepMismatch
        /// A result that contradicts itself (ids or round numbers that disagree) or names an unknown trial.
        case invalidResult
        /// A stored mask file does not match the checksum recorded with it.
        case corruptMask
    }

    public var code: Code
    /// What failed, as a sentence fragment ("cannot write the mask file").
    public var what: String
    /// The file or folder involved, if any.
    public var path: String?
    /// The operating system's (`strerror`) or SQLite's message.
    public var detail: String?
    /// The SQL statement that failed, for ``Code/database``.
    public var sql: String?
    /// What the user can do about it.
    public var hint: String?
    /// SQLite's primary result code for ``Code/database`` (`SQLITE_BUSY` = 5, `SQLITE_NOTADB` = 26, …), else `nil`.
    public var sqliteCode: Int32? = nil

    public init(
        _ code: Code, _ what: String, path: String? = nil, detail: String? = nil, sql: String? = nil,
        hint: String? = nil
    ) {
        self.code = code
        self.what = what
        self.path = path
        self.detail = detail
        self.sql = sql
        self.hint = hint
    }

    public var description: String {
        var text = what
        if let path { text += " (\(path))" }
        if let detail { text += ": \(detail)" }
        if let sql { text += " [SQL: \(sql.split(whereSeparator: \.isNewline).joined(separator: " "))]" }
        if let hint { text += "; \(hint)" }
        return text
    }
}
