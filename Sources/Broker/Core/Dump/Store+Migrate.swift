import Foundation
import PumasiShared

/// Why a store was not copied.
struct MigrationRefused: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One table's rows, in the source and in the target after the copy.
struct MigratedTable: Codable, Equatable {
    var table: String
    var source: Int
    var target: Int
}

extension Store {
    /// The tables of a store in an order in which each row's references are copied before it.
    static let tablesInCopyOrder = [
        "challenges", "blobs", "challenge_files", "submissions", "unscored", "principals", "audit", "outcomes",
        "attempts",
        "events", "final_selections", "disqualifications", "scorer_versions", "replica_results", "awards",
        "judging_assignments", "judgements", "judged", "agreements", "acceptances", "invitations", "invitation_tokens",
        "clarifications", "teams", "team_members", "team_invitations", "entrant_merges", "phase_openings",
        "stored_files", "uploads",
    ]

    /// Copies the whole of `source`, an SQLite store at the current schema, into this PostgreSQL store, which must be
    /// empty: every row of every table in one transaction, then the ledger's head (from `ledger.head`) and the broker's
    /// key (from `<data-dir>/broker.key`, if there is one, so that clients keep the key they know).
    ///
    /// Refused when the source's ledger does not verify (a copy would only carry the damage along) or the target holds
    /// anything. Rows keep their keys and numbers: submissions their `seq`, audit rows and attempts their ids (the
    /// identity sequences continue after them), announcements their sequence numbers, ledger entries their hashes.
    /// - Returns: each table's row count in the source and in the target, which the caller compares.
    func copy(from source: Store, brokerKey: CurveKeyPair?) throws -> [MigratedTable] {
        guard location.isPostgreSQL, !source.location.isPostgreSQL else {
            throw MigrationRefused("a migration copies an SQLite store into a PostgreSQL one")
        }
        let report = try source.verifyLedger()
        guard report.intact else {
            throw MigrationRefused(
                "the source's award ledger does not verify (\(report.problems.first?.message ?? "?")): "
                    + "run 'pumasi-broker ledger verify' on it")
        }
        for table in Self.tablesInCopyOrder {
            guard try db.queryOne("SELECT 1 FROM \(table) LIMIT 1") == nil else {
                throw MigrationRefused("the target store is not empty: its \(table) table has rows")
            }
        }
        try transaction {
            try db.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in Self.tablesInCopyOrder { try copyRows(of: table, from: source) }
            for (table, column) in [("audit", "id"), ("attempts", "id")] {
                try db.run(
                    "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), MAX(\(column))) FROM \(table) "
                        + "HAVING MAX(\(column)) IS NOT NULL")
            }
            if let head = try source.recordedLedgerHead() ?? source.ledgerHead() {
                try db.run(
                    "INSERT INTO ledger_head (id, seq, hash) VALUES (1, ?, ?)", [.integer(head.seq), .text(head.hash)])
            }
            if let brokerKey {
                try db.run(
                    "INSERT INTO broker_identity (id, public_key, secret_key, created_at) VALUES (1, ?, ?, ?)",
                    [.text(brokerKey.publicKey), .text(brokerKey.secretKey), .integer(WallClock.now())])
            }
            try audit(
                "store.migrate", source.path, by: "operator",
                detail: "copied from SQLite (schema \(try source.schemaVersion))", at: WallClock.now())
        }
        return try Self.tablesInCopyOrder.map { table in
            let count = "SELECT COUNT(*) FROM \(table)"
            // The target's audit trail has one row more: the migration's own.
            let extra = table == "audit" ? 1 : 0
            return MigratedTable(
                table: table, source: Int(try source.db.queryOne(count)?.int(0) ?? 0),
                target: Int(try db.queryOne(count)?.int(0) ?? 0) - extra)
        }
    }

    /// Copies one table, 256 rows at a time in the source's order (by rowid where it has one, else by its key), so
    /// that submissions and files of any total size pass through a bounded amount of memory.
    private func copyRows(of table: String, from source: Store) throws {
        let columns = try columns(of: table)
        let sourceColumns = Set(try source.columns(of: table))
        guard Set(columns) == sourceColumns else {
            throw MigrationRefused(
                "the \(table) table has columns \(sourceColumns.sorted()) in the source but \(columns.sorted()) here")
        }
        let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        let insert =
            "INSERT INTO \(table) (\(list)) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
        let hasRowid =
            try source.db.queryOne(
                "SELECT 1 FROM sqlite_master WHERE name = ? AND sql NOT LIKE '%WITHOUT ROWID%'", [.text(table)]) != nil
        if !hasRowid {
            // Tables without a rowid hold small rows (outcomes, selections, versions, judged scores): read at once.
            for row in try source.db.query("SELECT \(list) FROM \(table)") { try db.run(insert, row.values) }
            return
        }
        var last: Int64 = .min
        while true {
            let rows = try source.db.query(
                "SELECT rowid, \(list) FROM \(table) WHERE rowid > ? ORDER BY rowid LIMIT 256", [.integer(last)])
            for row in rows { try db.run(insert, Array(row.values.dropFirst())) }
            guard let end = rows.last?.int(0), rows.count == 256 else { return }
            last = end
        }
    }
}
