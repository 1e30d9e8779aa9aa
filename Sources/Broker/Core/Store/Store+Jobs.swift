import Foundation
import PumasiShared

/// A scoring job's row.
struct JobRecord {
    var id: Int64
    var submission: String
    var challenge: String
    var service: String
    var state: String
    var attempts: Int
    var worker: String?
}

extension Store {
    /// Jobs that still need scoring, oldest first. Leases from a previous run are void: the broker that held
    /// them is gone, so they go back to the queue.
    func recoverPendingJobs(now: Millis) throws -> [(id: Int64, service: String)] {
        try db.run(
            "UPDATE jobs SET state = 'queued', worker = NULL, lease_expires = NULL, updated_at = ? WHERE state = 'leased'",
            [.integer(now)])
        return try db.query("SELECT id, service FROM jobs WHERE state = 'queued' ORDER BY id").map {
            ($0.int(0) ?? 0, $0.string(1) ?? "")
        }
    }

    func job(_ id: Int64) throws -> JobRecord? {
        try db.queryOne(
            "SELECT id, submission_id, challenge_id, service, state, attempts, worker FROM jobs WHERE id = ?",
            [.integer(id)]
        ).map {
            JobRecord(
                id: $0.int(0) ?? 0, submission: $0.string(1) ?? "", challenge: $0.string(2) ?? "",
                service: $0.string(3) ?? "", state: $0.string(4) ?? "", attempts: Int($0.int(5) ?? 0),
                worker: $0.string(6))
        }
    }

    /// Leases a queued job to `worker` until its challenge's time limit plus `margin` from `now`, and returns
    /// what the evaluator needs.
    func lease(job id: Int64, worker: String, margin: Millis, now: Millis) throws -> (ScoringJob, Data)? {
        try db.run(
            """
            UPDATE jobs SET state = 'leased', attempts = attempts + 1, worker = ?, updated_at = ?,
                lease_expires = ? + (SELECT CAST(time_limit * 1000 AS INTEGER) FROM challenges c WHERE c.id = challenge_id)
            WHERE id = ? AND state = 'queued'
            """, [.text(worker), .integer(now), .integer(now + margin), .integer(id)])
        guard db.changes == 1,
            let row = try db.queryOne(
                """
                SELECT j.attempts, s.challenge_id, s.id, s.filename, s.sha256, s.content, c.scorer_json, c.time_limit
                FROM jobs j JOIN submissions s ON s.id = j.submission_id JOIN challenges c ON c.id = s.challenge_id
                WHERE j.id = ?
                """, [.integer(id)])
        else { return nil }
        let challenge = row.string(1) ?? ""
        let scorer = try JSONDecoder().decode(ScorerSpec.self, from: row.data(6) ?? Data())
        let job = ScoringJob(
            job: id, attempt: Int(row.int(0) ?? 0), challenge: challenge, submission: row.string(2) ?? "",
            filename: row.string(3) ?? "", sha256: row.string(4) ?? "", scorer: scorer,
            reference: try files(challenge: challenge, role: .reference), timeLimitSeconds: row.double(7) ?? 60)
        return (job, row.data(5) ?? Data())
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
    func recordScore(job: JobRecord, result: ScoringResult, score: Double, now: Millis) throws {
        let metrics = result.metrics.map { String(decoding: Wire.encode($0), as: UTF8.self) }
        try db.run(
            """
            INSERT INTO scores (submission_id, challenge_id, job_id, score, metrics_json, message, log, scored_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(job.submission), .text(job.challenge), .integer(job.id), .real(score),
                metrics.map(SQLiteValue.text) ?? .null, result.message.map(SQLiteValue.text) ?? .null,
                result.log.map(SQLiteValue.text) ?? .null, .integer(now),
            ])
        try db.run(
            "UPDATE jobs SET state = 'done', lease_expires = NULL, updated_at = ? WHERE id = ?",
            [.integer(now), .integer(job.id)])
    }

    /// Ends a job as failed, with the reason and the captured log.
    func fail(job id: Int64, error: String, log: String?, now: Millis) throws {
        try db.run(
            "UPDATE jobs SET state = 'failed', lease_expires = NULL, error = ?, log = ?, updated_at = ? WHERE id = ?",
            [.text(error), log.map(SQLiteValue.text) ?? .null, .integer(now), .integer(id)])
    }

    /// Leased jobs whose lease ran out by `now`.
    func expiredLeases(now: Millis) throws -> [JobRecord] {
        try db.query(
            """
            SELECT id, submission_id, challenge_id, service, state, attempts, worker FROM jobs
            WHERE state = 'leased' AND lease_expires <= ?
            """, [.integer(now)]
        ).map {
            JobRecord(
                id: $0.int(0) ?? 0, submission: $0.string(1) ?? "", challenge: $0.string(2) ?? "",
                service: $0.string(3) ?? "", state: $0.string(4) ?? "", attempts: Int($0.int(5) ?? 0),
                worker: $0.string(6))
        }
    }

    func nextLeaseExpiry() throws -> Millis? {
        try db.queryOne("SELECT MIN(lease_expires) FROM jobs WHERE state = 'leased'")?.int(0)
    }
}
