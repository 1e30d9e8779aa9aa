import Foundation
import PumasiShared

/// A submission still waiting for its outcome under its challenge's current scorer version, as found on start.
struct PendingJob {
    /// The submission's sequence number.
    var row: Int64
    var submission: String
    var challenge: String
    var service: String
    var version: Int
    /// Attempts that failed before (lost evaluators, expired leases): they count towards the job's limit.
    var failedAttempts: Int
    /// The phase it belongs to (0 without phases).
    var phase: Int = 0
}

/// What a job's REQUEST carries, read from its submission.
struct JobPayload {
    var challenge: String
    var submission: String
    var solver: String
    var filename: String
    var sha256: String
    var content: Data
    /// The phase it was submitted to (0 without phases): which reference data scores it.
    var phase: Int = 0
    /// The size of a submission in the blob directory, which the evaluator fetches (`content` is then empty).
    var fetch: Int? = nil
}

/// How a job ended.
enum JobOutcome {
    case scored(score: Double, result: ScoringResult)
    case failed(error: String, log: String?)
}

/// One replica's result, under redundant scoring.
struct ReplicaResult {
    var replica: Int
    var evaluator: String
    var result: ScoringResult
}

extension Store {
    /// Submissions of drafts, open or closing challenges that have no outcome under the current scorer version,
    /// oldest first. Leases are never stored: those of a previous run died with it, and their jobs are simply
    /// still pending.
    func recoverPendingJobs() throws -> [PendingJob] {
        try db.query(
            """
            SELECT s.seq, s.id, s.challenge_id, c.service, c.scorer_version,
                (SELECT COUNT(*) FROM attempts a WHERE a.submission_id = s.id AND a.version = c.scorer_version), s.phase
            FROM (SELECT DISTINCT submission_id FROM unscored) u JOIN submissions s ON s.id = u.submission_id
                JOIN challenges c ON c.id = s.challenge_id
            WHERE c.state IN ('open', 'closed') AND NOT EXISTS (SELECT 1 FROM outcomes o
                WHERE o.submission_id = s.id AND o.version = c.scorer_version)
            ORDER BY s.seq
            """
        ).map {
            PendingJob(
                row: $0.int(0) ?? 0, submission: $0.string(1) ?? "", challenge: $0.string(2) ?? "",
                service: $0.string(3) ?? "", version: Int($0.int(4) ?? 1), failedAttempts: Int($0.int(5) ?? 0),
                phase: Int($0.int(6) ?? 0))
        }
    }

    /// A submission's solver, file name and bytes.
    func submissionContent(_ id: String) throws -> (solver: String, filename: String, content: Data)? {
        try db.queryOne("SELECT solver, filename, content FROM submissions WHERE id = ?", [.text(id)]).map {
            ($0.string(0) ?? "", $0.string(1) ?? "submission", $0.data(2) ?? Data())
        }
    }

    /// The submission behind a job.
    func jobPayload(row: Int64) throws -> JobPayload? {
        try db.queryOne(
            """
            SELECT challenge_id, id, solver, filename, sha256, content, phase, external, size FROM submissions
            WHERE seq = ?
            """,
            [.integer(row)]
        ).map {
            JobPayload(
                challenge: $0.string(0) ?? "", submission: $0.string(1) ?? "", solver: $0.string(2) ?? "",
                filename: $0.string(3) ?? "", sha256: $0.string(4) ?? "", content: $0.data(5) ?? Data(),
                phase: Int($0.int(6) ?? 0), fetch: $0.int(7) == 1 ? Int($0.int(8) ?? 0) : nil)
        }
    }

    /// Records an attempt that ended without a result (its evaluator was lost, its lease expired, its answer
    /// was unreadable). Only these are written: a lease that gets its answer costs no row of its own.
    func recordFailedAttempt(submission: String, version: Int, evaluator: String?, reason: String, now: Millis) throws {
        try db.runDeferred(
            "INSERT INTO attempts (submission_id, version, at, evaluator, reason) VALUES (?, ?, ?, ?, ?)",
            [
                .text(submission), .integer(Int64(version)), .integer(now), evaluator.map(SQLValue.text) ?? .null,
                .text(reason),
            ])
    }

    /// Records how a job ended: one immutable row per submission and scorer version, so a second outcome is
    /// refused and a recorded score is never overwritten.
    /// - Parameters:
    ///   - evaluator: who reported it; nil when the broker itself ended the job.
    ///   - unlessRecorded: when the submission has its outcome under `version` already, keep that one and change
    ///     nothing, rather than throw.
    func recordOutcome(
        _ outcome: JobOutcome, submission: String, challenge: String, version: Int = 1, evaluator: String?,
        attempt: Int, now: Millis, unlessRecorded: Bool = false
    ) throws {
        var values: [SQLValue] = []
        values.reserveCapacity(13)
        values.append(contentsOf: [.text(submission), .integer(Int64(version)), .text(challenge)])
        switch outcome {
        case .scored(let score, let result):
            values.append(contentsOf: [.integer(1), .real(score)])
            values.append(contentsOf: Self.resultColumns(result))
        case .failed(let error, let log):
            values.append(contentsOf: [.integer(0), .null, .null, .null, .text(error), log.map(SQLValue.text) ?? .null])
        }
        let details: String? = if case .scored(_, let result) = outcome { result.detailedResults } else { nil }
        values.append(contentsOf: [
            evaluator.map(SQLValue.text) ?? .null, .integer(Int64(attempt)), .integer(now),
            details.map(SQLValue.text) ?? .null,
        ])
        try db.runDeferred(unlessRecorded ? Self.insertOutcomeUnlessRecorded : Self.insertOutcome, values)
        markScored(submission: submission, version: version)
    }

