import Foundation
import PumasiShared

/// One judge's place on one submission.
struct JudgingAssignment {
    var id: String
    var submission: String
    var challenge: String
    var judge: String
    var expiresAt: Millis
}

/// A judge's score for an assignment: with a scorecard, the weighted mean of their criterion scores.
struct Judgement {
    var assignment: String
    var judge: String
    var score: Double
    var comment: String?
    /// With a scorecard, each criterion's score and comment, by name (`judgements.criteria_json`).
    var criteria: [CriterionScore]?
    var at: Millis

    /// How `criteria_json` holds criterion scores: an object keyed by criterion name, keys sorted at every level
    /// so that the same judgement is always the same text, `{"cost":{"score":2},"novelty":{"comment":"…","score":4}}`.
    private struct Stored: Codable {
        var score: Double
        var comment: String?
    }

    static func criteriaJSON(_ criteria: [CriterionScore]?) -> String? {
        guard let criteria else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let object = Dictionary(
            criteria.map { ($0.name, Stored(score: $0.score, comment: $0.comment)) }, uniquingKeysWith: { a, _ in a })
        return (try? encoder.encode(object)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The criterion scores `criteriaJSON` wrote, by name; nil for none, or for text it did not write.
    static func criteria(fromJSON text: String?) -> [CriterionScore]? {
        guard let text, let object = try? JSONDecoder().decode([String: Stored].self, from: Data(text.utf8)) else {
            return nil
        }
        return object.keys.sorted().compactMap { name in
            object[name].map { CriterionScore(name: name, score: $0.score, comment: $0.comment) }
        }
    }
}

/// What a judge is sent of a submission.
struct JudgingPayload {
    var submission: String
    var filename: String
    var sha256: String
    var content: Data
}

extension Store {
    /// The submissions of `record` that await judgements: not yet judged, not disqualified, and either without
    /// an outcome (judged alone) or scored by the automated scorer (mixed). `s` is the submission.
    private static func awaitingJudging(_ record: ChallengeRecord) -> String {
        """
        s.challenge_id = ?1 AND NOT EXISTS (SELECT 1 FROM judged j WHERE j.submission_id = s.id)
        AND NOT EXISTS (SELECT 1 FROM disqualifications d WHERE d.submission_id = s.id)
        AND \(record.isJudgedOnly ? "NOT " : "")EXISTS (SELECT 1 FROM outcomes o WHERE o.submission_id = s.id
            AND o.version = \(record.scorerVersion) \(record.isJudgedOnly ? "" : "AND o.ok = 1"))
        """
    }

    /// How many submissions of `record` await judgements (0 for a challenge without judging).
    func awaitingJudgingCount(_ record: ChallengeRecord) throws -> Int {
        guard record.judging != nil else { return 0 }
        let sql = "SELECT COUNT(*) FROM submissions s WHERE \(Self.awaitingJudging(record))"
        return Int(try db.queryOne(sql, [.text(record.id)])?.int(0) ?? 0)
    }

    /// Whether this submission of `record` awaits judgements.
    func awaitsJudging(_ submission: String, _ record: ChallengeRecord) throws -> Bool {
        guard record.judging != nil else { return false }
        let sql = "SELECT 1 FROM submissions s WHERE \(Self.awaitingJudging(record)) AND s.id = ?2"
        return try db.queryOne(sql, [.text(record.id), .text(submission)]) != nil
    }

    /// The oldest submission of `record` that `judge` may take: one that awaits judgements, that is not the judge's
    /// own, that the judge was never given, and whose places (judgements in and assignments still held) are
    /// not all taken.
    func nextForJudging(_ record: ChallengeRecord, judge: String, now: Millis) throws -> JudgingPayload? {
        guard let judging = record.judging else { return nil }
        return try db.queryOne(
            """
            SELECT s.id, s.filename, s.sha256, s.content FROM submissions s
            WHERE \(Self.awaitingJudging(record)) AND s.solver != ?2
            AND NOT EXISTS (SELECT 1 FROM judging_assignments a WHERE a.submission_id = s.id AND a.judge = ?2)
            AND (SELECT COUNT(*) FROM judging_assignments a WHERE a.submission_id = s.id AND (a.expires_at > ?3
                OR EXISTS (SELECT 1 FROM judgements g WHERE g.assignment_id = a.id))) < ?4
            ORDER BY s.seq LIMIT 1
            """, [.text(record.id), .text(judge), .integer(now), .integer(Int64(judging.required))]
        ).map {
            JudgingPayload(
                submission: $0.string(0) ?? "", filename: $0.string(1) ?? "", sha256: $0.string(2) ?? "",
                content: $0.data(3) ?? Data())
        }
    }

    /// A judge's assignments still held (not expired, not scored) on submissions that still need judging.
    func heldAssignments(judge: String, now: Millis) throws -> [JudgingAssignment] {
        try db.query(
            """
            SELECT a.id, a.submission_id, a.challenge_id, a.judge, a.expires_at FROM judging_assignments a
            WHERE a.judge = ? AND a.expires_at > ?
            AND NOT EXISTS (SELECT 1 FROM judgements g WHERE g.assignment_id = a.id)
            AND NOT EXISTS (SELECT 1 FROM judged j WHERE j.submission_id = a.submission_id)
            AND NOT EXISTS (SELECT 1 FROM disqualifications d WHERE d.submission_id = a.submission_id)
            ORDER BY a.issued_at, a.id
            """, [.text(judge), .integer(now)]
        ).map(Self.assignment)
    }

    func assignment(_ id: String) throws -> JudgingAssignment? {
        try db.queryOne(
            "SELECT id, submission_id, challenge_id, judge, expires_at FROM judging_assignments WHERE id = ?",
            [.text(id)]
        ).map(Self.assignment)
    }

    private static func assignment(_ row: SQLRow) -> JudgingAssignment {
        JudgingAssignment(
            id: row.string(0) ?? "", submission: row.string(1) ?? "", challenge: row.string(2) ?? "",
            judge: row.string(3) ?? "", expiresAt: row.int(4) ?? 0)
    }

    func insertAssignment(_ assignment: JudgingAssignment, now: Millis) throws {
        try db.run(
            """
            INSERT INTO judging_assignments (id, submission_id, challenge_id, judge, issued_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            [
                .text(assignment.id), .text(assignment.submission), .text(assignment.challenge),
                .text(assignment.judge),
                .integer(now), .integer(assignment.expiresAt),
            ])
    }

    /// The submission an assignment gives, for sending it again.
    func judgingPayload(_ submission: String) throws -> JudgingPayload? {
        try db.queryOne("SELECT id, filename, sha256, content FROM submissions WHERE id = ?", [.text(submission)]).map {
            JudgingPayload(
                submission: $0.string(0) ?? "", filename: $0.string(1) ?? "", sha256: $0.string(2) ?? "",
                content: $0.data(3) ?? Data())
        }
    }

    func insertJudgement(_ judgement: Judgement, submission: String, challenge: String) throws {
        try db.run(
            """
            INSERT INTO judgements (assignment_id, submission_id, challenge_id, judge, score, comment, at, criteria_json)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(judgement.assignment), .text(submission), .text(challenge), .text(judgement.judge),
                .real(judgement.score), judgement.comment.map(SQLValue.text) ?? .null, .integer(judgement.at),
                Judgement.criteriaJSON(judgement.criteria).map(SQLValue.text) ?? .null,
            ])
    }

    /// A submission's judgements, oldest first; or only the one for `assignment`.
    func judgements(submission: String? = nil, assignment: String? = nil) throws -> [Judgement] {
        try db.query(
            """
            SELECT assignment_id, judge, score, comment, at, criteria_json FROM judgements
            WHERE (submission_id = ?1 OR ?1 IS NULL) AND (assignment_id = ?2 OR ?2 IS NULL) ORDER BY at, assignment_id
            """, [submission.map(SQLValue.text) ?? .null, assignment.map(SQLValue.text) ?? .null]
        ).map {
            Judgement(
                assignment: $0.string(0) ?? "", judge: $0.string(1) ?? "", score: $0.double(2) ?? .nan,
                comment: $0.string(3), criteria: Judgement.criteria(fromJSON: $0.string(5)), at: $0.int(4) ?? 0)
        }
    }

    /// Records a submission's combined judged score, once.
    func insertJudged(
        submission: String, challenge: String, score: Double, rule: JudgingSpec.Rule, count: Int, now: Millis
    )
        throws
    {
        try db.run(
            "INSERT INTO judged (submission_id, challenge_id, score, rule, judgements, at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .text(submission), .text(challenge), .real(score), .text(rule.rawValue), .integer(Int64(count)),
                .integer(now),
            ])
    }

