import Foundation
import PumasiShared

extension Store {
    /// Every submission of a challenge with what ranking needs, in arrival order.
    func rankingCandidates(challenge: String, version: Int, phase: Int? = nil) throws -> [RankingCandidate] {
        try db.query(
            """
            SELECT s.id, s.solver, s.received_at, s.seq, CASE WHEN o.ok = 1 THEN o.score END,
                CASE WHEN o.ok = 1 THEN o.metrics_json END,
                EXISTS (SELECT 1 FROM disqualifications d WHERE d.submission_id = s.id),
                EXISTS (SELECT 1 FROM final_selections f WHERE f.challenge_id = s.challenge_id
                    AND f.submission_id = s.id),
                s.team_id, o.ok
            FROM submissions s LEFT JOIN outcomes o ON o.submission_id = s.id AND o.version = ?
            WHERE s.challenge_id = ? AND (CAST(? AS INTEGER) IS NULL OR s.phase = CAST(? AS INTEGER)) ORDER BY s.seq
            """,
            [
                .integer(Int64(version)), .text(challenge), phase.map { .integer(Int64($0)) } ?? .null,
                phase.map { .integer(Int64($0)) } ?? .null,
            ]
        ).map {
            RankingCandidate(
                submission: $0.string(0) ?? "", solver: $0.string(1) ?? "",
                entrant: Entrant.recorded(solver: $0.string(1) ?? "", team: $0.string(8)), receivedAt: $0.int(2) ?? 0,
                order: $0.int(3) ?? 0, score: $0.double(4),
                metrics: Store.metrics($0.data(5)) ?? [:],
                disqualified: $0.int(6) == 1, selected: $0.int(7) == 1, awaitsOutcome: $0.int(9) == nil,
                failed: $0.int(9) == 0)
        }
    }

    /// The ranking of a challenge, or of one of its phases (default: the phase open now, or the last once closed).
    func ranking(_ record: ChallengeRecord, phase: Int? = nil) throws -> Ranking {
        var candidates = try withJudging(
            rankingCandidates(
                challenge: record.id, version: record.scorerVersion, phase: phase ?? record.phaseFilter), record)
        guard record.spec?.teams != nil else { return Ranking(record: record, candidates: candidates) }
        // By entrant: each submission follows the merges of what it recorded.
        let resolver = try entrantResolver(challenge: record.id)
        for index in candidates.indices {
            candidates[index].entrant = resolver.resolve(candidates[index].entrant, at: candidates[index].receivedAt)
        }
        var teams: [String: (name: String, members: [String])] = [:]
        for team in try self.teams(challenge: record.id) {
            teams[Entrant.team(team.id)] = (team.name, team.members.map(\.name))
        }
        var ranking = Ranking(record: record, candidates: candidates)
        ranking.teams = teams
        return ranking
    }

    /// A solver's submissions counted against the challenge's limits: all but those that failed for
    /// infrastructure reasons (never the solver's fault). - Returns: in all, and since `since`.
    func submissionCounts(challenge: String, solver: String, since: Millis, phase: Int? = nil) throws -> (
        total: Int, since: Int
    ) {
        let row = try db.queryOne(
            """
            SELECT COUNT(*), COALESCE(SUM(CASE WHEN s.received_at >= ? THEN 1 ELSE 0 END), 0) FROM submissions s
            WHERE s.solver = ? AND s.challenge_id = ? AND (CAST(? AS INTEGER) IS NULL OR s.phase = CAST(? AS INTEGER))
                AND s.carried_from IS NULL AND NOT EXISTS (SELECT 1 FROM outcomes o
                WHERE o.submission_id = s.id AND o.ok = 0 AND o.error LIKE 'infrastructure:%')
            """,
            [
                .integer(since), .text(solver), .text(challenge), phase.map { .integer(Int64($0)) } ?? .null,
                phase.map { .integer(Int64($0)) } ?? .null,
            ])
        return (Int(row?.int(0) ?? 0), Int(row?.int(1) ?? 0))
    }

    /// Replaces a solver's final selection for a challenge.
    func selectFinal(challenge: String, solver: String, submissions: [String], now: Millis) throws {
        try db.run(
            "DELETE FROM final_selections WHERE challenge_id = ? AND solver = ?", [.text(challenge), .text(solver)])
        for submission in submissions {
            try db.run(
                "INSERT INTO final_selections (challenge_id, solver, submission_id, at) VALUES (?, ?, ?, ?)",
                [.text(challenge), .text(solver), .text(submission), .integer(now)])
        }
    }

    /// Disqualifies a submission, for good. - Returns: false when it was disqualified already (nothing changes).
    func disqualify(submission: String, challenge: String, by principal: String?, reason: String, now: Millis) throws
        -> Bool
    {
        try db.run(
            """
            INSERT INTO disqualifications (submission_id, challenge_id, principal, reason, at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """,
            [
                .text(submission), .text(challenge), principal.map(SQLValue.text) ?? .null, .text(reason),
                .integer(now),
            ])
        return db.changes == 1
    }

    /// The submission's challenge and solver, if it exists.
    func submissionOwner(_ id: String) throws -> (challenge: String, solver: String)? {
        try db.queryOne("SELECT challenge_id, solver FROM submissions WHERE id = ?", [.text(id)]).map {
            ($0.string(0) ?? "", $0.string(1) ?? "")
        }
    }

    /// Every submission's sequence number and phase, oldest first.
    func submissionRows(challenge: String) throws -> [(row: Int64, phase: Int)] {
        try db.query("SELECT seq, phase FROM submissions WHERE challenge_id = ? ORDER BY seq", [.text(challenge)]).map {
            ($0.int(0) ?? 0, Int($0.int(1) ?? 0))
        }
    }
}
