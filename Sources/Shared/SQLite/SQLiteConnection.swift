internal import CSQLite
import Foundation
import Synchronization

/// How many pages a connection's commits have left in the write-ahead log, as SQLite's WAL hook reports
/// after each commit. Read from any thread.
public final class WALProgress: Sendable {
    private let value = Atomic<Int>(0)
    private let length = Atomic<Int>(0)

    public init() {}

    /// Pages in the WAL after the last commit (0 after a checkpoint let the log start over).
    public var pages: Int { value.load(ordering: .relaxed) }

    /// Pages in the WAL after the last commit, whatever checkpoints have copied since: how far the next commit
    /// writes into the file.
    public var logLength: Int { length.load(ordering: .relaxed) }

    fileprivate func record(_ pages: Int) {
        value.store(pages, ordering: .relaxed)
        length.store(pages, ordering: .relaxed)
    }

    /// After a checkpoint: nothing is waiting until the next commit says otherwise.
    public func reset() { value.store(0, ordering: .relaxed) }
}

/// One SQLite database connection. It owns the handle and closes it in `deinit`, after finalizing
/// its cached statements.
///
/// Thread rule: a connection belongs to one thread; create it on the thread that uses it.
public final class SQLiteConnection: SQLDatabase {
    public var backend: DatabaseError.Backend { .sqlite }
    let handle: OpaquePointer
    private var cache: [StatementKey: SQLiteStatement] = [:]
    public let path: String
    /// Kept alive as long as the hook that writes to it.
    private var walProgress: WALProgress?

    /// Set once, before SQLite's first use in the process: see `pumasi_sqlite3_count_no_memory`.
    private static let memoryUncounted = pumasi_sqlite3_count_no_memory() == SQLITE_OK

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws(DatabaseError) {
        _ = Self.memoryUncounted
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError.sqlite(code: rc, operation: "open(\(path))", message: message)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5_000)
    }

    /// Reports the WAL's size in pages to `progress` after each commit on this connection, and turns off
    /// SQLite's own automatic checkpoint (which the hook replaces).
    public func reportWALProgress(to progress: WALProgress) {
        walProgress = progress
        let context = Unmanaged.passUnretained(progress).toOpaque()
        sqlite3_wal_hook(
            handle,
            { context, _, _, pages in
                if let context { Unmanaged<WALProgress>.fromOpaque(context).takeUnretainedValue().record(Int(pages)) }
                return SQLITE_OK
            }, context)
    }

    deinit {
        cache.removeAll()  // finalizes every statement before the connection closes
        sqlite3_close_v2(handle)
    }

    func error(_ code: Int32, _ operation: String) -> DatabaseError {
        DatabaseError.sqlite(code: code, operation: operation, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs one or more statements with no parameters and no results (schema, pragmas).
    public func execute(_ sql: String) throws(DatabaseError) {
        try SQLTrace.timed(sql) { () throws(DatabaseError) in
            let rc = sqlite3_exec(handle, sql, nil, nil, nil)
            guard rc == SQLITE_OK else { throw error(rc, "execute") }
        }
    }

    /// A prepared statement for `sql`, cached for the life of the connection. A cached one was reset when its last
    /// run ended (`SQLiteStatement.withBound`).
    public func prepare(_ sql: String) throws(DatabaseError) -> SQLiteStatement {
        let key = StatementKey(sql: sql)
        if let statement = cache[key] { return statement }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        cache[key] = statement
        return statement
    }

    /// Runs a statement that returns no rows.
    public func run(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) {
        try SQLTrace.timed(sql) { () throws(DatabaseError) in
            let statement = try prepare(sql)
            try statement.withBound(values) { () throws(DatabaseError) in
                while try statement.step() {}
            }
        }
    }

    /// Runs a query and returns every row.
    public func query(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> [SQLRow] {
        try SQLTrace.timed(sql) { () throws(DatabaseError) in
            let statement = try prepare(sql)
            return try statement.withBound(values) { () throws(DatabaseError) in
                var rows: [SQLRow] = []
                while try statement.step() { rows.append(statement.row()) }
                return rows
            }
        }
    }

    /// The first row of a query, if any.
    public func queryOne(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> SQLRow? {
        try SQLTrace.timed(sql) { () throws(DatabaseError) in
            let statement = try prepare(sql)
            // The rows after the first are left unread: `withBound` resets the statement once this returns.
            return try statement.withBound(values) { () throws(DatabaseError) in
                try statement.step() ? statement.row() : nil
            }
        }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }
    /// SQLite ends a transaction it cannot go on with (SQLITE_FULL, I/O errors) itself.
    public var isTransactionUsable: Bool { isInTransaction }

    /// SQLite runs a deferred write at once: in-process, there is no round trip to save.
    public func runDeferred(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) { try run(sql, values) }
    public func sync() throws(DatabaseError) {}

    /// Takes the write lock at once, so that a transaction never fails half-way for want of it.
    public func beginWrite() throws(DatabaseError) { try execute("BEGIN IMMEDIATE") }

    /// Deferred: the snapshot is taken by the first read, and the write lock is never asked for.
    public func beginRead() throws(DatabaseError) { try execute("BEGIN DEFERRED") }

    /// `sqlite3_interrupt`: the running statement stops soon with `SQLITE_INTERRUPT`. The interrupter keeps the
    /// connection open: SQLite allows it from any thread while the connection is open.
    public func makeInterrupter() -> SQLInterrupter { SQLInterrupter { [self] in sqlite3_interrupt(handle) } }

    public var userVersion: Int {
        get throws(DatabaseError) { Int(try queryOne("PRAGMA user_version")?.int(0) ?? 0) }
    }

    /// Result of `PRAGMA integrity_check`: "ok" when the file is sound.
    public func integrityCheck() throws(DatabaseError) -> String {
        try query("PRAGMA integrity_check").compactMap { $0.string(0) }.joined(separator: "\n")
    }
}

/// A statement cache's key: the SQL text's UTF-8 bytes, which is what SQLite compiles, hashed by their number and a
/// few of them rather than all.
///
/// A statement is looked up for every execution, and the broker's are hundreds of bytes long: hashing every byte
/// was most of a lookup. Equality still compares every byte (at once for the same literal, whose storage is the
/// same), so texts that hash alike are told apart; and it is the bytes', not `String`'s, so that two texts that
/// differ only in Unicode normalization are two statements, and the hash agrees with it.
struct StatementKey: Hashable {
    let sql: String

    static func == (left: Self, right: Self) -> Bool {
        var left = left.sql
        var right = right.sql
        return left.withUTF8 { a in
            right.withUTF8 { b in
                guard a.count == b.count else { return false }
                guard let x = a.baseAddress, let y = b.baseAddress, x != y else { return true }
                return memcmp(x, y, a.count) == 0
            }
        }
    }

    func hash(into hasher: inout Hasher) {
        var text = sql
        text.withUTF8 { bytes in
            hasher.combine(bytes.count)
            let all = UnsafeRawBufferPointer(bytes)
            let width = 16
            guard all.count > 3 * width else { return hasher.combine(bytes: all) }
            // The head names the statement, the tail its table or condition, the middle its columns.
            for start in [0, all.count / 2 - width / 2, all.count - width] {
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: all[start..<start + width]))
            }
        }
    }
}
