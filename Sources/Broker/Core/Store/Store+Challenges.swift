import Foundation
import PumasiShared

/// A challenge row with what the broker needs to run it.
///
/// The broker copies a live challenge's record several times for each job it handles (a dictionary's value comes out
/// as a copy), so its two large members, the spec and the scorer, are kept behind one reference each: a copy then
/// costs two retains instead of one for every member of theirs. Read in place (`_read`), they are never copied to be
/// looked at; set whole, they never change under another copy.
struct ChallengeRecord {
    var id: String
    var title: String
    var description: String
    var state: ChallengeState
    var deadline: Millis
    var award: AwardSpec
    var direction: Direction
    var scorer: ScorerSpec {
        _read { yield scorerBox.value }
        set { scorerBox = Frozen(newValue) }
    }
    private var scorerBox: Frozen<ScorerSpec>
    var service: String
    var timeLimitSeconds: Double
    var closingAnnounced: Bool
    var createdAt: Millis
    var closedAt: Millis?
    /// The principal who posted it (nil without authentication).
    var owner: String?
    /// When it opens (a draft until then).
    var startsAt: Millis
    /// The whole spec as posted: submission rules, ranking, award policy.
    var spec: ChallengeSpec? {
        _read { yield specBox.value }
        set { specBox = Frozen(newValue) }
    }
    private var specBox: Frozen<ChallengeSpec?>
    /// The current version of its scorer (1, plus one per rescore).
    var scorerVersion: Int = 1
    /// The phase open now (0 without phases): the last one recorded in `phase_openings`.
    var currentPhase: Int = 0

    init(
        id: String, title: String, description: String, state: ChallengeState, deadline: Millis, award: AwardSpec,
        direction: Direction, scorer: ScorerSpec, service: String, timeLimitSeconds: Double, closingAnnounced: Bool,
        createdAt: Millis, closedAt: Millis? = nil, owner: String? = nil, startsAt: Millis, spec: ChallengeSpec? = nil,
        scorerVersion: Int = 1, currentPhase: Int = 0
    ) {
        (self.id, self.title, self.description, self.state, self.deadline) = (id, title, description, state, deadline)
        (self.award, self.direction, self.scorerBox, self.service) = (award, direction, Frozen(scorer), service)
        (self.timeLimitSeconds, self.closingAnnounced, self.createdAt) = (timeLimitSeconds, closingAnnounced, createdAt)
        (self.closedAt, self.owner, self.startsAt, self.specBox) = (closedAt, owner, startsAt, Frozen(spec))
        (self.scorerVersion, self.currentPhase) = (scorerVersion, currentPhase)
    }

    var rules: SubmissionRules { spec?.rules ?? SubmissionRules() }
    /// When it closed, for a refusal: at its deadline (to the millisecond, whenever the broker marked it closed: a
    /// broker that was down at the deadline marks it when it starts), or earlier, closed by an admin.
    var whenClosed: String {
        guard let closedAt, closedAt < deadline else { return "at its deadline, \(WallClock.isoMillis(deadline))" }
        return "at \(WallClock.isoMillis(closedAt)), before its deadline"
    }
    var ranking: RankingSpec { spec?.ranking ?? RankingSpec() }
    var policy: AwardPolicySpec { award.policy ?? spec?.award.policy ?? AwardPolicySpec(kind: .winnerTakesAll) }
    var rankingMetric: String { ranking.metric ?? "score" }
    var precision: Int { ranking.precision ?? RankingSpec.defaultPrecision }
    var redundancy: RedundancySpec? { spec?.redundancy }
    var isInvitationOnly: Bool { spec?.invitationOnly == true }
    /// Scored only by evaluators bound to its seeker or to it.
    var wantsOwnEvaluators: Bool { spec?.evaluators == .own }
    /// Its phases; empty for a challenge in one piece. The last ends at the deadline, extended or not.
    var phases: [PhaseSpec] {
        guard var phases = spec?.phases, !phases.isEmpty else { return [] }
        phases[phases.count - 1].endsAt = deadline
        return phases
    }
    var isPhased: Bool { !phases.isEmpty }
    /// The phase whose submissions count now: nil without phases.
    var phaseFilter: Int? { isPhased ? currentPhase : nil }
    /// The limits of the phase open now.
    var activeRules: SubmissionRules {
        phases.indices.contains(currentPhase) ? phases[currentPhase].rules ?? rules : rules
    }
    /// When the phase open now stops taking submissions.
    var phaseEnd: Millis { phases.indices.contains(currentPhase) ? phases[currentPhase].endsAt : deadline }

