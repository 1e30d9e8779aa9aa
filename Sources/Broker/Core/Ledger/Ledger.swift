import Foundation
import PumasiShared

/// The award ledger as stored: the `awards` table, one row per `LedgerEntry`, each holding its canonical text,
/// the previous entry's hash and its own. Works on a connection (inside the caller's transaction) so that the
/// schema migration that chains older rows can use it as well as the store.
///
/// Thread rule: the connection's thread.
enum Ledger {
    /// The latest entry's sequence number and hash; nil while the ledger is empty.
    static func head(_ db: any SQLDatabase) throws -> LedgerAnchor? {
        try db.queryOne("SELECT id, hash FROM awards ORDER BY id DESC LIMIT 1").map {
            LedgerAnchor(seq: $0.int(0) ?? 0, hash: $0.string(1) ?? "")
        }
    }

    /// Appends `draft` after the current head: gives it the next sequence number and the head's hash, seals it,
    /// and inserts its row. Call inside a transaction, so that reading the head and appending are one step.
    /// - Returns: the entry as recorded.
    static func append(_ draft: LedgerEntry, to db: any SQLDatabase) throws -> LedgerEntry {
        let head = try head(db)
        var entry = draft
        entry.seq = (head?.seq ?? 0) + 1
        entry.prevHash = head?.hash ?? LedgerEntry.genesis
        entry.seal()
        // The agreement column only when there is one: the schema migration that chains older rows runs before
        // the column exists.
        var extra: [(column: String, value: SQLValue)] = []
        if let agreement = entry.agreement { extra.append(("agreement", .text(agreement))) }
        if let team = entry.team { extra.append(("team", .text(team))) }
        try db.run(
            """
            INSERT INTO awards (id, awarded_at, challenge_id, submission_id, solver, score, policy, amount, currency,
                rationale, origin, prev_hash, entry, hash\(extra.map { ", " + $0.column }.joined()))
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?\(String(repeating: ", ?", count: extra.count)))
            """,
            [
                .integer(entry.seq), .integer(entry.at), .text(entry.challenge), .text(entry.submission),
                .text(entry.solver), entry.score.map(SQLValue.real) ?? .null, .text(entry.policy),
                .text(entry.amount), .text(entry.currency), entry.rationale.map(SQLValue.text) ?? .null,
                entry.origin.map(SQLValue.text) ?? .null, .text(entry.prevHash), .text(entry.text),
                .text(entry.hash),
            ] + extra.map(\.value))
        return entry
    }

    /// Entries in ledger order, all or one challenge's.
    static func entries(_ db: any SQLDatabase, challenge: String? = nil) throws -> [LedgerEntry] {
        try db.query(
            "SELECT \(LedgerEntry.columns) FROM awards WHERE challenge_id = ?1 OR ?1 IS NULL ORDER BY id",
            [challenge.map(SQLValue.text) ?? .null]
        ).map(LedgerEntry.init(row:))
    }

    /// The schema migration's second half: appends the rows of the unchained table that migration set aside, in
    /// their order, as entries whose origin says so, then drops that table.
    /// - Returns: how many entries were appended.
    static func chainUnchained(_ db: any SQLDatabase, now: Millis = WallClock.now()) throws -> Int {
        let rows = try db.query(
            """
            SELECT id, challenge_id, submission_id, solver, amount, currency, score, policy, awarded_at, rationale
            FROM awards_unchained ORDER BY id
            """)
        for row in rows {
            let draft = LedgerEntry(
                seq: 0, at: row.int(8) ?? 0, challenge: row.string(1) ?? "", submission: row.string(2) ?? "",
                solver: row.string(3) ?? "", score: row.double(6), policy: row.string(7) ?? "",
                amount: row.string(4) ?? "", currency: row.string(5) ?? "", rationale: row.string(9),
                origin: LedgerOrigin.migrated(row: row.int(0) ?? 0, at: now), prevHash: "")
            _ = try append(draft, to: db)
        }
        try db.execute("DROP TABLE awards_unchained")
        return rows.count
    }
}
