import Foundation
import PumasiShared

/// Who competes: an entrant is a solver alone (its key is the solver's name) or a team (`team:<id>`). A principal's
/// name never holds a colon, so the two never clash.
///
/// A submission records the team its solver was in (`submissions.team_id`). When an entrant merges into a team (a
/// solver joining, or a whole team), what it had submitted until then becomes the team's: a merge row says so, and
/// `EntrantResolver` follows the merges from what a submission recorded. Nothing already written changes.
enum Entrant {
    static let teamPrefix = "team:"

    static func team(_ id: String) -> String { teamPrefix + id }

    /// The team id of an entrant key, if it is a team.
    static func teamId(_ entrant: String) -> String? {
        entrant.hasPrefix(teamPrefix) ? String(entrant.dropFirst(teamPrefix.count)) : nil
    }

    /// What a submission recorded: its team when its solver was in one, else the solver.
    static func recorded(solver: String, team: String?) -> String { team.map(Self.team) ?? solver }
}

/// Follows a challenge's merges: a submission received at `t` under entrant E belongs to the team E merged into at
/// the first merge at or after `t`, and so on, since a team may itself merge later.
struct EntrantResolver {
    /// Per entrant, its merges in time order.
    private var merges: [String: [(into: String, at: Millis)]] = [:]

    init(merges rows: [(from: String, into: String, at: Millis)]) {
        for row in rows { merges[row.from, default: []].append((Entrant.team(row.into), row.at)) }
        for key in merges.keys { merges[key]?.sort { $0.at < $1.at } }
    }

    var isEmpty: Bool { merges.isEmpty }

    func resolve(_ recorded: String, at time: Millis) -> String {
        var entrant = recorded
        // Bounded: each step moves to a team made later than the last.
        for _ in 0..<64 {
            guard let next = merges[entrant]?.first(where: { $0.at >= time }) else { return entrant }
            entrant = next.into
        }
        return entrant
    }
}

/// A team's row and members, as the store holds them.
struct TeamRecord {
    var id: String
    var challenge: String
    var name: String
    var createdBy: String
    var createdAt: Millis
    /// Member → percent; nil for equal shares.
    var shares: [String: Decimal]?
    var mergedInto: String?
    /// Current members, by the time they joined.
    var members: [(name: String, joinedAt: Millis)]
}

extension Store {
    // MARK: Teams and members

