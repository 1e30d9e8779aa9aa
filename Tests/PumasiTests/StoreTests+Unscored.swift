import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// The `unscored` table (schema 19), which a starting broker reads instead of every submission: it must name every
/// submission still without an outcome under its challenge's current scorer version.
@Suite("Store: unscored submissions")
struct UnscoredTests {
    private func rows(_ store: Store) throws -> Set<String> {
        Set(
            try store.db.query("SELECT submission_id, version FROM unscored").map {
                "\($0.string(0) ?? "?")@\($0.int(1) ?? 0)"
            })
    }

    /// The slow way, as the broker found them before schema 19: every submission of a live challenge, each probed for
    /// an outcome.
    private func pendingTheSlowWay(_ store: Store) throws -> [String] {
        try store.db.query(
            """
            SELECT s.id FROM challenges c JOIN submissions s ON s.challenge_id = c.id
            WHERE c.state IN ('open', 'closed') AND NOT EXISTS (SELECT 1 FROM outcomes o
                WHERE o.submission_id = s.id AND o.version = c.scorer_version)
            ORDER BY s.seq
            """
        ).compactMap { $0.string(0) }
    }

    @Test func rowsFollowSubmissionsOutcomesRescoresAndTheChallengesEnd() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let (spec, files) = sampleSpec()
        let entries = zip(spec.files!, files).map { (entry: $0, bytes: $1) }
        let id = Identifier.make(prefix: "ch")
        try store.transaction { try store.insertChallenge(id: id, spec: spec, files: entries, now: 1) }
        let record = try #require(try store.challenge(id))
        let submissions = try store.transaction {
            try (0..<3).map { index in
                try store.insertSubmission(
                    id: Identifier.make(prefix: "sub"), challenge: record, solver: "ada", clientId: nil,
                    filename: "a.txt", bytes: Data("\(index)".utf8), now: 10 + Millis(index)
                ).receipt.submission
            }
        }
        let (first, second, third) = (submissions[0], submissions[1], submissions[2])
        let scored = JobOutcome.scored(score: 1, result: ScoringResult(ok: true, score: 1))
        try store.transaction {
            try store.recordOutcome(scored, submission: first, challenge: id, evaluator: "e", attempt: 1, now: 20)
        }
        #expect(try rows(store) == ["\(second)@1", "\(third)@1"])
        #expect(try store.recoverPendingJobs().map(\.submission) == [second, third])

        // A rescore: every submission awaits version 2, the first too.
        try store.transaction {
            try store.addScorerVersion(
                challenge: id, version: 2, scorer: spec.scorer, by: "seeker", reason: "fix", now: 30)
        }
        #expect(try store.recoverPendingJobs().map(\.submission) == [first, second, third])
        // An outcome under version 2 ends that row; the row of version 1 goes at the next start.
        try store.transaction {
            try store.recordOutcome(
                scored, submission: second, challenge: id, version: 2, evaluator: "e", attempt: 1, now: 40)
        }
        #expect(try rows(store) == ["\(first)@2", "\(second)@1", "\(third)@1", "\(third)@2"])
        #expect(try store.recoverPendingJobs().map(\.submission) == [first, third])
        #expect(try pendingTheSlowWay(store) == [first, third])
        // The third, still awaited, keeps both of its rows (harmless, and gone with its outcome).
        #expect(try store.forgetScored() == 1)
        #expect(try rows(store) == ["\(first)@2", "\(third)@1", "\(third)@2"])

        // A submission made and scored in one transaction (a busy pass) leaves no row; one that fails within its
        // request's savepoint leaves none either, and the others of the transaction keep theirs.
        let (fourth, fifth) = try store.transaction {
            let fourth = try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: try #require(try store.challenge(id)), solver: "bob",
                clientId: nil, filename: "b.txt", bytes: Data("4".utf8), now: 50
            ).receipt.submission
            try store.recordOutcome(
                scored, submission: fourth, challenge: id, version: 2, evaluator: "e", attempt: 1, now: 51)
            let fifth = try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: try #require(try store.challenge(id)), solver: "bob",
                clientId: nil, filename: "c.txt", bytes: Data("5".utf8), now: 52
            ).receipt.submission
            #expect(throws: (any Error).self) {
                try store.savepoint {
                    _ = try store.insertSubmission(
                        id: Identifier.make(prefix: "sub"), challenge: try #require(try store.challenge(id)),
                        solver: "cy", clientId: nil, filename: "d.txt", bytes: Data("6".utf8), now: 53)
                    throw CocoaError(.userCancelled)
                }
            }
            return (fourth, fifth)
        }
        #expect(try rows(store) == ["\(first)@2", "\(third)@1", "\(third)@2", "\(fifth)@2"])
        #expect(try store.recoverPendingJobs().map(\.submission) == [first, third, fifth])
        #expect(try !pendingTheSlowWay(store).contains(fourth))

        // A challenge that ends leaves rows no broker needs: the next start deletes them.
        try store.transaction { try store.setState(challenge: id, .cancelled) }
        #expect(try store.recoverPendingJobs().isEmpty)
        #expect(try store.forgetScored() == 4)
        #expect(try rows(store).isEmpty)
    }

    /// Each pass deletes the rows its outcomes ended. `(submission_id, version) IN (VALUES …)` made SQLite scan the
    /// whole table for that, so that a pass's cost grew with every submission still waiting; through a subquery it
    /// searches the primary key, whatever the chunk's size.
    @Test(.enabled(if: TestBackend.isSQLite, "SQLite's query plan")) func endedRowsAreFoundByTheirKeyNotByAScan() throws
    {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        for (size, statement) in zip(Store.chunkSizes, Store.deleteUnscored) {
            let values = (0..<size).flatMap { [SQLValue.text("sub_\($0)"), .integer(1)] }
            let plan = try store.db.query("EXPLAIN QUERY PLAN " + statement, values).compactMap { $0.string(3) }
            #expect(plan.contains { $0.hasPrefix("SEARCH unscored USING PRIMARY KEY") }, "\(size) rows: \(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN unscored") }, "\(size) rows: \(plan)")
        }
    }

    /// Schema 19 fills the table from what a store of schema 18 holds: a schema-5 store with a scored job, a failed
    /// one, one retried and still queued, and one leased when its broker died.
    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func theMigrationFindsWhatAwaitsScoring() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.file("pumasi.sqlite3")
        try Schema5MigrationTests.writeSchema5(path)
        let db = try SQLiteConnection(path: path)
        _ = try Schema.migrate(db, to: 18)
        _ = try Schema.migrate(db)
        let store = try Store(directory: dir.path)
        let pending = try pendingTheSlowWay(store)
        #expect(!pending.isEmpty)
        #expect(try store.recoverPendingJobs().map(\.submission) == pending)
        #expect(try rows(store).count == pending.count)
    }
}
