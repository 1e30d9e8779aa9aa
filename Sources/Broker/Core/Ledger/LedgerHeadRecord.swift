import Foundation
import PumasiShared

/// Where the award ledger's head is recorded apart from the ledger itself, to anchor its tail: entries deleted from
/// the end of the `awards` table leave the record naming an entry the ledger no longer has. It may lag the ledger by
/// the last commit, and it never moves back.
protocol LedgerHeadRecord {
    /// How `ledger verify` names it in a sentence ("the head file ledger.head").
    var name: String { get }
    /// How `ledger verify` names it as an anchor ("ledger.head").
    var anchorName: String { get }
    /// The recorded head; nil when none is recorded yet.
    func read(_ db: any SQLDatabase) throws -> LedgerAnchor?
    /// Records `head` unless the record already names that entry or a later one.
    func advance(to head: LedgerAnchor, _ db: any SQLDatabase) throws
}

/// The `ledger_head` table of a PostgreSQL store: one row, shared by every broker host, so that a broker that takes
/// over finds the head its predecessor recorded. It is written in a transaction of its own after the commit that
/// appended to the ledger, and a trigger refuses to move it back or delete it.
struct LedgerHeadTable: LedgerHeadRecord {
    var name: String { "the ledger_head table" }
    var anchorName: String { "ledger_head" }

    func read(_ db: any SQLDatabase) throws -> LedgerAnchor? {
        try db.queryOne("SELECT seq, hash FROM ledger_head WHERE id = 1").map {
            LedgerAnchor(seq: $0.int(0) ?? 0, hash: $0.string(1) ?? "")
        }
    }

    func advance(to head: LedgerAnchor, _ db: any SQLDatabase) throws {
        if let recorded = try read(db), recorded.seq >= head.seq { return }
        try db.transaction {
            try db.run(
                """
                INSERT INTO ledger_head (id, seq, hash) VALUES (1, ?, ?)
                ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash
                WHERE ledger_head.seq < excluded.seq
                """, [.integer(head.seq), .text(head.hash)])
        }
    }
}