    func insertTeam(id: String, challenge: String, name: String, by creator: String, at now: Millis) throws {
        try db.run(
            "INSERT INTO teams (id, challenge_id, name, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(id), .text(challenge), .text(name), .text(creator), .integer(now)])
    }

    func team(id: String) throws -> TeamRecord? {
        try db.queryOne(
            "SELECT id, challenge_id, name, created_by, created_at, shares_json, merged_into FROM teams WHERE id = ?",
            [.text(id)]
        ).map(teamRecord)
    }

    func team(challenge: String, name: String) throws -> TeamRecord? {
        try db.queryOne(
            """
            SELECT id, challenge_id, name, created_by, created_at, shares_json, merged_into FROM teams
            WHERE challenge_id = ? AND name = ?
            """, [.text(challenge), .text(name)]
        ).map(teamRecord)
    }

    /// Every team of a challenge, merged ones included, oldest first.
    func teams(challenge: String) throws -> [TeamRecord] {
        try db.query(
            """
            SELECT id, challenge_id, name, created_by, created_at, shares_json, merged_into FROM teams
            WHERE challenge_id = ? ORDER BY created_at, id
            """, [.text(challenge)]
        ).map(teamRecord)
    }

    private func teamRecord(_ row: SQLRow) throws -> TeamRecord {
        let id = row.string(0) ?? ""
        let shares = row.data(5).flatMap { try? JSONDecoder().decode([String: Decimal].self, from: $0) }
        let members = try db.query(
            "SELECT principal, joined_at FROM team_members WHERE team_id = ? AND left_at IS NULL ORDER BY joined_at, principal",
            [.text(id)]
        ).map { (name: $0.string(0) ?? "", joinedAt: $0.int(1) ?? 0) }
        return TeamRecord(
            id: id, challenge: row.string(1) ?? "", name: row.string(2) ?? "", createdBy: row.string(3) ?? "",
            createdAt: row.int(4) ?? 0, shares: shares, mergedInto: row.string(6), members: members)
    }

    /// The team `principal` is in for a challenge, if any.
    func currentTeam(challenge: String, principal: String) throws -> String? {
        try db.queryOne(
            "SELECT team_id FROM team_members WHERE challenge_id = ? AND principal = ? AND left_at IS NULL",
            [.text(challenge), .text(principal)]
        )?.string(0)
    }

    func addMember(team: String, challenge: String, principal: String, at now: Millis) throws {
        try db.run(
            "INSERT INTO team_members (team_id, challenge_id, principal, joined_at) VALUES (?, ?, ?, ?)",
            [.text(team), .text(challenge), .text(principal), .integer(now)])
        // A new member changes who shares: back to equal shares until the team says otherwise.
        try setShares(team: team, nil)
    }

    func removeMember(team: String, principal: String, at now: Millis) throws {
        try db.run(
            "UPDATE team_members SET left_at = ? WHERE team_id = ? AND principal = ? AND left_at IS NULL",
            [.integer(now), .text(team), .text(principal)])
        try setShares(team: team, nil)
    }

    func setShares(team: String, _ shares: [String: Decimal]?) throws {
        let json = try shares.map { String(decoding: try Self.sortedEncoder.encode($0), as: UTF8.self) }
        try db.run("UPDATE teams SET shares_json = ? WHERE id = ?", [json.map(SQLValue.text) ?? .null, .text(team)])
    }

    private static let sortedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    func markMerged(team: String, into target: String) throws {
        try db.run("UPDATE teams SET merged_into = ? WHERE id = ?", [.text(target), .text(team)])
    }

    // MARK: Invitations and merges

    func inviteToTeam(team: String, challenge: String, invitee: String, by member: String, at now: Millis) throws {
        try db.run(
            """
            INSERT INTO team_invitations (team_id, challenge_id, invitee, invited_by, at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """, [.text(team), .text(challenge), .text(invitee), .text(member), .integer(now)])
    }

    func isInvitedToTeam(team: String, invitee: String) throws -> Bool {
        try db.queryOne(
            "SELECT 1 FROM team_invitations WHERE team_id = ? AND invitee = ?", [.text(team), .text(invitee)]) != nil
    }

    func dropTeamInvitation(team: String, invitee: String) throws {
        try db.run("DELETE FROM team_invitations WHERE team_id = ? AND invitee = ?", [.text(team), .text(invitee)])
    }

    func teamInvitations(team: String) throws -> [String] {
        try db.query("SELECT invitee FROM team_invitations WHERE team_id = ? ORDER BY at, invitee", [.text(team)])
            .compactMap { $0.string(0) }
    }

    /// Records that `from` (an entrant key) merged into `team` at `now`: what it submitted until then is the team's.
    func recordMerge(challenge: String, from: String, into team: String, at now: Millis) throws {
        try db.run(
            "INSERT INTO entrant_merges (challenge_id, from_entrant, into_team, at) VALUES (?, ?, ?, ?)",
            [.text(challenge), .text(from), .text(team), .integer(now)])
    }

    func entrantResolver(challenge: String) throws -> EntrantResolver {
        EntrantResolver(
            merges: try db.query(
                "SELECT from_entrant, into_team, at FROM entrant_merges WHERE challenge_id = ? ORDER BY at",
                [.text(challenge)]
            ).map { (from: $0.string(0) ?? "", into: $0.string(1) ?? "", at: $0.int(2) ?? 0) })
    }

    /// Whose a submission of `challenge` is now, following merges; nil if it has no such submission.
    func submissionEntrant(_ id: String, challenge: String) throws -> String? {
        guard
            let row = try db.queryOne(
                "SELECT solver, team_id, received_at FROM submissions WHERE id = ? AND challenge_id = ?",
                [.text(id), .text(challenge)])
        else { return nil }
        return try entrantResolver(challenge: challenge).resolve(
            Entrant.recorded(solver: row.string(0) ?? "", team: row.string(1)), at: row.int(2) ?? 0)
    }

    // MARK: Counts

    /// The submissions counted against an entrant's limits (all but infrastructure failures), in all and since
    /// `since`, following merges.
    func entrantCounts(challenge: String, entrant: String, since: Millis, phase: Int? = nil) throws -> (
        total: Int, since: Int
    ) {
        let resolver = try entrantResolver(challenge: challenge)
        var total = 0
        var recent = 0
        for row in try db.query(
            """
            SELECT s.solver, s.team_id, s.received_at FROM submissions s
            WHERE s.challenge_id = ? AND (CAST(? AS INTEGER) IS NULL OR s.phase = CAST(? AS INTEGER))
                AND s.carried_from IS NULL AND NOT EXISTS (SELECT 1 FROM outcomes o
                WHERE o.submission_id = s.id AND o.ok = 0 AND o.error LIKE 'infrastructure:%')
            """,
            [.text(challenge), phase.map { .integer(Int64($0)) } ?? .null, phase.map { .integer(Int64($0)) } ?? .null])
        {
            let at = row.int(2) ?? 0
            let recorded = Entrant.recorded(solver: row.string(0) ?? "", team: row.string(1))
            guard resolver.resolve(recorded, at: at) == entrant else { continue }
            total += 1
            if at >= since { recent += 1 }
        }
        return (total, recent)
    }
}
