import Foundation
import PumasiShared

/// A relay's durable outbox: every submission made through the relay is written here (and committed)
/// before the relay answers, then delivered to the broker with its client id, so a broker that is away
/// loses nothing and a redelivery is stored once.
///
/// Thread rule: owned by the relay's loop thread.
final class RelayOutbox {
    private let db: SQLiteConnection
    /// The broker's ids of the submissions delivered from here: the relay's owner's, for notices.
    private(set) var forwarded: Set<String> = []

    init(path: String) throws {
        // A bare file name (`--outbox relay.sqlite3`) lives in the current directory, which exists.
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        db = try SQLiteConnection(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        try db.execute("PRAGMA synchronous=FULL")
        if try db.userVersion == 0 {
            try db.transaction {
                try db.execute(
                    """
                    CREATE TABLE outbox (
                        id INTEGER PRIMARY KEY,
                        client_id TEXT NOT NULL,
                        challenge TEXT NOT NULL,
                        solver TEXT NOT NULL,
                        filename TEXT NOT NULL,
                        content BLOB NOT NULL,
                        sha256 TEXT NOT NULL,
                        queued_at INTEGER NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'refused')),
                        submission TEXT,
                        error TEXT,
                        UNIQUE (solver, client_id)
                    );
                    PRAGMA user_version = 1;
                    """)
            }
        }
        if try db.userVersion == 1 {
            // Version 2: a large submission waits as a file beside the outbox (`file`), not in its row.
            try db.transaction {
                try db.execute(
                    """
                    ALTER TABLE outbox ADD COLUMN file TEXT;
                    ALTER TABLE outbox ADD COLUMN file_size INTEGER;
                    CREATE TABLE uploads (
                        id TEXT PRIMARY KEY,
                        challenge TEXT NOT NULL,
                        solver TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        filename TEXT NOT NULL,
                        max_bytes INTEGER NOT NULL
                    );
                    PRAGMA user_version = 2;
                    """)
            }
        }
        if try db.userVersion == 2 {
            // Version 3: the solver's comment on a submission (`submit -m`) and its repeat window, passed on to the
            // broker.
            try db.transaction {
                try db.execute(
                    """
                    ALTER TABLE outbox ADD COLUMN comment TEXT;
                    ALTER TABLE outbox ADD COLUMN repeat_window INTEGER;
                    PRAGMA user_version = 3;
                    """)
            }
        }
        forwarded = Set(
            try db.query("SELECT submission FROM outbox WHERE state = 'delivered' AND submission IS NOT NULL")
                .compactMap { $0.string(0) })
    }

    /// A file waiting in the outbox, instead of the row's bytes.
    struct StoredFile {
        var path: String
        var sha256: String
        var size: Int
    }

    /// Stores a large submission whose file is at `file.path` already (synced), unless this solver's client id is
    /// here already. - Returns: the entry as stored.
    func add(_ request: SubmitRequest, clientId: String, file: StoredFile, now: Millis) throws -> OutboxEntry {
        if let existing = try entry(solver: request.solver, clientId: clientId) { return existing }
        if let repeated = try repeated(request, sha256: file.sha256, now: now) { return repeated }
        try db.transaction {
            try db.run(
                """
                INSERT INTO outbox (client_id, challenge, solver, filename, content, sha256, queued_at, state, file,
                    file_size, comment, repeat_window)
                VALUES (?, ?, ?, ?, X'', ?, ?, 'pending', ?, ?, ?, ?)
                """,
                [
                    .text(clientId), .text(request.challenge), .text(request.solver), .text(request.filename),
                    .text(file.sha256), .integer(now), .text(file.path), .integer(Int64(file.size)),
                    request.comment.map(SQLValue.text) ?? .null,
                    request.repeatWindowSeconds.map { .integer(Int64($0)) } ?? .null,
                ])
        }
        return try entry(solver: request.solver, clientId: clientId)!
    }

    /// The file of a pending entry kept beside the outbox, if it is one.
    func file(of entry: OutboxEntry) throws -> StoredFile? {
        try db.queryOne(
            "SELECT file, sha256, file_size FROM outbox WHERE solver = ? AND client_id = ? AND file IS NOT NULL",
            [.text(entry.solver), .text(entry.clientId)]
        ).map { StoredFile(path: $0.string(0) ?? "", sha256: $0.string(1) ?? "", size: Int($0.int(2) ?? 0)) }
    }

    /// An upload a local client is making to this relay.
    func upload(_ id: String) throws -> (request: UploadBeginRequest, maxBytes: Int)? {
        try db.queryOne(
            "SELECT challenge, solver, sha256, size, filename, max_bytes FROM uploads WHERE id = ?", [.text(id)]
        ).map {
            (
                UploadBeginRequest(
                    challenge: $0.string(0) ?? "", sha256: $0.string(2) ?? "", size: Int($0.int(3) ?? 0),
                    filename: $0.string(4) ?? "", solver: $0.string(1)), Int($0.int(5) ?? 0)
            )
        }
    }

    func beginUpload(_ id: String, _ request: UploadBeginRequest, maxBytes: Int) throws {
        try db.transaction {
            try db.run(
                """
                INSERT INTO uploads (id, challenge, solver, sha256, size, filename, max_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET max_bytes = excluded.max_bytes
                """,
                [
                    .text(id), .text(request.challenge), .text(request.solver ?? ""), .text(request.sha256),
                    .integer(Int64(request.size)), .text(request.filename), .integer(Int64(maxBytes)),
                ])
        }
    }

    func endUpload(_ id: String) throws {
        try db.transaction { try db.run("DELETE FROM uploads WHERE id = ?", [.text(id)]) }
    }

    /// Stores a submission unless this solver's client id is already here. - Returns: the entry as stored.
    func add(_ request: SubmitRequest, clientId: String, content: Data, now: Millis) throws -> OutboxEntry {
        if let existing = try entry(solver: request.solver, clientId: clientId) {
            // A solver retrying something the broker refused asks again: it goes back to pending.
            guard existing.state == .refused else { return existing }
            try db.transaction {
                try db.run(
                    "UPDATE outbox SET state = 'pending', error = NULL WHERE solver = ? AND client_id = ?",
                    [.text(request.solver), .text(clientId)])
            }
            return try entry(solver: request.solver, clientId: clientId)!
        }
        if let repeated = try repeated(request, sha256: SHA256.hex(content), now: now) { return repeated }
        try db.transaction {
            try db.run(
                """
                INSERT INTO outbox (client_id, challenge, solver, filename, content, sha256, queued_at, state, comment,
                    repeat_window)
                VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
                """,
                [
                    .text(clientId), .text(request.challenge), .text(request.solver), .text(request.filename),
                    .blob(content), .text(SHA256.hex(content)), .integer(now),
                    request.comment.map(SQLValue.text) ?? .null,
                    request.repeatWindowSeconds.map { .integer(Int64($0)) } ?? .null,
                ])
        }
        return try entry(solver: request.solver, clientId: clientId)!
    }

    /// The entry of the same file from the same solver to the same challenge queued within the request's repeat
    /// window (a command run twice), if the request has one and there is such an entry.
    private func repeated(_ request: SubmitRequest, sha256: String, now: Millis) throws -> OutboxEntry? {
        guard let window = request.repeatWindowSeconds else { return nil }
        return try repeated(
            solver: request.solver, challenge: request.challenge, sha256: sha256, window: window, now: now)
    }

    /// The entry of the file `sha256` from `solver` to `challenge` queued within the last `window` seconds, if any.
    func repeated(solver: String, challenge: String, sha256: String, window: Int, now: Millis) throws -> OutboxEntry? {
        guard window > 0 else { return nil }
        return try db.queryOne(
            """
            SELECT \(Self.columns) FROM outbox WHERE solver = ? AND challenge = ? AND sha256 = ? AND queued_at >= ?
                AND state != 'refused'
            ORDER BY id DESC LIMIT 1
            """,
            [.text(solver), .text(challenge), .text(sha256), .integer(now - Millis(min(window, 86_400)) * 1000)]
        ).map(Self.entry)
    }

    func entry(solver: String, clientId: String) throws -> OutboxEntry? {
        try db.queryOne(
            "SELECT \(Self.columns) FROM outbox WHERE solver = ? AND client_id = ?", [.text(solver), .text(clientId)]
        ).map(Self.entry)
    }

    /// Pending submissions, oldest first, with their bytes.
    func pending() throws -> [(entry: OutboxEntry, content: Data)] {
        try db.query("SELECT \(Self.columns), content FROM outbox WHERE state = 'pending' ORDER BY id").map {
            (Self.entry($0), $0.data(12) ?? Data())
        }
    }

    func all(limit: Int = 1_000) throws -> [OutboxEntry] {
        try db.query("SELECT \(Self.columns) FROM outbox ORDER BY id DESC LIMIT ?", [.integer(Int64(limit))])
            .map(Self.entry)
    }

    func delivered(_ entry: OutboxEntry, submission: String) throws {
        try db.transaction {
            try db.run(
                "UPDATE outbox SET state = 'delivered', submission = ? WHERE solver = ? AND client_id = ?",
                [.text(submission), .text(entry.solver), .text(entry.clientId)])
        }
        forwarded.insert(submission)
    }

    func refused(_ entry: OutboxEntry, error: String) throws {
        try db.transaction {
            try db.run(
                "UPDATE outbox SET state = 'refused', error = ? WHERE solver = ? AND client_id = ?",
                [.text(error), .text(entry.solver), .text(entry.clientId)])
        }
    }

    private static let columns =
        """
        client_id, challenge, solver, filename, CASE WHEN file IS NULL THEN length(content) ELSE file_size END, sha256,
            queued_at, state, submission, error, comment, repeat_window
        """

    private static func entry(_ row: SQLRow) -> OutboxEntry {
        OutboxEntry(
            clientId: row.string(0) ?? "", challenge: row.string(1) ?? "", solver: row.string(2) ?? "",
            filename: row.string(3) ?? "", size: Int(row.int(4) ?? 0), sha256: row.string(5) ?? "",
            queuedAt: row.int(6) ?? 0, state: OutboxEntry.State(rawValue: row.string(7) ?? "") ?? .pending,
            submission: row.string(8), error: row.string(9), comment: row.string(10),
            repeatWindowSeconds: row.int(11).map { Int($0) })
    }
}