    /// The scorer of a phase's submissions: the phase's own, or the challenge's.
    func scorer(phase: Int) -> ScorerSpec {
        phases.indices.contains(phase) ? phases[phase].scorer ?? scorer : scorer
    }

    /// The phase whose standings decide the award: the spec's `award.phase`, or the last (nil without phases).
    var awardPhase: Int? {
        guard isPhased else { return nil }
        // Never a phase that has not opened (an admin may close a challenge early).
        return min((spec?.award.phase).map { min(max($0 - 1, 0), phases.count - 1) } ?? phases.count - 1, currentPhase)
    }

    /// The dispatcher's queue for a phase's jobs.
    func queue(phase: Int) -> String {
        let service = phases.indices.contains(phase) ? phases[phase].scorer?.service ?? service : service
        return Dispatcher.queue(service: service, challenge: id, own: wantsOwnEvaluators)
    }
}

extension Store {
    private static let challengeColumns = """
        id, title, description, state, deadline, award_amount, award_currency, direction, scorer_json, service,
        time_limit, closing_announced, created_at, closed_at, owner, starts_at, spec_json, scorer_version,
        (SELECT COALESCE(MAX(p.phase), 0) FROM phase_openings p WHERE p.challenge_id = challenges.id)
        """

    private static func challenge(_ row: SQLRow) -> ChallengeRecord {
        let scorer = (try? JSONDecoder().decode(ScorerSpec.self, from: row.data(8) ?? Data())) ?? ScorerSpec()
        let spec = try? JSONDecoder().decode(ChallengeSpec.self, from: row.data(16) ?? Data())
        return ChallengeRecord(
            id: row.string(0) ?? "", title: row.string(1) ?? "", description: row.string(2) ?? "",
            state: ChallengeState(rawValue: row.string(3) ?? "") ?? .closed, deadline: row.int(4) ?? 0,
            award: AwardSpec(
                amount: Decimal(string: row.string(5) ?? "0") ?? 0, currency: row.string(6) ?? "",
                policy: spec?.award.policy),
            direction: Direction(rawValue: row.string(7) ?? "") ?? .maximize, scorer: scorer,
            service: row.string(9) ?? "", timeLimitSeconds: row.double(10) ?? 60, closingAnnounced: row.int(11) == 1,
            createdAt: row.int(12) ?? 0, closedAt: row.int(13), owner: row.string(14), startsAt: row.int(15) ?? 0,
            spec: spec, scorerVersion: Int(row.int(17) ?? 1), currentPhase: Int(row.int(18) ?? 0))
    }

