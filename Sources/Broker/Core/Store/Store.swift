import Foundation
import PumasiShared

/// The broker's durable state, and the only way to its database: an SQLite file in WAL mode (the default) or a
/// PostgreSQL database, owned by the broker's loop thread. Everything outside the store reads and writes through
/// its methods; the SQL it runs is written once for both backends (`SQLDatabase`).
///
/// Writes happen inside `transaction`, which the broker opens once per poll-loop pass (group commit);
/// nothing is acknowledged to a peer before that transaction has committed.
public final class Store {
    let db: any SQLDatabase
    public let location: StoreLocation
    /// The SQLite connection, when that is the backend: its WAL, checkpoints and pragmas are its own.
    private let sqlite: SQLiteConnection?
    /// The PostgreSQL connection, when that is the backend.
    let postgres: PostgresConnection?
    /// The next announcement's sequence number; 0 until first read from the log.
    var nextSeq: Int64 = 0
    /// The next submission's sequence number (its job's number); 0 until first read from the table. Kept here, as
    /// `nextSeq` is, so that a submission's insert is a write nobody waits for (`SQLDatabase.runDeferred`).
    var nextSubmissionSeq: Int64 = 0
    /// The `unscored` rows this transaction adds and ends, written together just before it commits
    /// (`flushUnscored`): two statements a pass instead of two a job.
    var unscoredAdded: [UnscoredRow] = []
    var unscoredEnded: [UnscoredRow] = []
    private var checkpointer: Checkpointer?
    /// The WAL's length as the writer's commits leave it (with the checkpointer).
    private var walProgress: WALProgress?
    /// The award ledger's head as last committed, kept apart from the `awards` table: `ledger.head` beside an
    /// SQLite file, the `ledger_head` table in PostgreSQL (which every broker host shares).
    let ledgerHeadRecord: any LedgerHeadRecord
    /// Set when this transaction appended to the award ledger.
    var ledgerAppended = false

    static let sqliteFileName = "pumasi.sqlite3"

    /// Opens or creates `data-dir/pumasi.sqlite3` and migrates it to the current schema.
    public convenience init(directory: String, synchronousFull: Bool = true) throws {
        try self.init(location: .sqlite(directory: directory), synchronousFull: synchronousFull)
    }

    /// Opens the store at `location` and migrates it to the current schema.
    /// - Parameters:
    ///   - synchronousFull: SQLite's `synchronous`; PostgreSQL keeps its server's `synchronous_commit`, or `off` for
    ///     this connection when false.
    ///   - applicationName: how a PostgreSQL connection names itself in `pg_stat_activity`.
    ///   - create: whether an empty PostgreSQL schema becomes a new store; host commands refuse one instead.
    public init(
        location: StoreLocation, synchronousFull: Bool = true, applicationName: String = "pumasi", create: Bool = true
    ) throws {
        self.location = location
        switch location {
        case .sqlite(let directory):
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let connection = try SQLiteConnection(
                path: (directory as NSString).appendingPathComponent(Self.sqliteFileName))
            try connection.execute("PRAGMA journal_mode=WAL")
            // synchronous=FULL in WAL mode: a commit is on disk (fsync of the WAL) before it returns,
            // so an acknowledgement sent after COMMIT survives power loss as well as a crash.
            try connection.execute(synchronousFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")
            try connection.execute("PRAGMA foreign_keys=ON")
            sqlite = connection
            postgres = nil
            db = connection
            ledgerHeadRecord = LedgerHeadFile(directory: directory)
            if try Schema.migrate(connection) { try advanceLedgerHead() }
        case .postgresql(let conninfo):
            let connection = try PostgresConnection(conninfo, applicationName: applicationName)
            if !synchronousFull { try connection.execute("SET synchronous_commit = off") }
            sqlite = nil
            postgres = connection
            db = connection
            ledgerHeadRecord = LedgerHeadTable()
            try PostgresSchema.migrate(connection, create: create)
            try connection.execute("LISTEN pumasi_principals")
        }
    }

    deinit { checkpointer?.stop() }

    /// For logs: the SQLite file, or the PostgreSQL connection string without its password.
    public var path: String { location.description }

    /// Moves WAL checkpoints off the calling thread (the broker's loop) onto a thread of their own. PostgreSQL
    /// checkpoints by itself.
    func checkpointInBackground() throws {
        guard checkpointer == nil, let sqlite else { return }
        try sqlite.execute("PRAGMA wal_autocheckpoint=0")
        let progress = WALProgress()
        sqlite.reportWALProgress(to: progress)
        walProgress = progress
        checkpointer = Checkpointer(path: sqlite.path, progress: progress)
    }

    /// Runs `body`'s reads on one snapshot of what was committed, with no write lock taken (a second store's
    /// connection reads so beside the broker's writer: `BoardMaker`).
    func reading<T>(_ body: () throws -> T) throws -> T { try db.reading(body) }

    /// What stops this store's running statement from another thread.
    func makeInterrupter() -> SQLInterrupter { db.makeInterrupter() }

    /// Runs `body` in one write transaction. If it appended to the award ledger, the ledger's head record follows
    /// once it has committed (a failure to write it leaves it behind, which `ledger verify` accepts, and fails
    /// nothing).
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let value: T
        // Rows left by writes made outside any transaction of this store's (none should be) are not lost.
        if !unscoredAdded.isEmpty || !unscoredEnded.isEmpty { try flushUnscored() }
        do {
            value = try db.transaction {
                let value = try body()
                try flushUnscored()
                StepTrace.mark(.written)
                return value
            }
            StepTrace.mark(.committed)
        } catch {
            nextSeq = 0
            nextSubmissionSeq = 0
            ledgerAppended = false
            unscoredAdded.removeAll()
            unscoredEnded.removeAll()
            throw error
        }
        if ledgerAppended {
            ledgerAppended = false
            try? advanceLedgerHead()
        }
        keepLogShort()
        return value
    }

