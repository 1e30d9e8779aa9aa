import Foundation
import PumasiShared

/// The `unscored` table (schema 19): which submissions may still lack an outcome, so that a starting broker reads
/// those rows and not every submission of every live challenge (a million of them took 3 to 4 s to read). It may
/// hold more than the pending submissions, never fewer: a row is written with its submission, and with each of a
/// challenge's submissions when it is rescored; it is deleted with the outcome, and at a broker's start when its
/// submission has an outcome or its challenge has ended.
extension Store {
    /// Fills `unscored` from the submissions and outcomes, the slow way: once, by the migration that makes the table.
    static let unscoredFill = """
        INSERT INTO unscored (submission_id, version)
        SELECT s.id, c.scorer_version FROM challenges c JOIN submissions s ON s.challenge_id = c.id
        WHERE c.state IN ('open', 'closed') AND NOT EXISTS (SELECT 1 FROM outcomes o
            WHERE o.submission_id = s.id AND o.version = c.scorer_version);
        """

    /// A new submission awaits its outcome under `version`.
    func markUnscored(submission: String, version: Int) throws {
        try db.runDeferred(
            "INSERT INTO unscored (submission_id, version) VALUES (?, ?)",
            [.text(submission), .integer(Int64(version))])
    }

    /// A submission has its outcome under `version`: it no longer awaits that one or any before it.
    func markScored(submission: String, version: Int) throws {
        try db.runDeferred(
            "DELETE FROM unscored WHERE submission_id = ? AND version <= ?",
            [.text(submission), .integer(Int64(version))])
    }

    /// Every submission of `challenge` awaits an outcome under `version` (a rescore), and those without one under the
    /// current version after a restore (`version` nil).
    func markChallengeUnscored(_ challenge: String, version: Int? = nil) throws {
        if let version {
            try db.run(
                """
                INSERT INTO unscored (submission_id, version) SELECT id, ? FROM submissions WHERE challenge_id = ?
                ON CONFLICT DO NOTHING
                """, [.integer(Int64(version)), .text(challenge)])
        } else {
            try db.run(
                """
                INSERT INTO unscored (submission_id, version)
                SELECT s.id, c.scorer_version FROM submissions s JOIN challenges c ON c.id = s.challenge_id
                WHERE s.challenge_id = ? AND NOT EXISTS (SELECT 1 FROM outcomes o
                    WHERE o.submission_id = s.id AND o.version = c.scorer_version)
                ON CONFLICT DO NOTHING
                """, [.text(challenge)])
        }
    }

    /// Deletes the rows of submissions that no longer await anything: scored under their challenge's current
    /// version, or of a challenge that ended. What a starting broker does after reading them.
    /// - Returns: how many rows went.
    @discardableResult
    func forgetScored() throws -> Int {
        try db.run(
            """
            DELETE FROM unscored WHERE NOT EXISTS (
                SELECT 1 FROM submissions s JOIN challenges c ON c.id = s.challenge_id
                WHERE s.id = unscored.submission_id AND c.state IN ('open', 'closed') AND NOT EXISTS (
                    SELECT 1 FROM outcomes o WHERE o.submission_id = s.id AND o.version = c.scorer_version))
            """)
        return db.changes
    }
}