    /// A submission's judged score, if its judging is complete.
    func judgedScore(_ submission: String) throws -> Double? {
        try db.queryOne("SELECT score FROM judged WHERE submission_id = ?", [.text(submission)])?.double(0)
    }

    /// The judged scores of a challenge's submissions.
    func judgedScores(challenge: String) throws -> [String: Double] {
        var scores: [String: Double] = [:]
        for row in try db.query("SELECT submission_id, score FROM judged WHERE challenge_id = ?", [.text(challenge)]) {
            if let id = row.string(0), let score = row.double(1) { scores[id] = score }
        }
        return scores
    }

    /// The outcome of a submission to a challenge that judges alone score: its judged score, or why it has none.
    /// Written here rather than through `recordOutcome` because no evaluator or attempt is involved.
    func recordJudgingOutcome(
        submission: String, challenge: String, version: Int, score: Double?, metrics: [String: Double]?,
        message: String?, error: String?, now: Millis
    ) throws {
        let metricsJSON = metrics.map { String(decoding: JSONWriter.numbers($0), as: UTF8.self) }
        try db.run(
            """
            INSERT INTO outcomes (submission_id, version, challenge_id, ok, score, metrics_json, message, error,
                attempt, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
            """,
            [
                .text(submission), .integer(Int64(version)), .text(challenge), .integer(score == nil ? 0 : 1),
                score.map(SQLValue.real) ?? .null,
                metricsJSON.map(SQLValue.text) ?? .null, message.map(SQLValue.text) ?? .null,
                error.map(SQLValue.text) ?? .null, .integer(now),
            ])
        markScored(submission: submission, version: version)
    }

    /// Adds each judged submission's judged metrics (and weighted total) to what ranking sees.
    func withJudging(_ candidates: [RankingCandidate], _ record: ChallengeRecord) throws -> [RankingCandidate] {
        guard let judging = record.judging else { return candidates }
        let judged = try judgedScores(challenge: record.id)
        guard !judged.isEmpty else { return candidates }
        return candidates.map { candidate in
            guard let score = judged[candidate.submission] else { return candidate }
            var merged = candidate
            merged.metrics = judging.metrics(adding: score, to: candidate.metrics, score: candidate.score)
            return merged
        }
    }
}
