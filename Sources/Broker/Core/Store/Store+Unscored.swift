import Foundation
import PumasiShared

/// The `unscored` table (schema 19): which submissions may still lack an outcome, so that a starting broker reads
/// those rows and not every submission of every live challenge (a million of them took 3 to 4 s to read). It may
/// hold more than the pending submissions, never fewer: a row is written with its submission, and with each of a
/// challenge's submissions when it is rescored; it is deleted with the outcome, and at a broker's start when its
/// submission has an outcome or its challenge has ended.
///
/// A job's two writes are kept in memory and written with the others of its transaction, as two statements just
/// before it commits (`Store.transaction`); a row added and ended in the same transaction is never written. One
/// statement per row cost the pipelined broker a quarter of its throughput (`docs/performance.md`).
struct UnscoredRow: Hashable {
    var submission: String
    var version: Int
}

extension Store {
    /// Fills `unscored` from the submissions and outcomes, the slow way: once, by the migration that makes the table.
    static let unscoredFill = """
        INSERT INTO unscored (submission_id, version)
        SELECT s.id, c.scorer_version FROM challenges c JOIN submissions s ON s.challenge_id = c.id
        WHERE c.state IN ('open', 'closed') AND NOT EXISTS (SELECT 1 FROM outcomes o
            WHERE o.submission_id = s.id AND o.version = c.scorer_version);
        """

    /// A new submission awaits its outcome under `version` (written when the transaction commits).
    func markUnscored(submission: String, version: Int) {
        unscoredAdded.append(UnscoredRow(submission: submission, version: version))
    }

    /// A submission has its outcome under `version` (written when the transaction commits). Its rows of earlier
    /// versions, if a rescore left any, go at the next start (`forgetScored`).
    func markScored(submission: String, version: Int) {
        unscoredEnded.append(UnscoredRow(submission: submission, version: version))
    }

    /// Writes this transaction's `unscored` rows: the added ones not already ended, then the deletion of the ended
    /// ones not added here, each in statements of a few fixed sizes (so that few are prepared and cached).
    func flushUnscored() throws {
        guard !unscoredAdded.isEmpty || !unscoredEnded.isEmpty else { return }
        let ended = Set(unscoredEnded)
        let added = unscoredAdded.filter { !ended.contains($0) }
        let addedHere = Set(unscoredAdded)
        let gone = unscoredEnded.filter { !addedHere.contains($0) }
        unscoredAdded.removeAll(keepingCapacity: true)
        unscoredEnded.removeAll(keepingCapacity: true)
        try inChunks(added, Self.insertUnscored)
        try inChunks(gone, Self.deleteUnscored)
    }

    /// The sizes of the chunks `flushUnscored` writes in, largest first: few statements to prepare and cache.
    static let chunkSizes = (0...8).map { 256 >> $0 }

    private static func tuples(_ count: Int) -> String {
        Array(repeating: "(?, ?)", count: count).joined(separator: ", ")
    }

    /// One statement for each of `chunkSizes`, made once.
    private static let insertUnscored = chunkSizes.map {
        "INSERT INTO unscored (submission_id, version) VALUES \(tuples($0)) ON CONFLICT DO NOTHING"
    }

    /// Through a subquery, not `IN (VALUES …)` itself: SQLite searched a row-value list of constants by scanning the
    /// whole table, for each statement (16.7 ms for 128 rows among 100,000 waiting, against 0.25 ms this way:
    /// `docs/performance.md`).
    static let deleteUnscored = chunkSizes.map {
        """
        DELETE FROM unscored WHERE (submission_id, version) IN (
            SELECT v.column1, v.column2 FROM (VALUES \(tuples($0))) AS v)
        """
    }

    /// Runs `statements` (one for each of `chunkSizes`) for `rows`, in chunks of those sizes.
    private func inChunks(_ rows: [UnscoredRow], _ statements: [String]) throws {
        var start = 0
        var index = 0
        var values: [SQLValue] = []
        while start < rows.count {
            while Self.chunkSizes[index] > rows.count - start { index += 1 }
            let size = Self.chunkSizes[index]
            values.removeAll(keepingCapacity: true)
            values.reserveCapacity(2 * size)
            for row in rows[start..<start + size] {
                values.append(.text(row.submission))
                values.append(.integer(Int64(row.version)))
            }
            try db.runDeferred(statements[index], values)
            start += size
        }
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
