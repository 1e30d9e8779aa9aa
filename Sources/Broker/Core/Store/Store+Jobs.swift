import Foundation
import PumasiShared

/// What the store hands out when it leases a job.
struct GrantedJob {
    var attempt: Int
    /// Attempts voided by broker restarts, which do not count against the job.
    var restarts: Int
    var challenge: String
    var submission: String
    var solver: String
    var filename: String
    var sha256: String
    var content: Data
}

extension Store {
    /// Jobs that still need scoring, oldest first. Leases from a previous run are void: the broker that held
    /// them is gone, so they go back to the queue.
    func recoverPendingJobs(now: Millis) throws -> [(id: Int64, service: String)] {
        try db.run(
            """
            UPDATE jobs SET state = 'queued', worker = NULL, lease_expires = NULL, restarts = restarts + 1, updated_at = ?
            WHERE state = 'leased'
            """,
            [.integer(now)])
        return try db.query("SELECT id, service FROM jobs WHERE state = 'queued' ORDER BY id").map {
            ($0.int(0) ?? 0, $0.string(1) ?? "")
        }
    }

    /// Leases a queued job to `worker` until its challenge's time limit plus `margin` from `now`.
    func lease(job id: Int64, worker: String, margin: Millis, now: Millis) throws -> GrantedJob? {
        try db.run(
            """
            UPDATE jobs SET state = 'leased', attempts = attempts + 1, worker = ?, updated_at = ?,
                lease_expires = ? + (SELECT CAST(time_limit * 1000 AS INTEGER) FROM challenges c WHERE c.id = challenge_id)
            WHERE id = ? AND state = 'queued'
            """, [.text(worker), .integer(now), .integer(now + margin), .integer(id)])
        guard db.changes == 1,
            let row = try db.queryOne(
                """
                SELECT j.attempts, s.challenge_id, s.id, s.solver, s.filename, s.sha256, s.content, j.restarts
                FROM jobs j JOIN submissions s ON s.id = j.submission_id WHERE j.id = ?
                """, [.integer(id)])
        else { return nil }
        return GrantedJob(
            attempt: Int(row.int(0) ?? 0), restarts: Int(row.int(7) ?? 0), challenge: row.string(1) ?? "", submission: row.string(2) ?? "",
            solver: row.string(3) ?? "", filename: row.string(4) ?? "", sha256: row.string(5) ?? "",
            content: row.data(6) ?? Data())
    }

    /// Puts a leased job back in the queue (its evaluator vanished or its lease ran out).
    func requeue(job id: Int64, now: Millis) throws {
        try db.run(
            """
            UPDATE jobs SET state = 'queued', worker = NULL, lease_expires = NULL, updated_at = ?
            WHERE id = ? AND state = 'leased'
            """, [.integer(now), .integer(id)])
    }

    /// Records a score for a leased job. The score row is keyed by submission, so a second write for the same
    /// submission is refused: a recorded score is never overwritten.
    func recordScore(job: Int64, submission: String, challenge: String, result: ScoringResult, score: Double, now: Millis)
        throws
    {
        let metrics = result.metrics.map { String(decoding: Wire.encode($0), as: UTF8.self) }
        try db.run(
            """
            INSERT INTO scores (submission_id, challenge_id, job_id, score, metrics_json, message, log, scored_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(submission), .text(challenge), .integer(job), .real(score),
                metrics.map(SQLiteValue.text) ?? .null, result.message.map(SQLiteValue.text) ?? .null,
                result.log.map(SQLiteValue.text) ?? .null, .integer(now),
            ])
        try db.run(
            "UPDATE jobs SET state = 'done', lease_expires = NULL, updated_at = ? WHERE id = ?",
            [.integer(now), .integer(job)])
    }

    /// Ends a job as failed, with the reason and the captured log.
    func fail(job id: Int64, error: String, log: String?, now: Millis) throws {
        try db.run(
            "UPDATE jobs SET state = 'failed', lease_expires = NULL, error = ?, log = ?, updated_at = ? WHERE id = ?",
            [.text(error), log.map(SQLiteValue.text) ?? .null, .integer(now), .integer(id)])
    }

    /// Jobs of a challenge still queued or leased.
    func pendingJobCount(challenge: String) throws -> Int {
        Int(
            try db.queryOne(
                "SELECT COUNT(*) FROM jobs WHERE challenge_id = ? AND state IN ('queued', 'leased')", [.text(challenge)]
            )?.int(0) ?? 0)
    }
}
