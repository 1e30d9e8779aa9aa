import Foundation
import PumasiShared

/// Why a dump was not restored.
struct RestoreRefused: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What `Store.restore` loaded.
struct RestoreSummary {
    var challenge: String
    var files: Int
    var submissions: Int
    var outcomes: Int
    var events: Int
    /// The entries appended to this store's ledger, one per restored award.
    var ledger: [LedgerEntry]
}

extension Store {
    /// Loads a dump taken from another broker, in one transaction: all of it or nothing.
    ///
    /// Refused when the challenge or one of its submissions already exists here, when the dump comes from another
    /// schema version, or when a file, a submission or a ledger entry does not match its hash. Announcements get
    /// this store's next sequence numbers (an award's carries this ledger's head); each award becomes a new entry
    /// of this store's ledger whose origin names the source broker and the entry's sequence number and hash there.
    func restore(_ dump: ChallengeDump, now: Millis = WallClock.now()) throws -> RestoreSummary {
        try check(dump)
        let id = dump.challengeId
        do {
            return try transaction {
                // Rows of tables the dump carries by name may refer to each other in any order: foreign keys are
                // checked at the commit.
                try db.execute(
                    location.isPostgreSQL ? "SET CONSTRAINTS ALL DEFERRED" : "PRAGMA defer_foreign_keys = ON")
                guard try db.queryOne("SELECT 1 FROM challenges WHERE id = ?", [.text(id)]) == nil else {
                    throw RestoreRefused("challenge \(id) already exists in this store")
                }
                for submission in dump.submissions {
                    let sid = submission["id"]?.value ?? .null
                    guard try db.queryOne("SELECT 1 FROM submissions WHERE id = ?", [sid]) == nil else {
                        throw RestoreRefused("submission \(sid.text ?? "?") already exists in this store")
                    }
                }
                var inserter = RowInserter(store: self)
                try inserter.insert("challenges", dump.challenge)
                for blob in dump.blobs { try inserter.insert("blobs", blob, orIgnore: true) }
                for file in dump.files { try inserter.insert("challenge_files", file) }
                // A submission is numbered anew here: its number in the source store means nothing in this one.
                for submission in dump.submissions {
                    try inserter.insert("submissions", submission, omitting: ["seq"], numbering: "seq")
                }
                for outcome in dump.outcomes { try inserter.insert("outcomes", outcome) }
                for attempt in dump.attempts { try inserter.insert("attempts", attempt, omitting: ["id"]) }
                for (table, rows) in dump.tables.sorted(by: { $0.key < $1.key }) {
                    let rowid = try rowidColumn(of: table).map { [$0] } ?? []
                    for row in rows { try inserter.insert(table, row, omitting: Set(rowid)) }
                }
                // A dump from a broker before schema 19 has no `unscored` rows: what still awaits scoring is found here.
                try markChallengeUnscored(id)
                let entries = try dump.ledger.map { entry in
                    var draft = entry
                    draft.origin = LedgerOrigin.restored(
                        broker: dump.source.broker, entry: entry.anchor, from: entry.origin, at: now)
                    return try appendLedgerEntry(draft)
                }
                for event in dump.events {
                    var announcement = try Self.announcement(event)
                    if announcement.topic == .awarded { announcement.ledger = try ledgerHead() }
                    _ = try appendEvent(announcement, principal: event["principal"]?.value.text)
                }
                for entry in dump.audit { try inserter.insert("audit", entry, omitting: ["id"]) }
                try audit(
                    "challenge.restore", id, by: "operator",
                    detail: "from \(dump.source.broker) (\(dump.source.host):\(dump.source.dataDirectory)), "
                        + "dumped \(WallClock.iso(dump.dumpedAt))", at: now)
                return RestoreSummary(
                    challenge: id, files: dump.files.count, submissions: dump.submissions.count,
                    outcomes: dump.outcomes.count, events: dump.events.count, ledger: entries)
            }
        } catch let error as DatabaseError where error.isConstraintViolation {
            throw RestoreRefused("the dump does not fit this store: \(error.message)")
        }
    }

