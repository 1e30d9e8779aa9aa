import Foundation
import PumasiShared

extension Store {
    /// The receipt already given for `clientId` by this solver, if any (an idempotent retry).
    func receipt(solver: String, clientId: String) throws -> Receipt? {
        try db.queryOne(
            """
            SELECT id, challenge_id, sha256, size, received_at FROM submissions WHERE solver = ? AND client_id = ?
            """, [.text(solver), .text(clientId)]
        ).map {
            Receipt(
                submission: $0.string(0) ?? "", challenge: $0.string(1) ?? "", sha256: $0.string(2) ?? "",
                size: Int($0.int(3) ?? 0), receivedAt: $0.int(4) ?? 0, duplicate: true)
        }
    }

    /// The receipt of `solver`'s latest submission to `challenge` of the file `sha256` received since `since`, if any.
    func recentReceipt(solver: String, challenge: String, sha256: String, since: Millis) throws -> Receipt? {
        try db.queryOne(
            """
            SELECT id, challenge_id, sha256, size, received_at FROM submissions
            WHERE solver = ? AND challenge_id = ? AND sha256 = ? AND received_at >= ? ORDER BY seq DESC LIMIT 1
            """, [.text(solver), .text(challenge), .text(sha256), .integer(since)]
        ).map {
            Receipt(
                submission: $0.string(0) ?? "", challenge: $0.string(1) ?? "", sha256: $0.string(2) ?? "",
                size: Int($0.int(3) ?? 0), receivedAt: $0.int(4) ?? 0, duplicate: true)
        }
    }

