import Foundation
import PumasiShared

extension Store {
    /// Appends `draft` to the award ledger (in the open transaction, or in one of its own); its head record follows
    /// after the commit.
    /// - Returns: the entry as recorded, with its sequence number and hash.
    func appendLedgerEntry(_ draft: LedgerEntry) throws -> LedgerEntry {
        guard db.isInTransaction else { return try transaction { try appendLedgerEntry(draft) } }
        let entry = try Ledger.append(draft, to: db)
        ledgerAppended = true
        return entry
    }

    /// The head as recorded apart from the ledger (`ledger.head`, or the `ledger_head` table); nil when none is.
    func recordedLedgerHead() throws -> LedgerAnchor? { try ledgerHeadRecord.read(db) }

    /// The ledger's latest entry; nil while it is empty.
    func ledgerHead() throws -> LedgerAnchor? { try Ledger.head(db) }

    /// Ledger entries in order, all or one challenge's.
    func ledgerEntries(challenge: String? = nil) throws -> [LedgerEntry] {
        try Ledger.entries(db, challenge: challenge)
    }

    /// Records the ledger's head apart from the ledger unless the record already names it (or a later entry).
    func advanceLedgerHead() throws {
        guard let head = try ledgerHead() else { return }
        try ledgerHeadRecord.advance(to: head, db)
    }

    /// The ledger heads recorded in the event log: one per `challenge.awarded` announcement that carries one.
    func announcedLedgerHeads() throws -> [(source: String, anchor: LedgerAnchor)] {
        try db.query(
            "SELECT seq, challenge_id, body_json FROM events WHERE topic = ? ORDER BY seq",
            [.text(Announcement.Topic.awarded.rawValue)]
        ).compactMap { row in
            guard let body = row.data(2), let anchor = try? JSONDecoder().decode(Announcement.self, from: body).ledger
            else { return nil }
            return ("announcement \(row.int(0) ?? 0) (challenge.awarded, \(row.string(1) ?? "?"))", anchor)
        }
    }
}

extension Store {
    /// Checks the ledger's chain and its tail against `ledger.head` and the heads that award announcements carried.
    func verifyLedger() throws -> LedgerReport {
        var anchors: [LedgerVerifier.Anchor] = []
        var headFileProblem: String?
        // The record first: a broker that commits meanwhile can move it only ahead of the snapshot read after it.
        do {
            if let head = try ledgerHeadRecord.read(db) {
                anchors.append(.init(source: ledgerHeadRecord.anchorName, anchor: head))
            } else {
                headFileProblem = "\(ledgerHeadRecord.name) is missing"
            }
        } catch {
            headFileProblem = "\(ledgerHeadRecord.name): \(error)"
        }
        return try readSnapshot {
            anchors += try announcedLedgerHeads().map { LedgerVerifier.Anchor(source: $0.source, anchor: $0.anchor) }
            return LedgerVerifier.verify(try ledgerEntries(), anchors: anchors, headFileProblem: headFileProblem)
        }
    }
}
