import Foundation
import PumasiShared

/// Confidential challenges in the store: agreements (append-only, one row per version), acceptances (append-only),
/// invitations by name and by token (a token is kept as its SHA-256), and clarifications.
extension Store {
    // MARK: Agreements

    /// Records a new version of a challenge's agreement. - Returns: it, as readers see it.
    @discardableResult
    func insertAgreement(challenge: String, kind: AgreementKind, text: String, at now: Millis) throws -> AgreementInfo {
        let sha = SHA256.hex(Data(text.utf8))
        let version =
            try db.queryOne(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM agreements WHERE challenge_id = ?", [.text(challenge)]
            )?.int(0) ?? 1
        try db.run(
            "INSERT INTO agreements (challenge_id, version, sha256, kind, text, at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(challenge), .integer(version), .text(sha), .text(kind.rawValue), .text(text), .integer(now)])
        return AgreementInfo(version: Int(version), kind: kind, sha256: sha, text: text)
    }

    /// The current agreement of every challenge that has one.
    func currentAgreements() throws -> [String: AgreementInfo] {
        let rows = try db.query(
            """
            SELECT a.challenge_id, a.version, a.kind, a.sha256, a.text FROM agreements a
            WHERE a.version = (SELECT MAX(version) FROM agreements b WHERE b.challenge_id = a.challenge_id)
            """)
        return Dictionary(
            rows.map {
                (
                    $0.string(0) ?? "",
                    AgreementInfo(
                        version: Int($0.int(1) ?? 0),
                        kind: AgreementKind(rawValue: $0.string(2) ?? "") ?? .confidentiality,
                        sha256: $0.string(3) ?? "", text: $0.string(4) ?? "")
                )
            }, uniquingKeysWith: { $1 })
    }

    /// The ids of the invitation-only challenges. (The text match only narrows the rows; each spec is decoded.)
    func invitationOnlyChallenges() throws -> Set<String> {
        Set(
            try db.query("SELECT id, spec_json FROM challenges WHERE spec_json LIKE '%invitationOnly%'").compactMap {
                row -> String? in
                guard let data = row.data(1), let spec = try? JSONDecoder().decode(ChallengeSpec.self, from: data),
                    spec.invitationOnly == true
                else { return nil }
                return row.string(0)
            })
    }

    /// A challenge's agreement as it stands: its latest version.
    func currentAgreement(challenge: String) throws -> AgreementInfo? {
        try db.queryOne(
            """
            SELECT version, kind, sha256, text FROM agreements WHERE challenge_id = ? ORDER BY version DESC LIMIT 1
            """, [.text(challenge)]
        ).map {
            AgreementInfo(
                version: Int($0.int(0) ?? 0), kind: AgreementKind(rawValue: $0.string(1) ?? "") ?? .confidentiality,
                sha256: $0.string(2) ?? "", text: $0.string(3) ?? "")
        }
    }

    /// The latest version of a challenge's agreement that `principal` accepted, and its hash.
    func acceptance(challenge: String, principal: String) throws -> (version: Int, sha256: String)? {
        try db.queryOne(
            """
            SELECT version, sha256 FROM acceptances WHERE challenge_id = ? AND principal = ?
            ORDER BY version DESC LIMIT 1
            """, [.text(challenge), .text(principal)]
        ).map { (Int($0.int(0) ?? 0), $0.string(1) ?? "") }
    }

    /// Records an acceptance. - Returns: false if this principal had accepted this version already.
    func accept(challenge: String, principal: String, agreement: AgreementInfo, at now: Millis) throws -> Bool {
        try db.run(
            """
            INSERT INTO acceptances (challenge_id, principal, version, sha256, at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            [
                .text(challenge), .text(principal), .integer(Int64(agreement.version)), .text(agreement.sha256),
                .integer(now),
            ])
        return db.changes == 1
    }

    // MARK: Invitations

    /// Invites `principal` (again, if their invitation was revoked). `via`: `list`, or the token's id.
    func invite(challenge: String, principal: String, via: String, at now: Millis) throws {
        try db.run(
            """
            INSERT INTO invitations (challenge_id, principal, invited_at, via) VALUES (?, ?, ?, ?)
            ON CONFLICT (challenge_id, principal) DO UPDATE
                SET invited_at = excluded.invited_at, via = excluded.via, revoked_at = NULL
                WHERE invitations.revoked_at IS NOT NULL
            """, [.text(challenge), .text(principal), .integer(now), .text(via)])
    }

    /// Revokes an invitation. - Returns: whether there was one in force.
    func revokeInvitation(challenge: String, principal: String, at now: Millis) throws -> Bool {
        try db.run(
            "UPDATE invitations SET revoked_at = ? WHERE challenge_id = ? AND principal = ? AND revoked_at IS NULL",
            [.integer(now), .text(challenge), .text(principal)])
        return db.changes == 1
    }

    func isInvited(challenge: String, principal: String) throws -> Bool {
        try db.queryOne(
            "SELECT 1 FROM invitations WHERE challenge_id = ? AND principal = ? AND revoked_at IS NULL",
            [.text(challenge), .text(principal)]) != nil
    }

    /// Records a token by its hash.
    func insertInvitationToken(id: String, challenge: String, sha256: String, at now: Millis) throws {
        try db.run(
            "INSERT INTO invitation_tokens (id, challenge_id, token_sha256, created_at) VALUES (?, ?, ?, ?)",
            [.text(id), .text(challenge), .text(sha256), .integer(now)])
    }

    /// Redeems a token of this challenge that is neither used nor revoked. - Returns: its id, or nil.
    func redeemInvitationToken(challenge: String, sha256: String, by principal: String, at now: Millis) throws
        -> String?
    {
        try db.queryOne(
            """
            UPDATE invitation_tokens SET redeemed_by = ?, redeemed_at = ?
            WHERE challenge_id = ? AND token_sha256 = ? AND redeemed_by IS NULL AND revoked_at IS NULL RETURNING id
            """, [.text(principal), .integer(now), .text(challenge), .text(sha256)]
        )?.string(0)
    }

    /// Revokes an unredeemed token. - Returns: whether one was revoked.
    func revokeInvitationToken(challenge: String, id: String, at now: Millis) throws -> Bool {
        try db.run(
            """
            UPDATE invitation_tokens SET revoked_at = ?
            WHERE challenge_id = ? AND id = ? AND redeemed_by IS NULL AND revoked_at IS NULL
            """, [.integer(now), .text(challenge), .text(id)])
        return db.changes == 1
    }

    func invitationList(challenge: String) throws -> InvitationList {
        let invitees = try db.query(
            """
            SELECT principal, via, invited_at, revoked_at FROM invitations WHERE challenge_id = ?
            ORDER BY invited_at, principal
            """, [.text(challenge)]
        ).map {
            InvitationList.Invitee(
                name: $0.string(0) ?? "", via: $0.string(1) ?? "", invitedAt: $0.int(2) ?? 0, revokedAt: $0.int(3))
        }
        let tokens = try db.query(
            """
            SELECT id, created_at, redeemed_by, redeemed_at, revoked_at FROM invitation_tokens WHERE challenge_id = ?
            ORDER BY created_at, id
            """, [.text(challenge)]
        ).map {
            InvitationList.Token(
                id: $0.string(0) ?? "", createdAt: $0.int(1) ?? 0, token: nil, redeemedBy: $0.string(2),
                redeemedAt: $0.int(3), revokedAt: $0.int(4))
        }
        return InvitationList(challenge: challenge, invitees: invitees, tokens: tokens)
    }

    // MARK: Clarifications

    func insertClarification(id: String, challenge: String, asker: String?, question: String, at now: Millis) throws {
        try db.run(
            "INSERT INTO clarifications (id, challenge_id, asker, question, asked_at) VALUES (?, ?, ?, ?, ?)",
            [.text(id), .text(challenge), asker.map(SQLValue.text) ?? .null, .text(question), .integer(now)])
    }

    /// Answers a question not yet answered. - Returns: whether it was.
    func answerClarification(id: String, answer: String, by principal: String?, public: Bool, at now: Millis) throws
        -> Bool
    {
        try db.run(
            """
            UPDATE clarifications SET answer = ?, answered_by = ?, answered_at = ?, public = ?
            WHERE id = ? AND answer IS NULL
            """,
            [
                .text(answer), principal.map(SQLValue.text) ?? .null, .integer(now), .integer(`public` ? 1 : 0),
                .text(id),
            ])
        return db.changes == 1
    }

    private static let clarificationColumns = "id, challenge_id, question, asker, asked_at, answer, answered_at, public"

    private static func clarification(_ row: SQLRow) -> ClarificationInfo {
        ClarificationInfo(
            id: row.string(0) ?? "", challenge: row.string(1) ?? "", question: row.string(2) ?? "",
            asker: row.string(3), askedAt: row.int(4) ?? 0, answer: row.string(5), answeredAt: row.int(6),
            public: row.int(7) == 1)
    }

    func clarification(_ id: String) throws -> ClarificationInfo? {
        try db.queryOne("SELECT \(Self.clarificationColumns) FROM clarifications WHERE id = ?", [.text(id)]).map(
            Self.clarification)
    }

    /// A challenge's clarifications, oldest first.
    func clarifications(challenge: String) throws -> [ClarificationInfo] {
        try db.query(
            "SELECT \(Self.clarificationColumns) FROM clarifications WHERE challenge_id = ? ORDER BY asked_at, id",
            [.text(challenge)]
        ).map(Self.clarification)
    }
}