    /// Stores a new challenge with its files (file bytes stored once per content address).
    func insertChallenge(
        id: String, spec: ChallengeSpec, files: [(entry: FileEntry, bytes: Data)], owner: String? = nil, now: Millis,
        external: Set<Int> = []
    ) throws {
        try db.run(
            """
            INSERT INTO challenges (id, title, description, state, deadline, award_amount, award_currency, direction,
                scorer_json, service, time_limit, spec_json, created_at, owner, starts_at, slug)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(id), .text(spec.title), .text(spec.description),
                .text((spec.startsAt ?? now) > now ? "draft" : "open"),
                .integer(spec.deadline),
                .text("\(spec.award.amount)"), .text(spec.award.currency),
                .text((spec.direction ?? .maximize).rawValue),
                .text(String(decoding: Wire.encode(spec.scorer), as: UTF8.self)), .text(spec.scorer.service),
                .real(spec.timeLimitSeconds ?? ChallengeSpec.defaultTimeLimitSeconds),
                .text(String(decoding: Wire.encode(spec), as: UTF8.self)), .integer(now),
                owner.map(SQLValue.text) ?? .null, .integer(max(now, spec.startsAt ?? now)),
                spec.slug.map(SQLValue.text) ?? .null,
            ])
        try db.run(
            """
            INSERT INTO scorer_versions (challenge_id, version, scorer_json, service, at, principal)
            VALUES (?, 1, ?, ?, ?, ?)
            """,
            [
                .text(id), .text(String(decoding: Wire.encode(spec.scorer), as: UTF8.self)), .text(spec.scorer.service),
                .integer(now), owner.map(SQLValue.text) ?? .null,
            ])
        for (position, file) in files.enumerated() {
            let sha = file.entry.sha256 ?? SHA256.hex(file.bytes)
            // A file that came by upload is in the blob directory: its row holds its size, not its bytes.
            let outside = external.contains(position)
            try db.run(
                "INSERT INTO blobs (sha256, size, content, external) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    .text(sha), .integer(Int64(outside ? file.entry.size ?? 0 : file.bytes.count)),
                    .blob(outside ? Data() : file.bytes), .integer(outside ? 1 : 0),
                ])
            try db.run(
                "INSERT INTO challenge_files (challenge_id, name, role, sha256, position) VALUES (?, ?, ?, ?, ?)",
                [
                    .text(id), .text(file.entry.name), .text(file.entry.role.rawValue), .text(sha),
                    .integer(Int64(position)),
                ])
        }
    }

    func challenge(_ id: String) throws -> ChallengeRecord? {
        try db.queryOne("SELECT \(Store.challengeColumns) FROM challenges WHERE id = ?", [.text(id)]).map(
            Store.challenge)
    }

    /// Challenges in `state` by deadline, or all by when they were posted; with `after` (a challenge's id), those
    /// that come after it in that order; at most `limit`.
    func challenges(state: ChallengeState?, after: String?, limit: Int?) throws -> [ChallengeRecord] {
        let order = state == nil ? "created_at" : "deadline"
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let state {
            conditions.append("state = ?")
            values.append(.text(state.rawValue))
        }
        if let after {
            conditions.append("(\(order), id) > (SELECT \(order), id FROM challenges WHERE id = ?)")
            values.append(.text(after))
        }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let bound = limit.map { " LIMIT \(max(0, $0))" } ?? ""
        return try db.query(
            "SELECT \(Store.challengeColumns) FROM challenges\(filter) ORDER BY \(order), id\(bound)", values
        ).map(Store.challenge)
    }

    func challengeExists(_ id: String) throws -> Bool {
        try db.queryOne("SELECT 1 FROM challenges WHERE id = ?", [.text(id)]) != nil
    }

    /// The id of the challenge whose handle is `slug`.
    func challengeID(slug: String) throws -> String? {
        try db.queryOne("SELECT id FROM challenges WHERE slug = ?", [.text(slug)])?.string(0)
    }

    /// What clients see of a challenge: public files only.
    func challengeInfo(_ record: ChallengeRecord) throws -> ChallengeInfo {
        let files = try self.files(challenge: record.id, role: .public)
        let awards = try self.awards(challenge: record.id)
        let count = try db.queryOne("SELECT COUNT(*) FROM submissions WHERE challenge_id = ?", [.text(record.id)])?.int(
            0)
        var info = ChallengeInfo(
            id: record.id, title: record.title, description: record.description, state: record.state,
            deadline: record.deadline, award: record.award, direction: record.direction, scorer: record.scorer.display,
            timeLimitSeconds: record.timeLimitSeconds, files: files, submissions: Int(count ?? 0),
            createdAt: record.createdAt, closedAt: record.closedAt, winner: awards.first, startsAt: record.startsAt,
            rules: record.spec?.rules, ranking: record.spec?.ranking, awards: awards.isEmpty ? nil : awards,
            judging: record.spec?.judging)
        info.scorerVersion = record.scorerVersion
        info.slug = record.spec?.slug
        info.redundancy = record.redundancy
        return info
    }

    func files(challenge: String, role: FileRole) throws -> [FileEntry] {
        try db.query(
            """
            SELECT f.name, f.sha256, b.size FROM challenge_files f JOIN blobs b ON b.sha256 = f.sha256
            WHERE f.challenge_id = ? AND f.role = ? ORDER BY f.position
            """, [.text(challenge), .text(role.rawValue)]
        ).map { FileEntry(name: $0.string(0) ?? "", role: role, sha256: $0.string(1), size: Int($0.int(2) ?? 0)) }
    }

    /// A chunk of a public file: its description and up to `length` bytes from `offset`.
    func publicFile(challenge: String, name: String, offset: Int = 0, length: Int = FileInfo.chunkSize) throws
        -> (FileInfo, Data)?
    {
        guard
            let row = try db.queryOne(
                """
                SELECT b.sha256, b.size, substr(b.content, CAST(? AS INTEGER), CAST(? AS INTEGER)) FROM challenge_files f JOIN blobs b ON b.sha256 = f.sha256
                WHERE f.challenge_id = ? AND f.role = 'public' AND f.name = ?
                """, [.integer(Int64(offset) + 1), .integer(Int64(length)), .text(challenge), .text(name)])
        else { return nil }
        let info = FileInfo(name: name, sha256: row.string(0) ?? "", size: Int(row.int(1) ?? 0), offset: offset)
        return (info, row.data(2) ?? Data())
    }

    /// A chunk of a reference file by content address; only blobs that are some challenge's reference data.
    /// A chunk of one of a challenge's reference files.
    func referenceBlob(challenge: String, sha256: String, offset: Int = 0, length: Int = FileInfo.chunkSize) throws
        -> (size: Int, Data)?
    {
        try db.queryOne(
            """
            SELECT b.size, substr(b.content, CAST(? AS INTEGER), CAST(? AS INTEGER)) FROM blobs b WHERE b.sha256 = ?
            AND EXISTS (
                SELECT 1 FROM challenge_files f
                WHERE f.challenge_id = ? AND f.sha256 = b.sha256 AND f.role = 'reference')
            """, [.integer(Int64(offset) + 1), .integer(Int64(length)), .text(sha256), .text(challenge)]
        ).map { (Int($0.int(0) ?? 0), $0.data(1) ?? Data()) }
    }

    func setState(challenge: String, _ state: ChallengeState, closedAt: Millis? = nil) throws {
        if let closedAt {
            try db.run(
                "UPDATE challenges SET state = ?, closed_at = ? WHERE id = ?",
                [.text(state.rawValue), .integer(closedAt), .text(challenge)])
        } else {
            try db.run("UPDATE challenges SET state = ? WHERE id = ?", [.text(state.rawValue), .text(challenge)])
        }
    }

    /// Makes `scorer` the challenge's next scorer version (a rescore); the earlier versions stay on record.
    func addScorerVersion(
        challenge: String, version: Int, scorer: ScorerSpec, by principal: String?, reason: String?, now: Millis
    ) throws {
        let json = String(decoding: Wire.encode(scorer), as: UTF8.self)
        try db.run(
            """
            INSERT INTO scorer_versions (challenge_id, version, scorer_json, service, at, principal, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(challenge), .integer(Int64(version)), .text(json), .text(scorer.service), .integer(now),
                principal.map(SQLValue.text) ?? .null, reason.map(SQLValue.text) ?? .null,
            ])
        try db.run(
            "UPDATE challenges SET scorer_json = ?, service = ?, scorer_version = ? WHERE id = ?",
            [.text(json), .text(scorer.service), .integer(Int64(version)), .text(challenge)])
        try markChallengeUnscored(challenge, version: version)
    }

    /// Moves a deadline (an extension): the closing notice is due again.
    func setDeadline(challenge: String, _ deadline: Millis) throws {
        try db.run(
            "UPDATE challenges SET deadline = ?, closing_announced = 0 WHERE id = ?",
            [.integer(deadline), .text(challenge)])
    }

    func markClosingAnnounced(challenge: String) throws {
        try db.run("UPDATE challenges SET closing_announced = 1 WHERE id = ?", [.text(challenge)])
    }

    /// Challenges still running: drafts waiting to open, open ones, and closed ones under evaluation.
    func liveChallenges() throws -> [ChallengeRecord] {
        try db.query("SELECT \(Store.challengeColumns) FROM challenges WHERE state IN ('draft', 'open', 'closed')")
            .map(Store.challenge)
    }
}

/// A value behind one reference, never changed in place: whatever holds it is copied for the price of one retain.
final class Frozen<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
