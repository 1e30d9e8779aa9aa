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

    /// Stores a submission and its scoring job.
    func insertSubmission(
        id: String, challenge: ChallengeRecord, solver: String, clientId: String?, filename: String, bytes: Data,
        now: Millis
    ) throws -> (receipt: Receipt, job: Int64) {
        let sha = SHA256.hex(bytes)
        try db.run(
            """
            INSERT INTO submissions (id, challenge_id, solver, client_id, filename, sha256, size, content, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(id), .text(challenge.id), .text(solver), clientId.map(SQLiteValue.text) ?? .null, .text(filename),
                .text(sha), .integer(Int64(bytes.count)), .blob(bytes), .integer(now),
            ])
        try db.run(
            "INSERT INTO jobs (submission_id, challenge_id, service, state, updated_at) VALUES (?, ?, ?, 'queued', ?)",
            [.text(id), .text(challenge.id), .text(challenge.service), .integer(now)])
        let receipt = Receipt(
            submission: id, challenge: challenge.id, sha256: sha, size: bytes.count, receivedAt: now, duplicate: false)
        return (receipt, db.lastInsertRowID)
    }

    func submissionInfo(_ id: String) throws -> SubmissionInfo? {
        guard
            let row = try db.queryOne(
                """
                SELECT s.id, s.challenge_id, s.solver, s.filename, s.sha256, s.size, s.received_at,
                    j.state, j.attempts, j.error, j.log, sc.score, sc.metrics_json, sc.message, sc.log, sc.scored_at
                FROM submissions s JOIN jobs j ON j.submission_id = s.id
                LEFT JOIN scores sc ON sc.submission_id = s.id
                WHERE s.id = ?
                """, [.text(id)])
        else { return nil }
        let state: SubmissionState =
            switch row.string(7) {
            case "leased": .scoring
            case "done": .scored
            case "failed": .failed
            default: .queued
            }
        let metrics = row.data(12).flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) }
        return SubmissionInfo(
            submission: row.string(0) ?? "", challenge: row.string(1) ?? "", solver: row.string(2) ?? "",
            filename: row.string(3) ?? "", sha256: row.string(4) ?? "", size: Int(row.int(5) ?? 0),
            receivedAt: row.int(6) ?? 0, state: state, attempts: Int(row.int(8) ?? 0), score: row.double(11),
            metrics: metrics, message: row.string(13), error: row.string(9), log: row.string(14) ?? row.string(10),
            scoredAt: row.int(15))
    }

    /// Each solver's best scored submission, best first; equal scores rank the earlier submission first.
    func leaderboard(_ challenge: ChallengeRecord, limit: Int?) throws -> Leaderboard {
        let order = challenge.direction == .maximize ? "DESC" : "ASC"
        let rows = try db.query(
            """
            SELECT s.solver, s.id, sc.score, s.received_at FROM scores sc JOIN submissions s ON s.id = sc.submission_id
            WHERE sc.challenge_id = ? ORDER BY sc.score \(order), s.received_at ASC, s.rowid ASC
            """, [.text(challenge.id)])
        var entries: [LeaderboardEntry] = []
        var index: [String: Int] = [:]
        for row in rows {
            let solver = row.string(0) ?? ""
            if let position = index[solver] {
                entries[position].entries += 1
                continue
            }
            index[solver] = entries.count
            entries.append(
                LeaderboardEntry(
                    rank: entries.count + 1, solver: solver, submission: row.string(1) ?? "", score: row.double(2) ?? 0,
                    submittedAt: row.int(3) ?? 0, entries: 1))
        }
        if let limit, limit >= 0, entries.count > limit { entries.removeLast(entries.count - limit) }
        let counts = try db.queryOne(
            """
            SELECT SUM(state IN ('queued', 'leased')), SUM(state = 'failed') FROM jobs WHERE challenge_id = ?
            """, [.text(challenge.id)])
        return Leaderboard(
            challenge: challenge.id, title: challenge.title, state: challenge.state, direction: challenge.direction,
            entries: entries, pending: Int(counts?.int(0) ?? 0), failed: Int(counts?.int(1) ?? 0))
    }
}
