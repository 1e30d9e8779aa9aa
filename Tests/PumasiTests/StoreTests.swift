import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

@Suite("Store")
struct StoreTests {
    private func record(_ store: Store, id: String = Identifier.make(prefix: "ch"), direction: Direction = .maximize)
        throws
        -> ChallengeRecord
    {
        var (spec, files) = sampleSpec()
        spec.direction = direction
        let entries = zip(spec.files!, files).map { (entry: $0, bytes: $1) }
        try store.transaction { try store.insertChallenge(id: id, spec: spec, files: entries, now: 1) }
        return try #require(try store.challenge(id))
    }

    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func migratesANewFileAndReopensItUnchanged() throws
    {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let id: String
        do {
            let store = try Store(directory: dir.path)
            #expect(try store.schemaVersion == Schema.currentVersion)
            id = try record(store).id
        }
        let reopened = try Store(directory: dir.path)
        #expect(try reopened.schemaVersion == Schema.currentVersion)
        #expect(try reopened.challenge(id)?.title == "The answer")
        #expect(try reopened.integrityCheck() == "ok")
        let journal = try reopened.db.queryOne("PRAGMA journal_mode")?.string(0)
        #expect(journal == "wal")
    }

    /// Schema 6 moved jobs and scores into outcomes and failed attempts: a store written by schema 5, with a
    /// scored job, a failed one, one retried twice and still queued, and one leased when its broker died, comes
    /// through with every fact and audit entry intact.
    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func migratesASchema5StoreWithJobsScoresAndAudit()
        throws
    {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.file("pumasi.sqlite3")
        do {
            let db = try SQLiteConnection(path: path)
            for index in 0..<5 {
                try db.execute(Schema.migrations[index])
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
            try db.execute(
                """
                INSERT INTO challenges (id, title, description, state, deadline, award_amount, award_currency, direction,
                    scorer_json, service, time_limit, spec_json, created_at)
                VALUES ('ch_old', 'Old', 'd', 'open', 9999999999999, '10', 'USD', 'maximize', '{"builtin":"exact"}',
                    'pumasi.builtin', 5, '{}', 1);
                INSERT INTO submissions (id, challenge_id, solver, filename, sha256, size, content, received_at) VALUES
                    ('sub_a', 'ch_old', 'ada', 'f', 'h', 1, x'31', 10),
                    ('sub_b', 'ch_old', 'bob', 'f', 'h', 1, x'32', 11),
                    ('sub_c', 'ch_old', 'cy', 'f', 'h', 1, x'33', 12),
                    ('sub_d', 'ch_old', 'dee', 'f', 'h', 1, x'34', 13);
                INSERT INTO jobs (id, submission_id, challenge_id, service, state, attempts, restarts, error, updated_at)
                VALUES
                    (1, 'sub_a', 'ch_old', 'pumasi.builtin', 'done', 2, 1, NULL, 20),
                    (2, 'sub_b', 'ch_old', 'pumasi.builtin', 'failed', 1, 0, 'bad_output: no', 21),
                    (3, 'sub_c', 'ch_old', 'pumasi.builtin', 'queued', 2, 0, NULL, 22),
                    (4, 'sub_d', 'ch_old', 'pumasi.builtin', 'leased', 1, 0, NULL, 23);
                INSERT INTO scores (submission_id, challenge_id, job_id, score, scored_at) VALUES ('sub_a', 'ch_old', 1, 0.5, 20);
                INSERT INTO audit (at, principal, action, object, detail) VALUES
                    (1, 'sam', 'challenge.post', 'ch_old', 'Old'),
                    (10, 'ada', 'submission.submit', 'sub_a', 'challenge=ch_old sha256=h'),
                    (20, 'ev1', 'submission.score', 'sub_a', 'score=0.5'),
                    (21, 'ev2', 'submission.fail', 'sub_b', 'bad_output: no');
                """)
        }
        let store = try Store(directory: dir.path)
        #expect(try store.schemaVersion == Schema.currentVersion)
        #expect(try store.integrityCheck() == "ok")
        #expect(try store.db.query("PRAGMA foreign_key_check").isEmpty)
        let a = try #require(try store.submissionInfo("sub_a")?.info)
        #expect(a.state == .scored && a.score == 0.5 && a.attempts == 1)
        let b = try #require(try store.submissionInfo("sub_b")?.info)
        #expect(b.state == .failed && b.error == "bad_output: no")
        #expect(try store.submissionInfo("sub_c")?.info.attempts == 2)
        // The queued job with its two failed attempts, and the one whose lease died with its broker (no attempt
        // lost), are pending again.
        let pending = try store.recoverPendingJobs()
        #expect(pending.map(\.row) == [3, 4] && pending.map(\.failedAttempts) == [2, 0])
        let trail = try store.auditTrail()
        #expect(
            trail.map { "\($0.principal ?? "-") \($0.action) \($0.object)" } == [
                "sam challenge.post ch_old", "ada submission.submit sub_a", "bob submission.submit sub_b",
                "cy submission.submit sub_c", "dee submission.submit sub_d", "ev1 submission.score sub_a",
                "ev2 submission.fail sub_b",
            ])
    }

    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func textWithNULIsStoredWhole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("t.sqlite3"))
        try db.execute("CREATE TABLE t (x TEXT)")
        let text = "before\u{0}after café"
        try db.run("INSERT INTO t VALUES (?)", [.text(text)])
        try db.run("INSERT INTO t VALUES (?)", [.text("")])
        #expect(try db.query("SELECT x FROM t").map { $0.string(0) } == [text, ""])
    }

    /// Texts and blobs are bound in place (the first 64 of a statement) or copied (the rest); either way a statement
    /// reads back what it was given, a statement run again reads its new values, not the last run's, and a run that
    /// binds fewer reads NULL for the rest: no binding outlives its run.
    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func everyBoundValueIsReadAsGiven() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let db = try SQLiteConnection(path: dir.file("t.sqlite3"))
        let sql = "SELECT " + (1...150).map { "?\($0)" }.joined(separator: ", ")
        for round in 0..<3 {
            let values: [SQLValue] = (0..<150).map { column in
                switch column % 5 {
                case 0: .text("round \(round) column \(column) \u{0} café")
                case 1: .blob(Data((0..<column).map { UInt8(truncatingIfNeeded: $0 + round) }))
                case 2: .integer(Int64(column * 1_000 + round))
                case 3: column % 2 == 0 ? .text("") : .blob(Data())
                default: .null
                }
            }
            let row = try #require(try db.queryOne(sql, values))
            #expect(row.values == values, "round \(round)")
            #expect(try db.query(sql, values).map(\.values) == [values], "round \(round), every row")
            let unbound = try #require(try db.queryOne(sql, Array(values.prefix(round))))
            #expect(unbound.values == Array(values.prefix(round)) + Array(repeating: .null, count: 150 - round))
        }
    }

    @Test(.enabled(if: TestBackend.isSQLite, "SQLite files alone")) func refusesAFileFromANewerBroker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        do {
            let store = try Store(directory: dir.path)
            try store.db.execute("PRAGMA user_version = 99")
        }
        #expect(throws: DatabaseError.self) { try Store(directory: dir.path) }
    }

    @Test func filesAreStoredOncePerContentAndSplitByRole() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let a = try record(store)
        _ = try record(store)
        #expect(try store.db.queryOne("SELECT COUNT(*) FROM blobs")?.int(0) == 2)
        let publicFiles = try store.files(challenge: a.id, role: .public)
        #expect(publicFiles.map(\.name) == ["question.txt"])
        let reference = try store.files(challenge: a.id, role: .reference)
        #expect(reference.first?.sha256 == SHA256.hex(Data("42".utf8)))
        #expect(try store.referenceBlob(challenge: a.id, sha256: SHA256.hex(Data("42".utf8)))?.1 == Data("42".utf8))
        // A public file is not served as reference data, nor one challenge's reference file as another's.
        #expect(try store.referenceBlob(challenge: a.id, sha256: publicFiles[0].sha256!) == nil)
        #expect(try store.referenceBlob(challenge: "ch_other", sha256: SHA256.hex(Data("42".utf8))) == nil)
        #expect(try store.publicFile(challenge: a.id, name: "answer.txt") == nil)
    }

    @Test func clientIdsMakeSubmissionsIdempotent() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let challenge = try record(store)
        let first = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: "c1", filename: "a",
                bytes: Data("1".utf8), now: 5)
        }
        let again = try #require(try store.receipt(solver: "ada", clientId: "c1"))
        #expect(again.submission == first.receipt.submission)
        #expect(again.duplicate)
        #expect(try store.receipt(solver: "bob", clientId: "c1") == nil)
        let error = try #require(throws: DatabaseError.self) {
            try store.transaction {
                try store.insertSubmission(
                    id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: "c1",
                    filename: "a", bytes: Data("2".utf8), now: 6)
            }
        }
        #expect(error.isConstraintViolation)
    }

    @Test func leaderboardRanksEachSolversBestWithTiesToTheEarliest() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        for direction in Direction.allCases {
            let challenge = try record(store, direction: direction)
            let entries: [(String, Double, Millis)] = [
                ("ada", 0.5, 10), ("bob", 0.9, 20), ("cy", 0.9, 15), ("ada", 0.7, 30),
            ]
            try store.transaction {
                for (solver, score, at) in entries {
                    let (receipt, _) = try store.insertSubmission(
                        id: Identifier.make(prefix: "sub"), challenge: challenge, solver: solver, clientId: nil,
                        filename: "f", bytes: Data("x".utf8), now: at)
                    try store.recordOutcome(
                        .scored(score: score, result: ScoringResult(ok: true, score: score)),
                        submission: receipt.submission, challenge: challenge.id, evaluator: "ev", attempt: 1, now: at)
                }
            }
            let board = try store.leaderboard(challenge, view: .provisional, limit: nil)
            if direction == .maximize {
                #expect(board.entries.map(\.solver) == ["cy", "bob", "ada"])
                #expect(board.entries.map(\.score) == [0.9, 0.9, 0.7])
                #expect(board.entries.last?.entries == 2)
                #expect(try store.ranking(challenge).finalStandings().first?.candidate.solver == "cy")
            } else {
                #expect(board.entries.map(\.solver) == ["ada", "cy", "bob"])
                #expect(board.entries.map(\.score) == [0.5, 0.9, 0.9])
            }
            #expect(try store.leaderboard(challenge, view: .final, limit: 1).entries.count == 1)
        }
    }

    @Test func aRecordedOutcomeIsNeverOverwrittenAndSubmissionsAreImmutable() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let challenge = try record(store)
        let (receipt, job) = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: nil, filename: "f",
                bytes: Data("x".utf8), now: 1)
        }
        #expect(try store.pendingJobCount(challenge: challenge.id, version: 1) == 1)
        #expect(try store.jobPayload(row: job)?.submission == receipt.submission)
        func score(_ value: Double) throws {
            try store.transaction {
                try store.recordOutcome(
                    .scored(score: value, result: ScoringResult(ok: true)), submission: receipt.submission,
                    challenge: challenge.id, evaluator: "ev", attempt: 1, now: 2)
            }
        }
        try score(1)
        #expect(throws: DatabaseError.self) { try score(99) }
        #expect(throws: DatabaseError.self) {
            try store.transaction {
                try store.recordOutcome(
                    .failed(error: "late", log: nil), submission: receipt.submission, challenge: challenge.id,
                    evaluator: "ev", attempt: 2, now: 3)
            }
        }
        #expect(try store.submissionInfo(receipt.submission)?.info.score == 1)
        #expect(try store.pendingJobCount(challenge: challenge.id, version: 1) == 0)
        for statement in [
            "UPDATE outcomes SET score = 99", "DELETE FROM outcomes", "UPDATE submissions SET solver = 'eve'",
            "DELETE FROM submissions",
        ] {
            let error = try #require(throws: DatabaseError.self) { try store.db.execute(statement) }
            #expect(error.message.contains("never changed") || error.message.contains("immutable"), "\(statement)")
        }
        // Submitting and scoring are in the audit trail, read from those rows themselves.
        let trail = try store.auditTrail()
        #expect(trail.map(\.action) == ["submission.submit", "submission.score"])
        #expect(trail.map(\.principal) == ["ada", "ev"])
        #expect(trail.last?.detail == "score=1.0")
    }

    @Test func pendingJobsComeBackWithTheirFailedAttempts() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let challenge = try record(store)
        let ids = try store.transaction {
            try (1...3).map { n in
                try store.insertSubmission(
                    id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: nil,
                    filename: "f",
                    bytes: Data("\(n)".utf8), now: Millis(n)
                )
            }
        }
        try store.transaction {
            try store.recordFailedAttempt(
                submission: ids[0].receipt.submission, version: 1, evaluator: "ev", reason: "lost", now: 5)
            try store.recordFailedAttempt(
                submission: ids[0].receipt.submission, version: 1, evaluator: "ev", reason: "lost", now: 6)
            try store.recordOutcome(
                .failed(error: "bad", log: "trace"), submission: ids[1].receipt.submission, challenge: challenge.id,
                evaluator: "ev", attempt: 1, now: 7)
        }
        let pending = try store.recoverPendingJobs()
        #expect(pending.map(\.row) == [ids[0].job, ids[2].job])
        #expect(pending.map(\.failedAttempts) == [2, 0])
        #expect(pending.allSatisfy { $0.service == challenge.service && $0.challenge == challenge.id })
        #expect(try store.submissionInfo(ids[0].receipt.submission)?.info.attempts == 2)
        let failed = try #require(try store.submissionInfo(ids[1].receipt.submission)?.info)
        #expect(failed.state == .failed && failed.error == "bad" && failed.log == "trace")
        let board = try store.leaderboard(challenge, view: .provisional, limit: nil)
        #expect(board.pending == 2 && board.failed == 1)
        // Nobody has a score: everyone is listed, unranked, in order of their first submission.
        #expect(board.entries.map(\.solver) == ["ada"] && board.entries.allSatisfy { $0.score == nil })
    }

    @Test func theAwardLedgerAndEventLogAreAppendOnly() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let store = try TestBackend.store(dir.path)
        let challenge = try record(store)
        let (receipt, _) = try store.transaction {
            try store.insertSubmission(
                id: Identifier.make(prefix: "sub"), challenge: challenge, solver: "ada", clientId: nil, filename: "f",
                bytes: Data("x".utf8), now: 1)
        }
        try store.transaction {
            try store.insertAward(
                AwardInfo(
                    challenge: challenge.id, submission: receipt.submission, solver: "ada", amount: 1000,
                    currency: "USD",
                    score: 1, policy: "winner-takes-all", awardedAt: 2))
            let first = try store.appendEvent(
                Announcement(topic: .opened, at: 1, challenge: challenge.id, title: "t"), principal: nil)
            let second = try store.appendEvent(
                Announcement(topic: .closed, at: 2, challenge: challenge.id, title: "t"), principal: nil)
            #expect(second.announcement.seq == first.announcement.seq + 1)
        }
        for statement in [
            "UPDATE awards SET amount = '1000000'", "DELETE FROM awards", "UPDATE events SET topic = 'x'",
            "DELETE FROM events",
        ] {
            let error = try #require(throws: DatabaseError.self) { try store.db.execute(statement) }
            #expect(error.message.contains("append-only"), "\(statement)")
        }
        #expect(try store.award(challenge: challenge.id)?.amount == 1000)
        #expect(try store.events(after: 0, limit: 10).map(\.topic) == [.opened, .closed])
    }
}