    /// Checks a dump before anything is written: its format and schema, that every row belongs to its challenge,
    /// and every file, submission and ledger entry against its hash.
    private func check(_ dump: ChallengeDump) throws {
        guard dump.format == ChallengeDump.formatName, dump.version == ChallengeDump.currentVersion else {
            throw RestoreRefused(
                "not a challenge dump of version \(ChallengeDump.currentVersion) (\(dump.format) \(dump.version))")
        }
        let schema = try schemaVersion
        guard dump.schemaVersion == schema else {
            throw RestoreRefused(
                "the dump is of schema version \(dump.schemaVersion) and this store of \(schema): "
                    + "restore with a broker of the same version")
        }
        let id = dump.challengeId
        guard !id.isEmpty else { throw RestoreRefused("the dump names no challenge") }
        func belongs(_ rows: [DumpRow], _ column: String, _ what: String) throws {
            if rows.contains(where: { $0[column]?.value.text != id }) {
                throw RestoreRefused("the dump's \(what) include some that are not challenge \(id)'s")
            }
        }
        try belongs(dump.files, "challenge_id", "files")
        try belongs(dump.submissions, "challenge_id", "submissions")
        try belongs(dump.outcomes, "challenge_id", "outcomes")
        try belongs(dump.events, "challenge_id", "announcements")
        try belongs(dump.audit, "object", "audit entries")
        let submissions = Set(dump.submissions.compactMap { $0["id"]?.value.text })
        func ofSubmissions(_ rows: [DumpRow], _ what: String) throws {
            if rows.contains(where: { !submissions.contains($0["submission_id"]?.value.text ?? "") }) {
                throw RestoreRefused("the dump's \(what) include some that are not of its submissions")
            }
        }
        try ofSubmissions(dump.attempts, "attempts")
        let others = Dictionary(
            try otherChallengeTables().map { ($0.table, $0.column) }, uniquingKeysWith: { first, _ in first })
        for (table, rows) in dump.tables {
            switch others[table] {
            case "challenge_id": try belongs(rows, "challenge_id", "\(table) rows")
            case "submission_id": try ofSubmissions(rows, "\(table) rows")
            default:
                throw RestoreRefused(
                    "the dump has rows of a table \(table) that this store does not keep per challenge")
            }
        }
        var names: [String: String] = [:]
        for file in dump.files {
            let sha = file["sha256"]?.value.text ?? ""
            names[sha] = names[sha] ?? file["name"]?.value.text
        }
        var blobs: Set<String> = []
        for blob in dump.blobs {
            let recorded = blob["sha256"]?.value.text ?? ""
            blobs.insert(try Self.verified(blob, bytes: "content", what: "file \(names[recorded] ?? recorded)"))
        }
        for file in dump.files where !blobs.contains(file["sha256"]?.value.text ?? "") {
            throw RestoreRefused("file \(file["name"]?.value.text ?? "?") has no bytes in the dump")
        }
        for submission in dump.submissions {
            _ = try Self.verified(
                submission, bytes: "content", what: "submission \(submission["id"]?.value.text ?? "?")")
        }
        for entry in dump.ledger {
            guard entry.challenge == id, submissions.contains(entry.submission) else {
                throw RestoreRefused("the dump's ledger entry \(entry.seq) is not of its challenge and submissions")
            }
            guard entry.isSealed else {
                throw RestoreRefused("the dump's ledger entry \(entry.seq) does not match its hash \(entry.hash)")
            }
        }
    }

    /// Checks a row's bytes against its `sha256` and `size` columns. - Returns: the hash.
    private static func verified(_ row: DumpRow, bytes column: String, what: String) throws -> String {
        let bytes = row[column]?.value.bytes ?? Data()
        let recorded = row["sha256"]?.value.text ?? ""
        let actual = SHA256.hex(bytes)
        guard actual == recorded else {
            throw RestoreRefused(
                "\(what) does not match its SHA-256: the dump says \(recorded), its bytes hash to \(actual)")
        }
        guard row["size"]?.value.integer == Int64(bytes.count) else {
            throw RestoreRefused("\(what) does not match its size: \(bytes.count) bytes")
        }
        return actual
    }

    private static func announcement(_ event: DumpRow) throws -> Announcement {
        guard let body = event["body_json"]?.value.text,
            let announcement = try? JSONDecoder().decode(Announcement.self, from: Data(body.utf8))
        else { throw RestoreRefused("announcement \(event["seq"]?.value.integer ?? 0) of the dump cannot be read") }
        return announcement
    }
}

/// Inserts dumped rows by column name, after checking each name against the table's columns (names come from the
/// dump, and only known ones reach the SQL).
private struct RowInserter {
    let store: Store
    private var known: [String: Set<String>] = [:]

    init(store: Store) { self.store = store }

    /// - Parameter numbering: a column given the table's next number (its largest plus one) instead of a value.
    mutating func insert(
        _ table: String, _ row: DumpRow, omitting: Set<String> = [], orIgnore: Bool = false, numbering: String? = nil
    ) throws {
        if known[table] == nil { known[table] = Set(try store.columns(of: table)) }
        let names = row.keys.filter { !omitting.contains($0) }.sorted()
        if let unknown = names.first(where: { !(known[table]?.contains($0) ?? false) }) {
            throw RestoreRefused("the dump's \(table) rows have a column \(unknown) that this store does not")
        }
        var list = names.map { "\"\($0)\"" }
        var marks = Array(repeating: "?", count: names.count)
        if let numbering {
            list.append("\"\(numbering)\"")
            marks.append("(SELECT COALESCE(MAX(\"\(numbering)\"), 0) + 1 FROM \(table))")
        }
        try store.db.run(
            """
            INSERT INTO \(table) (\(list.joined(separator: ", "))) VALUES (\(marks.joined(separator: ", ")))
            \(orIgnore ? "ON CONFLICT DO NOTHING" : "")
            """,
            names.map { row[$0]?.value ?? .null })
    }
}