    /// The WAL's length in pages past which the writer checkpoints between two of its transactions.
    static let logRestartPages = 4_000

    /// SQLite writes the WAL from its start again only when a write transaction begins on a log that checkpoints have
    /// copied whole. The checkpointer copies it on its own thread, but while commits come back to back the writer
    /// always adds frames before it is done, and the log grows with every commit for as long as the load lasts: 210 MB
    /// in 6 s of pipelined scoring, 270 MB in 6 s of one submission at a time (and each commit's sync then also writes
    /// the file's new size). Past `logRestartPages`, the writer checkpoints here, between its transactions, copying
    /// what the checkpointer has not yet (the commits of its last look at most); its next commit writes the log from
    /// its start. If the checkpointer is busy copying, the next transaction tries again.
    private func keepLogShort() {
        guard let sqlite, let walProgress, walProgress.logLength >= Self.logRestartPages, !sqlite.isInTransaction
        else { return }
        _ = try? sqlite.queryOne("PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// Runs `body` in one read transaction: a snapshot unaffected by other connections' commits meanwhile.
    func readSnapshot<T>(_ body: () throws -> T) throws -> T {
        try db.execute(sqlite != nil ? "BEGIN DEFERRED" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { try? db.execute("COMMIT") }
        return try body()
    }

    /// "ok" when the store is sound: SQLite's `integrity_check`; on PostgreSQL, that the schema is this broker's
    /// and every foreign key holds (the server looks after its own pages).
    public func integrityCheck() throws -> String {
        if let sqlite { return try sqlite.integrityCheck() }
        return try PostgresSchema.check(db)
    }

    /// The pass's transaction is open and sound: a request that failed was undone alone, and the pass may go on.
    var isTransactionUsable: Bool { db.isTransactionUsable }

    public var schemaVersion: Int {
        get throws {
            if let sqlite { return try sqlite.userVersion }
            return try PostgresSchema.version(db)
        }
    }

    /// Changes whenever another connection (another process) changed the principals: `pumasi-broker keys` on the
    /// broker host or another. SQLite's `data_version` moves on any commit by another connection; PostgreSQL
    /// notifies (`pumasi_principals`) from a trigger on the table.
    var principalsVersion: Int64 {
        if let sqlite { return (try? sqlite.queryOne("PRAGMA data_version")?.int(0)) ?? 0 }
        return Int64(postgres?.pollNotifications() ?? 0)
    }
}

extension Store {
    /// Waits for the writes sent ahead (PostgreSQL's pipeline) and throws the first of their errors.
    func syncWrites() throws { try db.sync() }

    /// Runs `body` inside a savepoint of the open transaction: undone alone if it throws.
    ///
    /// The request's deferred writes are synced before the savepoint is released, so that a write that fails is
    /// undone with its own request and no other; on PostgreSQL that is one round trip for all of them.
    func savepoint<T>(_ body: () throws -> T) throws -> T {
        // Prepared once and cached: a savepoint is taken for every client request the broker handles.
        try db.runDeferred("SAVEPOINT request", [])
        let unscored = (unscoredAdded.count, unscoredEnded.count)
        do {
            let value = try body()
            try db.sync()
            try db.runDeferred("RELEASE SAVEPOINT request", [])
            return value
        } catch {
            // The deferred writes' own errors first: a rollback behind them would only throw them again.
            try? db.sync()
            try? db.run("ROLLBACK TO SAVEPOINT request")
            try? db.run("RELEASE SAVEPOINT request")
            nextSeq = 0
            nextSubmissionSeq = 0
            unscoredAdded.removeSubrange(unscored.0...)
            unscoredEnded.removeSubrange(unscored.1...)
            throw error
        }
    }

    /// Runs `body` without a savepoint, for a message whose failure rolls back the pass's whole transaction (an
    /// evaluator's): its deferred writes are synced before it returns, so that their errors are its own.
    func synced<T>(_ body: () throws -> T) throws -> T {
        let value = try body()
        try db.sync()
        return value
    }
}
