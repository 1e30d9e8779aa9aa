import Foundation
import PumasiShared

extension Store {
    struct UnknownChallenge: Error, CustomStringConvertible {
        let id: String
        var description: String { "no challenge \(id) in this store" }
    }

    /// Everything the store knows of challenge `id`, read in one snapshot (a running broker may keep writing).
    func dump(challenge id: String, source: ChallengeDump.Source, now: Millis = WallClock.now()) throws -> ChallengeDump
    {
        try readSnapshot {
            let key: [SQLValue] = [.text(id)]
            guard let challenge = try rows("challenges", "id = ?1", key).first else { throw UnknownChallenge(id: id) }
            let ofSubmissions = "submission_id IN (SELECT id FROM submissions WHERE challenge_id = ?1)"
            var source = source
            source.ledgerHead = try ledgerHead()
            return ChallengeDump(
                schemaVersion: try schemaVersion, dumpedAt: now, source: source, challenge: challenge,
                files: try rows("challenge_files", "challenge_id = ?1 ORDER BY role, position", key),
                blobs: try rows(
                    "blobs", "sha256 IN (SELECT sha256 FROM challenge_files WHERE challenge_id = ?1) ORDER BY sha256",
                    key),
                submissions: try rows("submissions", "challenge_id = ?1 ORDER BY seq", key),
                outcomes: try rows("outcomes", "challenge_id = ?1 ORDER BY at, submission_id", key),
                attempts: try rows("attempts", "\(ofSubmissions) ORDER BY id", key),
                events: try rows("events", "challenge_id = ?1 ORDER BY seq", key),
                audit: try rows("audit", "object = ?1 ORDER BY id", key),
                ledger: try ledgerEntries(challenge: id),
                tables: try Dictionary(
                    uniqueKeysWithValues: otherChallengeTables().map { table, column in
                        let condition = column == "challenge_id" ? "challenge_id = ?1" : ofSubmissions
                        return (table, try rows(table, condition, key))
                    }))
        }
    }

    /// The tables a dump names field by field; a challenge's rows in any other table go in its `tables`.
    static let dumpedTables: Set<String> = [
        "challenges", "challenge_files", "blobs", "submissions", "outcomes", "attempts", "events", "audit", "awards",
    ]

    /// The tables the dump does not name that hold a challenge's rows, and the column that says whose a row is:
    /// `challenge_id`, or else `submission_id` (a row of one of the challenge's submissions).
    func otherChallengeTables() throws -> [(table: String, column: String)] {
        try db.query(
            location.isPostgreSQL
                ? """
                SELECT t.table_name, CASE WHEN EXISTS (SELECT 1 FROM information_schema.columns c
                    WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'challenge_id')
                    THEN 'challenge_id' ELSE 'submission_id' END
                FROM information_schema.tables t WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
                AND EXISTS (SELECT 1 FROM information_schema.columns c WHERE c.table_schema = t.table_schema
                    AND c.table_name = t.table_name AND c.column_name IN ('challenge_id', 'submission_id'))
                ORDER BY 1
                """
                : """
                SELECT m.name, CASE WHEN EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'challenge_id')
                    THEN 'challenge_id' ELSE 'submission_id' END
                FROM sqlite_master m WHERE m.type = 'table' AND EXISTS
                    (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name IN ('challenge_id', 'submission_id'))
                ORDER BY m.name
                """
        ).compactMap { row in row.string(0).map { ($0, row.string(1) ?? "") } }
            .filter { !Self.dumpedTables.contains($0.table) }
    }

    /// The column that numbers `table`'s rows in this store alone (SQLite's rowid as a lone INTEGER PRIMARY KEY,
    /// PostgreSQL's identity column), whose values mean nothing in another store.
    func rowidColumn(of table: String) throws -> String? {
        if location.isPostgreSQL {
            return try db.queryOne(
                """
                SELECT column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'
                """, [.text(table)])?.string(0)
        }
        let keys = try db.query(
            "SELECT name, upper(type) FROM pragma_table_info(?) WHERE pk > 0", [.text(table)])
        guard keys.count == 1, keys[0].string(1) == "INTEGER" else { return nil }
        return keys[0].string(0)
    }

    /// The columns of `table`, in order.
    func columns(of table: String) throws -> [String] {
        if location.isPostgreSQL {
            return try db.query(
                """
                SELECT column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position
                """, [.text(table)]
            ).compactMap { $0.string(0) }
        }
        return try db.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [.text(table)]).compactMap {
            $0.string(0)
        }
    }

    /// Whole rows of `table` (every column, by name) that match `condition`.
    private func rows(_ table: String, _ condition: String, _ values: [SQLValue]) throws -> [DumpRow] {
        let names = try columns(of: table)
        let list = names.map { "\"\($0)\"" }.joined(separator: ", ")
        return try db.query("SELECT \(list) FROM \(table) WHERE \(condition)", values).map { row in
            Dictionary(uniqueKeysWithValues: zip(names, row.values.map(DumpValue.init)))
        }
    }
}
