import Foundation
import PumasiShared

extension Store {
    /// Appends an award to the ledger as one chained entry, its rationale included (append-only: triggers refuse
    /// updates and deletes).
    /// - Returns: the entry as recorded.
    @discardableResult
    func insertAward(_ award: AwardInfo) throws -> LedgerEntry {
        try appendLedgerEntry(
            LedgerEntry(
                seq: 0, at: award.awardedAt, challenge: award.challenge, submission: award.submission,
                solver: award.solver, score: award.score, policy: award.policy, amount: "\(award.amount)",
                currency: award.currency, rationale: award.rationale, agreement: award.agreement, team: award.team,
                prevHash: ""))
    }

    /// A challenge's awards, in the order they were recorded.
    func awards(challenge: String) throws -> [AwardInfo] {
        try db.query(
            """
            SELECT challenge_id, submission_id, solver, amount, currency, score, policy, awarded_at, rationale, agreement,
                team
            FROM awards WHERE challenge_id = ? ORDER BY id
            """, [.text(challenge)]
        ).map {
            AwardInfo(
                challenge: $0.string(0) ?? "", submission: $0.string(1) ?? "", solver: $0.string(2) ?? "",
                amount: Decimal(string: $0.string(3) ?? "0") ?? 0, currency: $0.string(4) ?? "",
                score: $0.double(5) ?? 0, policy: $0.string(6) ?? "", awardedAt: $0.int(7) ?? 0,
                rationale: $0.string(8), agreement: $0.string(9), team: $0.string(10))
        }
    }

    func award(challenge: String) throws -> AwardInfo? { try awards(challenge: challenge).first }
}