    /// Stores a submission; its sequence number (one more than the last submission's, on both backends) numbers its
    /// scoring job, which is pending until it has an outcome. `digest`: the SHA-256 of `bytes`, if the caller has
    /// computed it already (the broker has, to find a repeated file), so that it is not computed twice.
    func insertSubmission(
        id: String, challenge: ChallengeRecord, solver: String, team: String? = nil, clientId: String?,
        filename: String, bytes: Data, digest: String? = nil, now: Millis, phase: Int = 0, carriedFrom: String? = nil,
        external: (sha256: String, size: Int)? = nil, comment: String? = nil
    ) throws -> (receipt: Receipt, job: Int64) {
        // A file in the blob directory (`external`) leaves the row's content empty.
        let sha = external?.sha256 ?? digest ?? SHA256.hex(bytes)
        let size = external?.size ?? bytes.count
        if nextSubmissionSeq == 0 {
            nextSubmissionSeq = try db.queryOne("SELECT COALESCE(MAX(seq), 0) + 1 FROM submissions")?.int(0) ?? 1
        }
        let seq = nextSubmissionSeq
        try db.runDeferred(
            """
            INSERT INTO submissions (id, challenge_id, solver, client_id, filename, sha256, size, content, received_at,
                seq, team_id, phase, carried_from, external, comment)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(id), .text(challenge.id), .text(solver), clientId.map(SQLValue.text) ?? .null, .text(filename),
                .text(sha), .integer(Int64(size)), .blob(external == nil ? bytes : Data()), .integer(now),
                .integer(seq), team.map(SQLValue.text) ?? .null, .integer(Int64(phase)),
                carriedFrom.map(SQLValue.text) ?? .null, .integer(external == nil ? 0 : 1),
                comment.map(SQLValue.text) ?? .null,
            ])
        nextSubmissionSeq = seq + 1
        markUnscored(submission: id, version: challenge.scorerVersion)
        let receipt = Receipt(
            submission: id, challenge: challenge.id, sha256: sha, size: size, receivedAt: now, duplicate: false)
        return (receipt, seq)
    }

    /// A submission as the store knows it under its challenge's current scorer version, with its row number
    /// and the outcomes under every version. Without an outcome it reads as queued; the broker, which holds
    /// the leases, knows whether it is being scored.
    func submissionInfo(_ id: String) throws -> (info: SubmissionInfo, row: Int64)? {
        guard let row = try db.queryOne("\(Self.submissionSelect) WHERE s.id = ?", [.text(id)]) else { return nil }
        var info = Self.submissionInfo(row)
        if let version = info.version, version > 1 {
            info.history = try db.query(
                "SELECT version, ok, score, metrics_json, error, at FROM outcomes WHERE submission_id = ? ORDER BY version",
                [.text(id)]
            ).map {
                ScoreRecord(
                    version: Int($0.int(0) ?? 1), ok: $0.int(1) == 1, score: $0.double(2),
                    metrics: Self.metrics($0.data(3)),
                    error: $0.string(4), at: $0.int(5) ?? 0)
            }
        }
        return (info, row.int(7) ?? 0)
    }

    /// A solver's submissions, newest first (of one challenge, or of all), at most `limit`.
    func submissions(solver: String, challenge: String?, limit: Int) throws -> [SubmissionInfo] {
        try db.query(
            "\(Self.submissionSelect) WHERE s.solver = ?1 AND (s.challenge_id = ?2 OR ?2 IS NULL) "
                + "ORDER BY s.received_at DESC, s.seq DESC LIMIT ?3",
            [.text(solver), challenge.map(SQLValue.text) ?? .null, .integer(Int64(limit))]
        ).map(Self.submissionInfo)
    }

    /// A page of a challenge's submissions (or only `solver`'s) in arrival order (received, then stored), as
    /// `submissionInfo` reads each, without the history of earlier scorer versions: at most `limit` after the
    /// submission `after` names, and whether more follow.
    /// - Returns: nil when `after` is not one of the submissions listed.
    func submissions(challenge: String, solver: String?, after: String?, limit: Int) throws -> (
        [SubmissionInfo], more: Bool
    )? {
        var from: (receivedAt: Int64, seq: Int64) = (.min, .min)
        if let after {
            guard
                let row = try db.queryOne(
                    "SELECT received_at, seq FROM submissions WHERE id = ?1 AND challenge_id = ?2 AND (solver = ?3 OR ?3 IS NULL)",
                    [.text(after), .text(challenge), solver.map(SQLValue.text) ?? .null]),
                let receivedAt = row.int(0), let seq = row.int(1)
            else { return nil }
            from = (receivedAt, seq)
        }
        // Along `submissions_by_challenge` (challenge, received_at): each page reads its own rows, not those before.
        let rows = try db.query(
            """
            \(Self.submissionSelect) WHERE s.challenge_id = ?1 AND (s.solver = ?2 OR ?2 IS NULL)
                AND s.received_at >= ?3 AND (s.received_at > ?3 OR s.seq > ?4)
            ORDER BY s.received_at, s.seq LIMIT ?5
            """,
            [
                .text(challenge), solver.map(SQLValue.text) ?? .null, .integer(from.receivedAt), .integer(from.seq),
                .integer(Int64(limit) + 1),
            ]
        ).map(Self.submissionInfo)
        return (Array(rows.prefix(limit)), rows.count > limit)
    }

    private static let submissionSelect = """
        SELECT s.id, s.challenge_id, s.solver, s.filename, s.sha256, s.size, s.received_at, s.seq,
            o.ok, o.attempt, o.error, o.log, o.score, o.metrics_json, o.message, o.at,
            (SELECT COUNT(*) FROM attempts a WHERE a.submission_id = s.id AND a.version = c.scorer_version),
            c.scorer_version, s.phase, s.carried_from, s.comment
        FROM submissions s JOIN challenges c ON c.id = s.challenge_id
        LEFT JOIN outcomes o ON o.submission_id = s.id AND o.version = c.scorer_version
        """

    private static func submissionInfo(_ row: SQLRow) -> SubmissionInfo {
        let state: SubmissionState =
            switch row.int(8) {
            case 1?: .scored
            case 0?: .failed
            default: .queued
            }
        var info = SubmissionInfo(
            submission: row.string(0) ?? "", challenge: row.string(1) ?? "", solver: row.string(2) ?? "",
            filename: row.string(3) ?? "", sha256: row.string(4) ?? "", size: Int(row.int(5) ?? 0),
            receivedAt: row.int(6) ?? 0, state: state, attempts: Int(row.int(9) ?? row.int(16) ?? 0),
            score: row.double(12), metrics: metrics(row.data(13)), message: row.string(14), error: row.string(10),
            log: row.string(11), scoredAt: row.int(15))
        info.version = Int(row.int(17) ?? 1)
        // Every submission is in a phase: a challenge without phases is one.
        info.phase = Int(row.int(18) ?? 0) + 1
        info.carriedFrom = row.string(19)
        info.comment = row.string(20)
        return info
    }

    /// A stored outcome's metrics. Read for every submission a leaderboard ranks: `JSONDecoder` only for what the
    /// fast reader does not take.
    static func metrics(_ json: Data?) -> [String: Double]? {
        guard let json else { return nil }
        return JSONReader.read(json) { $0.numbers() } ?? (try? JSONDecoder().decode([String: Double].self, from: json))
    }

    /// The leaderboard on `view` (see `Ranking`) as of `asOf`: when its reading began.
    func leaderboard(
        _ challenge: ChallengeRecord, view: LeaderboardView, limit: Int?, phase: Int? = nil, asOf: Millis? = nil
    ) throws -> Leaderboard {
        let phase = phase ?? challenge.phaseFilter
        let ranking = try ranking(challenge, phase: phase)
        var entries = ranking.leaderboard(on: view)
        if let limit, limit >= 0, entries.count > limit { entries.removeLast(entries.count - limit) }
        // Counted from the rows the ranking read (every submission of the challenge, or of the phase, and its
        // outcome): a query of their own read every outcome again, a sixth of a large challenge's board.
        let counts = ranking.candidates.reduce(into: (pending: 0, failed: 0)) { counts, candidate in
            if candidate.awaitsOutcome { counts.pending += 1 }
            if candidate.failed { counts.failed += 1 }
        }
        var board = Leaderboard(
            challenge: challenge.id, title: challenge.title, state: challenge.state, direction: challenge.direction,
            entries: entries,
            // Judge-only submissions wait without an outcome (counted above); mixed ones wait after theirs.
            pending: counts.pending + (challenge.isJudgedOnly ? 0 : try awaitingJudgingCount(challenge)),
            failed: counts.failed)
        board.asOf = asOf
        board.view = view.rawValue
        board.metric = challenge.rankingMetric
        board.precision = challenge.precision
        if let phase, challenge.phases.indices.contains(phase) {
            board.phase = phase + 1
            board.phaseName = challenge.phases[phase].name
        }
        return board
    }
}