    /// Written once, not per call: the statement cache is keyed by the text.
    private static let insertOutcome = """
        INSERT INTO outcomes (submission_id, version, challenge_id, ok, score, metrics_json, message, error, log,
            evaluator, attempt, at, detailed_results)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    private static let insertOutcomeUnlessRecorded = insertOutcome + " ON CONFLICT DO NOTHING"

    /// The detailed results page kept with a submission's outcome under `version`, and its length in characters; the
    /// page itself only when `content`.
    func detailedResults(submission: String, version: Int, content: Bool) throws -> (length: Int, page: String?)? {
        guard
            let row = try db.queryOne(
                """
                SELECT LENGTH(detailed_results), CASE WHEN ?3 = 1 THEN detailed_results END
                FROM outcomes WHERE submission_id = ?1 AND version = ?2 AND detailed_results IS NOT NULL
                """, [.text(submission), .integer(Int64(version)), .integer(content ? 1 : 0)]),
            let length = row.int(0)
        else { return nil }
        return (Int(length), row.string(1))
    }

    /// metrics, message, error (nil), log: the columns a scored result fills.
    private static func resultColumns(_ result: ScoringResult) -> [SQLValue] {
        let metrics = result.metrics.map { String(decoding: JSONWriter.numbers($0), as: UTF8.self) }
        return [
            metrics.map(SQLValue.text) ?? .null, result.message.map(SQLValue.text) ?? .null, .null,
            result.log.map(SQLValue.text) ?? .null,
        ]
    }

    /// Submissions of a challenge without an outcome under `version`.
    func pendingJobCount(challenge: String, version: Int, phase: Int? = nil) throws -> Int {
        Int(
            try db.queryOne(
                """
                SELECT COUNT(*) FROM submissions s WHERE s.challenge_id = ?
                AND (CAST(? AS INTEGER) IS NULL OR s.phase = CAST(? AS INTEGER))
                AND NOT EXISTS (SELECT 1 FROM outcomes o WHERE o.submission_id = s.id AND o.version = ?)
                """,
                [
                    .text(challenge), phase.map { .integer(Int64($0)) } ?? .null,
                    phase.map { .integer(Int64($0)) } ?? .null, .integer(Int64(version)),
                ]
            )?.int(0) ?? 0)
    }

    /// Records that a phase opened, with who qualified for it (nil: everyone).
    func recordPhaseOpening(challenge: String, phase: Int, qualified: [String]?, at now: Millis) throws {
        let json = try qualified.map { String(decoding: try JSONEncoder().encode($0.sorted()), as: UTF8.self) }
        try db.run(
            "INSERT INTO phase_openings (challenge_id, phase, opened_at, qualified_json) VALUES (?, ?, ?, ?)",
            [.text(challenge), .integer(Int64(phase)), .integer(now), json.map(SQLValue.text) ?? .null])
    }

    /// Who qualified for a phase: nil when everyone may enter it.
    func qualified(challenge: String, phase: Int) throws -> Set<String>? {
        try db.queryOne(
            "SELECT qualified_json FROM phase_openings WHERE challenge_id = ? AND phase = ?",
            [.text(challenge), .integer(Int64(phase))]
        )?.data(0).flatMap { try? JSONDecoder().decode([String].self, from: $0) }.map(Set.init)
    }

    /// Keeps one replica's result (redundant scoring).
    func recordReplica(_ replica: ReplicaResult, submission: String, version: Int, now: Millis) throws {
        let result = replica.result
        let error = result.error.map { "\($0.code): \($0.message)" }
        let columns = Self.resultColumns(result)
        try db.runDeferred(
            """
            INSERT INTO replica_results (submission_id, version, replica, evaluator, ok, score, metrics_json, message,
                error, log, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(submission), .integer(Int64(version)), .integer(Int64(replica.replica)), .text(replica.evaluator),
                .integer(result.ok && result.score?.isFinite == true ? 1 : 0),
                result.score.map(SQLValue.real) ?? .null,
                columns[0], columns[1], error.map(SQLValue.text) ?? .null, columns[3], .integer(now),
            ])
    }

    /// The replica results kept for a submission under `version`, by replica number.
    func replicas(submission: String, version: Int) throws -> [ReplicaResult] {
        try db.query(
            """
            SELECT replica, evaluator, ok, score, metrics_json, message, error, log FROM replica_results
            WHERE submission_id = ? AND version = ? ORDER BY replica
            """, [.text(submission), .integer(Int64(version))]
        ).map {
            let metrics = $0.data(4).flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) }
            let error = $0.string(6).map { text -> ScoringResult.Failure in
                let parts = text.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return ScoringResult.Failure(code: parts.first ?? "failed", message: parts.count > 1 ? parts[1] : "")
            }
            return ReplicaResult(
                replica: Int($0.int(0) ?? 0), evaluator: $0.string(1) ?? "",
                result: ScoringResult(
                    ok: $0.int(2) == 1, score: $0.double(3), metrics: metrics, message: $0.string(5), error: error,
                    log: $0.string(7)))
        }
    }
}
