/// A connection to a relational database, SQLite or PostgreSQL: what a store needs of one, and nothing more.
///
/// Statements are written once for both backends: `?` (or `?1`, `?2` … for a value used twice) marks a parameter,
/// and the SQL keeps to what both engines take (`INSERT … ON CONFLICT DO NOTHING`, `RETURNING`, `CASE` rather than
/// arithmetic on booleans, `CAST(? AS INTEGER)` where a function wants a 32-bit integer). A boolean read back is an
/// integer 0 or 1 on both.
///
/// Thread rule: a connection belongs to one thread; create it on the thread that uses it.
public protocol SQLDatabase: AnyObject {
    var backend: DatabaseError.Backend { get }
    /// Runs one or more statements with no parameters and no results (schema, settings).
    func execute(_ sql: String) throws(DatabaseError)
    /// Runs a statement that returns no rows.
    func run(_ sql: String, _ values: [SQLValue]) throws(DatabaseError)
    /// Runs a query and returns every row.
    func query(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> [SQLRow]
    /// The first row of a query, if any.
    func queryOne(_ sql: String, _ values: [SQLValue]) throws(DatabaseError) -> SQLRow?
    /// Rows the last `run` inserted, changed or deleted.
    var changes: Int { get }
    /// A transaction is open, usable or not (PostgreSQL keeps a failed one open until it is rolled back).
    var isInTransaction: Bool { get }
    /// A transaction is open and no statement in it has failed: more may be done in it, and it may commit.
    var isTransactionUsable: Bool { get }
    /// Starts a write transaction (SQLite takes its write lock at once).
    func beginWrite() throws(DatabaseError)
    /// Starts a read-only transaction: every query in it reads the same committed state, and no writer waits for it
    /// (SQLite in WAL mode; PostgreSQL's `REPEATABLE READ`).
    func beginRead() throws(DatabaseError)
    /// What stops the statement this connection runs from another thread (`SQLInterrupter`). Made on the
    /// connection's own thread.
    func makeInterrupter() -> SQLInterrupter
    /// Runs a write whose outcome nobody reads at once, inside a transaction: PostgreSQL sends it ahead without
    /// waiting (pipeline mode), and its error, if any, is thrown by the next `sync` (or by the next statement that
    /// is not deferred, which syncs first). SQLite runs it at once.
    func runDeferred(_ sql: String, _ values: [SQLValue]) throws(DatabaseError)
    /// Waits for the deferred writes and throws the first of their errors.
    func sync() throws(DatabaseError)
}

/// Stops the statement a connection is running, from any thread: SQLite's `sqlite3_interrupt`, PostgreSQL's
/// `PQcancel`. The statement fails with an error; a connection running nothing is left as it is.
public final class SQLInterrupter: @unchecked Sendable {
    // @unchecked Sendable: `action` calls only what its library allows from any thread.
    private let action: () -> Void

    init(_ action: @escaping () -> Void) { self.action = action }

    public func interrupt() { action() }
}

extension SQLDatabase {
    public func run(_ sql: String) throws(DatabaseError) { try run(sql, []) }
    public func query(_ sql: String) throws(DatabaseError) -> [SQLRow] { try query(sql, []) }
    public func queryOne(_ sql: String) throws(DatabaseError) -> SQLRow? { try queryOne(sql, []) }

    /// Runs `body`'s queries on one snapshot of what was committed when its first query ran (`beginRead`).
    public func reading<T>(_ body: () throws -> T) throws -> T {
        try beginRead()
        defer { if isInTransaction { try? execute("ROLLBACK") } }
        return try body()
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try beginWrite()
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            // Deferred writes are read first (their errors are this failure's), or the rollback would throw them.
            try? sync()
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }
}
